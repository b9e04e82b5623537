// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {
    CompactSignature,
    MilestoneInput,
    MilestoneStatus,
    MilestoneView,
    ProgramFacts,
    ProgramView,
    SignedAttestations
} from "../types/EscrowTypes.sol";

/// @title Milestone escrow
/// @notice Holds program funds in escrow and pays a milestone's beneficiary once a quorum of the
/// oracle committee has attested the same evidence and the program's challenge window has passed.
/// Milestone ids are keccak256(abi.encode(programId, externalRef)): a manager can compute the id
/// of any of its milestones offline, and the id itself makes the reference unique per program.
interface IMilestoneEscrow {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A program was created.
    /// @param programId The new program's id (sequential from 1).
    /// @param manager The program manager who created it and alone registers its milestones.
    /// @param token The settlement token the program holds and pays in.
    /// @param treasury Where the uncommitted remainder goes when the program is closed.
    /// @param challengeWindow Seconds between verification and the earliest release.
    event ProgramCreated(
        uint256 indexed programId,
        address indexed manager,
        address indexed token,
        address treasury,
        uint40 challengeWindow
    );

    /// @notice What a created program is (emitted right after its ProgramCreated).
    /// @param programId The program.
    /// @param title Its name.
    /// @param organisation The branch or agency that spends it.
    /// @param category What it buys.
    /// @param fiscalYear The fiscal year it is budgeted in.
    /// @param baseline The approved total it may commit (the original baseline).
    event ProgramDescribed(
        uint256 indexed programId,
        string title,
        string organisation,
        string category,
        uint16 fiscalYear,
        uint256 baseline
    );

    /// @notice The council changed a program's baseline; the earlier value stays in the history.
    /// @param programId The program.
    /// @param previous The baseline replaced.
    /// @param baseline The new baseline.
    event BaselineChanged(uint256 indexed programId, uint256 previous, uint256 baseline);

    /// @notice Tokens were received for a program (the amount actually credited).
    /// @param programId The program funded.
    /// @param funder The account the tokens came from.
    /// @param amount The amount credited, equal to the balance increase of the escrow.
    event ProgramFunded(uint256 indexed programId, address indexed funder, uint256 amount);

    /// @notice A program was closed: no more funding or milestones.
    /// @param programId The program closed.
    event ProgramClosed(uint256 indexed programId);

    /// @notice The uncommitted remainder of a closed program was paid back to its treasury.
    /// @param programId The program refunded.
    /// @param treasury The treasury paid.
    /// @param amount The amount paid.
    event RemainderWithdrawn(uint256 indexed programId, address indexed treasury, uint256 amount);

    /// @notice A milestone was registered and its amount committed.
    /// @param milestoneId keccak256(abi.encode(programId, externalRef)).
    /// @param programId The program that pays it.
    /// @param beneficiary The contractor paid on release.
    /// @param amount The amount committed and paid on release.
    /// @param deadline Unix time after which attestations are refused.
    /// @param evidenceSpecHash Hash of the evidence specification.
    /// @param externalRef The manager's reference for the milestone.
    event MilestoneRegistered(
        bytes32 indexed milestoneId,
        uint256 indexed programId,
        address indexed beneficiary,
        uint256 amount,
        uint40 deadline,
        bytes32 evidenceSpecHash,
        bytes32 externalRef
    );

    /// @notice A milestone's terms were amended before any attestation.
    /// @param milestoneId The milestone amended.
    /// @param beneficiary The (new) beneficiary.
    /// @param amount The (new) amount; the program's commitment moved by the difference.
    /// @param deadline The (new) deadline.
    /// @param evidenceSpecHash The (new) evidence specification hash.
    event MilestoneAmended(
        bytes32 indexed milestoneId,
        address indexed beneficiary,
        uint256 amount,
        uint40 deadline,
        bytes32 evidenceSpecHash
    );

    /// @notice An oracle's attestation was counted.
    /// @param milestoneId The milestone attested.
    /// @param oracle The committee member who attested (the signer, when relayed).
    /// @param evidenceHash The hash of the evidence bundle the oracle verified.
    /// @param epoch The committee epoch the attestation was made under.
    event AttestationRecorded(
        bytes32 indexed milestoneId, address indexed oracle, bytes32 evidenceHash, uint16 epoch
    );

    /// @notice A quorum agreed on one evidence hash; the challenge window starts now.
    /// @param milestoneId The milestone verified.
    /// @param evidenceHash The evidence hash the quorum agreed on.
    /// @param attestations The number of matching attestations.
    event MilestoneVerified(bytes32 indexed milestoneId, bytes32 evidenceHash, uint8 attestations);

    /// @notice Oracles attested different evidence hashes; the milestone waits for the council.
    /// @param milestoneId The milestone disputed.
    /// @param oracle The oracle whose attestation disagreed.
    /// @param evidenceHash The hash attested first in this epoch.
    /// @param conflictingHash The hash that disagreed.
    event MilestoneDisputed(
        bytes32 indexed milestoneId, address indexed oracle, bytes32 evidenceHash, bytes32 conflictingHash
    );

    /// @notice A milestone was paid.
    /// @param milestoneId The milestone paid.
    /// @param programId The program that paid it.
    /// @param beneficiary The account paid.
    /// @param amount The amount paid.
    event MilestoneReleased(
        bytes32 indexed milestoneId, uint256 indexed programId, address indexed beneficiary, uint256 amount
    );

    /// @notice An expired milestone's amount went back to its program's available balance.
    /// @param milestoneId The milestone expired.
    /// @param programId Its program.
    /// @param amount The amount no longer committed.
    event MilestoneExpired(bytes32 indexed milestoneId, uint256 indexed programId, uint256 amount);

    /// @notice The oracle committee or its quorum changed; attestations of earlier epochs stop counting.
    /// @param epoch The new epoch.
    /// @param oracles The new committee.
    /// @param quorum Matching attestations needed to verify a milestone.
    event CommitteeUpdated(uint16 indexed epoch, address[] oracles, uint8 quorum);

    /// @notice The council froze a verified milestone: nobody can release it until unfrozen.
    /// @param milestoneId The milestone frozen.
    event MilestoneFrozen(bytes32 indexed milestoneId);

    /// @notice The council lifted a freeze; the milestone is Verified again.
    /// @param milestoneId The milestone unfrozen.
    event MilestoneUnfrozen(bytes32 indexed milestoneId);

    /// @notice The council cancelled a milestone; its amount went back to the program's available balance.
    /// @param milestoneId The milestone cancelled.
    /// @param programId Its program.
    /// @param amount The amount no longer committed.
    event MilestoneCancelled(bytes32 indexed milestoneId, uint256 indexed programId, uint256 amount);

    /// @notice The council paid a milestone without an oracle quorum (MilestoneReleased follows).
    /// @param milestoneId The milestone paid.
    /// @param reasonHash Hash of the council's written reason.
    event MilestoneForceReleased(bytes32 indexed milestoneId, bytes32 reasonHash);

    /// @notice The council replaced a milestone's beneficiary.
    /// @param milestoneId The milestone.
    /// @param previous The beneficiary replaced.
    /// @param beneficiary The new beneficiary.
    event BeneficiaryReplaced(bytes32 indexed milestoneId, address indexed previous, address indexed beneficiary);

    /// @notice The council settled a dispute for one evidence hash; the challenge window starts again.
    /// @param milestoneId The milestone.
    /// @param evidenceHash The evidence hash that stands.
    event DisputeResolved(bytes32 indexed milestoneId, bytes32 evidenceHash);

    /// @notice The council changed a program's challenge window. The new window applies to
    /// milestones verified from now on; one verified earlier keeps at least the window it was
    /// running under (a longer new window applies to every milestone).
    /// @param programId The program.
    /// @param challengeWindow The new window, in seconds.
    event ChallengeWindowSet(uint256 indexed programId, uint40 challengeWindow);

    /// @notice The council handed a program to another manager.
    /// @param programId The program.
    /// @param previousManager The manager replaced.
    /// @param newManager The new manager (holds PROGRAM_MANAGER_ROLE).
    event ProgramManagerChanged(
        uint256 indexed programId, address indexed previousManager, address indexed newManager
    );

    /// @notice The council changed where a program's uncommitted remainder goes.
    /// @param programId The program.
    /// @param previousTreasury The treasury replaced.
    /// @param newTreasury The new treasury.
    event ProgramTreasuryChanged(
        uint256 indexed programId, address indexed previousTreasury, address indexed newTreasury
    );

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice No program has this id.
    error Escrow_UnknownProgram(uint256 programId);
    /// @notice The caller is not the program's manager, or no longer holds the manager role.
    error Escrow_NotProgramManager(uint256 programId, address caller);
    /// @notice The program is closed.
    error Escrow_ProgramClosed(uint256 programId);
    /// @notice The program must be closed first.
    error Escrow_ProgramNotClosed(uint256 programId);
    /// @notice An address that must be set is zero (`what` names it: "token", "treasury", ...).
    error Escrow_ZeroAddress(string what);
    /// @notice The amount must be above zero.
    error Escrow_ZeroAmount();
    /// @notice The challenge window is longer than the maximum allowed.
    error Escrow_ChallengeWindowTooLong(uint256 window, uint256 max);
    /// @notice The token delivered less than asked (fee-on-transfer or rebasing tokens are refused).
    error Escrow_FundingShortfall(uint256 programId, uint256 expected, uint256 received);
    /// @notice The program's commitment would rise to `committed`, above its `balance`.
    error Escrow_InsufficientFunds(uint256 programId, uint256 committed, uint256 balance);
    /// @notice The settlement token address holds no contract.
    error Escrow_InvalidToken(address token);
    /// @notice The deadline is not in the future.
    error Escrow_DeadlineNotInFuture(uint40 deadline, uint256 currentTime);
    /// @notice The program already has a milestone with this external reference.
    error Escrow_DuplicateMilestone(uint256 programId, bytes32 externalRef, bytes32 milestoneId);
    /// @notice No milestone has this id.
    error Escrow_UnknownMilestone(bytes32 milestoneId);
    /// @notice The milestone was attested already; its terms can no longer change.
    error Escrow_MilestoneAlreadyAttested(bytes32 milestoneId, uint8 attestations);
    /// @notice The milestone is not in a status that allows the operation; `status` is the one found.
    error Escrow_UnexpectedMilestoneStatus(bytes32 milestoneId, MilestoneStatus status);
    /// @notice The milestone's deadline has passed.
    error Escrow_MilestonePastDeadline(bytes32 milestoneId, uint40 deadline);
    /// @notice The milestone's challenge window has not ended.
    error Escrow_ChallengeWindowOpen(bytes32 milestoneId, uint256 releasableAt);
    /// @notice The account is not in the current oracle committee.
    error Escrow_NotOracle(address account);
    /// @notice The attestation names another committee epoch than the current one.
    error Escrow_WrongEpoch(uint16 given, uint16 current);
    /// @notice This oracle has attested this milestone already in this epoch.
    error Escrow_AlreadyAttested(bytes32 milestoneId, address oracle);
    /// @notice A batch or signature list is empty.
    error Escrow_EmptyBatch();
    /// @notice The committee is empty or larger than the maximum.
    error Escrow_InvalidCommitteeSize(uint256 size, uint256 max);
    /// @notice The quorum is zero or larger than the committee.
    error Escrow_InvalidQuorum(uint256 quorum, uint256 committeeSize);
    /// @notice An oracle appears twice in the committee.
    error Escrow_DuplicateOracle(address oracle);
    /// @notice The committee epoch counter is exhausted.
    error Escrow_EpochOverflow();
    /// @notice The escrow must keep at least one admin: revoking or renouncing the last is refused.
    error Escrow_LastAdmin(address account);
    /// @notice A closed program has nothing uncommitted to withdraw.
    error Escrow_NothingToWithdraw(uint256 programId);
    /// @notice A program's new manager must hold PROGRAM_MANAGER_ROLE.
    error Escrow_ManagerLacksRole(address manager);
    /// @notice The council chose this milestone's beneficiary; an amendment cannot change it.
    error Escrow_BeneficiarySetByCouncil(bytes32 milestoneId, address beneficiary);
    /// @notice The milestone's terms changed 255 times: they can change no more (the council may cancel).
    error Escrow_TermsVersionExhausted(bytes32 milestoneId);
    /// @notice An own-account attestation names another terms version than the milestone's current
    /// one: the terms were amended or the beneficiary replaced after the oracle verified.
    error Escrow_TermsChanged(bytes32 milestoneId, uint8 given, uint8 current);
    /// @notice No oracle of the dispute attested this evidence hash.
    error Escrow_HashNotDisputed(bytes32 milestoneId, bytes32 evidenceHash);
    /// @notice A payment or refund did not arrive whole (a fee-on-transfer or rebasing token).
    error Escrow_TransferShortfall(address token, address to, uint256 expected, uint256 received);
    /// @notice The beneficiary would be the escrow itself or the program's token contract.
    error Escrow_InvalidBeneficiary(address beneficiary);
    /// @notice The treasury would be the escrow itself.
    error Escrow_InvalidTreasury(address treasury);
    /// @notice Milestones paid plus owed (`obligated`) would exceed the program's baseline.
    error Escrow_BaselineExceeded(uint256 programId, uint256 obligated, uint256 baseline);
    /// @notice A new baseline below what the program already paid plus owes.
    error Escrow_BaselineBelowObligated(uint256 programId, uint256 baseline, uint256 obligated);
    /// @notice A program fact's length in bytes is outside 1..max.
    error Escrow_InvalidFactLength(string field, uint256 length, uint256 max);
    /// @notice A fiscal year outside 2000..2100.
    error Escrow_FiscalYearOutOfRange(uint16 fiscalYear);

    /*//////////////////////////////////////////////////////////////
                               PROGRAMS
    //////////////////////////////////////////////////////////////*/

    /// @notice Creates a program paying in `token`; the caller becomes its manager.
    /// @dev Caller must hold PROGRAM_MANAGER_ROLE. Refused while paused.
    /// @param token The settlement token (a plain ERC-20; fee-on-transfer tokens are refused at
    /// funding, payment and refund).
    /// @param treasury Where the uncommitted remainder goes when the program is closed (not the escrow).
    /// @param challengeWindow Seconds between verification and the earliest release (zero allowed).
    /// @param facts Its title, organisation, category, fiscal year and baseline (see ProgramFacts).
    /// @return programId The new program's id.
    function createProgram(IERC20 token, address treasury, uint40 challengeWindow, ProgramFacts calldata facts)
        external
        returns (uint256 programId);

    /// @notice Moves `amount` tokens from the caller into the program. Anyone may fund.
    /// @dev Credited by the escrow's balance difference: a token that delivers less is refused.
    /// @param programId The program to fund.
    /// @param amount The amount to transfer (the caller must have approved it).
    function fund(uint256 programId, uint256 amount) external;

    /// @notice Closes a program: no funding or milestones after this. The program's manager or
    /// the admin (the council). Refused while paused.
    /// @param programId The program to close.
    function closeProgram(uint256 programId) external;

    /// @notice Pays the uncommitted remainder of a closed program to its treasury. The program's
    /// manager or the admin (the council). Refused while paused.
    /// @dev The treasury's balance must rise by exactly the amount (fee tokens are refused).
    /// @param programId The closed program.
    /// @return amount The amount paid.
    function withdrawRemainder(uint256 programId) external returns (uint256 amount);

    /// @notice Hands a program to another manager (for instance when its manager's key is
    /// compromised and its role revoked). Admin only.
    /// @param programId The program.
    /// @param manager The new manager; must hold PROGRAM_MANAGER_ROLE.
    function setProgramManager(uint256 programId, address manager) external;

    /// @notice Changes where a program's uncommitted remainder goes. Admin only.
    /// @param programId The program.
    /// @param treasury The new treasury: not zero and not the escrow.
    function setProgramTreasury(uint256 programId, address treasury) external;

    /*//////////////////////////////////////////////////////////////
                               MILESTONES
    //////////////////////////////////////////////////////////////*/

    /// @notice Registers one milestone and commits its amount. Program manager only.
    /// @param programId The paying program.
    /// @param input The milestone's terms.
    /// @return milestoneId keccak256(abi.encode(programId, input.externalRef)).
    function registerMilestone(uint256 programId, MilestoneInput calldata input)
        external
        returns (bytes32 milestoneId);

    /// @notice Registers several milestones of one program in one transaction. Program manager only.
    /// @param programId The paying program.
    /// @param inputs The milestones' terms; the whole batch is refused if any one is invalid.
    function registerMilestones(uint256 programId, MilestoneInput[] calldata inputs) external;

    /// @notice Changes a milestone's terms before any attestation of the current epoch. Program
    /// manager only. Bumps the milestone's terms version, so signatures given for the old terms
    /// no longer count. A beneficiary set by the council (`replaceBeneficiary`) cannot be changed.
    /// @dev A milestone past its deadline but not yet expired by `expire` may be given a new
    /// deadline this way (an extension before anyone attested); once `expire` ran, it cannot.
    /// @param milestoneId The milestone to amend.
    /// @param beneficiary The new beneficiary (not the escrow or the token; the current one when
    /// the council set it).
    /// @param amount The new amount; the commitment moves by the difference.
    /// @param deadline The new deadline, in the future.
    /// @param evidenceSpecHash The new evidence specification hash.
    function amendMilestone(
        bytes32 milestoneId,
        address beneficiary,
        uint128 amount,
        uint40 deadline,
        bytes32 evidenceSpecHash
    ) external;

    /// @notice Records the caller's attestation. Current committee members only.
    /// @param milestoneId The milestone attested.
    /// @param evidenceHash The hash of the evidence bundle the oracle verified.
    /// @param epoch The current committee epoch.
    /// @param termsVersion The milestone's terms version the oracle verified against
    /// (`milestone(id).termsVersion`); refused with `Escrow_TermsChanged` if the terms changed since.
    function attest(bytes32 milestoneId, bytes32 evidenceHash, uint16 epoch, uint8 termsVersion) external;

    /// @notice Records relayed EIP-712 attestations for one or more milestones. Anyone may relay;
    /// each signature must come from a current committee member and sign the milestone's current
    /// terms version. A signature of an oracle already recorded in this epoch is skipped, and so
    /// is an item whose milestone a quorum already verified on the same evidence hash (a race
    /// with another relayer); the item's other signatures count.
    /// @param epoch The current committee epoch, signed in every attestation.
    /// @param batch The milestones, each with its evidence hash and signatures.
    function attestWithSignatures(uint16 epoch, SignedAttestations[] calldata batch) external;

    /// @notice Pays a verified milestone whose challenge window has passed. Anyone may call.
    /// @param milestoneId The milestone to pay.
    function release(bytes32 milestoneId) external;

    /// @notice Pays, in one transaction, every listed milestone that is due: Verified, with its
    /// challenge window passed, exactly as `release` requires. Anyone may call.
    /// @dev A milestone that is not due (unknown, still in its window, frozen, disputed, already
    /// released, cancelled, expired) is skipped instead of reverting, so that a race with another
    /// releaser or a council freeze does not sink the batch; an id listed twice is paid once. Each
    /// payment emits MilestoneReleased as `release` does. A failed token transfer reverts the whole
    /// batch, so nothing is marked Released unpaid. Refused while paused. The caller sizes the list
    /// to fit the block gas limit.
    /// @param milestoneIds The milestones to pay; must not be empty.
    /// @return released How many milestones were paid.
    function releaseBatch(bytes32[] calldata milestoneIds) external returns (uint256 released);

    /// @notice Returns an expired milestone's amount to its program's available balance. Anyone may call.
    /// @param milestoneId The milestone whose deadline passed without a quorum.
    function expire(bytes32 milestoneId) external;

    /*//////////////////////////////////////////////////////////////
                               COMMITTEE
    //////////////////////////////////////////////////////////////*/

    /// @notice Replaces the oracle committee and quorum and starts a new epoch. Admin only.
    /// @param oracles The new committee, without duplicates, at most MAX_COMMITTEE_SIZE.
    /// @param quorum Matching attestations needed, from 1 to the committee size.
    function setCommittee(address[] calldata oracles, uint8 quorum) external;

    /// @notice Stops every milestone, program and attestation operation. Admin only.
    function pause() external;

    /// @notice Lifts a pause. Admin only.
    function unpause() external;

    /*//////////////////////////////////////////////////////////////
                   COUNCIL OVERRIDES (admin role = the council)
    //////////////////////////////////////////////////////////////*/

    /// @notice Holds a verified milestone (a veto during its challenge window). Admin only.
    /// @param milestoneId A Verified milestone.
    function freeze(bytes32 milestoneId) external;

    /// @notice Lifts a freeze; the milestone is Verified again. Admin only.
    /// @param milestoneId A Frozen milestone.
    function unfreeze(bytes32 milestoneId) external;

    /// @notice Cancels an unpaid milestone; its amount returns to the program's available balance.
    /// Admin only; works while paused.
    /// @param milestoneId A Registered, Verified, Frozen, Disputed or Expired milestone (for an
    /// expired one the amount returned already: MilestoneCancelled states 0).
    function cancel(bytes32 milestoneId) external;

    /// @notice Pays an unpaid milestone without an oracle quorum. Admin only; works while paused.
    /// @dev An expired milestone (after `expire`) has its amount committed again first; refused
    /// with Escrow_InsufficientFunds when the program no longer has it uncommitted.
    /// @param milestoneId A Registered, Verified, Frozen, Disputed or Expired milestone.
    /// @param reasonHash Hash of the council's written reason, kept in the event.
    function forceRelease(bytes32 milestoneId, bytes32 reasonHash) external;

    /// @notice Replaces the beneficiary of an unpaid milestone (a compromised contractor address).
    /// Admin only. From then on the manager cannot amend the beneficiary; the terms version is
    /// bumped (pending signatures must be given again), recorded attestations stand.
    /// @param milestoneId A Registered, Verified, Frozen, Disputed or Expired milestone.
    /// @param beneficiary The new beneficiary (not the escrow or the token).
    function replaceBeneficiary(bytes32 milestoneId, address beneficiary) external;

    /// @notice Settles a dispute for one evidence hash: the milestone becomes Verified and its
    /// challenge window starts now. (To settle against it, cancel.) Admin only.
    /// @param milestoneId A Disputed milestone.
    /// @param evidenceHash The evidence hash that stands: one of the two the dispute's oracles attested.
    function resolveDispute(bytes32 milestoneId, bytes32 evidenceHash) external;

    /// @notice Sets a program's challenge window. Admin only. A shorter window applies to
    /// milestones verified from now on: it never ends a veto window already running.
    /// @param programId The program.
    /// @param challengeWindow Seconds, at most MAX_CHALLENGE_WINDOW.
    function setChallengeWindow(uint256 programId, uint40 challengeWindow) external;

    /// @notice Sets a program's baseline (the approved total it may commit). Admin only: a
    /// change of baseline is a council decision. Never below what the program has paid plus
    /// what its open milestones are owed.
    /// @param programId The program.
    /// @param baseline The new baseline, non-zero.
    function setBaseline(uint256 programId, uint128 baseline) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice The id a milestone with this reference has (or would have) in this program.
    /// @param programId The program.
    /// @param externalRef The manager's reference.
    /// @return milestoneId keccak256(abi.encode(programId, externalRef)).
    function milestoneIdOf(uint256 programId, bytes32 externalRef) external pure returns (bytes32 milestoneId);

    /// @notice A milestone's status, computed from its stored facts and the current time.
    /// @param milestoneId The milestone.
    /// @return status The status (None for an unknown id).
    function statusOf(bytes32 milestoneId) external view returns (MilestoneStatus status);

    /// @notice Everything stored about a milestone, with its computed status.
    /// @param milestoneId The milestone.
    /// @return view_ The milestone (all zero for an unknown id).
    function milestone(bytes32 milestoneId) external view returns (MilestoneView memory view_);

    /// @notice When a verified milestone can be released (zero when it is not verified).
    /// @param milestoneId The milestone.
    /// @return time The earliest Unix time at which `release` succeeds.
    function releasableAt(bytes32 milestoneId) external view returns (uint256 time);

    /// @notice Whether an oracle's attestation for this milestone counts in the current epoch.
    /// @param milestoneId The milestone.
    /// @param oracle The oracle.
    /// @return attested True when the oracle attested in the epoch the milestone's tally belongs to.
    function hasAttested(bytes32 milestoneId, address oracle) external view returns (bool attested);

    /// @notice A program's settings and balances.
    /// @param programId The program.
    /// @return view_ The program (all zero for an unknown id).
    function program(uint256 programId) external view returns (ProgramView memory view_);

    /// @notice The number of programs created; ids run from 1 to this number.
    /// @return count The number of programs.
    function programCount() external view returns (uint256 count);

    /// @notice The current oracle committee.
    /// @return oracles The members.
    /// @return quorum The quorum.
    /// @return epoch The current epoch.
    function committee() external view returns (address[] memory oracles, uint8 quorum, uint16 epoch);

    /// @notice The EIP-712 digest an oracle signs for an attestation:
    /// Attestation(milestoneId, evidenceHash, epoch, termsVersion).
    /// @param milestoneId The milestone.
    /// @param evidenceHash The evidence hash.
    /// @param epoch The committee epoch.
    /// @param termsVersion The milestone's terms version (`milestone(id).termsVersion`).
    /// @return digest The typed-data hash bound to this chain and contract.
    function attestationDigest(bytes32 milestoneId, bytes32 evidenceHash, uint16 epoch, uint8 termsVersion)
        external
        view
        returns (bytes32 digest);
}

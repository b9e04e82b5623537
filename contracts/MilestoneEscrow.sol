// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IMilestoneEscrow} from "./interfaces/IMilestoneEscrow.sol";
import {
    CompactSignature,
    MilestoneInput,
    MilestoneStatus,
    MilestoneView,
    ProgramFacts,
    ProgramView,
    SignedAttestations
} from "./types/EscrowTypes.sol";

/// @title MilestoneEscrow
/// @notice Escrow for public programs: funds are committed to milestones and paid to the
/// milestone's beneficiary only after a quorum of the oracle committee attests the same evidence
/// and the program's challenge window passes.
/// @dev Storage is laid out for the hot paths: one milestone slot holds everything attestation and
/// release read and write, and the pause flag shares a slot with the committee epoch and quorum.
contract MilestoneEscrow is IMilestoneEscrow, AccessControl, EIP712, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice May create programs (and manage the programs it created).
    bytes32 public constant PROGRAM_MANAGER_ROLE = keccak256("PROGRAM_MANAGER_ROLE");

    /// @notice The EIP-712 type an oracle signs.
    bytes32 public constant ATTESTATION_TYPEHASH =
        keccak256("Attestation(bytes32 milestoneId,bytes32 evidenceHash,uint16 epoch,uint8 termsVersion)");

    /// @notice The committee's attestations are tracked as a 16-bit set of seats per milestone.
    uint256 public constant MAX_COMMITTEE_SIZE = 16;

    /// @notice A longer window is almost certainly a unit mistake (milliseconds for seconds).
    uint256 public constant MAX_CHALLENGE_WINDOW = 90 days;

    /// @notice Longest program title, organisation and category, in bytes.
    uint256 public constant MAX_TITLE_LENGTH = 120;
    uint256 public constant MAX_LABEL_LENGTH = 32;

    struct Program {
        address manager;
        bool closed;
        // netFunded > baseline (a baseline cut, or funds beyond it): only then can a commitment
        // within the balance break the baseline, so only then do commitments read the next slot.
        bool overFunded;
        IERC20 token;
        uint40 challengeWindow;
        // When the council last changed the window; milestones verified until then keep at least
        // `earlierWindow`, so that a shorter window never ends a veto window already running.
        uint40 windowChangedAt;
        address treasury;
        uint40 earlierWindow;
        // Tokens held for the program (funded - paid - withdrawn) and the part owed to open milestones.
        uint128 balance;
        uint128 committed;
        // The approved total the program may oblige (paid plus committed), and funded - withdrawn,
        // so that paid = netFunded - balance needs no write on the release path.
        uint128 baseline;
        uint128 netFunded;
    }

    struct Milestone {
        // One slot: everything an attestation or a release reads and writes.
        uint128 amount;
        uint40 deadline;
        uint40 verifiedAt;
        MilestoneStatus status;
        // Bumped by every amendment and beneficiary replacement; signed in every attestation, so
        // a signature given for earlier terms does not count for the changed ones. (The number
        // of attestations is the population count of `attesters`, so it needs no byte here.)
        uint8 termsVersion;
        uint16 epoch;
        uint16 attesters;
        // Read on release and amendment.
        address beneficiary;
        uint64 programId;
        // Set when the council chose the beneficiary: the manager can no longer change it.
        bool beneficiaryLocked;
        bytes32 evidenceSpecHash;
        // Written by the first attestation of an epoch.
        bytes32 evidenceHash;
        // Written on a dispute only: the hash that disagreed with `evidenceHash`.
        bytes32 conflictingHash;
    }

    // These pack into the slot of Pausable's `_paused`: one cold read serves the pause check and
    // the committee checks of an attestation.
    uint16 private _epoch;
    uint8 private _quorum;
    uint64 private _programCount;
    /// Holders of DEFAULT_ADMIN_ROLE; never allowed to fall to zero, so that no proposal can
    /// leave the escrow without anyone able to unpause it or rotate the committee.
    uint8 private _adminCount;

    mapping(uint256 programId => Program) private _programs;
    mapping(bytes32 milestoneId => Milestone) private _milestones;
    /// Seat (1-based) of each member of the current committee; zero for everyone else.
    mapping(address oracle => uint256 seat) private _seatOf;
    address[] private _oracles;

    /// @param admin Holds DEFAULT_ADMIN_ROLE: sets the committee, grants roles, pauses.
    constructor(address admin) EIP712("MilestoneEscrow", "1") {
        if (admin == address(0)) revert Escrow_ZeroAddress("admin");
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /*//////////////////////////////////////////////////////////////
                               PROGRAMS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function createProgram(IERC20 token, address treasury, uint40 challengeWindow, ProgramFacts calldata facts)
        external
        override
        whenNotPaused
        onlyRole(PROGRAM_MANAGER_ROLE)
        returns (uint256 programId)
    {
        // Checks
        if (address(token).code.length == 0) revert Escrow_InvalidToken(address(token));
        _checkTreasury(treasury);
        if (challengeWindow > MAX_CHALLENGE_WINDOW) {
            revert Escrow_ChallengeWindowTooLong(challengeWindow, MAX_CHALLENGE_WINDOW);
        }
        _checkFactLength("title", bytes(facts.title).length, MAX_TITLE_LENGTH);
        _checkFactLength("organisation", bytes(facts.organisation).length, MAX_LABEL_LENGTH);
        _checkFactLength("category", bytes(facts.category).length, MAX_LABEL_LENGTH);
        if (facts.fiscalYear < 2000 || facts.fiscalYear > 2100) revert Escrow_FiscalYearOutOfRange(facts.fiscalYear);
        if (facts.baseline == 0) revert Escrow_ZeroAmount();

        // Effects
        programId = ++_programCount;
        Program storage p = _programs[programId];
        p.manager = msg.sender;
        p.token = token;
        p.challengeWindow = challengeWindow;
        p.treasury = treasury;
        p.baseline = facts.baseline;
        emit ProgramCreated(programId, msg.sender, address(token), treasury, challengeWindow);
        emit ProgramDescribed(
            programId, facts.title, facts.organisation, facts.category, facts.fiscalYear, facts.baseline
        );
    }

    /// @inheritdoc IMilestoneEscrow
    function fund(uint256 programId, uint256 amount) external override whenNotPaused nonReentrant {
        // Checks
        Program storage p = _existingProgram(programId);
        if (p.closed) revert Escrow_ProgramClosed(programId);
        if (amount == 0) revert Escrow_ZeroAmount();

        // Interactions: the credit is what actually arrived, so it is measured around the transfer.
        IERC20 token = p.token;
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert Escrow_FundingShortfall(programId, amount, received);

        // Effects (reentrancy is excluded by the guard; a revert above undoes the transfer)
        p.balance = (p.balance + received).toUint128();
        uint128 netFunded = (uint256(p.netFunded) + received).toUint128();
        p.netFunded = netFunded;
        p.overFunded = netFunded > p.baseline;
        emit ProgramFunded(programId, msg.sender, received);
    }

    /// @inheritdoc IMilestoneEscrow
    function closeProgram(uint256 programId) external override whenNotPaused {
        // Checks
        Program storage p = _managedOrGovernedProgram(programId);
        if (p.closed) revert Escrow_ProgramClosed(programId);

        // Effects
        p.closed = true;
        emit ProgramClosed(programId);
    }

    /// @inheritdoc IMilestoneEscrow
    function withdrawRemainder(uint256 programId)
        external
        override
        whenNotPaused
        nonReentrant
        returns (uint256 amount)
    {
        // Checks
        Program storage p = _managedOrGovernedProgram(programId);
        if (!p.closed) revert Escrow_ProgramNotClosed(programId);
        amount = p.balance - p.committed;
        if (amount == 0) revert Escrow_NothingToWithdraw(programId);

        // Effects
        p.balance -= uint128(amount);
        uint128 netFunded = p.netFunded - uint128(amount);
        p.netFunded = netFunded;
        p.overFunded = netFunded > p.baseline;
        address treasury = p.treasury;
        emit RemainderWithdrawn(programId, treasury, amount);

        // Interactions
        _transferExactly(p.token, treasury, amount);
    }

    /// @inheritdoc IMilestoneEscrow
    function setProgramManager(uint256 programId, address manager)
        external
        override
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        // Checks
        Program storage p = _existingProgram(programId);
        if (manager == address(0)) revert Escrow_ZeroAddress("manager");
        if (!hasRole(PROGRAM_MANAGER_ROLE, manager)) revert Escrow_ManagerLacksRole(manager);

        // Effects
        address previous = p.manager;
        p.manager = manager;
        emit ProgramManagerChanged(programId, previous, manager);
    }

    /// @inheritdoc IMilestoneEscrow
    function setProgramTreasury(uint256 programId, address treasury)
        external
        override
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        // Checks
        Program storage p = _existingProgram(programId);
        _checkTreasury(treasury);

        // Effects
        address previous = p.treasury;
        p.treasury = treasury;
        emit ProgramTreasuryChanged(programId, previous, treasury);
    }

    /*//////////////////////////////////////////////////////////////
                               MILESTONES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function registerMilestone(uint256 programId, MilestoneInput calldata input)
        external
        override
        whenNotPaused
        returns (bytes32 milestoneId)
    {
        Program storage p = _openManagedProgram(programId);
        uint128 amount;
        (milestoneId, amount) = _register(programId, input, address(p.token));
        _commit(p, programId, amount);
    }

    /// @inheritdoc IMilestoneEscrow
    function registerMilestones(uint256 programId, MilestoneInput[] calldata inputs)
        external
        override
        whenNotPaused
    {
        Program storage p = _openManagedProgram(programId);
        uint256 count = inputs.length;
        if (count == 0) revert Escrow_EmptyBatch();
        uint256 total;
        address token = address(p.token);
        for (uint256 i; i < count; ++i) {
            (, uint128 amount) = _register(programId, inputs[i], token);
            total += amount;
        }
        _commit(p, programId, total);
    }

    /// @inheritdoc IMilestoneEscrow
    function amendMilestone(
        bytes32 milestoneId,
        address beneficiary,
        uint128 amount,
        uint40 deadline,
        bytes32 evidenceSpecHash
    ) external override whenNotPaused {
        // Checks
        Milestone storage m = _existingMilestone(milestoneId);
        uint256 programId = m.programId;
        Program storage p = _openManagedProgram(programId);
        if (m.status != MilestoneStatus.Registered) {
            revert Escrow_UnexpectedMilestoneStatus(milestoneId, _statusOf(m));
        }
        // Only attestations of the current epoch count, so only they freeze the terms.
        if (m.attesters != 0 && m.epoch == _epoch) {
            revert Escrow_MilestoneAlreadyAttested(milestoneId, _popcount(m.attesters));
        }
        // A beneficiary the council chose is the council's to change, not one key's.
        if (m.beneficiaryLocked && beneficiary != m.beneficiary) {
            revert Escrow_BeneficiarySetByCouncil(milestoneId, m.beneficiary);
        }
        _checkTerms(beneficiary, amount, deadline, address(p.token));
        uint8 termsVersion = _nextTermsVersion(m, milestoneId);

        // Effects
        _setCommitted(p, programId, uint256(p.committed) - m.amount + amount);
        m.amount = amount;
        m.deadline = deadline;
        m.termsVersion = termsVersion;
        m.attesters = 0;
        m.beneficiary = beneficiary;
        m.evidenceSpecHash = evidenceSpecHash;
        emit MilestoneAmended(milestoneId, beneficiary, amount, deadline, evidenceSpecHash);
    }

    /// @inheritdoc IMilestoneEscrow
    function attest(bytes32 milestoneId, bytes32 evidenceHash, uint16 epoch, uint8 termsVersion)
        external
        override
        whenNotPaused
    {
        uint16 current = _epoch;
        if (epoch != current) revert Escrow_WrongEpoch(epoch, current);
        Milestone storage m = _milestones[milestoneId];
        Tally memory tally = _openTally(m, milestoneId, current);
        // Bound to the terms the oracle verified, like a relayed signature: an amendment or a
        // beneficiary replacement between its verification and this call makes it count for nothing.
        uint8 currentTerms = m.termsVersion;
        if (termsVersion != currentTerms) revert Escrow_TermsChanged(milestoneId, termsVersion, currentTerms);
        // The oracle itself attesting twice is refused, not skipped.
        tally.recorded = 0;
        _count(tally, milestoneId, msg.sender, evidenceHash, current);
        _closeTally(m, tally, milestoneId, evidenceHash, msg.sender, current, _quorum);
    }

    /// @inheritdoc IMilestoneEscrow
    function attestWithSignatures(uint16 epoch, SignedAttestations[] calldata batch)
        external
        override
        whenNotPaused
    {
        uint16 current = _epoch;
        if (epoch != current) revert Escrow_WrongEpoch(epoch, current);
        if (batch.length == 0) revert Escrow_EmptyBatch();
        uint8 quorum = _quorum;
        for (uint256 i; i < batch.length; ++i) {
            _attestSigned(batch[i], current, quorum);
        }
    }

    /// @inheritdoc IMilestoneEscrow
    function release(bytes32 milestoneId) external override whenNotPaused nonReentrant {
        // Checks
        Milestone storage m = _milestones[milestoneId];
        if (m.status != MilestoneStatus.Verified) {
            if (m.status == MilestoneStatus.None) revert Escrow_UnknownMilestone(milestoneId);
            revert Escrow_UnexpectedMilestoneStatus(milestoneId, _statusOf(m));
        }
        uint256 due = _releasableAt(m);
        if (block.timestamp < due) revert Escrow_ChallengeWindowOpen(milestoneId, due);

        _pay(milestoneId, m);
    }

    /// @inheritdoc IMilestoneEscrow
    function releaseBatch(bytes32[] calldata milestoneIds)
        external
        override
        whenNotPaused
        nonReentrant
        returns (uint256 released)
    {
        uint256 count = milestoneIds.length;
        if (count == 0) revert Escrow_EmptyBatch();
        for (uint256 i; i < count; ++i) {
            bytes32 milestoneId = milestoneIds[i];
            Milestone storage m = _milestones[milestoneId];
            // Checks: the conditions of `release`, but a milestone that is not due is skipped, not
            // refused, so that losing a race to another releaser (or to a council freeze) does not
            // sink the rest of the batch. A duplicate id reads Released the second time.
            if (m.status != MilestoneStatus.Verified || block.timestamp < _releasableAt(m)) continue;

            // Effects and interactions (a failed transfer reverts the whole batch)
            _pay(milestoneId, m);
            ++released;
        }
    }

    /// @inheritdoc IMilestoneEscrow
    function expire(bytes32 milestoneId) external override whenNotPaused {
        // Checks
        Milestone storage m = _existingMilestone(milestoneId);
        MilestoneStatus status = _statusOf(m);
        if (status != MilestoneStatus.Expired || m.status != MilestoneStatus.Registered) {
            revert Escrow_UnexpectedMilestoneStatus(milestoneId, status);
        }

        // Effects
        uint256 programId = m.programId;
        uint128 amount = m.amount;
        m.status = MilestoneStatus.Expired;
        _programs[programId].committed -= amount;
        emit MilestoneExpired(milestoneId, programId, amount);
    }

    /*//////////////////////////////////////////////////////////////
                               COMMITTEE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function setCommittee(address[] calldata oracles, uint8 quorum)
        external
        override
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        // Checks
        uint256 size = oracles.length;
        if (size == 0 || size > MAX_COMMITTEE_SIZE) revert Escrow_InvalidCommitteeSize(size, MAX_COMMITTEE_SIZE);
        if (quorum == 0 || quorum > size) revert Escrow_InvalidQuorum(quorum, size);
        uint16 epoch = _epoch;
        if (epoch == type(uint16).max) revert Escrow_EpochOverflow();

        // Effects
        address[] storage previous = _oracles;
        for (uint256 i; i < previous.length; ++i) {
            delete _seatOf[previous[i]];
        }
        for (uint256 i; i < size; ++i) {
            address oracle = oracles[i];
            if (oracle == address(0)) revert Escrow_ZeroAddress("oracle");
            if (_seatOf[oracle] != 0) revert Escrow_DuplicateOracle(oracle);
            _seatOf[oracle] = i + 1;
        }
        _oracles = oracles;
        _quorum = quorum;
        _epoch = ++epoch;
        emit CommitteeUpdated(epoch, oracles, quorum);
    }

    /// @inheritdoc IMilestoneEscrow
    function pause() external override onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /// @inheritdoc IMilestoneEscrow
    function unpause() external override onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /*//////////////////////////////////////////////////////////////
                   COUNCIL OVERRIDES (admin role = the council)
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function freeze(bytes32 milestoneId) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        Milestone storage m = _existingMilestone(milestoneId);
        if (m.status != MilestoneStatus.Verified) {
            revert Escrow_UnexpectedMilestoneStatus(milestoneId, _statusOf(m));
        }
        m.status = MilestoneStatus.Frozen;
        emit MilestoneFrozen(milestoneId);
    }

    /// @inheritdoc IMilestoneEscrow
    function unfreeze(bytes32 milestoneId) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        Milestone storage m = _existingMilestone(milestoneId);
        if (m.status != MilestoneStatus.Frozen) {
            revert Escrow_UnexpectedMilestoneStatus(milestoneId, _statusOf(m));
        }
        m.status = MilestoneStatus.Verified;
        emit MilestoneUnfrozen(milestoneId);
    }

    /// @inheritdoc IMilestoneEscrow
    function cancel(bytes32 milestoneId) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        // Checks
        Milestone storage m = _councilMilestone(milestoneId);

        // Effects: an expired milestone's amount went back to the program already.
        uint256 programId = m.programId;
        uint128 amount = m.status == MilestoneStatus.Expired ? 0 : m.amount;
        m.status = MilestoneStatus.Cancelled;
        _programs[programId].committed -= amount;
        emit MilestoneCancelled(milestoneId, programId, amount);
    }

    /// @inheritdoc IMilestoneEscrow
    function forceRelease(bytes32 milestoneId, bytes32 reasonHash)
        external
        override
        onlyRole(DEFAULT_ADMIN_ROLE)
        nonReentrant
    {
        // Checks
        Milestone storage m = _councilMilestone(milestoneId);

        // Effects: an expired milestone's amount went back to the program; it is committed again
        // (refused when the program no longer has it uncommitted), so that the payment comes out
        // of the program's own funds and invariants 1 and 2 hold.
        if (m.status == MilestoneStatus.Expired) {
            uint256 programId = m.programId;
            _commit(_programs[programId], programId, m.amount);
        }
        emit MilestoneForceReleased(milestoneId, reasonHash);
        _pay(milestoneId, m);
    }

    /// @inheritdoc IMilestoneEscrow
    function replaceBeneficiary(bytes32 milestoneId, address beneficiary)
        external
        override
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        // Checks
        Milestone storage m = _councilMilestone(milestoneId);
        _checkBeneficiary(beneficiary, address(_programs[m.programId].token));
        uint8 termsVersion = _nextTermsVersion(m, milestoneId);

        // Effects: signatures given for the old terms stop counting; attestations already
        // recorded stand (they attest the evidence, which has not changed).
        address previous = m.beneficiary;
        m.beneficiary = beneficiary;
        m.beneficiaryLocked = true;
        m.termsVersion = termsVersion;
        emit BeneficiaryReplaced(milestoneId, previous, beneficiary);
    }

    /// @inheritdoc IMilestoneEscrow
    function resolveDispute(bytes32 milestoneId, bytes32 evidenceHash)
        external
        override
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        Milestone storage m = _existingMilestone(milestoneId);
        if (m.status != MilestoneStatus.Disputed) {
            revert Escrow_UnexpectedMilestoneStatus(milestoneId, _statusOf(m));
        }
        if (evidenceHash != m.evidenceHash && evidenceHash != m.conflictingHash) {
            revert Escrow_HashNotDisputed(milestoneId, evidenceHash);
        }
        m.evidenceHash = evidenceHash;
        m.verifiedAt = uint40(block.timestamp);
        m.status = MilestoneStatus.Verified;
        emit DisputeResolved(milestoneId, evidenceHash);
    }

    /// @inheritdoc IMilestoneEscrow
    function setChallengeWindow(uint256 programId, uint40 challengeWindow)
        external
        override
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        // Checks
        Program storage p = _existingProgram(programId);
        if (challengeWindow > MAX_CHALLENGE_WINDOW) {
            revert Escrow_ChallengeWindowTooLong(challengeWindow, MAX_CHALLENGE_WINDOW);
        }

        // Effects: milestones verified until now keep the longest window that may still be
        // running for any of them (see `_releasableAt`); the new window applies to milestones
        // verified from now on, and a longer one to every milestone.
        uint40 previous = p.challengeWindow;
        uint40 earlier = p.earlierWindow;
        if (earlier <= previous || block.timestamp >= uint256(p.windowChangedAt) + earlier) earlier = previous;
        p.earlierWindow = earlier;
        p.windowChangedAt = uint40(block.timestamp);
        p.challengeWindow = challengeWindow;
        emit ChallengeWindowSet(programId, challengeWindow);
    }

    /// @inheritdoc IMilestoneEscrow
    function setBaseline(uint256 programId, uint128 baseline) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        // Checks
        Program storage p = _existingProgram(programId);
        if (baseline == 0) revert Escrow_ZeroAmount();
        uint128 netFunded = p.netFunded;
        uint256 obligated = uint256(p.committed) + (netFunded - p.balance);
        if (baseline < obligated) revert Escrow_BaselineBelowObligated(programId, baseline, obligated);

        // Effects
        uint128 previous = p.baseline;
        p.baseline = baseline;
        p.overFunded = netFunded > baseline;
        emit BaselineChanged(programId, previous, baseline);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function milestoneIdOf(uint256 programId, bytes32 externalRef) public pure override returns (bytes32) {
        return keccak256(abi.encode(programId, externalRef));
    }

    /// @inheritdoc IMilestoneEscrow
    function statusOf(bytes32 milestoneId) external view override returns (MilestoneStatus) {
        return _statusOf(_milestones[milestoneId]);
    }

    /// @inheritdoc IMilestoneEscrow
    function milestone(bytes32 milestoneId) external view override returns (MilestoneView memory view_) {
        Milestone storage m = _milestones[milestoneId];
        view_ = MilestoneView({
            programId: m.programId,
            beneficiary: m.beneficiary,
            amount: m.amount,
            deadline: m.deadline,
            evidenceSpecHash: m.evidenceSpecHash,
            status: _statusOf(m),
            attestations: _popcount(m.attesters),
            attestationEpoch: m.epoch,
            evidenceHash: m.evidenceHash,
            verifiedAt: m.verifiedAt,
            termsVersion: m.termsVersion,
            beneficiaryLocked: m.beneficiaryLocked
        });
    }

    /// @inheritdoc IMilestoneEscrow
    function releasableAt(bytes32 milestoneId) external view override returns (uint256) {
        Milestone storage m = _milestones[milestoneId];
        if (m.status != MilestoneStatus.Verified) return 0;
        return _releasableAt(m);
    }

    /// @inheritdoc IMilestoneEscrow
    function hasAttested(bytes32 milestoneId, address oracle) external view override returns (bool) {
        Milestone storage m = _milestones[milestoneId];
        uint256 seat = _seatOf[oracle];
        return seat != 0 && m.epoch == _epoch && (m.attesters & (1 << (seat - 1))) != 0;
    }

    /// @inheritdoc IMilestoneEscrow
    function program(uint256 programId) external view override returns (ProgramView memory view_) {
        Program storage p = _programs[programId];
        view_ = ProgramView({
            manager: p.manager,
            closed: p.closed,
            token: address(p.token),
            challengeWindow: p.challengeWindow,
            treasury: p.treasury,
            balance: p.balance,
            committed: p.committed,
            baseline: p.baseline
        });
    }

    /// @inheritdoc IMilestoneEscrow
    function programCount() external view override returns (uint256) {
        return _programCount;
    }

    /// @inheritdoc IMilestoneEscrow
    function committee() external view override returns (address[] memory, uint8, uint16) {
        return (_oracles, _quorum, _epoch);
    }

    /// @inheritdoc IMilestoneEscrow
    function attestationDigest(bytes32 milestoneId, bytes32 evidenceHash, uint16 epoch, uint8 termsVersion)
        external
        view
        override
        returns (bytes32)
    {
        return _attestationDigest(milestoneId, evidenceHash, epoch, termsVersion);
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    /// @dev Counts admins as they are granted.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == DEFAULT_ADMIN_ROLE) ++_adminCount;
    }

    /// @dev Refuses to remove the last admin (by revocation or renunciation).
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == DEFAULT_ADMIN_ROLE) {
            if (_adminCount == 1) revert Escrow_LastAdmin(account);
            --_adminCount;
        }
    }

    /// @dev The one place that decides a milestone's status: a registered milestone past its
    /// deadline reads as Expired before anyone calls `expire`.
    function _statusOf(Milestone storage m) private view returns (MilestoneStatus) {
        MilestoneStatus status = m.status;
        if (status == MilestoneStatus.Registered && block.timestamp > m.deadline) {
            return MilestoneStatus.Expired;
        }
        return status;
    }

    /// @dev The one place that decides when a verified milestone's challenge window ends: the
    /// program's window, or for a milestone verified before the council last changed it, the
    /// longer of that and the window its veto period may still be running under.
    function _releasableAt(Milestone storage m) private view returns (uint256) {
        Program storage p = _programs[m.programId];
        uint256 window = p.challengeWindow;
        uint256 verifiedAt = m.verifiedAt;
        if (verifiedAt <= p.windowChangedAt) {
            uint256 earlier = p.earlierWindow;
            if (earlier > window) window = earlier;
        }
        return verifiedAt + window;
    }

    function _attestationDigest(bytes32 milestoneId, bytes32 evidenceHash, uint16 epoch, uint8 termsVersion)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(ATTESTATION_TYPEHASH, milestoneId, evidenceHash, epoch, termsVersion))
        );
    }

    /// @dev The number of attestations in a tally: one bit per committee seat.
    function _popcount(uint16 bits) private pure returns (uint8 count) {
        unchecked {
            uint256 x = bits;
            x = x - ((x >> 1) & 0x5555);
            x = (x & 0x3333) + ((x >> 2) & 0x3333);
            x = (x + (x >> 4)) & 0x0f0f;
            count = uint8((x + (x >> 8)) & 0x1f);
        }
    }

    /// @dev The next terms version; refused once the counter is exhausted (255 changes), since a
    /// counter that wrapped would make signatures for old terms count again.
    function _nextTermsVersion(Milestone storage m, bytes32 milestoneId) private view returns (uint8) {
        uint8 version = m.termsVersion;
        if (version == type(uint8).max) revert Escrow_TermsVersionExhausted(milestoneId);
        return version + 1;
    }

    function _existingProgram(uint256 programId) private view returns (Program storage p) {
        p = _programs[programId];
        if (p.manager == address(0)) revert Escrow_UnknownProgram(programId);
    }

    /// @dev The program's manager, while it still holds the role: revoking the role cuts a
    /// compromised manager key off its programs too.
    function _managedProgram(uint256 programId) private view returns (Program storage p) {
        p = _existingProgram(programId);
        if (p.manager != msg.sender || !hasRole(PROGRAM_MANAGER_ROLE, msg.sender)) {
            revert Escrow_NotProgramManager(programId, msg.sender);
        }
    }

    /// @dev A program its manager (as in `_managedProgram`) or the council may act on.
    function _managedOrGovernedProgram(uint256 programId) private view returns (Program storage p) {
        p = _existingProgram(programId);
        if (
            !(p.manager == msg.sender && hasRole(PROGRAM_MANAGER_ROLE, msg.sender))
                && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)
        ) revert Escrow_NotProgramManager(programId, msg.sender);
    }

    function _openManagedProgram(uint256 programId) private view returns (Program storage p) {
        p = _managedProgram(programId);
        if (p.closed) revert Escrow_ProgramClosed(programId);
    }

    function _existingMilestone(bytes32 milestoneId) private view returns (Milestone storage m) {
        m = _milestones[milestoneId];
        if (m.status == MilestoneStatus.None) revert Escrow_UnknownMilestone(milestoneId);
    }

    /// @dev A milestone the council may still cancel, force-release or redirect: not paid or
    /// cancelled. A lapsed one qualifies, whether or not anyone called `expire`, so that nobody
    /// can defeat an approved council decision by expiring the milestone first.
    function _councilMilestone(bytes32 milestoneId) private view returns (Milestone storage m) {
        m = _existingMilestone(milestoneId);
        MilestoneStatus status = m.status;
        if (status == MilestoneStatus.Released || status == MilestoneStatus.Cancelled) {
            revert Escrow_UnexpectedMilestoneStatus(milestoneId, _statusOf(m));
        }
    }

    /// @dev Pays a milestone its amount, once: the status changes before the transfer.
    function _pay(bytes32 milestoneId, Milestone storage m) private {
        // Effects
        uint256 programId = m.programId;
        Program storage p = _programs[programId];
        uint128 amount = m.amount;
        address beneficiary = m.beneficiary;
        m.status = MilestoneStatus.Released;
        // Cannot underflow: an unpaid milestone's amount is part of `committed` (committed again
        // by forceRelease for an expired one), and committed <= balance (invariant 2).
        unchecked {
            p.balance -= amount;
            p.committed -= amount;
        }
        emit MilestoneReleased(milestoneId, programId, beneficiary, amount);

        // Interactions
        _transferExactly(p.token, beneficiary, amount);
    }

    /// @dev Transfers `amount` and checks that the recipient's balance rose by exactly that much:
    /// a fee-on-transfer token that short-pays (even one whose fee rounded to zero when it was
    /// funded) is refused, so no event states an amount that did not arrive. Callers are
    /// non-reentrant.
    function _transferExactly(IERC20 token, address to, uint256 amount) private {
        uint256 before = _balanceOf(token, to);
        token.safeTransfer(to, amount);
        uint256 received = _balanceOf(token, to);
        received = received > before ? received - before : 0;
        if (received != amount) revert Escrow_TransferShortfall(address(token), to, amount, received);
    }

    /// @dev `token.balanceOf(account)` without the ABI encoder's overhead (it runs twice per
    /// payment, on the hot path of every release). A token that does not answer with a word is
    /// refused, as the high-level call would.
    function _balanceOf(IERC20 token, address account) private view returns (uint256 held) {
        bool ok;
        assembly ("memory-safe") {
            mstore(0x00, 0x70a08231) // balanceOf(address)
            mstore(0x20, account)
            ok := staticcall(gas(), token, 0x1c, 0x24, 0x00, 0x20)
            ok := and(ok, gt(returndatasize(), 0x1f))
            held := mload(0x00)
        }
        if (!ok) revert Escrow_InvalidToken(address(token));
    }

    function _checkTerms(address beneficiary, uint128 amount, uint40 deadline, address token) private view {
        _checkBeneficiary(beneficiary, token);
        if (amount == 0) revert Escrow_ZeroAmount();
        if (deadline <= block.timestamp) revert Escrow_DeadlineNotInFuture(deadline, block.timestamp);
    }

    /// @dev A payment to the escrow itself or to the token contract would leave the tokens
    /// outside every program (or move none): both are refused.
    function _checkBeneficiary(address beneficiary, address token) private view {
        if (beneficiary == address(0)) revert Escrow_ZeroAddress("beneficiary");
        if (beneficiary == address(this) || beneficiary == token) revert Escrow_InvalidBeneficiary(beneficiary);
    }

    function _checkTreasury(address treasury) private view {
        if (treasury == address(0)) revert Escrow_ZeroAddress("treasury");
        if (treasury == address(this)) revert Escrow_InvalidTreasury(treasury);
    }

    /// @dev Writes one milestone; the caller commits the amount.
    function _register(uint256 programId, MilestoneInput calldata input, address token)
        private
        returns (bytes32 milestoneId, uint128 amount)
    {
        amount = input.amount;
        _checkTerms(input.beneficiary, amount, input.deadline, token);
        milestoneId = milestoneIdOf(programId, input.externalRef);
        Milestone storage m = _milestones[milestoneId];
        if (m.status != MilestoneStatus.None) {
            revert Escrow_DuplicateMilestone(programId, input.externalRef, milestoneId);
        }
        m.amount = amount;
        m.deadline = input.deadline;
        m.status = MilestoneStatus.Registered;
        m.beneficiary = input.beneficiary;
        m.programId = uint64(programId);
        m.evidenceSpecHash = input.evidenceSpecHash;
        emit MilestoneRegistered(
            milestoneId, programId, input.beneficiary, amount, input.deadline, input.evidenceSpecHash, input.externalRef
        );
    }

    /// @dev Adds `amount` to the program's commitment.
    function _commit(Program storage p, uint256 programId, uint256 amount) private {
        _setCommitted(p, programId, uint256(p.committed) + amount);
    }

    /// @dev Sets the program's commitment, which may never exceed its balance (invariant 2), nor
    /// oblige it (paid plus committed) beyond its baseline. While netFunded <= baseline the first
    /// rule implies the second: paid + committed <= paid + balance = netFunded <= baseline.
    function _setCommitted(Program storage p, uint256 programId, uint256 committed) private {
        uint256 balance = p.balance;
        if (committed > balance) revert Escrow_InsufficientFunds(programId, committed, balance);
        if (p.overFunded) {
            uint256 obligated = committed + (p.netFunded - balance);
            if (obligated > p.baseline) revert Escrow_BaselineExceeded(programId, obligated, p.baseline);
        }
        p.committed = uint128(committed);
    }

    function _checkFactLength(string memory field, uint256 length, uint256 max) private pure {
        if (length == 0 || length > max) revert Escrow_InvalidFactLength(field, length, max);
    }

    /// @dev Counts one milestone's relayed signatures. What the chain has already recorded is
    /// skipped, not refused, so that a front-run of some of a batch's public signatures does not
    /// sink the batch: a signature of an oracle already counted in this epoch, and a whole item
    /// whose milestone a quorum already verified on this very evidence hash. The item's other
    /// signatures still count: each is an oracle's own attestation, and dropping them would let
    /// whoever front-runs one signature delay the verification.
    function _attestSigned(SignedAttestations calldata item, uint16 epoch, uint8 quorum) private {
        CompactSignature[] calldata signatures = item.signatures;
        if (signatures.length == 0) revert Escrow_EmptyBatch();
        bytes32 milestoneId = item.milestoneId;
        Milestone storage m = _milestones[milestoneId];
        if (_verifiedOn(m, item.evidenceHash)) return;
        Tally memory tally = _openTally(m, milestoneId, epoch);
        // The digest binds milestone, evidence, epoch and the milestone's current terms to this
        // chain and this contract, so a signature replays nowhere else and counts for nothing
        // once the terms it was given for changed; OpenZeppelin's ECDSA refuses high-s forms.
        bytes32 digest = _attestationDigest(milestoneId, item.evidenceHash, epoch, m.termsVersion);
        address firstSigner;
        for (uint256 j; j < signatures.length; ++j) {
            address oracle = ECDSA.recover(digest, signatures[j].r, signatures[j].vs);
            if (_count(tally, milestoneId, oracle, item.evidenceHash, epoch) && firstSigner == address(0)) {
                firstSigner = oracle;
            }
        }
        if (tally.count == tally.countBefore) return;
        _closeTally(m, tally, milestoneId, item.evidenceHash, firstSigner, epoch, quorum);
    }

    /// @dev Whether a quorum already verified the milestone on this evidence hash (it may have
    /// been frozen or released since).
    function _verifiedOn(Milestone storage m, bytes32 evidenceHash) private view returns (bool) {
        MilestoneStatus status = m.status;
        return (status == MilestoneStatus.Verified || status == MilestoneStatus.Frozen
                || status == MilestoneStatus.Released) && m.evidenceHash == evidenceHash;
    }

    /// @dev A milestone's attestation tally while attestations are being counted.
    struct Tally {
        uint8 countBefore;
        uint8 count;
        uint16 attesters;
        // Seats already on chain when the call began: skipped when relayed again.
        uint16 recorded;
    }

    /// @dev Checks that the milestone takes attestations and loads its tally. Attestations made
    /// under an earlier epoch stop counting: the first attestation of a new epoch starts afresh.
    function _openTally(Milestone storage m, bytes32 milestoneId, uint16 epoch)
        private
        view
        returns (Tally memory tally)
    {
        MilestoneStatus status = m.status;
        if (status != MilestoneStatus.Registered) {
            if (status == MilestoneStatus.None) revert Escrow_UnknownMilestone(milestoneId);
            revert Escrow_UnexpectedMilestoneStatus(milestoneId, _statusOf(m));
        }
        uint40 deadline = m.deadline;
        if (block.timestamp > deadline) revert Escrow_MilestonePastDeadline(milestoneId, deadline);
        if (m.epoch == epoch) {
            uint16 attesters = m.attesters;
            tally.countBefore = _popcount(attesters);
            tally.count = tally.countBefore;
            tally.attesters = attesters;
            tally.recorded = attesters;
        }
    }

    /// @dev Counts one committee member's attestation, once per epoch. Returns false, counting
    /// nothing, for a member whose seat is in `tally.recorded` (already on chain before this
    /// call); a member named twice in one call is refused.
    function _count(Tally memory tally, bytes32 milestoneId, address oracle, bytes32 evidenceHash, uint16 epoch)
        private
        returns (bool counted)
    {
        uint256 seat = _seatOf[oracle];
        if (seat == 0) revert Escrow_NotOracle(oracle);
        uint16 bit = uint16(1 << (seat - 1));
        if (tally.recorded & bit != 0) return false;
        if (tally.attesters & bit != 0) revert Escrow_AlreadyAttested(milestoneId, oracle);
        tally.attesters |= bit;
        ++tally.count;
        emit AttestationRecorded(milestoneId, oracle, evidenceHash, epoch);
        return true;
    }

    /// @dev Stores the tally and decides the outcome: the first hash of an epoch is the one the
    /// others must match; a different one disputes the milestone; a full quorum verifies it.
    function _closeTally(
        Milestone storage m,
        Tally memory tally,
        bytes32 milestoneId,
        bytes32 evidenceHash,
        address oracle,
        uint16 epoch,
        uint8 quorum
    ) private {
        MilestoneStatus status = MilestoneStatus.Registered;
        bytes32 agreed = evidenceHash;
        if (tally.countBefore == 0) {
            m.evidenceHash = evidenceHash;
        } else {
            agreed = m.evidenceHash;
            if (agreed != evidenceHash) status = MilestoneStatus.Disputed;
        }
        if (status == MilestoneStatus.Registered && tally.count >= quorum) {
            status = MilestoneStatus.Verified;
            m.verifiedAt = uint40(block.timestamp);
        }
        m.attesters = tally.attesters;
        m.epoch = epoch;
        m.status = status;

        if (status == MilestoneStatus.Disputed) {
            m.conflictingHash = evidenceHash;
            emit MilestoneDisputed(milestoneId, oracle, agreed, evidenceHash);
        } else if (status == MilestoneStatus.Verified) {
            emit MilestoneVerified(milestoneId, agreed, tally.count);
        }
    }
}

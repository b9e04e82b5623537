// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {CompactSignature} from "../types/EscrowTypes.sol";
import {
    ContractorStatus,
    ContractorView,
    PayoutChangeRequest,
    PayoutChangeState,
    PayoutChangeView
} from "../types/RegistryTypes.sol";

/// @title Contractor registry
/// @notice The council's register of vetted contractors and of where each is paid. A contractor
/// has an id, a payout address, the hash of its vetting record (the due-diligence file kept off
/// chain), a vetted-until date and a status (Active, Suspended, Debarred; Lapsed when its vetting
/// ran out). Only the council (its OversightCouncil contract, through executed proposals)
/// registers, renews, suspends, reinstates and debars.
///
/// A payout address changes only with two keys and time: the contractor asks (a transaction from
/// its current payout address, or an EIP-712 request signed by it and relayed by anyone), the
/// council approves by proposal, and the change waits a cooling-off period during which the
/// contractor's current address or any single council member can cancel it; then anyone may
/// finalize it. The council alone (a lost key) can move a payout too, but only after a longer
/// delay, with a reason hash, through its own event (`PayoutChangeForced`), and any single member
/// can still cancel it. An address, once a contractor's payout, stays that contractor's for good
/// (`contractorOf`): it can never become another contractor's, so a milestone written to an old
/// address can be followed to the contractor's current one and never to someone else.
///
/// @dev Design note (issue 14, first part).
/// - Why a contract of its own: the escrow's bytecode is 23,561 of the 24,576 bytes a contract may
///   have, and the registry's change flow alone (EIP-712, nonces, delays, cancellation by any
///   member) would not fit beside it. A separate contract also keeps the registry's governance
///   readable on its own and lets it outlive an escrow, or serve several.
/// - How the escrow will consult it: one external view, `isPayable(beneficiary)`, on the release
///   path (two cold storage reads here plus the cold call: about 8,100 gas measured from another
///   contract, the `registry_is_payable_external` row of `make gas`); `contractorOf(address)` for
///   the registration checks and to follow an old address to the contractor's current payout.
///   Alternatively the escrow keeps the contractor's id with the milestone (a uint24 fits in the
///   beneficiary slot beside the program id) and asks `payableAddressOf(id)`, one read (the
///   `registry_payable_address_of_external` row): it then pays the contractor's current address.
///   Either way the check costs more than the issue's caps allow on top of today's `release`
///   (59,529 + the check against 64,000; 23,560 per milestone of a batch + the check against
///   26,000): a cold account (2,600) and a cold slot (2,100) alone take 4,700, so meeting the caps
///   needs savings in the escrow's release path or caps revised with these figures.
/// - What remains for wiring it in: the escrow's registerMilestone(s), amendMilestone and
///   replaceBeneficiary accept only `isPayable` addresses; release and forceRelease refuse an
///   unpayable beneficiary (the money stays committed), releaseBatch skips it, and a debarred
///   contractor's milestone can be cancelled; unpaid milestones follow a finalized change to the
///   new address; the oracle node's releaser retries skipped milestones once they are payable;
///   `disburse contractors ...` and `disburse contractors change-address ...`; the index, audit,
///   console and their alerts; the demo; the stateful invariant test of the escrow with registry
///   actions.
interface IContractorRegistry {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice The council registered a vetted contractor.
    /// @param contractorId The new contractor's id (sequential from 1).
    /// @param payout Where it is paid.
    /// @param vettingHash The hash of its vetting record.
    /// @param vettedUntil Unix time until which its vetting holds.
    event ContractorRegistered(
        uint256 indexed contractorId, address indexed payout, bytes32 vettingHash, uint40 vettedUntil
    );

    /// @notice The council renewed (or corrected) a contractor's vetting.
    /// @param contractorId The contractor.
    /// @param vettingHash The hash of the new vetting record.
    /// @param vettedUntil The new vetted-until date.
    event VettingRenewed(uint256 indexed contractorId, bytes32 vettingHash, uint40 vettedUntil);

    /// @notice The council suspended a contractor: it is not paid until reinstated.
    /// @param contractorId The contractor.
    /// @param reasonHash The hash of the council's reason.
    event ContractorSuspended(uint256 indexed contractorId, bytes32 reasonHash);

    /// @notice The council reinstated a suspended contractor.
    /// @param contractorId The contractor.
    event ContractorReinstated(uint256 indexed contractorId);

    /// @notice The council debarred a contractor for good; any pending payout change was dropped.
    /// @param contractorId The contractor.
    /// @param reasonHash The hash of the council's reason.
    event ContractorDebarred(uint256 indexed contractorId, bytes32 reasonHash);

    /// @notice The contractor asked for a new payout address (from its current one, or signed by it).
    /// @param contractorId The contractor.
    /// @param payout Its current payout address, which asked.
    /// @param newPayout The address asked for.
    /// @param nonce The nonce the request used.
    event PayoutChangeRequested(
        uint256 indexed contractorId, address indexed payout, address indexed newPayout, uint256 nonce
    );

    /// @notice The council approved a requested change; it can be finalized from `effectiveAt`.
    /// @param contractorId The contractor.
    /// @param newPayout The address approved.
    /// @param effectiveAt When the cooling-off period ends.
    event PayoutChangeApproved(uint256 indexed contractorId, address indexed newPayout, uint40 effectiveAt);

    /// @notice The council moved a contractor's payout without its request (a lost key): the
    /// longer delay applies and only council members can cancel. Overseers must look at this one.
    /// @param contractorId The contractor.
    /// @param payout Its current payout address.
    /// @param newPayout The address the council chose.
    /// @param reasonHash The hash of the council's reason.
    /// @param effectiveAt When the delay ends.
    event PayoutChangeForced(
        uint256 indexed contractorId,
        address indexed payout,
        address indexed newPayout,
        bytes32 reasonHash,
        uint40 effectiveAt
    );

    /// @notice A pending change was cancelled (or replaced by a forced one, or dropped on debarment).
    /// @param contractorId The contractor.
    /// @param newPayout The address that will not become the payout.
    /// @param by Who cancelled: the contractor's payout address, a council member, or the council.
    event PayoutChangeCancelled(uint256 indexed contractorId, address indexed newPayout, address indexed by);

    /// @notice A change took effect: the contractor is paid at `payout` from now on.
    /// @param contractorId The contractor.
    /// @param previous The former payout address (still the contractor's in `contractorOf`).
    /// @param payout The new payout address.
    /// @param forced True when the council made the change without the contractor's request.
    event PayoutChanged(uint256 indexed contractorId, address indexed previous, address indexed payout, bool forced);

    /// @notice The council handed the registry to another council (by an executed proposal).
    /// @param previous The former council.
    /// @param council The new council.
    event CouncilChanged(address indexed previous, address indexed council);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice Only the council, through an executed proposal, may call this.
    error Registry_NotCouncil(address caller);
    /// @notice No contractor has this id.
    error Registry_UnknownContractor(uint256 contractorId);
    /// @notice The contractor's status (as `statusOf` computes it) does not allow this.
    error Registry_UnexpectedStatus(uint256 contractorId, ContractorStatus status);
    /// @notice The address is zero.
    error Registry_ZeroAddress();
    /// @notice The address is, or was, a contractor's payout address (or is the registry or the
    /// council) and cannot become this contractor's payout.
    error Registry_AddressTaken(address account, uint256 contractorId);
    /// @notice The vetted-until date is not in the future.
    error Registry_VettingInPast(uint40 vettedUntil, uint256 currentTime);
    /// @notice A council reason or a vetting record hash must not be zero.
    error Registry_ZeroHash();
    /// @notice The cooling-off period or the council's delay is out of bounds, or the council's
    /// delay is not longer than the cooling-off period.
    error Registry_InvalidDelays(uint256 coolingOff, uint256 councilDelay);
    /// @notice The council is not a contract.
    error Registry_InvalidCouncil(address council);
    /// @notice The caller (or signer) is not the contractor's current payout address.
    error Registry_NotPayout(uint256 contractorId, address account);
    /// @notice The caller may not cancel this change: not the contractor's payout (for a change it
    /// asked for), not a council member, not the council.
    error Registry_NotAllowedToCancel(uint256 contractorId, address caller);
    /// @notice The pending change is not in the state this needs.
    error Registry_UnexpectedChangeState(uint256 contractorId, PayoutChangeState state);
    /// @notice The address approved differs from the address the contractor asked for.
    error Registry_ChangeMismatch(uint256 contractorId, address requested, address approved);
    /// @notice The signed request's nonce is not the contractor's current nonce.
    error Registry_InvalidNonce(uint256 contractorId, uint256 nonce, uint256 expected);
    /// @notice The signed request expired.
    error Registry_RequestExpired(uint256 expiry, uint256 currentTime);

    /*//////////////////////////////////////////////////////////////
                          COUNCIL (proposals only)
    //////////////////////////////////////////////////////////////*/

    /// @notice Registers a vetted contractor, Active at once. Council only.
    /// @param payout Where it is paid: not zero, never any contractor's payout, not the registry or
    /// the council.
    /// @param vettingHash The hash of its vetting record (not zero).
    /// @param vettedUntil Unix time until which its vetting holds (in the future).
    /// @return contractorId The new contractor's id.
    function register(address payout, bytes32 vettingHash, uint40 vettedUntil)
        external
        returns (uint256 contractorId);

    /// @notice Renews (or corrects) a contractor's vetting; a Lapsed contractor is Active again.
    /// Council only; Active, Lapsed or Suspended (a suspended contractor stays suspended).
    /// @param contractorId The contractor.
    /// @param vettingHash The hash of the new vetting record (not zero).
    /// @param vettedUntil The new vetted-until date (in the future).
    function renew(uint256 contractorId, bytes32 vettingHash, uint40 vettedUntil) external;

    /// @notice Suspends a contractor: not payable until reinstated. Council only; Active or Lapsed.
    /// @param contractorId The contractor.
    /// @param reasonHash The hash of the council's reason (not zero).
    function suspend(uint256 contractorId, bytes32 reasonHash) external;

    /// @notice Reinstates a suspended contractor (Active, or Lapsed if its vetting ran out meanwhile).
    /// Council only; Suspended.
    /// @param contractorId The contractor.
    function reinstate(uint256 contractorId) external;

    /// @notice Debars a contractor for good and drops any pending payout change. Council only;
    /// Active, Lapsed or Suspended.
    /// @param contractorId The contractor.
    /// @param reasonHash The hash of the council's reason (not zero).
    function debar(uint256 contractorId, bytes32 reasonHash) external;

    /// @notice Approves the change the contractor asked for; the cooling-off period starts. Council
    /// only; the change must be Requested and name `newPayout` (so the council approves exactly the
    /// address it reviewed, even if the request was cancelled and made again meanwhile).
    /// @param contractorId The contractor.
    /// @param newPayout The address the council reviewed.
    function approvePayoutChange(uint256 contractorId, address newPayout) external;

    /// @notice Moves a contractor's payout without its request (a lost or stolen key): the council's
    /// longer delay applies, and only council members (not the current payout) can cancel. Replaces
    /// any pending change. Council only; any status but Debarred.
    /// @param contractorId The contractor.
    /// @param newPayout The new address (the same rules as a request).
    /// @param reasonHash The hash of the council's reason (not zero).
    function forcePayoutChange(uint256 contractorId, address newPayout, bytes32 reasonHash) external;

    /// @notice Hands the registry to another council (e.g. one deployed when seats ran out).
    /// Council only.
    /// @param newCouncil The new council contract.
    function setCouncil(address newCouncil) external;

    /*//////////////////////////////////////////////////////////////
                         PAYOUT-ADDRESS CHANGES
    //////////////////////////////////////////////////////////////*/

    /// @notice Asks for a new payout address, from the contractor's current payout address.
    /// Active, Lapsed or Suspended; no change pending. Uses the contractor's nonce, so a signed
    /// request made earlier no longer counts.
    /// @param contractorId The contractor.
    /// @param newPayout The address asked for: not zero, not the current one, never another
    /// contractor's, not the registry or the council.
    function requestPayoutChange(uint256 contractorId, address newPayout) external;

    /// @notice Asks for a new payout address with a request signed by the contractor's current
    /// payout address; anyone may relay it. Signatures are bound to the chain id and this registry
    /// (EIP-712 domain), to the contractor's current nonce, and expire.
    /// @param request The request signed.
    /// @param signature Its EIP-2098 compact signature.
    function requestPayoutChangeWithSignature(PayoutChangeRequest calldata request, CompactSignature calldata signature)
        external;

    /// @notice Cancels a pending change, until it is finalized. The contractor's current payout
    /// address (a change it asked for only), any single council member, or the council.
    /// @param contractorId The contractor.
    function cancelPayoutChange(uint256 contractorId) external;

    /// @notice Makes an approved change take effect once its delay is over. Anyone.
    /// @param contractorId The contractor.
    function finalizePayoutChange(uint256 contractorId) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice Whether a payment to `payout` may be made now: it is the current payout address of
    /// a contractor that is Active (not suspended or debarred) and whose vetting has not lapsed.
    /// Two storage reads, for the escrow's release path.
    /// @param payout The address to be paid.
    /// @return payable_ True when payable.
    function isPayable(address payout) external view returns (bool payable_);

    /// @notice Where a contractor is paid now, if it may be paid now: its current payout address
    /// when it is Active and its vetting has not lapsed, zero otherwise. One storage read, for an
    /// escrow that keeps the contractor's id with the milestone: it then pays whatever address the
    /// contractor has at release time, so a finalized change reaches every unpaid milestone.
    /// @param contractorId The contractor.
    /// @return payout The address to pay, or zero.
    function payableAddressOf(uint256 contractorId) external view returns (address payout);

    /// @notice The contractor an address is, or was, the payout address of (an address is never
    /// reassigned to another contractor); zero for none.
    /// @param account The address.
    /// @return contractorId The contractor's id, or zero.
    function contractorOf(address account) external view returns (uint256 contractorId);

    /// @notice The one place that decides a contractor's status (Lapsed computed from the time).
    /// @param contractorId The contractor.
    /// @return status None, Active, Lapsed, Suspended or Debarred.
    function statusOf(uint256 contractorId) external view returns (ContractorStatus status);

    /// @notice A contractor's stored facts, with its computed status and its request nonce.
    /// @param contractorId The contractor.
    /// @return view_ The contractor.
    function contractor(uint256 contractorId) external view returns (ContractorView memory view_);

    /// @notice A contractor's pending payout change, with its computed state.
    /// @param contractorId The contractor.
    /// @return view_ The change (state None when nothing is pending).
    function payoutChangeOf(uint256 contractorId) external view returns (PayoutChangeView memory view_);

    /// @notice The number of contractors registered; ids run from 1 to this number.
    /// @return count The count.
    function contractorCount() external view returns (uint256 count);

    /// @notice The council that governs the registry.
    /// @return council The council contract.
    function council() external view returns (address council);

    /// @notice The cooling-off period of a requested change, in seconds.
    /// @return coolingOff The period.
    function coolingOff() external view returns (uint256 coolingOff);

    /// @notice The delay of a change the council makes alone, in seconds.
    /// @return councilDelay The delay.
    function councilDelay() external view returns (uint256 councilDelay);

    /// @notice The EIP-712 digest a contractor's payout key signs for `request`.
    /// @param request The request.
    /// @return digest The digest.
    function payoutChangeDigest(PayoutChangeRequest calldata request) external view returns (bytes32 digest);
}

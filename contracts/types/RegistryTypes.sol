// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice Where a contractor stands. `statusOf` is the one place that decides it: a contractor
/// whose stored status is Active reads as Lapsed once its vetted-until date has passed.
enum ContractorStatus {
    /// No contractor under this id.
    None,
    /// Vetted and in good standing: payable at its current payout address.
    Active,
    /// Stored as Active, but its vetting ran out (`vettedUntil` is in the past): not payable until
    /// the council renews it. Never stored.
    Lapsed,
    /// Held by the council: not payable; its milestones wait until it is reinstated.
    Suspended,
    /// Barred for good: never payable again; its milestones can be cancelled.
    Debarred
}

/// @notice Where a contractor's pending payout-address change stands, as `payoutChangeOf` computes
/// it from its stored facts and the time.
enum PayoutChangeState {
    /// No change pending.
    None,
    /// The contractor asked for it; waiting for the council's approval.
    Requested,
    /// Approved (or forced) by the council; cancellable, and not yet finalizable.
    CoolingOff,
    /// The delay is over: anyone may finalize it (it can still be cancelled until then).
    Ready
}

/// @notice A contractor as read by `contractor`; `status` is the computed status of `statusOf`.
struct ContractorView {
    address payout;
    ContractorStatus status;
    uint40 vettedUntil;
    bytes32 vettingHash;
    uint256 nonce;
}

/// @notice A pending payout-address change as read by `payoutChangeOf`.
/// @param newPayout The address that would become the payout (zero when none is pending).
/// @param state The computed state.
/// @param effectiveAt When it may be finalized (zero until the council approved it).
/// @param forced True for a change the council made without the contractor's request.
/// @param reasonHash The council's reason for a forced change (zero otherwise).
struct PayoutChangeView {
    address newPayout;
    PayoutChangeState state;
    uint40 effectiveAt;
    bool forced;
    bytes32 reasonHash;
}

/// @notice What a contractor's current payout key signs to ask for a new payout address
/// (EIP-712, domain "ContractorRegistry", "1", chain id, registry address).
/// @param contractorId The contractor.
/// @param newPayout The address asked for.
/// @param nonce The contractor's current nonce (`contractor(id).nonce`); each request uses one.
/// @param expiry Unix time after which the signature is refused.
struct PayoutChangeRequest {
    uint256 contractorId;
    address newPayout;
    uint256 nonce;
    uint256 expiry;
}

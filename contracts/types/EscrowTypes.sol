// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice Where a milestone stands. `statusOf` is the one place that decides it: a milestone
/// whose stored status is Registered reads as Expired once its deadline has passed.
enum MilestoneStatus {
    /// No milestone under this id.
    None,
    /// Registered and funded; waiting for a quorum of matching attestations before its deadline.
    Registered,
    /// A quorum of current-committee oracles agreed on one evidence hash; the program's
    /// challenge window runs from `verifiedAt`, after which anyone may release it.
    Verified,
    /// Two oracles attested different evidence hashes; only the council can settle it.
    Disputed,
    /// Held by the council during its challenge window; nobody can release it.
    Frozen,
    /// Paid to the beneficiary, exactly once.
    Released,
    /// Cancelled by the council; its amount went back to the program's available balance.
    Cancelled,
    /// The deadline passed without a quorum; its amount is (or, once `expire` is called, has
    /// been) returned to the program's available balance.
    Expired
}

/// @notice What a program manager submits to register a milestone.
/// @param externalRef The manager's own reference (e.g. a purchase-order line), unique per program.
/// @param beneficiary The contractor paid on release.
/// @param amount The amount paid on release, in the program token's smallest unit.
/// @param deadline Unix time (seconds) after which attestations are refused.
/// @param evidenceSpecHash Hash of the evidence specification the oracles check against.
struct MilestoneInput {
    bytes32 externalRef;
    address beneficiary;
    uint128 amount;
    uint40 deadline;
    bytes32 evidenceSpecHash;
}

/// @notice What a program says it is, given by its manager at creation and kept in the history
/// (`ProgramDescribed`): budgets are rolled up by who spends them and on what.
/// @param title The program's name (1 to 120 bytes of UTF-8).
/// @param organisation The branch or agency that spends it, e.g. "ATLA" or "GSDF" (1 to 32 bytes).
/// @param category What it buys: research, procurement, maintenance, ... (1 to 32 bytes).
/// @param fiscalYear The fiscal year it is budgeted in (2000 to 2100).
/// @param baseline The approved total it may commit, in the token's smallest unit (non-zero): the
/// milestones paid plus those still owed never exceed it; only the council changes it.
struct ProgramFacts {
    string title;
    string organisation;
    string category;
    uint16 fiscalYear;
    uint128 baseline;
}

/// @notice An ECDSA signature in the compact form of EIP-2098 (64 bytes; `vs` holds v in its top bit).
struct CompactSignature {
    bytes32 r;
    bytes32 vs;
}

/// @notice One milestone's relayed attestations: every signature signs
/// Attestation(milestoneId, evidenceHash, epoch, termsVersion) under the escrow's EIP-712 domain,
/// with the milestone's current terms version.
struct SignedAttestations {
    bytes32 milestoneId;
    bytes32 evidenceHash;
    CompactSignature[] signatures;
}

/// @notice A program as read by `program`.
struct ProgramView {
    address manager;
    bool closed;
    address token;
    uint40 challengeWindow;
    address treasury;
    uint128 balance;
    uint128 committed;
    uint128 baseline;
}

/// @notice A milestone as read by `milestone`; `status` is the computed status of `statusOf`.
/// `termsVersion` counts the changes of its terms (amendments and beneficiary replacements) and is
/// signed in every attestation; `beneficiaryLocked` is true once the council chose the beneficiary.
struct MilestoneView {
    uint256 programId;
    address beneficiary;
    uint128 amount;
    uint40 deadline;
    bytes32 evidenceSpecHash;
    MilestoneStatus status;
    uint8 attestations;
    uint16 attestationEpoch;
    bytes32 evidenceHash;
    uint40 verifiedAt;
    uint8 termsVersion;
    bool beneficiaryLocked;
}

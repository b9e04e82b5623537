// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Oversight council
/// @notice An M-of-N council of human overseers. A proposal is a call (target, calldata) with a
/// description and an expiry; members approve it one by one on chain and it executes once the
/// approvals of current members reach the threshold. The council holds the escrow's admin role,
/// so every override of the escrow is such a proposal. The council changes its own members and
/// threshold only through its own executed proposals. Any single member may pause the escrow.
interface IOversightCouncil {
    /// @notice Where a proposal stands, as `proposalState` computes it from its stored facts,
    /// the current members and the time.
    enum ProposalState {
        /// No proposal has this id.
        Unknown,
        /// Open for approvals; the approvals of current members are below the threshold.
        Open,
        /// Open, and the approvals of current members reach the threshold: any member may execute.
        Executable,
        /// Past its expiry without having been executed.
        Expired,
        /// Executed (exactly once).
        Executed
    }

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A member proposed a call.
    /// @param proposalId The proposal's id (sequential from 1).
    /// @param proposer The member who proposed it.
    /// @param target The contract the call goes to.
    /// @param data The calldata (its hash is stored; the executor passes it again).
    /// @param description What the call is for, in words, for the audit trail.
    /// @param expiry Unix time after which the proposal can no longer be approved or executed.
    event ProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        address indexed target,
        bytes data,
        string description,
        uint40 expiry
    );

    /// @notice A member approved a proposal.
    /// @param proposalId The proposal.
    /// @param member The member.
    /// @param approvals Approvals of current members after this one.
    event ProposalApproved(uint256 indexed proposalId, address indexed member, uint256 approvals);

    /// @notice A member withdrew an approval before execution.
    /// @param proposalId The proposal.
    /// @param member The member.
    /// @param approvals Approvals of current members after the withdrawal.
    event ApprovalRevoked(uint256 indexed proposalId, address indexed member, uint256 approvals);

    /// @notice A proposal's call was made and succeeded.
    /// @param proposalId The proposal.
    /// @param executor The member who executed it.
    event ProposalExecuted(uint256 indexed proposalId, address indexed executor);

    /// @notice A member joined the council (by an executed proposal).
    /// @param member The new member.
    event MemberAdded(address indexed member);

    /// @notice A member left the council (by an executed proposal); its approvals stop counting.
    /// @param member The former member.
    event MemberRemoved(address indexed member);

    /// @notice The threshold changed (by an executed proposal).
    /// @param previous The old threshold.
    /// @param threshold The new threshold.
    event ThresholdChanged(uint256 previous, uint256 threshold);

    /// @notice A single member pulled the emergency brake on the escrow.
    /// @param member The member.
    event EmergencyPause(address indexed member);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice The caller is not a current member.
    error Council_NotMember(address caller);
    /// @notice Only the council itself, through an executed proposal, may call this.
    error Council_OnlySelf(address caller);
    /// @notice No proposal has this id.
    error Council_UnknownProposal(uint256 proposalId);
    /// @notice The proposal was executed already.
    error Council_AlreadyExecuted(uint256 proposalId);
    /// @notice The proposal expired at `expiry`.
    error Council_ProposalExpired(uint256 proposalId, uint256 expiry);
    /// @notice The expiry is not in the future or further than the longest lifetime allowed.
    error Council_InvalidExpiry(uint256 expiry, uint256 currentTime, uint256 maxLifetime);
    /// @notice The member approved this proposal already.
    error Council_AlreadyApproved(uint256 proposalId, address member);
    /// @notice The member has no approval on this proposal to revoke.
    error Council_NotApproved(uint256 proposalId, address member);
    /// @notice Approvals of current members are below the threshold.
    error Council_ThresholdNotReached(uint256 proposalId, uint256 approvals, uint256 threshold);
    /// @notice The calldata given differs from the calldata proposed.
    error Council_CalldataMismatch(uint256 proposalId);
    /// @notice The target is not a contract.
    error Council_InvalidTarget(address target);
    /// @notice The threshold would be zero or above the member count.
    error Council_InvalidThreshold(uint256 threshold, uint256 memberCount);
    /// @notice The account is a member already.
    error Council_AlreadyMember(address account);
    /// @notice The address is zero.
    error Council_ZeroAddress();
    /// @notice The council would have more members than the maximum.
    error Council_TooManyMembers(uint256 max);
    /// @notice Every seat the council can ever assign has been assigned.
    error Council_SeatsExhausted();
    /// @notice The council itself and the escrow cannot be members: neither can approve.
    error Council_InvalidMember(address account);

    /*//////////////////////////////////////////////////////////////
                               PROPOSALS
    //////////////////////////////////////////////////////////////*/

    /// @notice Proposes a call. Members only.
    /// @param target The contract to call (the escrow, or the council itself for membership).
    /// @param data The calldata.
    /// @param description What the call is for, in words.
    /// @param expiry Unix time after which it can no longer be approved or executed.
    /// @return proposalId The new proposal's id.
    function propose(address target, bytes calldata data, string calldata description, uint40 expiry)
        external
        returns (uint256 proposalId);

    /// @notice Approves a proposal. Members only; once per member.
    /// @param proposalId The proposal.
    function approve(uint256 proposalId) external;

    /// @notice Withdraws the caller's approval before execution. Members only.
    /// @param proposalId The proposal.
    function revoke(uint256 proposalId) external;

    /// @notice Makes the proposal's call once approvals of current members reach the threshold.
    /// Members only; exactly once; a failing call reverts with the callee's error.
    /// @param proposalId The proposal.
    /// @param data The proposed calldata again (only its hash is stored).
    function execute(uint256 proposalId, bytes calldata data) external;

    /// @notice Approves, then executes if the threshold is reached (the last approver's call).
    /// @param proposalId The proposal.
    /// @param data The proposed calldata again.
    function approveAndExecute(uint256 proposalId, bytes calldata data) external;

    /// @notice Pauses the escrow at once. Any single member.
    function emergencyPause() external;

    /*//////////////////////////////////////////////////////////////
                        SELF-GOVERNANCE (proposals only)
    //////////////////////////////////////////////////////////////*/

    /// @notice Adds a member and sets the threshold. Only through an executed proposal.
    /// @param member The new member: not zero, not the council, not the escrow.
    /// @param threshold The threshold afterwards.
    function addMember(address member, uint8 threshold) external;

    /// @notice Removes a member and sets the threshold. Only through an executed proposal.
    /// @param member The member to remove.
    /// @param threshold The threshold afterwards, at most the remaining member count.
    function removeMember(address member, uint8 threshold) external;

    /// @notice Changes the threshold. Only through an executed proposal.
    /// @param threshold The new threshold, from 1 to the member count.
    function changeThreshold(uint8 threshold) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice The escrow this council governs (and may pause in an emergency).
    /// @return escrow The escrow's address.
    function escrow() external view returns (address escrow);

    /// @notice The current members.
    /// @return members The members, in seat order.
    function members() external view returns (address[] memory members);

    /// @notice Whether an account is a current member.
    /// @param account The account.
    /// @return member True for a member.
    function isMember(address account) external view returns (bool member);

    /// @notice Approvals needed to execute.
    /// @return threshold The threshold.
    function threshold() external view returns (uint256 threshold);

    /// @notice The number of proposals made; ids run from 1 to this number.
    /// @return count The count.
    function proposalCount() external view returns (uint256 count);

    /// @notice A proposal's stored facts.
    /// @param proposalId The proposal.
    /// @return target The call's target.
    /// @return expiry Its expiry.
    /// @return executed Whether it ran.
    /// @return dataHash keccak256 of its calldata.
    /// @return approvals Approvals of current members; for an executed proposal, the approvals
    /// that counted when it executed (later membership changes do not alter it).
    function proposal(uint256 proposalId)
        external
        view
        returns (address target, uint40 expiry, bool executed, bytes32 dataHash, uint256 approvals);

    /// @notice Where a proposal stands (TimelockController's `getOperationState`): clients read
    /// this rather than re-deriving it from `proposal`, the threshold and the time.
    /// @param proposalId The proposal.
    /// @return state Unknown, Open, Executable, Expired or Executed.
    function proposalState(uint256 proposalId) external view returns (ProposalState state);

    /// @notice Whether a current member's approval on a proposal stands.
    /// @param proposalId The proposal.
    /// @param member The member.
    /// @return approved True when the member is current and has approved.
    function hasApproved(uint256 proposalId, address member) external view returns (bool approved);
}

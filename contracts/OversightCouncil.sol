// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";

import {IMilestoneEscrow} from "./interfaces/IMilestoneEscrow.sol";
import {IOversightCouncil} from "./interfaces/IOversightCouncil.sol";

/// @title OversightCouncil
/// @notice M-of-N human override of the escrow. See {IOversightCouncil}.
/// @dev Members hold seats that are never reused: a proposal's approvals are a set of seats, and
/// only the seats of current members count, so an approval of a removed member stops counting
/// without touching any proposal, and a new member can never inherit one.
contract OversightCouncil is IOversightCouncil {
    /// @notice Members at most at any time.
    uint256 public constant MAX_MEMBERS = 32;
    /// @notice Seats the council can assign over its whole life (one per member ever added): seats
    /// are never reused, so that no new member inherits an old approval. Past 128 additions the
    /// council keeps working but can add no one; a new council is then deployed and given the role.
    uint256 public constant MAX_SEATS = 128;
    /// @notice A proposal lives at most this long.
    uint256 public constant MAX_PROPOSAL_LIFETIME = 90 days;

    struct Proposal {
        address target;
        uint40 expiry;
        bool executed;
        // Approvals that counted when it executed: its view no longer follows membership.
        uint8 approvalsAtExecution;
        bytes32 dataHash;
        // Seats that approved; only seats of current members count.
        uint256 approvals;
    }

    address private immutable _escrow;

    // One slot: the seats of current members and the counters read on every approval.
    uint128 private _activeSeats;
    uint8 private _threshold;
    uint8 private _memberCount;
    uint16 private _nextSeat;
    uint64 private _proposalCount;

    /// Seat + 1 of each current member; zero for everyone else.
    mapping(address account => uint256 seatPlusOne) private _seatOf;
    mapping(uint256 seat => address member) private _holder;
    mapping(uint256 proposalId => Proposal) private _proposals;

    modifier onlyMember() {
        if (_seatOf[msg.sender] == 0) revert Council_NotMember(msg.sender);
        _;
    }

    /// @dev Safe's SelfAuthorized: membership changes only through the council's own proposals.
    modifier onlySelf() {
        if (msg.sender != address(this)) revert Council_OnlySelf(msg.sender);
        _;
    }

    /// @param escrow_ The escrow governed (paused by the emergency brake).
    /// @param members_ The first members.
    /// @param threshold_ Approvals needed to execute, from 1 to the member count.
    constructor(address escrow_, address[] memory members_, uint8 threshold_) {
        if (escrow_.code.length == 0) revert Council_InvalidTarget(escrow_);
        _escrow = escrow_;
        for (uint256 i; i < members_.length; ++i) {
            _addMember(members_[i]);
        }
        _setThreshold(threshold_);
    }

    /*//////////////////////////////////////////////////////////////
                               PROPOSALS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IOversightCouncil
    function propose(address target, bytes calldata data, string calldata description, uint40 expiry)
        external
        override
        onlyMember
        returns (uint256 proposalId)
    {
        // Checks
        if (target.code.length == 0) revert Council_InvalidTarget(target);
        if (expiry <= block.timestamp || expiry > block.timestamp + MAX_PROPOSAL_LIFETIME) {
            revert Council_InvalidExpiry(expiry, block.timestamp, MAX_PROPOSAL_LIFETIME);
        }

        // Effects
        proposalId = ++_proposalCount;
        Proposal storage p = _proposals[proposalId];
        p.target = target;
        p.expiry = expiry;
        p.dataHash = keccak256(data);
        emit ProposalCreated(proposalId, msg.sender, target, data, description, expiry);
    }

    /// @inheritdoc IOversightCouncil
    function approve(uint256 proposalId) external override onlyMember {
        _approve(proposalId, _openProposal(proposalId));
    }

    /// @inheritdoc IOversightCouncil
    function revoke(uint256 proposalId) external override onlyMember {
        // Checks
        Proposal storage p = _openProposal(proposalId);
        uint256 bit = _seatBit(msg.sender);
        uint256 approvals = p.approvals;
        if (approvals & bit == 0) revert Council_NotApproved(proposalId, msg.sender);

        // Effects
        approvals &= ~bit;
        p.approvals = approvals;
        emit ApprovalRevoked(proposalId, msg.sender, _count(approvals));
    }

    /// @inheritdoc IOversightCouncil
    function execute(uint256 proposalId, bytes calldata data) external override onlyMember {
        Proposal storage p = _openProposal(proposalId);
        _execute(proposalId, p, data);
    }

    /// @inheritdoc IOversightCouncil
    function approveAndExecute(uint256 proposalId, bytes calldata data) external override onlyMember {
        Proposal storage p = _openProposal(proposalId);
        _approve(proposalId, p);
        _execute(proposalId, p, data);
    }

    /// @inheritdoc IOversightCouncil
    function emergencyPause() external override onlyMember {
        IMilestoneEscrow(_escrow).pause();
        emit EmergencyPause(msg.sender);
    }

    /*//////////////////////////////////////////////////////////////
                        SELF-GOVERNANCE (proposals only)
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IOversightCouncil
    function addMember(address member, uint8 threshold_) external override onlySelf {
        _addMember(member);
        _setThreshold(threshold_);
    }

    /// @inheritdoc IOversightCouncil
    function removeMember(address member, uint8 threshold_) external override onlySelf {
        uint256 seatPlusOne = _seatOf[member];
        if (seatPlusOne == 0) revert Council_NotMember(member);
        delete _seatOf[member];
        delete _holder[seatPlusOne - 1];
        _activeSeats &= ~uint128(1 << (seatPlusOne - 1));
        --_memberCount;
        emit MemberRemoved(member);
        _setThreshold(threshold_);
    }

    /// @inheritdoc IOversightCouncil
    function changeThreshold(uint8 threshold_) external override onlySelf {
        _setThreshold(threshold_);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IOversightCouncil
    function escrow() external view override returns (address) {
        return _escrow;
    }

    /// @inheritdoc IOversightCouncil
    function members() external view override returns (address[] memory list) {
        list = new address[](_memberCount);
        uint256 found;
        uint256 seats = _activeSeats;
        for (uint256 seat; seats != 0; ++seat) {
            if (seats & 1 != 0) list[found++] = _holder[seat];
            seats >>= 1;
        }
    }

    /// @inheritdoc IOversightCouncil
    function isMember(address account) external view override returns (bool) {
        return _seatOf[account] != 0;
    }

    /// @inheritdoc IOversightCouncil
    function threshold() external view override returns (uint256) {
        return _threshold;
    }

    /// @inheritdoc IOversightCouncil
    function proposalCount() external view override returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IOversightCouncil
    function proposal(uint256 proposalId)
        external
        view
        override
        returns (address target, uint40 expiry, bool executed, bytes32 dataHash, uint256 approvals)
    {
        Proposal storage p = _proposals[proposalId];
        uint256 approvals = p.executed ? p.approvalsAtExecution : _count(p.approvals);
        return (p.target, p.expiry, p.executed, p.dataHash, approvals);
    }

    /// @inheritdoc IOversightCouncil
    function proposalState(uint256 proposalId) external view override returns (ProposalState) {
        Proposal storage p = _proposals[proposalId];
        if (p.target == address(0)) return ProposalState.Unknown;
        if (p.executed) return ProposalState.Executed;
        if (block.timestamp > p.expiry) return ProposalState.Expired;
        if (_count(p.approvals) >= _threshold) return ProposalState.Executable;
        return ProposalState.Open;
    }

    /// @inheritdoc IOversightCouncil
    function hasApproved(uint256 proposalId, address member) external view override returns (bool) {
        uint256 seatPlusOne = _seatOf[member];
        return seatPlusOne != 0 && (_proposals[proposalId].approvals & (1 << (seatPlusOne - 1))) != 0;
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    function _openProposal(uint256 proposalId) private view returns (Proposal storage p) {
        p = _proposals[proposalId];
        if (p.target == address(0)) revert Council_UnknownProposal(proposalId);
        if (p.executed) revert Council_AlreadyExecuted(proposalId);
        if (block.timestamp > p.expiry) revert Council_ProposalExpired(proposalId, p.expiry);
    }

    function _seatBit(address member) private view returns (uint256) {
        return 1 << (_seatOf[member] - 1);
    }

    /// @dev Approvals that count: those of seats held by current members.
    function _count(uint256 approvals) private view returns (uint256 count) {
        approvals &= _activeSeats;
        while (approvals != 0) {
            approvals &= approvals - 1;
            ++count;
        }
    }

    function _approve(uint256 proposalId, Proposal storage p) private {
        // Checks
        uint256 bit = _seatBit(msg.sender);
        uint256 approvals = p.approvals;
        if (approvals & bit != 0) revert Council_AlreadyApproved(proposalId, msg.sender);

        // Effects
        approvals |= bit;
        p.approvals = approvals;
        emit ProposalApproved(proposalId, msg.sender, _count(approvals));
    }

    function _execute(uint256 proposalId, Proposal storage p, bytes calldata data) private {
        // Checks
        if (keccak256(data) != p.dataHash) revert Council_CalldataMismatch(proposalId);
        uint256 approvals = _count(p.approvals);
        uint256 needed = _threshold;
        if (approvals < needed) revert Council_ThresholdNotReached(proposalId, approvals, needed);

        // Effects
        p.executed = true;
        p.approvalsAtExecution = uint8(approvals);
        emit ProposalExecuted(proposalId, msg.sender);

        // Interactions: a failing call bubbles the callee's error up and undoes the execution.
        Address.functionCall(p.target, data);
    }

    function _addMember(address member) private {
        if (member == address(0)) revert Council_ZeroAddress();
        // Neither the council nor the escrow can sign an approval of its own: as members they
        // would count toward the threshold and never approve, and could lock the council.
        if (member == address(this) || member == _escrow) revert Council_InvalidMember(member);
        if (_seatOf[member] != 0) revert Council_AlreadyMember(member);
        if (_memberCount >= MAX_MEMBERS) revert Council_TooManyMembers(MAX_MEMBERS);
        uint256 seat = _nextSeat;
        if (seat >= MAX_SEATS) revert Council_SeatsExhausted();
        _nextSeat = uint16(seat + 1);
        _seatOf[member] = seat + 1;
        _holder[seat] = member;
        _activeSeats |= uint128(1 << seat);
        ++_memberCount;
        emit MemberAdded(member);
    }

    /// @dev The threshold stays between one and the member count, so the council can always act
    /// (every member is an account that can approve: see `_addMember`).
    function _setThreshold(uint8 threshold_) private {
        uint256 count = _memberCount;
        if (threshold_ == 0 || threshold_ > count) revert Council_InvalidThreshold(threshold_, count);
        uint256 previous = _threshold;
        _threshold = threshold_;
        if (previous != threshold_) emit ThresholdChanged(previous, threshold_);
    }
}

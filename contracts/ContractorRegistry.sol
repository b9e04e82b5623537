// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IContractorRegistry} from "./interfaces/IContractorRegistry.sol";
import {IOversightCouncil} from "./interfaces/IOversightCouncil.sol";
import {CompactSignature} from "./types/EscrowTypes.sol";
import {
    ContractorStatus,
    ContractorView,
    PayoutChangeRequest,
    PayoutChangeState,
    PayoutChangeView
} from "./types/RegistryTypes.sol";

/// @title ContractorRegistry
/// @notice The council's register of vetted contractors and their payout addresses, where no
/// single key can move a payout. See {IContractorRegistry}, whose NatSpec carries the design note:
/// why a contract of its own (the escrow is at 23,561 of 24,576 bytes), how the escrow will consult
/// it (`isPayable`, about 8,100 gas from another contract) and what remains for wiring it in.
/// @dev One slot per contractor holds everything `isPayable` reads (payout, vetted-until, status),
/// so the release path pays two cold reads: the address's contractor id, then that slot.
contract ContractorRegistry is IContractorRegistry, EIP712 {
    /// @notice The EIP-712 type a contractor's payout key signs to ask for a new address.
    bytes32 public constant PAYOUT_CHANGE_TYPEHASH =
        keccak256("PayoutChangeRequest(uint256 contractorId,address newPayout,uint256 nonce,uint256 expiry)");

    /// @notice Bounds of the cooling-off period: long enough for a contractor and every member to
    /// notice a request, short enough that an honest change is not held for months.
    uint256 public constant MIN_COOLING_OFF = 1 days;
    uint256 public constant MAX_COOLING_OFF = 30 days;
    /// @notice The council's own delay is longer than the cooling-off period and at most this.
    uint256 public constant MAX_COUNCIL_DELAY = 90 days;

    struct Contractor {
        // One slot: everything isPayable reads.
        address payout;
        uint40 vettedUntil;
        // Stored: Active, Suspended or Debarred (Lapsed is computed by `_statusOf`).
        ContractorStatus status;
        uint48 nonce;
        bytes32 vettingHash;
    }

    struct PayoutChange {
        address newPayout;
        // Zero until the council approves (or forces) the change.
        uint40 effectiveAt;
        bool forced;
        bytes32 reasonHash;
    }

    uint256 private immutable _coolingOff;
    uint256 private immutable _councilDelay;

    address private _council;
    uint64 private _contractorCount;

    mapping(uint256 contractorId => Contractor) private _contractors;
    /// The contractor each address is or was the payout of: never cleared, never reassigned.
    mapping(address account => uint256 contractorId) private _contractorOf;
    mapping(uint256 contractorId => PayoutChange) private _changes;

    modifier onlyCouncil() {
        if (msg.sender != _council) revert Registry_NotCouncil(msg.sender);
        _;
    }

    /// @param council_ The OversightCouncil contract that governs the registry.
    /// @param coolingOff_ Seconds a requested change waits after approval (1 to 30 days).
    /// @param councilDelay_ Seconds a change the council makes alone waits (longer than the
    /// cooling-off period, at most 90 days).
    constructor(address council_, uint256 coolingOff_, uint256 councilDelay_) EIP712("ContractorRegistry", "1") {
        if (council_.code.length == 0) revert Registry_InvalidCouncil(council_);
        if (
            coolingOff_ < MIN_COOLING_OFF || coolingOff_ > MAX_COOLING_OFF || councilDelay_ <= coolingOff_
                || councilDelay_ > MAX_COUNCIL_DELAY
        ) revert Registry_InvalidDelays(coolingOff_, councilDelay_);
        _council = council_;
        _coolingOff = coolingOff_;
        _councilDelay = councilDelay_;
    }

    /*//////////////////////////////////////////////////////////////
                          COUNCIL (proposals only)
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IContractorRegistry
    function register(address payout, bytes32 vettingHash, uint40 vettedUntil)
        external
        override
        onlyCouncil
        returns (uint256 contractorId)
    {
        // Checks
        _checkVetting(vettingHash, vettedUntil);
        if (payout == address(0)) revert Registry_ZeroAddress();
        _checkFree(payout, 0);

        // Effects
        contractorId = ++_contractorCount;
        Contractor storage c = _contractors[contractorId];
        c.payout = payout;
        c.vettedUntil = vettedUntil;
        c.status = ContractorStatus.Active;
        c.vettingHash = vettingHash;
        _contractorOf[payout] = contractorId;
        emit ContractorRegistered(contractorId, payout, vettingHash, vettedUntil);
    }

    /// @inheritdoc IContractorRegistry
    function renew(uint256 contractorId, bytes32 vettingHash, uint40 vettedUntil) external override onlyCouncil {
        // Checks
        Contractor storage c = _notDebarred(contractorId);
        _checkVetting(vettingHash, vettedUntil);

        // Effects
        c.vettedUntil = vettedUntil;
        c.vettingHash = vettingHash;
        emit VettingRenewed(contractorId, vettingHash, vettedUntil);
    }

    /// @inheritdoc IContractorRegistry
    function suspend(uint256 contractorId, bytes32 reasonHash) external override onlyCouncil {
        // Checks
        Contractor storage c = _existing(contractorId);
        if (c.status != ContractorStatus.Active) revert Registry_UnexpectedStatus(contractorId, _statusOf(c));
        if (reasonHash == bytes32(0)) revert Registry_ZeroHash();

        // Effects
        c.status = ContractorStatus.Suspended;
        emit ContractorSuspended(contractorId, reasonHash);
    }

    /// @inheritdoc IContractorRegistry
    function reinstate(uint256 contractorId) external override onlyCouncil {
        // Checks
        Contractor storage c = _existing(contractorId);
        if (c.status != ContractorStatus.Suspended) revert Registry_UnexpectedStatus(contractorId, _statusOf(c));

        // Effects
        c.status = ContractorStatus.Active;
        emit ContractorReinstated(contractorId);
    }

    /// @inheritdoc IContractorRegistry
    function debar(uint256 contractorId, bytes32 reasonHash) external override onlyCouncil {
        // Checks
        Contractor storage c = _notDebarred(contractorId);
        if (reasonHash == bytes32(0)) revert Registry_ZeroHash();

        // Effects
        _dropChange(contractorId);
        c.status = ContractorStatus.Debarred;
        emit ContractorDebarred(contractorId, reasonHash);
    }

    /// @inheritdoc IContractorRegistry
    function approvePayoutChange(uint256 contractorId, address newPayout) external override onlyCouncil {
        // Checks
        _notDebarred(contractorId);
        PayoutChange storage change = _changes[contractorId];
        PayoutChangeState state = _changeState(change);
        if (state != PayoutChangeState.Requested) revert Registry_UnexpectedChangeState(contractorId, state);
        if (change.newPayout != newPayout) revert Registry_ChangeMismatch(contractorId, change.newPayout, newPayout);

        // Effects
        uint40 effectiveAt = uint40(block.timestamp + _coolingOff);
        change.effectiveAt = effectiveAt;
        emit PayoutChangeApproved(contractorId, newPayout, effectiveAt);
    }

    /// @inheritdoc IContractorRegistry
    function forcePayoutChange(uint256 contractorId, address newPayout, bytes32 reasonHash)
        external
        override
        onlyCouncil
    {
        // Checks
        Contractor storage c = _notDebarred(contractorId);
        if (reasonHash == bytes32(0)) revert Registry_ZeroHash();
        _checkNewPayout(contractorId, c, newPayout);

        // Effects: a pending change (perhaps one a stolen key asked for) gives way to the council's.
        _dropChange(contractorId);
        uint40 effectiveAt = uint40(block.timestamp + _councilDelay);
        PayoutChange storage change = _changes[contractorId];
        change.newPayout = newPayout;
        change.effectiveAt = effectiveAt;
        change.forced = true;
        change.reasonHash = reasonHash;
        emit PayoutChangeForced(contractorId, c.payout, newPayout, reasonHash, effectiveAt);
    }

    /// @inheritdoc IContractorRegistry
    function setCouncil(address newCouncil) external override onlyCouncil {
        if (newCouncil.code.length == 0) revert Registry_InvalidCouncil(newCouncil);
        address previous = _council;
        _council = newCouncil;
        emit CouncilChanged(previous, newCouncil);
    }

    /*//////////////////////////////////////////////////////////////
                         PAYOUT-ADDRESS CHANGES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IContractorRegistry
    function requestPayoutChange(uint256 contractorId, address newPayout) external override {
        Contractor storage c = _existing(contractorId);
        if (msg.sender != c.payout) revert Registry_NotPayout(contractorId, msg.sender);
        _request(contractorId, c, newPayout);
    }

    /// @inheritdoc IContractorRegistry
    function requestPayoutChangeWithSignature(PayoutChangeRequest calldata request, CompactSignature calldata signature)
        external
        override
    {
        // Checks
        if (block.timestamp > request.expiry) revert Registry_RequestExpired(request.expiry, block.timestamp);
        uint256 contractorId = request.contractorId;
        Contractor storage c = _existing(contractorId);
        if (request.nonce != c.nonce) revert Registry_InvalidNonce(contractorId, request.nonce, c.nonce);
        address signer = ECDSA.recover(_digest(request), signature.r, signature.vs);
        if (signer != c.payout) revert Registry_NotPayout(contractorId, signer);
        _request(contractorId, c, request.newPayout);
    }

    /// @inheritdoc IContractorRegistry
    function cancelPayoutChange(uint256 contractorId) external override {
        // Checks
        Contractor storage c = _existing(contractorId);
        PayoutChange storage change = _changes[contractorId];
        PayoutChangeState state = _changeState(change);
        if (state == PayoutChangeState.None) revert Registry_UnexpectedChangeState(contractorId, state);
        // The contractor may withdraw what it asked for, but not the council's own move: that one
        // exists for a lost or stolen key, which must not be able to keep the payout where it is.
        bool allowed = msg.sender == _council || (!change.forced && msg.sender == c.payout)
            || IOversightCouncil(_council).isMember(msg.sender);
        if (!allowed) revert Registry_NotAllowedToCancel(contractorId, msg.sender);

        // Effects
        _dropChange(contractorId);
    }

    /// @inheritdoc IContractorRegistry
    function finalizePayoutChange(uint256 contractorId) external override {
        // Checks
        Contractor storage c = _notDebarred(contractorId);
        PayoutChange storage change = _changes[contractorId];
        PayoutChangeState state = _changeState(change);
        if (state != PayoutChangeState.Ready) revert Registry_UnexpectedChangeState(contractorId, state);
        address newPayout = change.newPayout;
        // Registered to another contractor while the change waited: it can only be cancelled.
        _checkFree(newPayout, contractorId);
        bool forced = change.forced;

        // Effects
        address previous = c.payout;
        c.payout = newPayout;
        _contractorOf[newPayout] = contractorId;
        delete _changes[contractorId];
        emit PayoutChanged(contractorId, previous, newPayout, forced);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IContractorRegistry
    function isPayable(address payout) external view override returns (bool) {
        Contractor storage c = _contractors[_contractorOf[payout]];
        return c.payout == payout && c.status == ContractorStatus.Active && block.timestamp <= c.vettedUntil;
    }

    /// @inheritdoc IContractorRegistry
    function payableAddressOf(uint256 contractorId) external view override returns (address) {
        Contractor storage c = _contractors[contractorId];
        if (c.status != ContractorStatus.Active || block.timestamp > c.vettedUntil) return address(0);
        return c.payout;
    }

    /// @inheritdoc IContractorRegistry
    function contractorOf(address account) external view override returns (uint256) {
        return _contractorOf[account];
    }

    /// @inheritdoc IContractorRegistry
    function statusOf(uint256 contractorId) external view override returns (ContractorStatus) {
        return _statusOf(_contractors[contractorId]);
    }

    /// @inheritdoc IContractorRegistry
    function contractor(uint256 contractorId) external view override returns (ContractorView memory) {
        Contractor storage c = _contractors[contractorId];
        return ContractorView({
            payout: c.payout, status: _statusOf(c), vettedUntil: c.vettedUntil, vettingHash: c.vettingHash, nonce: c.nonce
        });
    }

    /// @inheritdoc IContractorRegistry
    function payoutChangeOf(uint256 contractorId) external view override returns (PayoutChangeView memory) {
        PayoutChange storage change = _changes[contractorId];
        return PayoutChangeView({
            newPayout: change.newPayout,
            state: _changeState(change),
            effectiveAt: change.effectiveAt,
            forced: change.forced,
            reasonHash: change.reasonHash
        });
    }

    /// @inheritdoc IContractorRegistry
    function contractorCount() external view override returns (uint256) {
        return _contractorCount;
    }

    /// @inheritdoc IContractorRegistry
    function council() external view override returns (address) {
        return _council;
    }

    /// @inheritdoc IContractorRegistry
    function coolingOff() external view override returns (uint256) {
        return _coolingOff;
    }

    /// @inheritdoc IContractorRegistry
    function councilDelay() external view override returns (uint256) {
        return _councilDelay;
    }

    /// @inheritdoc IContractorRegistry
    function payoutChangeDigest(PayoutChangeRequest calldata request) external view override returns (bytes32) {
        return _digest(request);
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    function _request(uint256 contractorId, Contractor storage c, address newPayout) private {
        // Checks
        if (c.status == ContractorStatus.Debarred) {
            revert Registry_UnexpectedStatus(contractorId, ContractorStatus.Debarred);
        }
        PayoutChangeState state = _changeState(_changes[contractorId]);
        if (state != PayoutChangeState.None) revert Registry_UnexpectedChangeState(contractorId, state);
        _checkNewPayout(contractorId, c, newPayout);

        // Effects: every request uses the nonce, so no earlier signature can be replayed after it.
        uint48 nonce = c.nonce;
        c.nonce = nonce + 1;
        _changes[contractorId].newPayout = newPayout;
        emit PayoutChangeRequested(contractorId, c.payout, newPayout, nonce);
    }

    function _dropChange(uint256 contractorId) private {
        address pending = _changes[contractorId].newPayout;
        if (pending == address(0)) return;
        delete _changes[contractorId];
        emit PayoutChangeCancelled(contractorId, pending, msg.sender);
    }

    function _existing(uint256 contractorId) private view returns (Contractor storage c) {
        c = _contractors[contractorId];
        if (c.payout == address(0)) revert Registry_UnknownContractor(contractorId);
    }

    function _notDebarred(uint256 contractorId) private view returns (Contractor storage c) {
        c = _existing(contractorId);
        if (c.status == ContractorStatus.Debarred) {
            revert Registry_UnexpectedStatus(contractorId, ContractorStatus.Debarred);
        }
    }

    /// @dev The one place that decides a contractor's status.
    function _statusOf(Contractor storage c) private view returns (ContractorStatus) {
        ContractorStatus stored = c.status;
        if (stored == ContractorStatus.Active && block.timestamp > c.vettedUntil) return ContractorStatus.Lapsed;
        return stored;
    }

    /// @dev The one place that decides a change's state.
    function _changeState(PayoutChange storage change) private view returns (PayoutChangeState) {
        if (change.newPayout == address(0)) return PayoutChangeState.None;
        uint256 effectiveAt = change.effectiveAt;
        if (effectiveAt == 0) return PayoutChangeState.Requested;
        if (block.timestamp < effectiveAt) return PayoutChangeState.CoolingOff;
        return PayoutChangeState.Ready;
    }

    function _checkVetting(bytes32 vettingHash, uint40 vettedUntil) private view {
        if (vettingHash == bytes32(0)) revert Registry_ZeroHash();
        if (vettedUntil <= block.timestamp) revert Registry_VettingInPast(vettedUntil, block.timestamp);
    }

    /// @dev A new payout for `contractorId`: not zero, not its current one, never another
    /// contractor's (one of its own former addresses may come back), not the registry or council.
    function _checkNewPayout(uint256 contractorId, Contractor storage c, address newPayout) private view {
        if (newPayout == address(0)) revert Registry_ZeroAddress();
        if (newPayout == c.payout) revert Registry_AddressTaken(newPayout, contractorId);
        _checkFree(newPayout, contractorId);
    }

    /// @dev `account` may become the payout of `contractorId` (zero for a new contractor).
    function _checkFree(address account, uint256 contractorId) private view {
        if (account == address(this) || account == _council) revert Registry_AddressTaken(account, 0);
        uint256 holder = _contractorOf[account];
        if (holder != 0 && holder != contractorId) revert Registry_AddressTaken(account, holder);
    }

    function _digest(PayoutChangeRequest calldata request) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    PAYOUT_CHANGE_TYPEHASH, request.contractorId, request.newPayout, request.nonce, request.expiry
                )
            )
        );
    }
}

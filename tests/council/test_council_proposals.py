"""Council proposals: propose, approve, revoke, execute, approveAndExecute (3 members, M = 2).

Branch tree (a test per leaf):

propose(target, data, description, expiry)
├── caller not a member ................................ Council_NotMember(caller)
├── target not a contract .............................. Council_InvalidTarget(target)
├── expiry at the current time (or before) ............. Council_InvalidExpiry(expiry, now, max)
├── expiry beyond now + MAX_PROPOSAL_LIFETIME .......... Council_InvalidExpiry(expiry, now, max)
│   └── exactly now + MAX_PROPOSAL_LIFETIME ............ accepted
└── valid .............................................. ids from 1, ProposalCreated(all fields),
                                                         stored (target, expiry, hash); no approval
approve(proposalId)
├── caller not a member ................................ Council_NotMember(caller)
├── unknown id (0, count + 1) .......................... Council_UnknownProposal(id)
├── expired (one second after expiry) .................. Council_ProposalExpired(id, expiry)
│   └── at exactly the expiry .......................... accepted
├── executed ........................................... Council_AlreadyExecuted(id)
├── approved already ................................... Council_AlreadyApproved(id, member)
└── valid .............................................. ProposalApproved(id, member, count)
    ├── reaching the threshold does not execute
    └── beyond the threshold ........................... counted (3 of 3), executes
revoke(proposalId)
├── caller not a member ................................ Council_NotMember(caller)
├── unknown id ......................................... Council_UnknownProposal(id)
├── expired ............................................ Council_ProposalExpired(id, expiry)
├── executed ........................................... Council_AlreadyExecuted(id)
├── not approved by the caller ......................... Council_NotApproved(id, member)
└── approved ........................................... ApprovalRevoked(id, member, remaining);
    ├── below M: execution refused ..................... Council_ThresholdNotReached(id, 1, 2)
    └── the member may approve again
execute(proposalId, data)
├── caller not a member ................................ Council_NotMember(caller)
├── unknown id ......................................... Council_UnknownProposal(id)
├── expired with M approvals ........................... Council_ProposalExpired(id, expiry)
├── executed already ................................... Council_AlreadyExecuted(id)
├── calldata differs from the proposed ................. Council_CalldataMismatch(id)
├── approvals below M (0, M - 1) ....................... Council_ThresholdNotReached(id, n, 2)
├── the call reverts ................................... the callee's error (bubbled)
│   ├── nothing changes: proposal open, unexecuted, approvals kept, milestone unchanged
│   ├── the callee reverts without data ................ FailedCall
│   └── it executes later, once the call can succeed
└── M approvals ........................................ ProposalExecuted(id, executor), then
    │                                                     the call
    ├── by an approver
    └── by a member who did not approve
approveAndExecute(proposalId, data)
├── caller not a member ................................ Council_NotMember(caller)
├── unknown id ......................................... Council_UnknownProposal(id)
├── approved already by the caller ..................... Council_AlreadyApproved(id, member)
├── first approval (below M) ........................... Council_ThresholdNotReached(id, 1, 2);
│                                                         the approval is undone too
├── calldata differs ................................... Council_CalldataMismatch(id); the
│                                                         approval undone
├── executed already ................................... Council_AlreadyExecuted(id)
└── the last approval .................................. approved and executed in one transaction
"""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from brownie import chain, web3
from eth_utils import keccak
from hexbytes import HexBytes

from tests.council.conftest import (
    FROZEN,
    PROPOSAL_LIFETIME,
    REGISTERED,
    VERIFIED,
    addr,
    attest_all,
    b32,
)

MAX_LIFETIME = 90 * 24 * 3600
FUNCTIONS = ["approve", "revoke", "execute", "approveAndExecute"]


def _latest_timestamp() -> int:
    return int(web3.eth.get_block("latest")["timestamp"])


def _at_next_block(timestamp: int) -> None:
    """Gives the next mined block exactly this timestamp."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


def _call(council: Any, function: str, pid: int, data: Any, account: Any) -> Any:
    """Calls one of the council's proposal functions with the arguments it takes."""
    if function in ("execute", "approveAndExecute"):
        return getattr(council, function)(pid, data, {"from": account})
    return getattr(council, function)(pid, {"from": account})


@pytest.fixture
def mid(verified: Any) -> bytes:
    """A verified milestone in its challenge window: what a freeze proposal acts on."""
    return verified()


@pytest.fixture
def freeze_data(escrow: Any, mid: bytes) -> str:
    return escrow.freeze.encode_input(mid)


@pytest.fixture
def pid(propose: Any, freeze_data: str) -> int:
    """A proposal to freeze `mid`, with no approval yet."""
    return int(propose(freeze_data).return_value)


@pytest.fixture
def approved_pid(council: Any, members: Any, pid: int) -> int:
    """The freeze proposal with M (2) approvals, not executed."""
    council.approve(pid, {"from": members[0]})
    council.approve(pid, {"from": members[1]})
    return pid


@pytest.fixture
def outsiders(roles: Any, governed: Any) -> dict[str, Any]:
    return {"outsider": roles.outsider, "former_deployer": governed.deployer}


# --------------------------------------------------------------------------- non-members


@pytest.mark.parametrize("who", ["outsider", "former_deployer"])
def test_a_non_member_cannot_propose(escrow, council, freeze_data, outsiders, who):
    account = outsiders[who]
    with brownie.reverts(f"Council_NotMember: {addr(account)}"):
        council.propose(escrow, freeze_data, "x", chain.time() + 3600, {"from": account})
    assert council.proposalCount() == 0


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("who", ["outsider", "former_deployer"])
def test_a_non_member_cannot_approve_revoke_or_execute(
    escrow, council, members, approved_pid, freeze_data, mid, outsiders, function, who
):
    account = outsiders[who]
    with brownie.reverts(f"Council_NotMember: {addr(account)}"):
        _call(council, function, approved_pid, freeze_data, account)
    assert council.proposal(approved_pid)[2] is False
    assert council.proposal(approved_pid)[4] == 2
    assert escrow.statusOf(mid) == VERIFIED


# --------------------------------------------------------------------------- propose


def test_propose_records_the_proposal_and_emits_proposal_created(
    escrow, council, members, freeze_data, propose
):
    expiry = chain.time() + PROPOSAL_LIFETIME
    tx = propose(freeze_data, description="freeze M1", expiry=expiry, proposer=members[2])
    assert tx.return_value == 1
    assert council.proposalCount() == 1
    event = tx.events["ProposalCreated"]
    assert (event["proposalId"], event["proposer"], event["target"]) == (
        1,
        members[2].address,
        escrow.address,
    )
    assert HexBytes(event["data"]) == HexBytes(freeze_data)
    assert (event["description"], event["expiry"]) == ("freeze M1", expiry)
    target, stored_expiry, executed, data_hash, approvals = council.proposal(1)
    assert (target, stored_expiry, executed, approvals) == (escrow.address, expiry, False, 0)
    assert bytes(data_hash) == keccak(HexBytes(freeze_data))


def test_proposal_ids_are_sequential_from_one(council, freeze_data, propose):
    assert [propose(freeze_data).return_value for _ in range(3)] == [1, 2, 3]
    assert council.proposalCount() == 3


def test_proposing_does_not_approve(council, members, pid):
    assert not council.hasApproved(pid, members[0])
    assert council.proposal(pid)[4] == 0


def test_propose_to_an_address_without_code_is_refused(council, members, roles, freeze_data):
    with brownie.reverts(f"Council_InvalidTarget: {addr(roles.outsider)}"):
        council.propose(roles.outsider, freeze_data, "x", chain.time() + 3600, {"from": members[0]})


def test_propose_with_an_expiry_at_the_current_time_is_refused(council, freeze_data, propose):
    now = _latest_timestamp() + 100
    _at_next_block(now)
    with brownie.reverts(f"Council_InvalidExpiry: {now}, {now}, {MAX_LIFETIME}"):
        propose(freeze_data, expiry=now)
    assert council.proposalCount() == 0


def test_propose_with_an_expiry_in_the_past_is_refused(council, freeze_data, propose):
    now = _latest_timestamp() + 100
    _at_next_block(now)
    with brownie.reverts(f"Council_InvalidExpiry: {now - 3600}, {now}, {MAX_LIFETIME}"):
        propose(freeze_data, expiry=now - 3600)


def test_propose_with_an_expiry_beyond_the_maximum_lifetime_is_refused(
    council, freeze_data, propose
):
    now = _latest_timestamp() + 100
    _at_next_block(now)
    too_late = now + MAX_LIFETIME + 1
    with brownie.reverts(f"Council_InvalidExpiry: {too_late}, {now}, {MAX_LIFETIME}"):
        propose(freeze_data, expiry=too_late)
    assert council.proposalCount() == 0


def test_propose_with_an_expiry_at_exactly_the_maximum_lifetime_is_accepted(
    council, freeze_data, propose
):
    now = _latest_timestamp() + 100
    _at_next_block(now)
    pid = propose(freeze_data, expiry=now + MAX_LIFETIME).return_value
    assert council.proposal(pid)[1] == now + MAX_LIFETIME


# --------------------------------------------------------------------------- unknown ids


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("unknown", [0, 2])
def test_an_unknown_proposal_id_is_refused(council, members, pid, freeze_data, function, unknown):
    with brownie.reverts(f"Council_UnknownProposal: {unknown}"):
        _call(council, function, unknown, freeze_data, members[0])


# --------------------------------------------------------------------------- approve


def test_approve_emits_proposal_approved_with_the_running_count(council, members, pid):
    first = council.approve(pid, {"from": members[2]})
    second = council.approve(pid, {"from": members[0]})
    for tx, member, count in ((first, members[2], 1), (second, members[0], 2)):
        event = tx.events["ProposalApproved"]
        assert (event["proposalId"], event["member"], event["approvals"]) == (
            pid,
            member.address,
            count,
        )
    assert council.hasApproved(pid, members[0]) and council.hasApproved(pid, members[2])
    assert not council.hasApproved(pid, members[1])


def test_reaching_the_threshold_by_approval_does_not_execute(escrow, council, mid, approved_pid):
    assert council.proposal(approved_pid)[4] == 2
    assert council.proposal(approved_pid)[2] is False
    assert escrow.statusOf(mid) == VERIFIED


def test_a_double_approval_is_refused(council, members, pid):
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(f"Council_AlreadyApproved: {pid}, {addr(members[0])}"):
        council.approve(pid, {"from": members[0]})
    assert council.proposal(pid)[4] == 1


def test_approvals_beyond_the_threshold_are_counted_and_it_executes(
    escrow, council, members, mid, approved_pid, freeze_data
):
    tx = council.approve(approved_pid, {"from": members[2]})
    assert tx.events["ProposalApproved"]["approvals"] == 3
    council.execute(approved_pid, freeze_data, {"from": members[2]})
    assert escrow.statusOf(mid) == FROZEN


def test_approve_at_exactly_the_expiry_is_accepted(council, members, pid):
    expiry = council.proposal(pid)[1]
    _at_next_block(expiry)
    council.approve(pid, {"from": members[0]})
    assert council.hasApproved(pid, members[0])


def test_approve_after_the_expiry_is_refused(council, members, pid):
    expiry = council.proposal(pid)[1]
    _at_next_block(expiry + 1)
    with brownie.reverts(f"Council_ProposalExpired: {pid}, {expiry}"):
        council.approve(pid, {"from": members[0]})
    assert not council.hasApproved(pid, members[0])


def test_approve_after_execution_is_refused(council, members, approved_pid, freeze_data):
    council.execute(approved_pid, freeze_data, {"from": members[0]})
    with brownie.reverts(f"Council_AlreadyExecuted: {approved_pid}"):
        council.approve(approved_pid, {"from": members[2]})


# --------------------------------------------------------------------------- revoke


def test_revoke_withdraws_the_approval_and_emits_approval_revoked(council, members, approved_pid):
    tx = council.revoke(approved_pid, {"from": members[1]})
    event = tx.events["ApprovalRevoked"]
    assert (event["proposalId"], event["member"], event["approvals"]) == (
        approved_pid,
        members[1].address,
        1,
    )
    assert not council.hasApproved(approved_pid, members[1])
    assert council.proposal(approved_pid)[4] == 1


def test_a_revoked_approval_below_the_threshold_blocks_execution(
    escrow, council, members, mid, approved_pid, freeze_data
):
    council.revoke(approved_pid, {"from": members[0]})
    with brownie.reverts(f"Council_ThresholdNotReached: {approved_pid}, 1, 2"):
        council.execute(approved_pid, freeze_data, {"from": members[1]})
    assert council.proposal(approved_pid)[2] is False
    assert escrow.statusOf(mid) == VERIFIED


def test_a_member_who_revoked_may_approve_again(council, members, approved_pid):
    council.revoke(approved_pid, {"from": members[0]})
    tx = council.approve(approved_pid, {"from": members[0]})
    assert tx.events["ProposalApproved"]["approvals"] == 2


def test_revoke_without_an_approval_is_refused(council, members, approved_pid):
    with brownie.reverts(f"Council_NotApproved: {approved_pid}, {addr(members[2])}"):
        council.revoke(approved_pid, {"from": members[2]})
    assert council.proposal(approved_pid)[4] == 2


def test_revoke_after_the_expiry_is_refused(council, members, approved_pid):
    expiry = council.proposal(approved_pid)[1]
    _at_next_block(expiry + 1)
    with brownie.reverts(f"Council_ProposalExpired: {approved_pid}, {expiry}"):
        council.revoke(approved_pid, {"from": members[0]})


def test_revoke_after_execution_is_refused(council, members, approved_pid, freeze_data):
    council.execute(approved_pid, freeze_data, {"from": members[0]})
    with brownie.reverts(f"Council_AlreadyExecuted: {approved_pid}"):
        council.revoke(approved_pid, {"from": members[0]})
    assert council.hasApproved(approved_pid, members[0])


# --------------------------------------------------------------------------- execute


def test_execute_without_approvals_is_refused(council, members, pid, freeze_data):
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 0, 2"):
        council.execute(pid, freeze_data, {"from": members[0]})


def test_m_minus_one_approvals_do_not_execute(escrow, council, members, mid, pid, freeze_data):
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 1, 2"):
        council.execute(pid, freeze_data, {"from": members[0]})
    assert council.proposal(pid)[2] is False
    assert escrow.statusOf(mid) == VERIFIED


def test_m_approvals_execute_and_emit_proposal_executed_then_the_call(
    escrow, council, members, mid, approved_pid, freeze_data
):
    tx = council.execute(approved_pid, freeze_data, {"from": members[1]})
    assert escrow.statusOf(mid) == FROZEN
    assert council.proposal(approved_pid)[2] is True
    event = tx.events["ProposalExecuted"]
    assert (event["proposalId"], event["executor"]) == (approved_pid, members[1].address)
    assert [e.name for e in tx.events] == ["ProposalExecuted", "MilestoneFrozen"]


def test_a_member_who_did_not_approve_may_execute(
    escrow, council, members, mid, approved_pid, freeze_data
):
    assert not council.hasApproved(approved_pid, members[2])
    tx = council.execute(approved_pid, freeze_data, {"from": members[2]})
    assert tx.events["ProposalExecuted"]["executor"] == members[2].address
    assert escrow.statusOf(mid) == FROZEN


def test_double_execution_is_refused(escrow, council, members, mid, approved_pid, freeze_data):
    council.execute(approved_pid, freeze_data, {"from": members[0]})
    # Unfreeze in between, so that a second freeze would succeed if the proposal ran again.
    unfreeze = escrow.unfreeze.encode_input(mid)
    other = council.propose(escrow, unfreeze, "u", chain.time() + 3600, {"from": members[0]})
    council.approve(other.return_value, {"from": members[0]})
    council.approveAndExecute(other.return_value, unfreeze, {"from": members[1]})
    with brownie.reverts(f"Council_AlreadyExecuted: {approved_pid}"):
        council.execute(approved_pid, freeze_data, {"from": members[2]})
    assert escrow.statusOf(mid) == VERIFIED


def test_execute_with_calldata_other_than_the_proposed_is_refused(
    escrow, council, members, mid, approved_pid, verified
):
    other = verified("PO-1/other")
    with brownie.reverts(f"Council_CalldataMismatch: {approved_pid}"):
        council.execute(approved_pid, escrow.freeze.encode_input(other), {"from": members[0]})
    assert escrow.statusOf(other) == VERIFIED
    assert escrow.statusOf(mid) == VERIFIED
    assert council.proposal(approved_pid)[2] is False


def test_execute_after_the_expiry_is_refused(escrow, council, members, mid, approved_pid):
    expiry = council.proposal(approved_pid)[1]
    _at_next_block(expiry + 1)
    with brownie.reverts(f"Council_ProposalExpired: {approved_pid}, {expiry}"):
        council.execute(approved_pid, escrow.freeze.encode_input(mid), {"from": members[0]})
    assert escrow.statusOf(mid) == VERIFIED


def test_execute_at_exactly_the_expiry_is_accepted(escrow, council, members, mid, approved_pid):
    _at_next_block(council.proposal(approved_pid)[1])
    council.execute(approved_pid, escrow.freeze.encode_input(mid), {"from": members[0]})
    assert escrow.statusOf(mid) == FROZEN


# --------------------------------------------------------------------------- a reverting call


@pytest.fixture
def registered_freeze(escrow: Any, council: Any, members: Any, register: Any, propose: Any):
    """A proposal with M approvals to freeze a milestone that is only Registered."""
    mid = register("PO-1/not-yet")
    data = escrow.freeze.encode_input(mid)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    council.approve(pid, {"from": members[1]})
    return mid, pid, data


def test_a_proposal_whose_call_reverts_reverts_with_the_callees_error(
    council, members, registered_freeze
):
    mid, pid, data = registered_freeze
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {b32(mid)}, {REGISTERED}"):
        council.execute(pid, data, {"from": members[0]})


def test_a_reverted_execution_leaves_the_proposal_open_and_the_milestone_unchanged(
    escrow, council, members, registered_freeze
):
    mid, pid, data = registered_freeze
    before = escrow.milestone(mid)
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {b32(mid)}, {REGISTERED}"):
        council.execute(pid, data, {"from": members[0]})
    assert council.proposal(pid)[2] is False
    assert council.proposal(pid)[4] == 2
    assert escrow.statusOf(mid) == REGISTERED
    assert tuple(escrow.milestone(mid)) == tuple(before)


def test_a_reverted_approve_and_execute_undoes_the_approval_too(
    escrow, council, members, register, propose
):
    mid = register("PO-1/not-yet")
    data = escrow.freeze.encode_input(mid)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {b32(mid)}, {REGISTERED}"):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert not council.hasApproved(pid, members[1])
    assert council.proposal(pid)[4] == 1
    assert escrow.statusOf(mid) == REGISTERED


def test_a_proposal_whose_call_reverted_executes_once_the_call_can_succeed(
    escrow, council, members, oracles, registered_freeze
):
    mid, pid, data = registered_freeze
    with brownie.reverts():
        council.execute(pid, data, {"from": members[0]})
    attest_all(escrow, mid, oracles[:2], "bundle-1")
    council.execute(pid, data, {"from": members[0]})
    assert escrow.statusOf(mid) == FROZEN
    assert council.proposal(pid)[2] is True


def test_a_call_the_escrow_does_not_understand_reverts_with_failed_call(council, members, propose):
    data = "0xdeadbeef"
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts("FailedCall: "):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert council.proposal(pid)[2] is False


# --------------------------------------------------------------------------- approveAndExecute


def test_approve_and_execute_by_the_last_approver_executes_in_the_same_transaction(
    escrow, council, members, mid, pid, freeze_data
):
    council.approve(pid, {"from": members[0]})
    tx = council.approveAndExecute(pid, freeze_data, {"from": members[2]})
    assert [e.name for e in tx.events] == [
        "ProposalApproved",
        "ProposalExecuted",
        "MilestoneFrozen",
    ]
    approved = tx.events["ProposalApproved"]
    assert (approved["proposalId"], approved["member"], approved["approvals"]) == (
        pid,
        members[2].address,
        2,
    )
    executed = tx.events["ProposalExecuted"]
    assert (executed["proposalId"], executed["executor"]) == (pid, members[2].address)
    assert bytes(tx.events["MilestoneFrozen"]["milestoneId"]) == bytes(mid)
    assert escrow.statusOf(mid) == FROZEN


def test_approve_and_execute_as_the_first_approval_is_refused_and_undone(
    escrow, council, members, mid, pid, freeze_data
):
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 1, 2"):
        council.approveAndExecute(pid, freeze_data, {"from": members[0]})
    assert not council.hasApproved(pid, members[0])
    assert council.proposal(pid)[4] == 0
    assert escrow.statusOf(mid) == VERIFIED


def test_approve_and_execute_by_a_member_who_approved_already_is_refused(
    council, members, approved_pid, freeze_data
):
    with brownie.reverts(f"Council_AlreadyApproved: {approved_pid}, {addr(members[0])}"):
        council.approveAndExecute(approved_pid, freeze_data, {"from": members[0]})
    assert council.proposal(approved_pid)[2] is False


def test_approve_and_execute_with_other_calldata_is_refused_and_undone(
    escrow, council, members, mid, pid, verified
):
    council.approve(pid, {"from": members[0]})
    other = escrow.freeze.encode_input(verified("PO-1/other"))
    with brownie.reverts(f"Council_CalldataMismatch: {pid}"):
        council.approveAndExecute(pid, other, {"from": members[1]})
    assert not council.hasApproved(pid, members[1])
    assert escrow.statusOf(mid) == VERIFIED


def test_approve_and_execute_after_execution_is_refused(
    council, members, approved_pid, freeze_data
):
    council.execute(approved_pid, freeze_data, {"from": members[0]})
    with brownie.reverts(f"Council_AlreadyExecuted: {approved_pid}"):
        council.approveAndExecute(approved_pid, freeze_data, {"from": members[2]})

"""Milestones: registerMilestone, registerMilestones, amendMilestone, expire, and the views
statusOf, milestone and milestoneIdOf.

registerMilestone
├── when paused: refused (EnforcedPause)
├── when the program is unknown: refused (Escrow_UnknownProgram)
├── when the caller is not the program's manager (outsider, oracle, beneficiary, admin, another
│   manager): refused (Escrow_NotProgramManager)
├── when the manager's role was revoked: refused (Escrow_NotProgramManager)
├── when the program is closed: refused (Escrow_ProgramClosed)
├── when the beneficiary is zero: refused (Escrow_ZeroAddress "beneficiary")
├── when the amount is zero: refused (Escrow_ZeroAmount)
├── when the deadline is now or past: refused (Escrow_DeadlineNotInFuture)
├── when the reference is used in the program: refused (Escrow_DuplicateMilestone)
├── when the reference is used in another program only: registered under another id
├── when the amount exceeds the uncommitted balance: refused (Escrow_InsufficientFunds)
├── when the amount equals the uncommitted balance: registered
└── otherwise: stored as Registered, committed grows, id returned, MilestoneRegistered
registerMilestones
├── when paused: refused (EnforcedPause)
├── when the caller is not the program's manager: refused (Escrow_NotProgramManager)
├── when the manager's role was revoked: refused (Escrow_NotProgramManager)
├── when the program is closed: refused (Escrow_ProgramClosed)
├── when the batch is empty: refused (Escrow_EmptyBatch)
├── when one input is invalid: the whole batch is refused, nothing stored
├── when a reference repeats within the batch: refused (Escrow_DuplicateMilestone)
├── when the total exceeds the uncommitted balance: refused (Escrow_InsufficientFunds),
│   nothing stored
└── otherwise: every milestone stored, committed grows by the total, one event each
amendMilestone
├── when paused: refused (EnforcedPause)
├── when the milestone is unknown: refused (Escrow_UnknownMilestone)
├── when the caller is not the program's manager: refused (Escrow_NotProgramManager)
├── when the manager's role was revoked: refused (Escrow_NotProgramManager)
├── when the program is closed: refused (Escrow_ProgramClosed)
├── when the milestone was expired by expire(): refused (Escrow_UnexpectedMilestoneStatus Expired)
├── when the milestone is past its deadline, expire() not yet called: amended (documented
│   extension), Registered again
├── when the milestone is verified or cancelled: refused (Escrow_UnexpectedMilestoneStatus)
├── when one attestation was recorded: refused (Escrow_MilestoneAlreadyAttested)
├── when the new terms are invalid (zero beneficiary, zero amount, deadline not in future): refused
├── when the new amount exceeds the balance: refused (Escrow_InsufficientFunds), terms unchanged
└── otherwise: terms replaced, committed moves by the difference (up or down), MilestoneAmended
expire
├── when paused: refused (EnforcedPause)
├── when the milestone is unknown: refused (Escrow_UnknownMilestone)
├── when the deadline has not passed (before it, exactly at it): refused (status Registered)
├── when it was expired already: refused (status Expired)
├── when it is verified, disputed, frozen or cancelled: refused (that status)
└── otherwise (anyone may call, program open or closed): stored Expired, committed shrinks,
    balance unchanged, MilestoneExpired
views
├── statusOf / milestone of an unknown id: None / all zero
├── statusOf past the deadline before expire(): Expired
├── statusOf at the deadline: still Registered
├── milestone after a quorum: Verified with attestations, epoch, evidence hash, verifiedAt
└── milestoneIdOf: keccak256(abi.encode(programId, externalRef))
"""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from brownie import ZERO_ADDRESS, accounts, chain, history, web3
from brownie.exceptions import VirtualMachineError
from eth_utils import keccak

from disburse.chain.attestations import external_ref, milestone_id
from tests.conftest import (
    CHALLENGE_WINDOW,
    DAY,
    PROGRAM_FUNDS,
    TOKEN_UNIT,
    error,
    evidence,
    milestone_input,
)
from tests.programs import FACTS

NOT_MANAGERS = ["outsider", "oracle", "beneficiary", "admin", "other_manager"]

# MilestoneStatus
NONE, REGISTERED, VERIFIED, DISPUTED, FROZEN, RELEASED, CANCELLED, EXPIRED = range(8)

AMOUNT = 1_000 * TOKEN_UNIT


def block_time() -> int:
    """The latest block's timestamp: what the next transaction's block.timestamp is at least.

    (chain.time() can run a few seconds ahead of anvil's clock after the isolation fixture reverts.)
    """
    return int(web3.eth.get_block("latest")["timestamp"])


def sleep_past(moment: int) -> None:
    """Moves the chain's clock past `moment` and mines a block there."""
    chain.sleep(max(moment - block_time(), 0) + 1)
    chain.mine()


def set_next_block_time(moment: int) -> None:
    """Makes the next block's timestamp exactly `moment` (anvil)."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [moment])


def hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


@pytest.fixture(scope="module")
def other_manager(escrow: Any, roles: Any) -> Any:
    """Holds PROGRAM_MANAGER_ROLE but manages none of the fixture's programs."""
    account = accounts[7]
    escrow.grantRole(escrow.PROGRAM_MANAGER_ROLE(), account, {"from": roles.admin})
    return account


@pytest.fixture(scope="module")
def actors(roles: Any, oracles: list[Any], other_manager: Any) -> dict[str, Any]:
    return {
        "outsider": roles.outsider,
        "oracle": oracles[0],
        "beneficiary": roles.beneficiary,
        "admin": roles.admin,
        "other_manager": other_manager,
    }


@pytest.fixture
def verify(escrow: Any, oracles: list[Any]) -> Any:
    """Attests a milestone by a quorum (two of three) with matching evidence."""

    def _verify(mid: bytes) -> None:
        epoch = escrow.committee()[2]
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})

    return _verify


def committed_of(escrow: Any, pid: int) -> int:
    return int(escrow.program(pid)["committed"])


def new_program(escrow: Any, token: Any, roles: Any, amount: int) -> int:
    tx = escrow.createProgram(
        token, roles.treasury, CHALLENGE_WINDOW, FACTS, {"from": roles.manager}
    )
    pid = int(tx.return_value)
    token.approve(escrow, amount, {"from": roles.manager})
    escrow.fund(pid, amount, {"from": roles.manager})
    return pid


def amend_args(roles: Any, **changes: Any) -> list[Any]:
    """Valid amendMilestone terms (beneficiary2, 2 000 tokens, 60 days, a new spec) with changes."""
    terms = {
        "beneficiary": roles.beneficiary2,
        "amount": 2_000 * TOKEN_UNIT,
        "deadline": block_time() + 60 * DAY,
        "spec": keccak(text="spec:amended"),
    }
    terms.update(changes)
    return [terms["beneficiary"], terms["amount"], terms["deadline"], terms["spec"]]


# --------------------------------------------------------------------------------------------
# registerMilestone
# --------------------------------------------------------------------------------------------


def test_register_refused_while_paused(escrow, roles, program_id):
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.registerMilestone(
            program_id,
            milestone_input("PO-1/M1", roles.beneficiary, AMOUNT),
            {"from": roles.manager},
        )
    assert committed_of(escrow, program_id) == 0


def test_register_refuses_unknown_program(escrow, roles):
    pid = escrow.programCount() + 1
    with brownie.reverts(error("Escrow_UnknownProgram", pid)):
        escrow.registerMilestone(
            pid, milestone_input("PO-1/M1", roles.beneficiary, AMOUNT), {"from": roles.manager}
        )


@pytest.mark.parametrize("who", NOT_MANAGERS)
def test_register_refused_for_anyone_but_the_program_manager(
    escrow, roles, program_id, actors, who
):
    caller = actors[who]
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, caller)):
        escrow.registerMilestone(
            program_id, milestone_input("PO-1/M1", roles.beneficiary, AMOUNT), {"from": caller}
        )
    assert escrow.statusOf(milestone_id(program_id, external_ref("PO-1/M1"))) == NONE
    assert committed_of(escrow, program_id) == 0


def test_register_refused_after_manager_role_revoked(escrow, roles, program_id):
    escrow.revokeRole(escrow.PROGRAM_MANAGER_ROLE(), roles.manager, {"from": roles.admin})
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, roles.manager)):
        escrow.registerMilestone(
            program_id,
            milestone_input("PO-1/M1", roles.beneficiary, AMOUNT),
            {"from": roles.manager},
        )
    assert committed_of(escrow, program_id) == 0


def test_register_accepted_again_after_manager_role_regranted(escrow, roles, program_id, register):
    role = escrow.PROGRAM_MANAGER_ROLE()
    escrow.revokeRole(role, roles.manager, {"from": roles.admin})
    escrow.grantRole(role, roles.manager, {"from": roles.admin})
    mid = register("PO-1/M1", AMOUNT)
    assert escrow.statusOf(mid) == REGISTERED


def test_register_refuses_closed_program(escrow, roles, program_id):
    escrow.closeProgram(program_id, {"from": roles.manager})
    with brownie.reverts(error("Escrow_ProgramClosed", program_id)):
        escrow.registerMilestone(
            program_id,
            milestone_input("PO-1/M1", roles.beneficiary, AMOUNT),
            {"from": roles.manager},
        )
    assert committed_of(escrow, program_id) == 0


def test_register_refuses_zero_beneficiary(escrow, roles, program_id):
    with brownie.reverts(error("Escrow_ZeroAddress", "beneficiary")):
        escrow.registerMilestone(
            program_id, milestone_input("PO-1/M1", ZERO_ADDRESS, AMOUNT), {"from": roles.manager}
        )


def test_register_refuses_zero_amount(escrow, roles, program_id):
    with brownie.reverts(error("Escrow_ZeroAmount")):
        escrow.registerMilestone(
            program_id, milestone_input("PO-1/M1", roles.beneficiary, 0), {"from": roles.manager}
        )


def test_register_refuses_past_deadline(escrow, roles, program_id):
    deadline = block_time() - 1
    with pytest.raises(VirtualMachineError) as refused:
        escrow.registerMilestone(
            program_id,
            milestone_input("PO-1/M1", roles.beneficiary, AMOUNT, deadline=deadline),
            {"from": roles.manager},
        )
    now = history[-1].timestamp
    assert refused.value.revert_msg == error("Escrow_DeadlineNotInFuture", deadline, now)


def test_register_refuses_deadline_equal_to_now(escrow, roles, program_id):
    deadline = block_time() + 10
    set_next_block_time(deadline)
    with brownie.reverts(error("Escrow_DeadlineNotInFuture", deadline, deadline)):
        escrow.registerMilestone(
            program_id,
            milestone_input("PO-1/M1", roles.beneficiary, AMOUNT, deadline=deadline),
            {"from": roles.manager},
        )


def test_register_accepts_deadline_one_second_ahead(escrow, roles, program_id):
    deadline = block_time() + 10
    set_next_block_time(deadline - 1)
    escrow.registerMilestone(
        program_id,
        milestone_input("PO-1/M1", roles.beneficiary, AMOUNT, deadline=deadline),
        {"from": roles.manager},
    )
    assert (
        escrow.milestone(milestone_id(program_id, external_ref("PO-1/M1")))["deadline"] == deadline
    )


def test_register_refuses_duplicate_reference_in_same_program(escrow, roles, program_id, register):
    mid = register("PO-1/M1", AMOUNT)
    ref = external_ref("PO-1/M1")
    with brownie.reverts(error("Escrow_DuplicateMilestone", program_id, ref, mid)):
        escrow.registerMilestone(
            program_id,
            milestone_input("PO-1/M1", roles.beneficiary2, 5 * AMOUNT),
            {"from": roles.manager},
        )
    stored = escrow.milestone(mid)
    assert stored["amount"] == AMOUNT
    assert stored["beneficiary"] == roles.beneficiary
    assert committed_of(escrow, program_id) == AMOUNT


def test_register_accepts_same_reference_in_another_program(
    escrow, token, roles, program_id, register
):
    other = new_program(escrow, token, roles, 10 * AMOUNT)
    first = register("PO-1/M1", AMOUNT)
    second = register("PO-1/M1", 2 * AMOUNT, program=other)
    assert first != second
    assert escrow.milestone(first)["programId"] == program_id
    assert escrow.milestone(second)["programId"] == other
    assert committed_of(escrow, program_id) == AMOUNT
    assert committed_of(escrow, other) == 2 * AMOUNT


def test_register_refuses_amount_above_uncommitted_balance(escrow, roles, program_id, register):
    register("PO-1/M1", PROGRAM_FUNDS - AMOUNT)
    with brownie.reverts(
        error("Escrow_InsufficientFunds", program_id, PROGRAM_FUNDS + 1, PROGRAM_FUNDS)
    ):
        escrow.registerMilestone(
            program_id,
            milestone_input("PO-1/M2", roles.beneficiary, AMOUNT + 1),
            {"from": roles.manager},
        )
    assert escrow.statusOf(milestone_id(program_id, external_ref("PO-1/M2"))) == NONE
    assert committed_of(escrow, program_id) == PROGRAM_FUNDS - AMOUNT


def test_register_accepts_amount_equal_to_uncommitted_balance(escrow, roles, program_id, register):
    register("PO-1/M1", PROGRAM_FUNDS - AMOUNT)
    register("PO-1/M2", AMOUNT)
    assert committed_of(escrow, program_id) == PROGRAM_FUNDS
    assert escrow.program(program_id)["balance"] == PROGRAM_FUNDS


def test_register_stores_milestone_as_registered(escrow, roles, program_id):
    deadline = block_time() + 30 * DAY
    spec = keccak(text="spec:PO-1/M1")
    escrow.registerMilestone(
        program_id,
        milestone_input("PO-1/M1", roles.beneficiary, AMOUNT, deadline=deadline, spec=spec),
        {"from": roles.manager},
    )
    stored = escrow.milestone(milestone_id(program_id, external_ref("PO-1/M1")))
    assert stored["programId"] == program_id
    assert stored["beneficiary"] == roles.beneficiary
    assert stored["amount"] == AMOUNT
    assert stored["deadline"] == deadline
    assert stored["evidenceSpecHash"] == hex32(spec)
    assert stored["status"] == REGISTERED
    assert stored["attestations"] == 0
    assert stored["verifiedAt"] == 0


def test_register_commits_amount_without_moving_tokens(escrow, token, roles, program_id, register):
    register("PO-1/M1", AMOUNT)
    register("PO-1/M2", 3 * AMOUNT)
    assert committed_of(escrow, program_id) == 4 * AMOUNT
    assert escrow.program(program_id)["balance"] == PROGRAM_FUNDS
    assert token.balanceOf(escrow) == PROGRAM_FUNDS


def test_register_returns_the_milestone_id(escrow, roles, program_id):
    tx = escrow.registerMilestone(
        program_id, milestone_input("PO-1/M1", roles.beneficiary, AMOUNT), {"from": roles.manager}
    )
    assert tx.return_value == hex32(milestone_id(program_id, external_ref("PO-1/M1")))


def test_register_emits_milestone_registered(escrow, roles, program_id):
    deadline = block_time() + 30 * DAY
    spec = keccak(text="spec:x")
    tx = escrow.registerMilestone(
        program_id,
        milestone_input("PO-1/M1", roles.beneficiary, AMOUNT, deadline=deadline, spec=spec),
        {"from": roles.manager},
    )
    event = tx.events["MilestoneRegistered"]
    assert event["milestoneId"] == hex32(milestone_id(program_id, external_ref("PO-1/M1")))
    assert event["programId"] == program_id
    assert event["beneficiary"] == roles.beneficiary
    assert event["amount"] == AMOUNT
    assert event["deadline"] == deadline
    assert event["evidenceSpecHash"] == hex32(spec)
    assert event["externalRef"] == hex32(external_ref("PO-1/M1"))


# --------------------------------------------------------------------------------------------
# registerMilestones
# --------------------------------------------------------------------------------------------


def batch(roles: Any, *refs_amounts: tuple[str, int]) -> list[Any]:
    return [milestone_input(ref, roles.beneficiary, amount) for ref, amount in refs_amounts]


def test_register_batch_refused_while_paused(escrow, roles, program_id):
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.registerMilestones(program_id, batch(roles, ("A", AMOUNT)), {"from": roles.manager})


@pytest.mark.parametrize("who", NOT_MANAGERS)
def test_register_batch_refused_for_anyone_but_the_program_manager(
    escrow, roles, program_id, actors, who
):
    caller = actors[who]
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, caller)):
        escrow.registerMilestones(program_id, batch(roles, ("A", AMOUNT)), {"from": caller})
    assert committed_of(escrow, program_id) == 0


def test_register_batch_refused_after_manager_role_revoked(escrow, roles, program_id):
    escrow.revokeRole(escrow.PROGRAM_MANAGER_ROLE(), roles.manager, {"from": roles.admin})
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, roles.manager)):
        escrow.registerMilestones(program_id, batch(roles, ("A", AMOUNT)), {"from": roles.manager})


def test_register_batch_refuses_closed_program(escrow, roles, program_id):
    escrow.closeProgram(program_id, {"from": roles.manager})
    with brownie.reverts(error("Escrow_ProgramClosed", program_id)):
        escrow.registerMilestones(program_id, batch(roles, ("A", AMOUNT)), {"from": roles.manager})


def test_register_batch_refuses_empty_batch(escrow, roles, program_id):
    with brownie.reverts(error("Escrow_EmptyBatch")):
        escrow.registerMilestones(program_id, [], {"from": roles.manager})


def test_register_batch_refuses_whole_batch_when_one_input_is_invalid(escrow, roles, program_id):
    inputs = [
        *batch(roles, ("A", AMOUNT), ("B", AMOUNT)),
        milestone_input("C", ZERO_ADDRESS, AMOUNT),
    ]
    with brownie.reverts(error("Escrow_ZeroAddress", "beneficiary")):
        escrow.registerMilestones(program_id, inputs, {"from": roles.manager})
    for ref in ("A", "B", "C"):
        assert escrow.statusOf(milestone_id(program_id, external_ref(ref))) == NONE
    assert committed_of(escrow, program_id) == 0


def test_register_batch_refuses_reference_repeated_within_batch(escrow, roles, program_id):
    ref = external_ref("A")
    mid = milestone_id(program_id, ref)
    with brownie.reverts(error("Escrow_DuplicateMilestone", program_id, ref, mid)):
        escrow.registerMilestones(
            program_id, batch(roles, ("A", AMOUNT), ("A", AMOUNT)), {"from": roles.manager}
        )
    assert escrow.statusOf(mid) == NONE


def test_register_batch_refuses_reference_already_registered(escrow, roles, program_id, register):
    mid = register("A", AMOUNT)
    with brownie.reverts(error("Escrow_DuplicateMilestone", program_id, external_ref("A"), mid)):
        escrow.registerMilestones(
            program_id, batch(roles, ("B", AMOUNT), ("A", AMOUNT)), {"from": roles.manager}
        )
    assert escrow.statusOf(milestone_id(program_id, external_ref("B"))) == NONE
    assert committed_of(escrow, program_id) == AMOUNT


def test_register_batch_refuses_total_above_uncommitted_balance(
    escrow, roles, program_id, register
):
    register("PO-1/M0", PROGRAM_FUNDS - 3 * AMOUNT)
    inputs = batch(roles, ("A", AMOUNT), ("B", AMOUNT), ("C", AMOUNT + 1))
    with brownie.reverts(
        error("Escrow_InsufficientFunds", program_id, PROGRAM_FUNDS + 1, PROGRAM_FUNDS)
    ):
        escrow.registerMilestones(program_id, inputs, {"from": roles.manager})
    for ref in ("A", "B", "C"):
        assert escrow.statusOf(milestone_id(program_id, external_ref(ref))) == NONE
    assert committed_of(escrow, program_id) == PROGRAM_FUNDS - 3 * AMOUNT


def test_register_batch_stores_every_milestone_and_commits_total(escrow, roles, program_id):
    escrow.registerMilestones(
        program_id,
        batch(roles, ("A", AMOUNT), ("B", 2 * AMOUNT), ("C", 3 * AMOUNT)),
        {"from": roles.manager},
    )
    for ref, amount in (("A", AMOUNT), ("B", 2 * AMOUNT), ("C", 3 * AMOUNT)):
        stored = escrow.milestone(milestone_id(program_id, external_ref(ref)))
        assert stored["status"] == REGISTERED
        assert stored["amount"] == amount
    assert committed_of(escrow, program_id) == 6 * AMOUNT


def test_register_batch_accepts_total_equal_to_uncommitted_balance(escrow, roles, program_id):
    half = PROGRAM_FUNDS // 2
    escrow.registerMilestones(
        program_id, batch(roles, ("A", half), ("B", PROGRAM_FUNDS - half)), {"from": roles.manager}
    )
    assert committed_of(escrow, program_id) == PROGRAM_FUNDS


def test_register_batch_emits_one_event_per_milestone(escrow, roles, program_id):
    tx = escrow.registerMilestones(
        program_id, batch(roles, ("A", AMOUNT), ("B", 2 * AMOUNT)), {"from": roles.manager}
    )
    events = tx.events["MilestoneRegistered"]
    assert len(events) == 2
    assert [e["milestoneId"] for e in events] == [
        hex32(milestone_id(program_id, external_ref(ref))) for ref in ("A", "B")
    ]
    assert [e["amount"] for e in events] == [AMOUNT, 2 * AMOUNT]
    assert all(e["programId"] == program_id for e in events)


# --------------------------------------------------------------------------------------------
# amendMilestone
# --------------------------------------------------------------------------------------------


def test_amend_refused_while_paused(escrow, roles, register):
    mid = register("PO-1/M1", AMOUNT)
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.amendMilestone(mid, *amend_args(roles), {"from": roles.manager})
    assert escrow.milestone(mid)["amount"] == AMOUNT


def test_amend_refuses_unknown_milestone(escrow, roles, program_id):
    mid = milestone_id(program_id, external_ref("nope"))
    with brownie.reverts(error("Escrow_UnknownMilestone", mid)):
        escrow.amendMilestone(mid, *amend_args(roles), {"from": roles.manager})


@pytest.mark.parametrize("who", NOT_MANAGERS)
def test_amend_refused_for_anyone_but_the_program_manager(
    escrow, roles, program_id, register, actors, who
):
    mid = register("PO-1/M1", AMOUNT)
    caller = actors[who]
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, caller)):
        escrow.amendMilestone(mid, *amend_args(roles), {"from": caller})
    assert escrow.milestone(mid)["beneficiary"] == roles.beneficiary
    assert committed_of(escrow, program_id) == AMOUNT


def test_amend_refused_after_manager_role_revoked(escrow, roles, program_id, register):
    mid = register("PO-1/M1", AMOUNT)
    escrow.revokeRole(escrow.PROGRAM_MANAGER_ROLE(), roles.manager, {"from": roles.admin})
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, roles.manager)):
        escrow.amendMilestone(mid, *amend_args(roles), {"from": roles.manager})
    assert escrow.milestone(mid)["amount"] == AMOUNT


def test_amend_refuses_milestone_of_closed_program(escrow, roles, program_id, register):
    mid = register("PO-1/M1", AMOUNT)
    escrow.closeProgram(program_id, {"from": roles.manager})
    with brownie.reverts(error("Escrow_ProgramClosed", program_id)):
        escrow.amendMilestone(mid, *amend_args(roles), {"from": roles.manager})


def test_amend_refuses_milestone_expired_by_expire(escrow, roles, program_id, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    sleep_past(deadline)
    escrow.expire(mid, {"from": roles.outsider})
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, EXPIRED)):
        escrow.amendMilestone(mid, *amend_args(roles), {"from": roles.manager})
    assert escrow.statusOf(mid) == EXPIRED
    assert committed_of(escrow, program_id) == 0


def test_amend_extends_milestone_past_deadline_before_expire_is_called(
    escrow, roles, program_id, register
):
    # Documented on IMilestoneEscrow.amendMilestone: an extension before anyone attested.
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    sleep_past(deadline)
    assert escrow.statusOf(mid) == EXPIRED
    new_deadline = block_time() + 10 * DAY
    escrow.amendMilestone(
        mid, *amend_args(roles, amount=AMOUNT, deadline=new_deadline), {"from": roles.manager}
    )
    assert escrow.statusOf(mid) == REGISTERED
    assert escrow.milestone(mid)["deadline"] == new_deadline
    assert committed_of(escrow, program_id) == AMOUNT


def test_amend_refuses_cancelled_milestone(escrow, roles, program_id, register):
    mid = register("PO-1/M1", AMOUNT)
    escrow.cancel(mid, {"from": roles.admin})
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, CANCELLED)):
        escrow.amendMilestone(mid, *amend_args(roles), {"from": roles.manager})
    assert committed_of(escrow, program_id) == 0


def test_amend_refuses_verified_milestone(escrow, roles, register, verify):
    mid = register("PO-1/M1", AMOUNT)
    verify(mid)
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, VERIFIED)):
        escrow.amendMilestone(mid, *amend_args(roles), {"from": roles.manager})


def test_amend_refuses_milestone_after_first_attestation(
    escrow, roles, oracles, program_id, register
):
    mid = register("PO-1/M1", AMOUNT)
    escrow.attest(mid, evidence(), escrow.committee()[2], 0, {"from": oracles[0]})
    with brownie.reverts(error("Escrow_MilestoneAlreadyAttested", mid, 1)):
        escrow.amendMilestone(mid, *amend_args(roles), {"from": roles.manager})
    stored = escrow.milestone(mid)
    assert stored["amount"] == AMOUNT
    assert stored["beneficiary"] == roles.beneficiary
    assert committed_of(escrow, program_id) == AMOUNT


def test_amend_refuses_zero_beneficiary(escrow, roles, register):
    mid = register("PO-1/M1", AMOUNT)
    with brownie.reverts(error("Escrow_ZeroAddress", "beneficiary")):
        escrow.amendMilestone(
            mid, *amend_args(roles, beneficiary=ZERO_ADDRESS), {"from": roles.manager}
        )


def test_amend_refuses_zero_amount(escrow, roles, register):
    mid = register("PO-1/M1", AMOUNT)
    with brownie.reverts(error("Escrow_ZeroAmount")):
        escrow.amendMilestone(mid, *amend_args(roles, amount=0), {"from": roles.manager})


def test_amend_refuses_deadline_not_in_future(escrow, roles, register):
    mid = register("PO-1/M1", AMOUNT)
    deadline = block_time() + 10
    set_next_block_time(deadline)
    with brownie.reverts(error("Escrow_DeadlineNotInFuture", deadline, deadline)):
        escrow.amendMilestone(mid, *amend_args(roles, deadline=deadline), {"from": roles.manager})


def test_amend_refuses_amount_above_balance(escrow, roles, program_id, register):
    mid = register("PO-1/M1", AMOUNT)
    register("PO-1/M2", 2 * AMOUNT)
    new_amount = PROGRAM_FUNDS - 2 * AMOUNT + 1
    with brownie.reverts(
        error("Escrow_InsufficientFunds", program_id, PROGRAM_FUNDS + 1, PROGRAM_FUNDS)
    ):
        escrow.amendMilestone(mid, *amend_args(roles, amount=new_amount), {"from": roles.manager})
    assert escrow.milestone(mid)["amount"] == AMOUNT
    assert committed_of(escrow, program_id) == 3 * AMOUNT


def test_amend_accepts_amount_using_the_whole_balance(escrow, roles, program_id, register):
    mid = register("PO-1/M1", AMOUNT)
    escrow.amendMilestone(mid, *amend_args(roles, amount=PROGRAM_FUNDS), {"from": roles.manager})
    assert committed_of(escrow, program_id) == PROGRAM_FUNDS


def test_amend_replaces_every_term(escrow, roles, register):
    mid = register("PO-1/M1", AMOUNT)
    deadline = block_time() + 45 * DAY
    spec = keccak(text="spec:v2")
    escrow.amendMilestone(
        mid, roles.beneficiary2, 3 * AMOUNT, deadline, spec, {"from": roles.manager}
    )
    stored = escrow.milestone(mid)
    assert stored["beneficiary"] == roles.beneficiary2
    assert stored["amount"] == 3 * AMOUNT
    assert stored["deadline"] == deadline
    assert stored["evidenceSpecHash"] == hex32(spec)
    assert stored["status"] == REGISTERED


@pytest.mark.parametrize("new_amount", [3 * AMOUNT, AMOUNT // 4])
def test_amend_moves_commitment_by_the_difference(escrow, roles, program_id, register, new_amount):
    mid = register("PO-1/M1", AMOUNT)
    register("PO-1/M2", 5 * AMOUNT)
    escrow.amendMilestone(mid, *amend_args(roles, amount=new_amount), {"from": roles.manager})
    assert committed_of(escrow, program_id) == 5 * AMOUNT + new_amount
    assert escrow.program(program_id)["balance"] == PROGRAM_FUNDS


def test_amend_emits_milestone_amended(escrow, roles, register):
    mid = register("PO-1/M1", AMOUNT)
    deadline = block_time() + 45 * DAY
    spec = keccak(text="spec:v2")
    tx = escrow.amendMilestone(
        mid, roles.beneficiary2, 3 * AMOUNT, deadline, spec, {"from": roles.manager}
    )
    event = tx.events["MilestoneAmended"]
    assert event["milestoneId"] == hex32(mid)
    assert event["beneficiary"] == roles.beneficiary2
    assert event["amount"] == 3 * AMOUNT
    assert event["deadline"] == deadline
    assert event["evidenceSpecHash"] == hex32(spec)


# --------------------------------------------------------------------------------------------
# expire
# --------------------------------------------------------------------------------------------


def test_expire_refused_while_paused(escrow, roles, program_id, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    sleep_past(deadline)
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.expire(mid, {"from": roles.outsider})
    assert committed_of(escrow, program_id) == AMOUNT


def test_expire_refuses_unknown_milestone(escrow, roles, program_id):
    mid = milestone_id(program_id, external_ref("nope"))
    with brownie.reverts(error("Escrow_UnknownMilestone", mid)):
        escrow.expire(mid, {"from": roles.outsider})


def test_expire_refused_before_deadline(escrow, roles, program_id, register):
    mid = register("PO-1/M1", AMOUNT)
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, REGISTERED)):
        escrow.expire(mid, {"from": roles.outsider})
    assert committed_of(escrow, program_id) == AMOUNT


def test_expire_refused_exactly_at_deadline(escrow, roles, program_id, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    set_next_block_time(deadline)
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, REGISTERED)):
        escrow.expire(mid, {"from": roles.outsider})
    assert committed_of(escrow, program_id) == AMOUNT


def test_expire_refused_twice(escrow, roles, program_id, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    register("PO-1/M2", 2 * AMOUNT)
    sleep_past(deadline)
    escrow.expire(mid, {"from": roles.outsider})
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, EXPIRED)):
        escrow.expire(mid, {"from": roles.outsider})
    assert committed_of(escrow, program_id) == 2 * AMOUNT


def test_expire_refuses_verified_milestone_past_deadline(
    escrow, roles, program_id, register, verify
):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    verify(mid)
    sleep_past(deadline)
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, VERIFIED)):
        escrow.expire(mid, {"from": roles.outsider})
    assert committed_of(escrow, program_id) == AMOUNT


def test_expire_refuses_disputed_milestone_past_deadline(
    escrow, roles, oracles, program_id, register
):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    epoch = escrow.committee()[2]
    escrow.attest(mid, evidence("a"), epoch, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence("b"), epoch, 0, {"from": oracles[1]})
    sleep_past(deadline)
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, DISPUTED)):
        escrow.expire(mid, {"from": roles.outsider})
    assert committed_of(escrow, program_id) == AMOUNT


def test_expire_refuses_frozen_milestone_past_deadline(escrow, roles, program_id, register, verify):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    verify(mid)
    escrow.freeze(mid, {"from": roles.admin})
    sleep_past(deadline)
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, FROZEN)):
        escrow.expire(mid, {"from": roles.outsider})
    assert committed_of(escrow, program_id) == AMOUNT


def test_expire_refuses_cancelled_milestone_past_deadline(escrow, roles, program_id, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    register("PO-1/M2", 2 * AMOUNT)
    escrow.cancel(mid, {"from": roles.admin})
    sleep_past(deadline)
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", mid, CANCELLED)):
        escrow.expire(mid, {"from": roles.outsider})
    assert committed_of(escrow, program_id) == 2 * AMOUNT


def test_expire_releases_commitment_and_keeps_balance(escrow, token, roles, program_id, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    register("PO-1/M2", 2 * AMOUNT)
    sleep_past(deadline)
    escrow.expire(mid, {"from": roles.outsider})
    assert escrow.statusOf(mid) == EXPIRED
    assert committed_of(escrow, program_id) == 2 * AMOUNT
    assert escrow.program(program_id)["balance"] == PROGRAM_FUNDS
    assert token.balanceOf(escrow) == PROGRAM_FUNDS


def test_expire_frees_amount_for_new_milestones(escrow, roles, program_id, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", PROGRAM_FUNDS, deadline=deadline)
    sleep_past(deadline)
    escrow.expire(mid, {"from": roles.outsider})
    register("PO-1/M2", PROGRAM_FUNDS)
    assert committed_of(escrow, program_id) == PROGRAM_FUNDS


def test_expire_works_on_closed_program(escrow, roles, program_id, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    escrow.closeProgram(program_id, {"from": roles.manager})
    sleep_past(deadline)
    escrow.expire(mid, {"from": roles.beneficiary})
    assert committed_of(escrow, program_id) == 0


def test_expire_emits_milestone_expired(escrow, roles, program_id, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    sleep_past(deadline)
    tx = escrow.expire(mid, {"from": roles.outsider})
    event = tx.events["MilestoneExpired"]
    assert event["milestoneId"] == hex32(mid)
    assert event["programId"] == program_id
    assert event["amount"] == AMOUNT


# --------------------------------------------------------------------------------------------
# views
# --------------------------------------------------------------------------------------------


def test_status_of_unknown_milestone_is_none(escrow, program_id):
    assert escrow.statusOf(milestone_id(program_id, external_ref("nope"))) == NONE


def test_milestone_view_of_unknown_id_is_all_zero(escrow, program_id):
    stored = escrow.milestone(milestone_id(program_id, external_ref("nope")))
    assert stored["programId"] == 0
    assert stored["beneficiary"] == ZERO_ADDRESS
    assert stored["amount"] == 0
    assert stored["deadline"] == 0
    assert stored["status"] == NONE


def test_status_of_reads_expired_past_deadline_before_expire_is_called(
    escrow, program_id, register
):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    assert escrow.statusOf(mid) == REGISTERED
    sleep_past(deadline)
    assert escrow.statusOf(mid) == EXPIRED
    assert escrow.milestone(mid)["status"] == EXPIRED
    assert committed_of(escrow, program_id) == AMOUNT


def test_status_of_reads_registered_exactly_at_deadline(escrow, register):
    deadline = block_time() + DAY
    mid = register("PO-1/M1", AMOUNT, deadline=deadline)
    set_next_block_time(deadline)
    chain.mine()
    assert block_time() == deadline
    assert escrow.statusOf(mid) == REGISTERED


def test_milestone_view_after_quorum_shows_verification(escrow, register, verify):
    mid = register("PO-1/M1", AMOUNT)
    verify(mid)
    verified_at = history[-1].timestamp
    stored = escrow.milestone(mid)
    assert stored["status"] == VERIFIED
    assert stored["attestations"] == 2
    assert stored["attestationEpoch"] == escrow.committee()[2]
    assert stored["evidenceHash"] == hex32(evidence())
    assert stored["verifiedAt"] == verified_at
    assert escrow.statusOf(mid) == VERIFIED


def test_milestone_id_of_matches_offline_computation(escrow, program_id):
    ref = external_ref("PO-7/line 12")
    assert escrow.milestoneIdOf(program_id, ref) == hex32(milestone_id(program_id, ref))
    assert escrow.milestoneIdOf(program_id + 1, ref) != escrow.milestoneIdOf(program_id, ref)

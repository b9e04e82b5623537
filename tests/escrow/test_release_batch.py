"""releaseBatch: paying many due milestones in one transaction, skipping those that are not due.

Branch tree (a test per leaf):

releaseBatch(milestoneIds)
├── when paused → EnforcedPause; nothing paid
├── when the list is empty → Escrow_EmptyBatch
├── when a listed milestone is not due → skipped, not refused; the others are paid
│   ├── unknown id
│   ├── Registered, below quorum (1)
│   ├── Registered past its deadline, reads Expired (7)
│   ├── Expired by expire() (7)
│   ├── Verified, challenge window still open (2)
│   ├── Verified, one second before releasableAt (2)
│   ├── Disputed (3)
│   ├── Frozen by the council (4)
│   ├── Released already (5), and its beneficiary is not paid again
│   └── Cancelled by the council (6)
├── when every listed milestone is skipped → returns 0, no event, nothing moves
├── when an id is listed twice → paid once, counted once
├── when the token returns false instead of reverting → SafeERC20FailedOperation(token)
│   ├── the whole batch reverts: the milestone of the healthy token stays Verified and unpaid
│   └── the batch pays everything once the token transfers again
├── when the token calls back into the escrow during a payment
│   ├── releaseBatch during releaseBatch → ReentrancyGuardReentrantCall; the outer batch pays
│   │   each milestone once
│   ├── release during releaseBatch → ReentrancyGuardReentrantCall; that milestone left to the batch
│   └── releaseBatch during release → ReentrancyGuardReentrantCall; the other milestone unpaid
└── when due (Verified, now >= verifiedAt + challenge window, not paused)
    ├── called by any account (one made up for the test) → paid, like release
    ├── pays each beneficiary exactly its milestones' amounts, across programs
    ├── each program's balance and committed drop by the sum of its paid milestones
    ├── emits MilestoneReleased(id, programId, beneficiary, amount) per payment, in list order
    ├── returns the number paid
    └── at exactly releasableAt → paid
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import brownie
import pytest
from brownie import accounts, chain
from eth_utils import keccak

from tests.conftest import CHALLENGE_WINDOW, error, evidence
from tests.escrow import test_release
from tests.escrow.test_release import (
    AMOUNT,
    DISPUTED,
    EXPIRED,
    REENTRANT_CALL,
    REGISTERED,
    RELEASED,
    VERIFIED,
    _at_next_block,
    _hex,
    _program_with,
    _sleep,
    _verify,
)

# The release tests' fixtures, shared: a due milestone, programs paying in hostile tokens.
due = test_release.due
false_program = test_release.false_program
reentrant_program = test_release.reentrant_program

FROZEN, CANCELLED = 4, 6

# brownie's own chain.sleep / chain.mine go through its deprecated rpc API.
pytestmark = pytest.mark.filterwarnings(
    "ignore:rpc.(sleep|mine) should not be called directly:FutureWarning"
)


def _released(tx: Any) -> list[tuple[str, int, str, int]]:
    """The MilestoneReleased events of a transaction, in order."""
    if "MilestoneReleased" not in tx.events:
        return []
    return [
        (e["milestoneId"], e["programId"], e["beneficiary"], e["amount"])
        for e in tx.events["MilestoneReleased"]
    ]


def _due_pair(
    escrow: Any, register: Any, oracles: list[Any], roles: Any, program: int
) -> tuple[bytes, bytes]:
    """Two milestones of `program` (to beneficiary and beneficiary2), verified and due."""
    first = register("PO-B/first", AMOUNT, program=program)
    second = register("PO-B/second", 2 * AMOUNT, program=program, beneficiary=roles.beneficiary2)
    _verify(escrow, oracles, first)
    _verify(escrow, oracles, second)
    _sleep(CHALLENGE_WINDOW + 1)
    return first, second


# --------------------------------------------------------------------------- refusals


def test_release_batch_while_paused_is_refused(escrow, token, due, roles):
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.releaseBatch([due], {"from": roles.outsider})
    assert escrow.statusOf(due) == VERIFIED
    assert token.balanceOf(roles.beneficiary) == 0


def test_release_batch_of_an_empty_list_is_refused(escrow, roles):
    with brownie.reverts("Escrow_EmptyBatch: "):
        escrow.releaseBatch([], {"from": roles.outsider})


# --------------------------------------------------------------------------- skipping


def _unknown(escrow, register, oracles, roles) -> bytes:
    return keccak(text="no such milestone")


def _below_quorum(escrow, register, oracles, roles) -> bytes:
    mid = register("PO-B/one", AMOUNT, beneficiary=roles.beneficiary2)
    escrow.attest(mid, evidence(), escrow.committee()[2], 0, {"from": oracles[0]})
    return mid


def _past_deadline(escrow, register, oracles, roles, ref: str = "PO-B/late") -> bytes:
    mid = register(ref, AMOUNT, beneficiary=roles.beneficiary2, deadline=chain.time() + 3600)
    _sleep(2 * 3600)
    return mid


def _expired(escrow, register, oracles, roles) -> bytes:
    mid = _past_deadline(escrow, register, oracles, roles, "PO-B/expired")
    escrow.expire(mid, {"from": roles.outsider})
    return mid


def _window_open(escrow, register, oracles, roles) -> bytes:
    mid = register("PO-B/early", AMOUNT, beneficiary=roles.beneficiary2)
    _verify(escrow, oracles, mid)
    return mid


def _disputed(escrow, register, oracles, roles) -> bytes:
    mid = register("PO-B/disputed", AMOUNT, beneficiary=roles.beneficiary2)
    epoch = escrow.committee()[2]
    escrow.attest(mid, evidence("a"), epoch, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence("b"), epoch, 0, {"from": oracles[1]})
    _sleep(CHALLENGE_WINDOW + 1)
    return mid


def _verified_and_due(escrow, register, oracles, ref, roles) -> bytes:
    mid = register(ref, AMOUNT, beneficiary=roles.beneficiary2)
    _verify(escrow, oracles, mid)
    _sleep(CHALLENGE_WINDOW + 1)
    return mid


def _frozen(escrow, register, oracles, roles) -> bytes:
    mid = _verified_and_due(escrow, register, oracles, "PO-B/frozen", roles)
    escrow.freeze(mid, {"from": roles.admin})
    return mid


def _released_already(escrow, register, oracles, roles) -> bytes:
    mid = _verified_and_due(escrow, register, oracles, "PO-B/paid", roles)
    escrow.release(mid, {"from": roles.outsider})
    return mid


def _cancelled(escrow, register, oracles, roles) -> bytes:
    mid = _verified_and_due(escrow, register, oracles, "PO-B/cancelled", roles)
    escrow.cancel(mid, {"from": roles.admin})
    return mid


# Each builder leaves a milestone paying beneficiary2 (if any) in a state that is not due.
NOT_DUE: dict[str, tuple[Callable[..., bytes], int]] = {
    "unknown": (_unknown, 0),
    "registered_below_quorum": (_below_quorum, REGISTERED),
    "registered_past_deadline": (_past_deadline, EXPIRED),
    "expired": (_expired, EXPIRED),
    "window_open": (_window_open, VERIFIED),
    "disputed": (_disputed, DISPUTED),
    "frozen": (_frozen, FROZEN),
    "released_already": (_released_already, RELEASED),
    "cancelled": (_cancelled, CANCELLED),
}


@pytest.mark.parametrize("kind", sorted(NOT_DUE))
def test_release_batch_skips_a_milestone_that_is_not_due_and_pays_the_others(
    escrow, token, register, oracles, roles, program_id, due, kind
):
    build, status = NOT_DUE[kind]
    skipped = build(escrow, register, oracles, roles)
    assert escrow.statusOf(skipped) == status
    program_before = escrow.program(program_id)
    paid_before = token.balanceOf(roles.beneficiary2)

    tx = escrow.releaseBatch([skipped, due], {"from": roles.outsider})

    assert tx.return_value == 1
    assert _released(tx) == [(_hex(due), program_id, roles.beneficiary, AMOUNT)]
    assert escrow.statusOf(due) == RELEASED
    assert escrow.statusOf(skipped) == status
    assert token.balanceOf(roles.beneficiary) == AMOUNT
    assert token.balanceOf(roles.beneficiary2) == paid_before
    program_after = escrow.program(program_id)
    assert program_before["balance"] - program_after["balance"] == AMOUNT
    assert program_before["committed"] - program_after["committed"] == AMOUNT


def test_release_batch_one_second_before_releasable_at_skips_the_milestone(
    escrow, token, register, oracles, roles
):
    mid = register("PO-B/edge", AMOUNT)
    releasable_at = _verify(escrow, oracles, mid).timestamp + CHALLENGE_WINDOW
    _at_next_block(releasable_at - 1)
    tx = escrow.releaseBatch([mid], {"from": roles.outsider})
    assert tx.timestamp == releasable_at - 1
    assert tx.return_value == 0
    assert escrow.statusOf(mid) == VERIFIED
    assert token.balanceOf(roles.beneficiary) == 0


def test_release_batch_of_only_milestones_not_due_returns_zero_and_moves_nothing(
    escrow, token, register, oracles, roles, program_id
):
    # The milestone whose window is open is verified last: the others' builders let time pass.
    kinds = sorted(NOT_DUE, key=lambda kind: kind == "window_open")
    skipped = [NOT_DUE[kind][0](escrow, register, oracles, roles) for kind in kinds]
    assert [escrow.statusOf(mid) for mid in skipped] == [NOT_DUE[kind][1] for kind in kinds]
    statuses = [escrow.statusOf(mid) for mid in skipped]
    program_before = escrow.program(program_id)
    held = token.balanceOf(escrow)
    paid_before = token.balanceOf(roles.beneficiary2)

    tx = escrow.releaseBatch(skipped, {"from": roles.outsider})

    assert tx.return_value == 0
    assert _released(tx) == []
    assert "Transfer" not in tx.events
    assert [escrow.statusOf(mid) for mid in skipped] == statuses
    assert escrow.program(program_id) == program_before
    assert token.balanceOf(escrow) == held
    assert token.balanceOf(roles.beneficiary2) == paid_before


def test_release_batch_pays_a_milestone_listed_twice_once(
    escrow, token, register, oracles, roles, program_id, due
):
    other = register("PO-B/other", 2 * AMOUNT, beneficiary=roles.beneficiary2)
    _verify(escrow, oracles, other)
    _sleep(CHALLENGE_WINDOW + 1)
    program_before = escrow.program(program_id)
    held = token.balanceOf(escrow)

    tx = escrow.releaseBatch([due, other, due, due], {"from": roles.outsider})

    assert tx.return_value == 2
    assert _released(tx) == [
        (_hex(due), program_id, roles.beneficiary, AMOUNT),
        (_hex(other), program_id, roles.beneficiary2, 2 * AMOUNT),
    ]
    assert token.balanceOf(roles.beneficiary) == AMOUNT
    assert token.balanceOf(roles.beneficiary2) == 2 * AMOUNT
    assert held - token.balanceOf(escrow) == 3 * AMOUNT
    program_after = escrow.program(program_id)
    assert program_before["balance"] - program_after["balance"] == 3 * AMOUNT
    assert program_before["committed"] - program_after["committed"] == 3 * AMOUNT


# --------------------------------------------------------------------------- paying


def test_any_account_may_release_a_batch(escrow, token, due, roles):
    anyone = accounts.add()
    roles.admin.transfer(anyone, 10**18)
    tx = escrow.releaseBatch([due], {"from": anyone})
    assert tx.return_value == 1
    assert escrow.statusOf(due) == RELEASED
    assert token.balanceOf(roles.beneficiary) == AMOUNT
    assert token.balanceOf(anyone) == 0


def test_release_batch_pays_every_due_milestone_exactly_once_across_programs(
    escrow, token, register, oracles, roles, program_id
):
    second = _program_with(escrow, token, roles, 0, 20 * AMOUNT)
    ids = [
        register("PO-B/1", AMOUNT),
        register("PO-B/2", 2 * AMOUNT, beneficiary=roles.beneficiary2),
        register("PO-B/3", 4 * AMOUNT, program=second),
        register("PO-B/4", 8 * AMOUNT, program=second, beneficiary=roles.beneficiary2),
    ]
    for mid in ids:
        _verify(escrow, oracles, mid)
    _sleep(CHALLENGE_WINDOW + 1)
    main_before, second_before = escrow.program(program_id), escrow.program(second)
    held = token.balanceOf(escrow)

    tx = escrow.releaseBatch(ids, {"from": roles.outsider})

    assert tx.return_value == 4
    assert _released(tx) == [
        (_hex(ids[0]), program_id, roles.beneficiary, AMOUNT),
        (_hex(ids[1]), program_id, roles.beneficiary2, 2 * AMOUNT),
        (_hex(ids[2]), second, roles.beneficiary, 4 * AMOUNT),
        (_hex(ids[3]), second, roles.beneficiary2, 8 * AMOUNT),
    ]
    assert [escrow.statusOf(mid) for mid in ids] == [RELEASED] * 4
    assert token.balanceOf(roles.beneficiary) == 5 * AMOUNT
    assert token.balanceOf(roles.beneficiary2) == 10 * AMOUNT
    assert held - token.balanceOf(escrow) == 15 * AMOUNT
    main_after, second_after = escrow.program(program_id), escrow.program(second)
    assert main_before["balance"] - main_after["balance"] == 3 * AMOUNT
    assert main_before["committed"] - main_after["committed"] == 3 * AMOUNT
    assert second_before["balance"] - second_after["balance"] == 12 * AMOUNT
    assert second_before["committed"] - second_after["committed"] == 12 * AMOUNT
    assert (second_after["balance"], second_after["committed"]) == (8 * AMOUNT, 0)


def test_release_batch_at_exactly_releasable_at_pays(escrow, token, register, oracles, roles):
    mid = register("PO-B/edge", AMOUNT)
    releasable_at = _verify(escrow, oracles, mid).timestamp + CHALLENGE_WINDOW
    _at_next_block(releasable_at)
    tx = escrow.releaseBatch([mid], {"from": roles.outsider})
    assert tx.timestamp == releasable_at
    assert tx.return_value == 1
    assert token.balanceOf(roles.beneficiary) == AMOUNT


# --------------------------------------------------------------------------- hostile tokens


def test_release_batch_with_a_token_returning_false_reverts_the_whole_batch(
    escrow, token, false_token, false_program, register, oracles, roles, program_id, due
):
    bad = register("PO-B/false", AMOUNT, program=false_program, beneficiary=roles.beneficiary2)
    _verify(escrow, oracles, bad)
    false_token.setFailing(True, {"from": roles.admin})
    before = escrow.program(program_id), escrow.program(false_program)
    held = token.balanceOf(escrow), false_token.balanceOf(escrow)
    with brownie.reverts(error("SafeERC20FailedOperation", false_token)):
        escrow.releaseBatch([due, bad], {"from": roles.outsider})
    assert escrow.statusOf(due) == VERIFIED
    assert escrow.statusOf(bad) == VERIFIED
    assert (escrow.program(program_id), escrow.program(false_program)) == before
    assert (token.balanceOf(escrow), false_token.balanceOf(escrow)) == held
    assert token.balanceOf(roles.beneficiary) == 0
    assert false_token.balanceOf(roles.beneficiary2) == 0


def test_release_batch_refused_by_a_false_returning_token_pays_once_it_transfers_again(
    escrow, token, false_token, false_program, register, oracles, roles, due
):
    bad = register("PO-B/false", AMOUNT, program=false_program, beneficiary=roles.beneficiary2)
    _verify(escrow, oracles, bad)
    false_token.setFailing(True, {"from": roles.admin})
    with brownie.reverts(error("SafeERC20FailedOperation", false_token)):
        escrow.releaseBatch([due, bad], {"from": roles.outsider})
    false_token.setFailing(False, {"from": roles.admin})
    tx = escrow.releaseBatch([due, bad], {"from": roles.outsider})
    assert tx.return_value == 2
    assert token.balanceOf(roles.beneficiary) == AMOUNT
    assert false_token.balanceOf(roles.beneficiary2) == AMOUNT


def test_reentrant_release_batch_during_a_batch_is_refused_and_each_is_paid_once(
    escrow, reentrant_token, reentrant_program, register, oracles, roles
):
    first, second = _due_pair(escrow, register, oracles, roles, reentrant_program)
    reentrant_token.arm(
        escrow, escrow.releaseBatch.encode_input([first, second]), {"from": roles.outsider}
    )
    tx = escrow.releaseBatch([first, second], {"from": roles.outsider})
    assert reentrant_token.armed() is False
    assert reentrant_token.lastCallSucceeded() is False
    assert bytes(reentrant_token.lastCallResult()) == REENTRANT_CALL
    assert tx.return_value == 2
    assert len(_released(tx)) == 2
    assert reentrant_token.balanceOf(roles.beneficiary) == AMOUNT
    assert reentrant_token.balanceOf(roles.beneficiary2) == 2 * AMOUNT
    assert escrow.program(reentrant_program)["balance"] == 97 * AMOUNT


def test_reentrant_release_during_a_batch_is_refused(
    escrow, reentrant_token, reentrant_program, register, oracles, roles
):
    first, second = _due_pair(escrow, register, oracles, roles, reentrant_program)
    reentrant_token.arm(escrow, escrow.release.encode_input(second), {"from": roles.outsider})
    tx = escrow.releaseBatch([first, second], {"from": roles.outsider})
    assert reentrant_token.lastCallSucceeded() is False
    assert bytes(reentrant_token.lastCallResult()) == REENTRANT_CALL
    # The batch itself, not the call-back, paid the second milestone.
    assert [e[0] for e in _released(tx)] == [_hex(first), _hex(second)]
    assert reentrant_token.balanceOf(roles.beneficiary2) == 2 * AMOUNT


def test_reentrant_release_batch_during_release_is_refused(
    escrow, reentrant_token, reentrant_program, register, oracles, roles
):
    first, second = _due_pair(escrow, register, oracles, roles, reentrant_program)
    reentrant_token.arm(
        escrow, escrow.releaseBatch.encode_input([second]), {"from": roles.outsider}
    )
    escrow.release(first, {"from": roles.outsider})
    assert reentrant_token.lastCallSucceeded() is False
    assert bytes(reentrant_token.lastCallResult()) == REENTRANT_CALL
    assert escrow.statusOf(second) == VERIFIED
    assert reentrant_token.balanceOf(roles.beneficiary) == AMOUNT
    assert reentrant_token.balanceOf(roles.beneficiary2) == 0

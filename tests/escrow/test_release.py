"""Release: paying a verified milestone once its challenge window has passed; hostile tokens.

Branch tree (a test per leaf):

release(milestoneId)
├── when paused → EnforcedPause
├── when the milestone is unknown → Escrow_UnknownMilestone(id)
├── when the milestone is not Verified → Escrow_UnexpectedMilestoneStatus(id, status)
│   ├── Registered, below quorum (1)
│   ├── Registered past its deadline, reads Expired (7)
│   ├── Expired by expire() (7)
│   ├── Disputed (3)
│   └── Released already (5), and the beneficiary is not paid again
├── when the challenge window is open → Escrow_ChallengeWindowOpen(id, releasableAt)
│   ├── right after verification
│   └── one second before releasableAt
├── when the token returns false instead of reverting → SafeERC20FailedOperation(token)
│   ├── the milestone stays Verified, balances untouched
│   └── it releases once the token transfers again
├── when the token calls back into the escrow during the payment
│   ├── release of the same milestone → ReentrancyGuardReentrantCall; paid once
│   └── release of another due milestone → ReentrancyGuardReentrantCall; that one unpaid
└── when due (Verified, now >= verifiedAt + challenge window, not paused)
    ├── called by anyone (an outsider) → Released
    ├── pays the beneficiary exactly the amount
    ├── program balance and committed drop by the amount
    ├── emits MilestoneReleased(id, programId, beneficiary, amount)
    ├── escrow token balance equals the sum of its programs' balances afterwards
    ├── at exactly releasableAt → pays
    ├── zero challenge window → pays at the very timestamp of verification
    └── verified before the deadline, released after it → pays (deadlines bound attestations)

fund(programId, amount) with a token that calls back into the escrow
├── calling fund again → ReentrancyGuardReentrantCall; credited once
└── calling release of a due milestone → ReentrancyGuardReentrantCall; not paid
"""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from brownie import chain, web3
from eth_utils import keccak

from tests.conftest import CHALLENGE_WINDOW, PROGRAM_FUNDS, TOKEN_UNIT, evidence
from tests.programs import FACTS

REGISTERED, VERIFIED, DISPUTED, RELEASED, EXPIRED = 1, 2, 3, 5, 7
AMOUNT = 1_000 * TOKEN_UNIT
REENTRANT_CALL = keccak(text="ReentrancyGuardReentrantCall()")[:4]


# brownie's own chain.sleep / chain.mine go through its deprecated rpc API.
pytestmark = pytest.mark.filterwarnings(
    "ignore:rpc.(sleep|mine) should not be called directly:FutureWarning"
)


# How brownie renders the arguments of a decoded custom error.
def _b32(value: bytes) -> str:
    return repr(bytes(value))


def _addr(account: Any) -> str:
    return str(account).lower()


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _at_next_block(timestamp: int) -> None:
    """Gives the next mined block exactly this timestamp."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


def _sleep(seconds: int) -> None:
    chain.sleep(seconds)
    chain.mine()


def _verify(escrow: Any, oracles: list[Any], mid: bytes, label: str = "bundle-1") -> Any:
    """Two matching attestations (the committee's quorum); returns the verifying transaction."""
    epoch = escrow.committee()[2]
    escrow.attest(mid, evidence(label), epoch, 0, {"from": oracles[0]})
    return escrow.attest(mid, evidence(label), epoch, 0, {"from": oracles[1]})


def _program_with(escrow: Any, token: Any, roles: Any, window: int, funds: int) -> int:
    """A program paying in `token`, funded by the manager."""
    pid = escrow.createProgram(
        token, roles.treasury, window, FACTS, {"from": roles.manager}
    ).return_value
    token.approve(escrow, funds, {"from": roles.manager})
    escrow.fund(pid, funds, {"from": roles.manager})
    return int(pid)


@pytest.fixture
def due(escrow: Any, register: Any, oracles: list[Any]) -> bytes:
    """A verified milestone of the main program whose challenge window has passed."""
    mid = register("PO-9/M1", AMOUNT)
    _verify(escrow, oracles, mid)
    _sleep(CHALLENGE_WINDOW + 1)
    return mid


@pytest.fixture
def reentrant_program(escrow: Any, reentrant_token: Any, roles: Any) -> int:
    return _program_with(escrow, reentrant_token, roles, CHALLENGE_WINDOW, 100 * AMOUNT)


@pytest.fixture
def false_program(escrow: Any, false_token: Any, roles: Any) -> int:
    return _program_with(escrow, false_token, roles, 0, 100 * AMOUNT)


# --------------------------------------------------------------------------- refusals


def test_release_while_paused_is_refused(escrow, due, roles):
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.release(due, {"from": roles.outsider})
    assert escrow.statusOf(due) == VERIFIED


def test_release_of_an_unknown_milestone_is_refused(escrow, roles):
    unknown = b"\x42" * 32
    with brownie.reverts(f"Escrow_UnknownMilestone: {_b32(unknown)}"):
        escrow.release(unknown, {"from": roles.outsider})


def test_release_before_quorum_is_refused_as_registered(escrow, register, oracles, roles):
    mid = register("PO-9/one", AMOUNT)
    escrow.attest(mid, evidence(), escrow.committee()[2], 0, {"from": oracles[0]})
    _sleep(CHALLENGE_WINDOW + 1)
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(mid)}, {REGISTERED}"):
        escrow.release(mid, {"from": roles.outsider})


def test_release_after_the_deadline_without_quorum_is_refused_as_expired(escrow, register, roles):
    mid = register("PO-9/late", AMOUNT, deadline=chain.time() + 3600)
    _sleep(2 * 3600)
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(mid)}, {EXPIRED}"):
        escrow.release(mid, {"from": roles.outsider})


def test_release_of_a_milestone_expired_by_expire_is_refused_as_expired(escrow, register, roles):
    mid = register("PO-9/late", AMOUNT, deadline=chain.time() + 3600)
    _sleep(2 * 3600)
    escrow.expire(mid, {"from": roles.outsider})
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(mid)}, {EXPIRED}"):
        escrow.release(mid, {"from": roles.outsider})


def test_release_of_a_disputed_milestone_is_refused_as_disputed(escrow, register, oracles, roles):
    mid = register("PO-9/disputed", AMOUNT)
    epoch = escrow.committee()[2]
    escrow.attest(mid, evidence("a"), epoch, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence("b"), epoch, 0, {"from": oracles[1]})
    _sleep(CHALLENGE_WINDOW + 1)
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(mid)}, {DISPUTED}"):
        escrow.release(mid, {"from": roles.outsider})


def test_release_twice_is_refused_and_pays_only_once(escrow, token, due, roles):
    escrow.release(due, {"from": roles.outsider})
    paid = token.balanceOf(roles.beneficiary)
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(due)}, {RELEASED}"):
        escrow.release(due, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) == paid


def test_release_right_after_verification_is_refused_with_releasable_at(
    escrow, register, oracles, roles
):
    mid = register("PO-9/early", AMOUNT)
    tx = _verify(escrow, oracles, mid)
    releasable_at = tx.timestamp + CHALLENGE_WINDOW
    assert escrow.releasableAt(mid) == releasable_at
    with brownie.reverts(f"Escrow_ChallengeWindowOpen: {_b32(mid)}, {releasable_at}"):
        escrow.release(mid, {"from": roles.outsider})


def test_release_one_second_before_the_window_ends_is_refused(escrow, register, oracles, roles):
    mid = register("PO-9/edge", AMOUNT)
    tx = _verify(escrow, oracles, mid)
    releasable_at = tx.timestamp + CHALLENGE_WINDOW
    _at_next_block(releasable_at - 1)
    with brownie.reverts(f"Escrow_ChallengeWindowOpen: {_b32(mid)}, {releasable_at}"):
        escrow.release(mid, {"from": roles.outsider})
    assert escrow.statusOf(mid) == VERIFIED


# --------------------------------------------------------------------------- paying


def test_anyone_may_release_a_due_milestone(escrow, due, roles):
    escrow.release(due, {"from": roles.outsider})
    assert escrow.statusOf(due) == RELEASED
    assert escrow.releasableAt(due) == 0


def test_release_pays_the_beneficiary_exactly_the_amount(escrow, token, due, roles):
    before = token.balanceOf(roles.beneficiary)
    escrow_before = token.balanceOf(escrow)
    escrow.release(due, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) - before == AMOUNT
    assert escrow_before - token.balanceOf(escrow) == AMOUNT
    assert token.balanceOf(roles.outsider) == 0


def test_release_lowers_program_balance_and_commitment_by_the_amount(
    escrow, due, program_id, roles
):
    before = escrow.program(program_id)
    escrow.release(due, {"from": roles.outsider})
    after = escrow.program(program_id)
    assert before["balance"] - after["balance"] == AMOUNT
    assert before["committed"] - after["committed"] == AMOUNT


def test_release_emits_milestone_released(escrow, due, program_id, roles):
    tx = escrow.release(due, {"from": roles.outsider})
    event = tx.events["MilestoneReleased"]
    assert event["milestoneId"] == _hex(due)
    assert event["programId"] == program_id
    assert event["beneficiary"] == roles.beneficiary
    assert event["amount"] == AMOUNT


def test_escrow_token_balance_equals_the_sum_of_program_balances_after_a_release(
    escrow, token, due, program_id, register, oracles, roles
):
    second = _program_with(escrow, token, roles, 0, 5 * AMOUNT)
    mid = register("PO-9/second", 2 * AMOUNT, program=second)
    _verify(escrow, oracles, mid)
    escrow.release(mid, {"from": roles.outsider})
    escrow.release(due, {"from": roles.outsider})
    programs = [escrow.program(pid) for pid in range(1, escrow.programCount() + 1)]
    held = sum(p["balance"] for p in programs if p["token"] == token.address)
    assert token.balanceOf(escrow) == held
    assert held == PROGRAM_FUNDS + 5 * AMOUNT - 3 * AMOUNT


def test_release_at_exactly_releasable_at_pays(escrow, token, register, oracles, roles):
    mid = register("PO-9/edge", AMOUNT)
    tx = _verify(escrow, oracles, mid)
    releasable_at = tx.timestamp + CHALLENGE_WINDOW
    _at_next_block(releasable_at)
    before = token.balanceOf(roles.beneficiary)
    released = escrow.release(mid, {"from": roles.outsider})
    assert released.timestamp == releasable_at
    assert token.balanceOf(roles.beneficiary) - before == AMOUNT


def test_zero_challenge_window_releases_at_the_timestamp_of_verification(
    escrow, token, register, oracles, roles
):
    pid = _program_with(escrow, token, roles, 0, 10 * AMOUNT)
    mid = register("PO-9/instant", AMOUNT, program=pid)
    verified = _verify(escrow, oracles, mid)
    assert escrow.releasableAt(mid) == verified.timestamp
    _at_next_block(verified.timestamp)
    before = token.balanceOf(roles.beneficiary)
    released = escrow.release(mid, {"from": roles.outsider})
    assert released.timestamp == verified.timestamp
    assert token.balanceOf(roles.beneficiary) - before == AMOUNT


def test_milestone_verified_before_its_deadline_releases_after_the_deadline(
    escrow, token, register, oracles, roles
):
    deadline = chain.time() + 3600
    mid = register("PO-9/late-pay", AMOUNT, deadline=deadline)
    _verify(escrow, oracles, mid)
    _sleep(CHALLENGE_WINDOW + 1)
    assert chain.time() > deadline
    assert escrow.statusOf(mid) == VERIFIED
    before = token.balanceOf(roles.beneficiary)
    escrow.release(mid, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) - before == AMOUNT


# --------------------------------------------------------------------------- hostile tokens


def test_release_with_a_token_returning_false_reverts_and_changes_nothing(
    escrow, false_token, false_program, register, oracles, roles
):
    mid = register("PO-9/false", AMOUNT, program=false_program)
    _verify(escrow, oracles, mid)
    false_token.setFailing(True, {"from": roles.admin})
    program_before = escrow.program(false_program)
    escrow_balance = false_token.balanceOf(escrow)
    with brownie.reverts(f"SafeERC20FailedOperation: {_addr(false_token)}"):
        escrow.release(mid, {"from": roles.outsider})
    assert escrow.statusOf(mid) == VERIFIED
    assert escrow.program(false_program) == program_before
    assert false_token.balanceOf(escrow) == escrow_balance
    assert false_token.balanceOf(roles.beneficiary) == 0


def test_release_refused_by_a_false_returning_token_succeeds_once_it_transfers_again(
    escrow, false_token, false_program, register, oracles, roles
):
    mid = register("PO-9/false", AMOUNT, program=false_program)
    _verify(escrow, oracles, mid)
    false_token.setFailing(True, {"from": roles.admin})
    with brownie.reverts(f"SafeERC20FailedOperation: {_addr(false_token)}"):
        escrow.release(mid, {"from": roles.outsider})
    false_token.setFailing(False, {"from": roles.admin})
    escrow.release(mid, {"from": roles.outsider})
    assert false_token.balanceOf(roles.beneficiary) == AMOUNT


def test_reentrant_release_of_the_same_milestone_is_refused_and_pays_once(
    escrow, reentrant_token, reentrant_program, register, oracles, roles
):
    mid = register("PO-9/reenter", AMOUNT, program=reentrant_program)
    _verify(escrow, oracles, mid)
    _sleep(CHALLENGE_WINDOW + 1)
    reentrant_token.arm(escrow, escrow.release.encode_input(mid), {"from": roles.outsider})
    escrow.release(mid, {"from": roles.outsider})
    assert reentrant_token.armed() is False
    assert reentrant_token.lastCallSucceeded() is False
    assert bytes(reentrant_token.lastCallResult()) == REENTRANT_CALL
    assert reentrant_token.balanceOf(roles.beneficiary) == AMOUNT
    assert escrow.program(reentrant_program)["balance"] == 99 * AMOUNT


def test_reentrant_release_of_another_due_milestone_is_refused(
    escrow, reentrant_token, reentrant_program, register, oracles, roles
):
    first = register("PO-9/first", AMOUNT, program=reentrant_program)
    second = register(
        "PO-9/second", 2 * AMOUNT, program=reentrant_program, beneficiary=roles.beneficiary2
    )
    _verify(escrow, oracles, first)
    _verify(escrow, oracles, second)
    _sleep(CHALLENGE_WINDOW + 1)
    reentrant_token.arm(escrow, escrow.release.encode_input(second), {"from": roles.outsider})
    escrow.release(first, {"from": roles.outsider})
    assert reentrant_token.lastCallSucceeded() is False
    assert bytes(reentrant_token.lastCallResult()) == REENTRANT_CALL
    assert escrow.statusOf(second) == VERIFIED
    assert reentrant_token.balanceOf(roles.beneficiary) == AMOUNT
    assert reentrant_token.balanceOf(roles.beneficiary2) == 0


def test_reentrant_fund_during_fund_is_refused_and_credits_once(
    escrow, reentrant_token, reentrant_program, roles
):
    before = escrow.program(reentrant_program)["balance"]
    held = reentrant_token.balanceOf(escrow)
    reentrant_token.approve(escrow, AMOUNT, {"from": roles.manager})
    reentrant_token.arm(
        escrow, escrow.fund.encode_input(reentrant_program, 1), {"from": roles.outsider}
    )
    escrow.fund(reentrant_program, AMOUNT, {"from": roles.manager})
    assert reentrant_token.lastCallSucceeded() is False
    assert bytes(reentrant_token.lastCallResult()) == REENTRANT_CALL
    assert escrow.program(reentrant_program)["balance"] - before == AMOUNT
    assert reentrant_token.balanceOf(escrow) - held == AMOUNT


def test_reentrant_release_during_fund_is_refused(
    escrow, reentrant_token, reentrant_program, register, oracles, roles
):
    mid = register("PO-9/during-fund", AMOUNT, program=reentrant_program)
    _verify(escrow, oracles, mid)
    _sleep(CHALLENGE_WINDOW + 1)
    reentrant_token.approve(escrow, AMOUNT, {"from": roles.manager})
    reentrant_token.arm(escrow, escrow.release.encode_input(mid), {"from": roles.outsider})
    escrow.fund(reentrant_program, AMOUNT, {"from": roles.manager})
    assert reentrant_token.lastCallSucceeded() is False
    assert bytes(reentrant_token.lastCallResult()) == REENTRANT_CALL
    assert escrow.statusOf(mid) == VERIFIED
    assert reentrant_token.balanceOf(roles.beneficiary) == 0

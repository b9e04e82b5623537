"""Programs: createProgram, fund, closeProgram, withdrawRemainder.

createProgram
├── when paused: refused (EnforcedPause)
├── when the caller lacks PROGRAM_MANAGER_ROLE (outsider, oracle, beneficiary, admin, revoked
│   manager): refused (AccessControlUnauthorizedAccount)
└── when the caller holds PROGRAM_MANAGER_ROLE
    ├── when the token has no code (zero or an account): refused (Escrow_InvalidToken)
    ├── when the treasury is zero: refused (Escrow_ZeroAddress "treasury")
    ├── when the window is above MAX_CHALLENGE_WINDOW: refused (Escrow_ChallengeWindowTooLong)
    ├── when the window is exactly MAX_CHALLENGE_WINDOW: created
    └── otherwise: created with the next id, the caller as manager, empty balances, ProgramCreated
fund
├── when paused: refused (EnforcedPause)
├── when the program is unknown (id 0, id past the count): refused (Escrow_UnknownProgram)
├── when the program is closed: refused (Escrow_ProgramClosed)
├── when the amount is zero: refused (Escrow_ZeroAmount)
├── when the token takes a fee: refused (Escrow_FundingShortfall), nothing credited or moved
├── when the token's transferFrom returns false: refused (SafeERC20FailedOperation)
├── when the token calls back into fund: the inner call is refused (ReentrancyGuardReentrantCall)
├── when the balance would pass uint128: refused (SafeCastOverflowedUintDowncast)
└── otherwise (manager, or anyone else): balance grows by the amount, ProgramFunded
closeProgram
├── when paused: refused (EnforcedPause)
├── when the program is unknown: refused (Escrow_UnknownProgram)
├── when the caller is not the program's manager (outsider, oracle, beneficiary, admin, another
│   manager): refused (Escrow_NotProgramManager)
├── when the manager's role was revoked: refused (Escrow_NotProgramManager)
├── when the program is closed already: refused (Escrow_ProgramClosed)
└── otherwise: closed, ProgramClosed; committed milestones stay payable
withdrawRemainder
├── when paused: refused (EnforcedPause)
├── when the program is unknown: refused (Escrow_UnknownProgram)
├── when the caller is not the program's manager: refused (Escrow_NotProgramManager)
├── when the manager's role was revoked: refused (Escrow_NotProgramManager)
├── when the program is open: refused (Escrow_ProgramNotClosed)
├── when everything is committed: refused (Escrow_NothingToWithdraw)
├── when the token's transfer returns false: refused, nothing changes
├── when the token calls back into withdrawRemainder: the inner call is refused
└── otherwise: pays balance - committed to the treasury, RemainderWithdrawn
    ├── a second withdraw with nothing left: refused (Escrow_NothingToWithdraw)
    └── an amount freed later by expire or a council cancel: withdrawable
"""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from brownie import ZERO_ADDRESS, accounts, chain, web3
from eth_utils import keccak

from tests.conftest import CHALLENGE_WINDOW, DAY, PROGRAM_FUNDS, TOKEN_UNIT, error, evidence
from tests.programs import FACTS

NOT_MANAGERS = ["outsider", "oracle", "beneficiary", "admin", "other_manager"]
# Closing and withdrawing are open to the admin (the council) too since issue 11 item 3.
NOT_MANAGERS_OR_ADMIN = [w for w in NOT_MANAGERS if w != "admin"]


def block_time() -> int:
    """The latest block's timestamp: what the next transaction's block.timestamp is at least.

    (chain.time() can run a few seconds ahead of anvil's clock after the isolation fixture reverts.)
    """
    return int(web3.eth.get_block("latest")["timestamp"])


def sleep_past(moment: int) -> None:
    """Moves the chain's clock past `moment` and mines a block there."""
    chain.sleep(max(moment - block_time(), 0) + 1)
    chain.mine()


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


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


def new_program(escrow: Any, token: Any, roles: Any, amount: int = 0) -> int:
    """A second program of the fixture's manager, funded with `amount`."""
    pid = escrow.createProgram(
        token, roles.treasury, CHALLENGE_WINDOW, FACTS, {"from": roles.manager}
    )
    pid = int(pid.return_value)
    if amount:
        token.approve(escrow, amount, {"from": roles.manager})
        escrow.fund(pid, amount, {"from": roles.manager})
    return pid


def balance_of(escrow: Any, pid: int) -> int:
    return int(escrow.program(pid)["balance"])


def committed_of(escrow: Any, pid: int) -> int:
    return int(escrow.program(pid)["committed"])


# --------------------------------------------------------------------------------------------
# createProgram
# --------------------------------------------------------------------------------------------


def test_create_program_refused_while_paused(escrow, token, roles):
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.createProgram(token, roles.treasury, 0, FACTS, {"from": roles.manager})


@pytest.mark.parametrize("who", ["outsider", "oracle", "beneficiary", "admin"])
def test_create_program_refused_without_manager_role(escrow, token, roles, actors, who):
    caller = actors[who]
    count = escrow.programCount()
    with brownie.reverts(
        error("AccessControlUnauthorizedAccount", caller, escrow.PROGRAM_MANAGER_ROLE())
    ):
        escrow.createProgram(token, roles.treasury, 0, FACTS, {"from": caller})
    assert escrow.programCount() == count


def test_create_program_refused_after_manager_role_revoked(escrow, token, roles):
    escrow.revokeRole(escrow.PROGRAM_MANAGER_ROLE(), roles.manager, {"from": roles.admin})
    with brownie.reverts(
        error("AccessControlUnauthorizedAccount", roles.manager, escrow.PROGRAM_MANAGER_ROLE())
    ):
        escrow.createProgram(token, roles.treasury, 0, FACTS, {"from": roles.manager})


def test_create_program_refuses_zero_token(escrow, roles):
    with brownie.reverts(error("Escrow_InvalidToken", ZERO_ADDRESS)):
        escrow.createProgram(ZERO_ADDRESS, roles.treasury, 0, FACTS, {"from": roles.manager})


def test_create_program_refuses_a_token_address_without_code(escrow, roles):
    with brownie.reverts(error("Escrow_InvalidToken", roles.outsider)):
        escrow.createProgram(roles.outsider, roles.treasury, 0, FACTS, {"from": roles.manager})
    assert escrow.programCount() == 0


def test_create_program_refuses_zero_treasury(escrow, token, roles):
    with brownie.reverts(error("Escrow_ZeroAddress", "treasury")):
        escrow.createProgram(token, ZERO_ADDRESS, 0, FACTS, {"from": roles.manager})


def test_create_program_refuses_window_above_maximum(escrow, token, roles):
    maximum = escrow.MAX_CHALLENGE_WINDOW()
    assert maximum == 90 * DAY
    with brownie.reverts(error("Escrow_ChallengeWindowTooLong", maximum + 1, maximum)):
        escrow.createProgram(token, roles.treasury, maximum + 1, FACTS, {"from": roles.manager})


def test_create_program_accepts_window_at_maximum(escrow, token, roles):
    maximum = escrow.MAX_CHALLENGE_WINDOW()
    tx = escrow.createProgram(token, roles.treasury, maximum, FACTS, {"from": roles.manager})
    assert escrow.program(tx.return_value)["challengeWindow"] == maximum


def test_create_program_assigns_sequential_ids(escrow, token, roles, program_id):
    first = escrow.createProgram(
        token, roles.treasury, 0, FACTS, {"from": roles.manager}
    ).return_value
    second = escrow.createProgram(
        token, roles.treasury, 0, FACTS, {"from": roles.manager}
    ).return_value
    assert (first, second) == (program_id + 1, program_id + 2)
    assert escrow.programCount() == program_id + 2


def test_create_program_stores_caller_as_manager_with_empty_balances(
    escrow, token, roles, other_manager
):
    tx = escrow.createProgram(token, roles.treasury, 3600, FACTS, {"from": other_manager})
    stored = escrow.program(tx.return_value)
    assert stored["manager"] == other_manager
    assert stored["closed"] is False
    assert stored["token"] == token
    assert stored["challengeWindow"] == 3600
    assert stored["treasury"] == roles.treasury
    assert stored["balance"] == 0
    assert stored["committed"] == 0


def test_create_program_emits_program_created(escrow, token, roles):
    tx = escrow.createProgram(token, roles.treasury, 3600, FACTS, {"from": roles.manager})
    event = tx.events["ProgramCreated"]
    assert event["programId"] == tx.return_value
    assert event["manager"] == roles.manager
    assert event["token"] == token
    assert event["treasury"] == roles.treasury
    assert event["challengeWindow"] == 3600


# --------------------------------------------------------------------------------------------
# fund
# --------------------------------------------------------------------------------------------


def test_fund_refused_while_paused(escrow, token, roles, program_id):
    token.approve(escrow, TOKEN_UNIT, {"from": roles.funder})
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.fund(program_id, TOKEN_UNIT, {"from": roles.funder})
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS


@pytest.mark.parametrize("offset", [None, 1])
def test_fund_refuses_unknown_program(escrow, token, roles, offset):
    pid = 0 if offset is None else escrow.programCount() + offset
    token.approve(escrow, TOKEN_UNIT, {"from": roles.funder})
    with brownie.reverts(error("Escrow_UnknownProgram", pid)):
        escrow.fund(pid, TOKEN_UNIT, {"from": roles.funder})


def test_fund_refuses_closed_program(escrow, token, roles, program_id):
    escrow.closeProgram(program_id, {"from": roles.manager})
    token.approve(escrow, TOKEN_UNIT, {"from": roles.funder})
    with brownie.reverts(error("Escrow_ProgramClosed", program_id)):
        escrow.fund(program_id, TOKEN_UNIT, {"from": roles.funder})
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS


def test_fund_refuses_zero_amount(escrow, roles, program_id):
    with brownie.reverts(error("Escrow_ZeroAmount")):
        escrow.fund(program_id, 0, {"from": roles.manager})


def test_fund_refuses_fee_on_transfer_token(escrow, fee_token, roles):
    pid = new_program(escrow, fee_token, roles)
    amount = 1_000 * TOKEN_UNIT
    fee_token.approve(escrow, amount, {"from": roles.manager})
    held = fee_token.balanceOf(roles.manager)
    received = amount - amount * fee_token.feeBps() // 10_000
    with brownie.reverts(error("Escrow_FundingShortfall", pid, amount, received)):
        escrow.fund(pid, amount, {"from": roles.manager})
    assert balance_of(escrow, pid) == 0
    assert fee_token.balanceOf(escrow) == 0
    assert fee_token.balanceOf(roles.manager) == held


def test_fund_refuses_token_whose_transfer_from_returns_false(escrow, false_token, roles):
    pid = new_program(escrow, false_token, roles)
    false_token.approve(escrow, TOKEN_UNIT, {"from": roles.manager})
    false_token.setFailing(True, {"from": roles.admin})
    with brownie.reverts(error("SafeERC20FailedOperation", false_token)):
        escrow.fund(pid, TOKEN_UNIT, {"from": roles.manager})
    assert balance_of(escrow, pid) == 0


def test_fund_refuses_reentry_from_token(escrow, reentrant_token, roles):
    pid = new_program(escrow, reentrant_token, roles)
    reentrant_token.approve(escrow, 2 * TOKEN_UNIT, {"from": roles.manager})
    reentrant_token.arm(escrow, escrow.fund.encode_input(pid, TOKEN_UNIT), {"from": roles.admin})
    escrow.fund(pid, TOKEN_UNIT, {"from": roles.manager})
    assert reentrant_token.lastCallSucceeded() is False
    assert bytes(reentrant_token.lastCallResult()) == selector("ReentrancyGuardReentrantCall()")
    assert balance_of(escrow, pid) == TOKEN_UNIT


def test_fund_refuses_balance_above_uint128(escrow, roles):
    big = brownie.SettlementToken.deploy("Big", "BIG", 0, {"from": roles.admin})
    pid = new_program(escrow, big, roles)
    amount = 2**128
    big.mint(roles.manager, amount, {"from": roles.admin})
    big.approve(escrow, amount, {"from": roles.manager})
    with brownie.reverts(error("SafeCastOverflowedUintDowncast", 128, amount)):
        escrow.fund(pid, amount, {"from": roles.manager})
    assert big.balanceOf(escrow) == 0


def test_fund_credits_program_and_moves_tokens(escrow, token, roles, program_id):
    amount = 5_000 * TOKEN_UNIT
    token.approve(escrow, amount, {"from": roles.manager})
    held = token.balanceOf(roles.manager)
    escrow.fund(program_id, amount, {"from": roles.manager})
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS + amount
    assert committed_of(escrow, program_id) == 0
    assert token.balanceOf(escrow) == PROGRAM_FUNDS + amount
    assert token.balanceOf(roles.manager) == held - amount


@pytest.mark.parametrize("who", ["funder", "outsider"])
def test_fund_accepts_any_funder(escrow, token, roles, program_id, who):
    funder = getattr(roles, who)
    token.mint(funder, TOKEN_UNIT, {"from": roles.admin})
    token.approve(escrow, TOKEN_UNIT, {"from": funder})
    escrow.fund(program_id, TOKEN_UNIT, {"from": funder})
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS + TOKEN_UNIT


def test_fund_emits_program_funded(escrow, token, roles, program_id):
    token.approve(escrow, 7 * TOKEN_UNIT, {"from": roles.funder})
    tx = escrow.fund(program_id, 7 * TOKEN_UNIT, {"from": roles.funder})
    event = tx.events["ProgramFunded"]
    assert event["programId"] == program_id
    assert event["funder"] == roles.funder
    assert event["amount"] == 7 * TOKEN_UNIT


def test_fund_credits_only_the_named_program(escrow, token, roles, program_id):
    other = new_program(escrow, token, roles, amount=3 * TOKEN_UNIT)
    assert balance_of(escrow, other) == 3 * TOKEN_UNIT
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS


# --------------------------------------------------------------------------------------------
# closeProgram
# --------------------------------------------------------------------------------------------


def test_close_program_refused_while_paused(escrow, roles, program_id):
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.closeProgram(program_id, {"from": roles.manager})
    assert escrow.program(program_id)["closed"] is False


def test_close_program_refuses_unknown_program(escrow, roles):
    pid = escrow.programCount() + 1
    with brownie.reverts(error("Escrow_UnknownProgram", pid)):
        escrow.closeProgram(pid, {"from": roles.manager})


@pytest.mark.parametrize("who", NOT_MANAGERS_OR_ADMIN)
def test_close_program_refused_for_anyone_but_its_manager(escrow, program_id, actors, who):
    caller = actors[who]
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, caller)):
        escrow.closeProgram(program_id, {"from": caller})
    assert escrow.program(program_id)["closed"] is False


def test_close_program_refused_after_manager_role_revoked(escrow, roles, program_id):
    escrow.revokeRole(escrow.PROGRAM_MANAGER_ROLE(), roles.manager, {"from": roles.admin})
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, roles.manager)):
        escrow.closeProgram(program_id, {"from": roles.manager})
    assert escrow.program(program_id)["closed"] is False


def test_close_program_refuses_closed_program(escrow, roles, program_id):
    escrow.closeProgram(program_id, {"from": roles.manager})
    with brownie.reverts(error("Escrow_ProgramClosed", program_id)):
        escrow.closeProgram(program_id, {"from": roles.manager})


def test_close_program_marks_it_closed_and_emits_program_closed(escrow, roles, program_id):
    tx = escrow.closeProgram(program_id, {"from": roles.manager})
    assert escrow.program(program_id)["closed"] is True
    assert tx.events["ProgramClosed"]["programId"] == program_id


def test_close_program_keeps_balance_and_commitments(escrow, roles, program_id, register):
    register("PO-1/M1", 10 * TOKEN_UNIT)
    escrow.closeProgram(program_id, {"from": roles.manager})
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS
    assert committed_of(escrow, program_id) == 10 * TOKEN_UNIT


def test_close_program_leaves_committed_milestone_releasable(
    escrow, token, roles, oracles, program_id, register
):
    mid = register("PO-1/M1", 10 * TOKEN_UNIT)
    epoch = escrow.committee()[2]
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
    escrow.closeProgram(program_id, {"from": roles.manager})
    sleep_past(escrow.releasableAt(mid))
    before = token.balanceOf(roles.beneficiary)
    escrow.release(mid, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) - before == 10 * TOKEN_UNIT


# --------------------------------------------------------------------------------------------
# withdrawRemainder
# --------------------------------------------------------------------------------------------


def test_withdraw_remainder_refused_while_paused(escrow, token, roles, program_id):
    escrow.closeProgram(program_id, {"from": roles.manager})
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.withdrawRemainder(program_id, {"from": roles.manager})
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS
    assert token.balanceOf(roles.treasury) == 0


def test_withdraw_remainder_refuses_unknown_program(escrow, roles):
    with brownie.reverts(error("Escrow_UnknownProgram", 0)):
        escrow.withdrawRemainder(0, {"from": roles.manager})


@pytest.mark.parametrize("who", NOT_MANAGERS_OR_ADMIN)
def test_withdraw_remainder_refused_for_anyone_but_its_manager(
    escrow, token, roles, program_id, actors, who
):
    escrow.closeProgram(program_id, {"from": roles.manager})
    caller = actors[who]
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, caller)):
        escrow.withdrawRemainder(program_id, {"from": caller})
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS
    assert token.balanceOf(roles.treasury) == 0


def test_withdraw_remainder_refused_after_manager_role_revoked(escrow, token, roles, program_id):
    escrow.closeProgram(program_id, {"from": roles.manager})
    escrow.revokeRole(escrow.PROGRAM_MANAGER_ROLE(), roles.manager, {"from": roles.admin})
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, roles.manager)):
        escrow.withdrawRemainder(program_id, {"from": roles.manager})
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS
    assert token.balanceOf(roles.treasury) == 0


def test_withdraw_remainder_refuses_open_program(escrow, token, roles, program_id):
    with brownie.reverts(error("Escrow_ProgramNotClosed", program_id)):
        escrow.withdrawRemainder(program_id, {"from": roles.manager})
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS
    assert token.balanceOf(roles.treasury) == 0


def test_withdraw_remainder_refuses_fully_committed_program(escrow, roles, program_id, register):
    register("PO-1/ALL", PROGRAM_FUNDS)
    escrow.closeProgram(program_id, {"from": roles.manager})
    with brownie.reverts(error("Escrow_NothingToWithdraw", program_id)):
        escrow.withdrawRemainder(program_id, {"from": roles.manager})


def test_withdraw_remainder_refuses_never_funded_program(escrow, token, roles):
    pid = new_program(escrow, token, roles)
    escrow.closeProgram(pid, {"from": roles.manager})
    with brownie.reverts(error("Escrow_NothingToWithdraw", pid)):
        escrow.withdrawRemainder(pid, {"from": roles.manager})


def test_withdraw_remainder_pays_only_uncommitted_part_to_treasury(
    escrow, token, roles, program_id, register
):
    committed = 400_000 * TOKEN_UNIT
    register("PO-1/M1", committed)
    escrow.closeProgram(program_id, {"from": roles.manager})
    manager_held = token.balanceOf(roles.manager)
    tx = escrow.withdrawRemainder(program_id, {"from": roles.manager})
    assert tx.return_value == PROGRAM_FUNDS - committed
    assert token.balanceOf(roles.treasury) == PROGRAM_FUNDS - committed
    assert token.balanceOf(roles.manager) == manager_held
    assert token.balanceOf(escrow) == committed
    assert balance_of(escrow, program_id) == committed
    assert committed_of(escrow, program_id) == committed


def test_withdraw_remainder_emits_remainder_withdrawn(escrow, roles, program_id, register):
    register("PO-1/M1", 1_000 * TOKEN_UNIT)
    escrow.closeProgram(program_id, {"from": roles.manager})
    tx = escrow.withdrawRemainder(program_id, {"from": roles.manager})
    event = tx.events["RemainderWithdrawn"]
    assert event["programId"] == program_id
    assert event["treasury"] == roles.treasury
    assert event["amount"] == PROGRAM_FUNDS - 1_000 * TOKEN_UNIT


def test_withdraw_remainder_refuses_second_withdraw_with_nothing_left(
    escrow, token, roles, program_id
):
    escrow.closeProgram(program_id, {"from": roles.manager})
    escrow.withdrawRemainder(program_id, {"from": roles.manager})
    with brownie.reverts(error("Escrow_NothingToWithdraw", program_id)):
        escrow.withdrawRemainder(program_id, {"from": roles.manager})
    assert token.balanceOf(roles.treasury) == PROGRAM_FUNDS
    assert balance_of(escrow, program_id) == 0


def test_withdraw_remainder_pays_amount_freed_by_expire_later(
    escrow, token, roles, program_id, register
):
    amount = 250 * TOKEN_UNIT
    deadline = block_time() + DAY
    mid = register("PO-1/M1", amount, deadline=deadline)
    escrow.closeProgram(program_id, {"from": roles.manager})
    escrow.withdrawRemainder(program_id, {"from": roles.manager})
    sleep_past(deadline)
    escrow.expire(mid, {"from": roles.outsider})
    tx = escrow.withdrawRemainder(program_id, {"from": roles.manager})
    assert tx.events["RemainderWithdrawn"]["amount"] == amount
    assert token.balanceOf(roles.treasury) == PROGRAM_FUNDS
    assert balance_of(escrow, program_id) == 0
    assert committed_of(escrow, program_id) == 0


def test_withdraw_remainder_pays_amount_freed_by_council_cancel(
    escrow, token, roles, program_id, register
):
    amount = 250 * TOKEN_UNIT
    mid = register("PO-1/M1", amount)
    escrow.closeProgram(program_id, {"from": roles.manager})
    escrow.withdrawRemainder(program_id, {"from": roles.manager})
    escrow.cancel(mid, {"from": roles.admin})
    tx = escrow.withdrawRemainder(program_id, {"from": roles.manager})
    assert tx.return_value == amount
    assert token.balanceOf(roles.treasury) == PROGRAM_FUNDS


def test_withdraw_remainder_refused_when_token_transfer_returns_false(escrow, false_token, roles):
    pid = new_program(escrow, false_token, roles, amount=TOKEN_UNIT)
    escrow.closeProgram(pid, {"from": roles.manager})
    false_token.setFailing(True, {"from": roles.admin})
    with brownie.reverts(error("SafeERC20FailedOperation", false_token)):
        escrow.withdrawRemainder(pid, {"from": roles.manager})
    assert balance_of(escrow, pid) == TOKEN_UNIT
    assert false_token.balanceOf(escrow) == TOKEN_UNIT


def test_withdraw_remainder_refuses_reentry_from_token(escrow, reentrant_token, roles):
    pid = new_program(escrow, reentrant_token, roles, amount=TOKEN_UNIT)
    escrow.closeProgram(pid, {"from": roles.manager})
    reentrant_token.arm(escrow, escrow.withdrawRemainder.encode_input(pid), {"from": roles.admin})
    escrow.withdrawRemainder(pid, {"from": roles.manager})
    assert reentrant_token.lastCallSucceeded() is False
    assert bytes(reentrant_token.lastCallResult()) == selector("ReentrancyGuardReentrantCall()")
    assert reentrant_token.balanceOf(roles.treasury) == TOKEN_UNIT
    assert balance_of(escrow, pid) == 0


def test_withdraw_remainder_does_not_touch_other_programs(escrow, token, roles, program_id):
    other = new_program(escrow, token, roles, amount=3 * TOKEN_UNIT)
    escrow.closeProgram(other, {"from": roles.manager})
    escrow.withdrawRemainder(other, {"from": roles.manager})
    assert token.balanceOf(roles.treasury) == 3 * TOKEN_UNIT
    assert balance_of(escrow, program_id) == PROGRAM_FUNDS
    assert token.balanceOf(escrow) == PROGRAM_FUNDS

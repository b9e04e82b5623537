"""`disburse council propose close-program|withdraw-remainder|set-program-manager|
set-program-treasury` through the CLI runner against anvil (issue 11 item 3).

council propose close-program PROGRAM ........ shown in words; two approvals close it, also after
                                               the manager's role was revoked
council propose withdraw-remainder PROGRAM ... the remainder reaches the treasury; an open
                                               program is refused before sending
council propose set-program-manager P ADDR ... the new manager manages it; an account without
                                               the manager role, or the manager itself, refused
council propose set-program-treasury P ADDR .. the remainder goes there; the escrow refused
council propose set-baseline P AMOUNT ....... in the token's units, shown with the change in
                                               per cent; below paid plus owed refused by the
                                               simulation, the same baseline or a bad amount
                                               before it
unknown program .............................. refused before sending
"""

from __future__ import annotations

from brownie import accounts

from tests.cli.council.conftest import AMOUNT, FUNDS, one_error_line
from tests.conftest import TOKEN_UNIT


def _refused(cli, nonces, *args: object) -> str:
    before = nonces()
    error = one_error_line(cli("council", "propose", *args))
    assert nonces() == before
    return error


def test_close_program_and_withdraw_remainder_after_the_manager_was_revoked(cli, deployed, program):
    cli.decide("revoke-manager", str(deployed.manager), "-d", "manager key compromised")
    pid = cli.propose("close-program", program, "-d", "wind the program down")
    assert f"close program {program}" in cli.ok("council", "show", pid)
    cli.ok("council", "approve", pid, signer="m0")
    cli.ok("council", "approve", pid, signer="m1")
    assert deployed.escrow.program(program)[1] is True
    treasury = deployed.escrow.program(program)[4]
    before = deployed.token.balanceOf(treasury)
    pid = cli.propose("withdraw-remainder", program, "-d", "return the funds")
    shown = cli.ok("council", "show", pid)
    assert f"pay the uncommitted remainder of program {program} to its treasury" in shown
    cli.ok("council", "approve", pid, signer="m0")
    cli.ok("council", "approve", pid, signer="m1")
    assert deployed.token.balanceOf(treasury) - before == FUNDS
    assert deployed.escrow.program(program)[5] == 0


def test_set_program_manager_hands_the_program_over(cli, deployed, program, people):
    newcomer = people["outsider"]
    cli.decide("grant-manager", str(newcomer), "-d", "new procurement office")
    pid = cli.decide("set-program-manager", program, str(newcomer), "-d", "hand over")
    assert f"hand program {program} to manager {newcomer}" in cli.ok("council", "show", pid)
    assert deployed.escrow.program(program)[0] == newcomer


def test_set_program_treasury_changes_where_the_remainder_goes(cli, deployed, program):
    new_treasury = accounts[5]
    pid = cli.decide("set-program-treasury", program, str(new_treasury), "-d", "new account")
    assert f"set the treasury of program {program} to {new_treasury}" in cli.ok(
        "council", "show", pid
    )
    assert deployed.escrow.program(program)[4] == new_treasury


def test_program_powers_refuse_what_cannot_work_before_sending(
    cli, deployed, program, people, nonces
):
    assert "is open: close it first" in _refused(
        cli, nonces, "withdraw-remainder", program, "-d", "x"
    )
    assert "is not a program manager: grant-manager first" in _refused(
        cli, nonces, "set-program-manager", program, str(people["outsider"]), "-d", "x"
    )
    assert "manages program" in _refused(
        cli, nonces, "set-program-manager", program, str(deployed.manager), "-d", "x"
    )
    assert "the escrow cannot be a treasury" in _refused(
        cli, nonces, "set-program-treasury", program, str(deployed.escrow), "-d", "x"
    )
    assert "there is no program 99" in _refused(cli, nonces, "close-program", 99, "-d", "x")


def test_set_baseline_takes_the_tokens_units_and_keeps_the_earlier_value(cli, deployed, program):
    out = cli.ok("council", "propose", "set-baseline", program, "2,000,000", "-d", "x", "--dry-run")
    assert f"set the baseline of program {program} to 2,000,000 JPYT" in out
    assert "note:        the baseline is " in out and "this changes it by -100.0%" in out
    pid = cli.decide("set-baseline", program, "2,000,000", "-d", "approved budget")
    assert f"set the baseline of program {program} to 2,000,000 JPYT" in cli.ok(
        "council", "show", pid
    )
    assert deployed.escrow.program(program)[7] == 2_000_000 * TOKEN_UNIT
    out = cli.ok("council", "propose", "set-baseline", program, "2,500,000", "-d", "x", "--dry-run")
    assert "the baseline is 2,000,000 JPYT now; this changes it by +25.0%" in out


def test_set_baseline_below_paid_plus_owed_is_refused_by_the_simulation(
    cli, nonces, program, register
):
    register("PO-1/M1", AMOUNT)
    error = _refused(cli, nonces, "set-baseline", program, "999.5", "-d", "cut")
    assert "this proposal would fail if executed now" in error
    assert "BaselineBelowObligated" in error


def test_set_baseline_refuses_the_same_baseline_and_a_bad_amount(cli, deployed, nonces, program):
    cli.decide("set-baseline", program, "3,000,000", "-d", "approved budget")
    same = _refused(cli, nonces, "set-baseline", program, "3,000,000", "-d", "again")
    assert f"program {program}'s baseline is 3,000,000 JPYT already" in same
    assert "baseline: " in _refused(
        cli, nonces, "set-baseline", program, "3,000,000.0000000000000000001", "-d", "x"
    )
    assert "baseline: " in _refused(cli, nonces, "set-baseline", program, "0", "-d", "x")
    assert "there is no program 99" in _refused(cli, nonces, "set-baseline", 99, "1", "-d", "x")

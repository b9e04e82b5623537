"""`disburse program` through the CLI runner against the test chain.

program create
├── signer holds the manager role -> program on chain, its id printed
├── durations 3600, 90m, 36h, 2d, 1d12h -> seconds; anything else -> refused
├── window above the escrow's maximum -> refused, nothing sent
├── signer without the manager role -> refused, nothing sent
├── token address without a contract -> refused, nothing sent
└── chain unreachable -> refused, nothing sent
program fund
├── allowance short -> approve, then fund (human amount in token units)
├── allowance enough -> fund only
├── amount above the signer's balance -> refused naming both, nothing sent
├── amount with more decimals than the token -> refused, nothing sent
├── unknown program -> refused, nothing sent
└── closed program -> refused, nothing sent
program close
├── the program's manager -> closed
├── another manager / no role -> refused, nothing sent
└── already closed -> refused
program withdraw
├── closed with a remainder -> paid to the treasury
└── open program -> refused, nothing sent
program create: bad facts (title, organisation, category, year, baseline) -> refused, none sent
program show -> facts, manager, token, treasury, window, balances, baseline, milestones by status
paused escrow -> refused, nothing sent
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from brownie import accounts, chain
from eth_utils import keccak

from disburse.chain.attestations import external_ref, milestone_id
from disburse.cli.programs import RefusedError, parse_duration, show_duration
from tests.cli.conftest import DEAD_RPC, FUNDS, MINTED, nonce, table_rows
from tests.conftest import DAY, TOKEN_UNIT, milestone_input
from tests.programs import FACT_OPTIONS, FACTS


def create(
    cli: Any,
    people: Any,
    *,
    facts: Sequence[str] = FACT_OPTIONS,
    token: str | None = None,
    treasury: str | None = None,
    window: str = "1d",
    **how: Any,
) -> Any:
    """`disburse program create` with the test facts, the people's treasury and a one-day
    window unless given otherwise."""
    return cli(
        "program",
        "create",
        *facts,
        *(("--token", token) if token is not None else ()),
        "--treasury",
        treasury if treasury is not None else str(people.treasury),
        "--challenge-window",
        window,
        **how,
    )


def test_create_prints_the_new_program_id_and_the_program_is_on_chain(cli, deployed, people):
    before = deployed.escrow.programCount()
    out = create(cli, people, token=deployed.token.address, window="2d")
    assert out.exit_code == 0, out.output
    assert out.stdout.strip() == str(before + 1)
    manager, closed, token, window, treasury, balance, committed, baseline = (
        deployed.escrow.program(before + 1)
    )
    assert baseline == 1_000_000_000 * TOKEN_UNIT
    assert (manager, closed, token, window, treasury) == (
        people.manager,
        False,
        deployed.token,
        2 * DAY,
        people.treasury,
    )
    assert (balance, committed) == (0, 0)
    assert "JPYT" in out.stderr


def test_create_takes_the_deployment_token_when_none_is_given(cli, deployed, people):
    out = create(cli, people, window="90m")
    assert out.exit_code == 0, out.output
    program = deployed.escrow.program(int(out.stdout))
    assert program[2] == deployed.token and program[3] == 90 * 60


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3600", 3600), ("90m", 5400), ("36h", 129_600), ("2d", 172_800), ("1d12h", 129_600)],
)
def test_durations_are_read_in_seconds_minutes_hours_and_days(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2 days", "1.5h", "-3600", "d2", "2x"])
def test_a_duration_that_is_not_one_is_refused(text):
    with pytest.raises(RefusedError, match="is not a duration"):
        parse_duration(text)


def test_show_duration_reads_like_the_input():
    assert show_duration(2 * DAY + 3600) == "2d 1h (176,400 s)"


def _with(option: str, value: str) -> list[str]:
    """FACT_OPTIONS with one option's value replaced."""
    given = list(FACT_OPTIONS)
    given[given.index(option) + 1] = value
    return given


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--title", "t" * 121, "title must be 1 to 120 bytes of text (given 121 bytes)"),
        ("--title", "  ", "title must be 1 to 120 bytes"),
        ("--organisation", "o" * 33, "organisation must be 1 to 32 bytes"),
        ("--category", "", "category must be 1 to 32 bytes"),
        ("--fiscal-year", "1999", "fiscal year 1999 is outside 2000..2100"),
        ("--baseline", "0", "baseline: the amount must be above zero"),
        ("--baseline", "12.5.0", "baseline: "),
    ],
)
def test_create_refuses_bad_facts_and_sends_nothing(cli, deployed, people, option, value, says):
    sent, count = nonce(people.manager), deployed.escrow.programCount()
    out = create(cli, people, facts=_with(option, value))
    assert out.exit_code == 2, out.output
    assert says in out.stderr
    assert nonce(people.manager) == sent
    assert deployed.escrow.programCount() == count


def test_show_names_the_program_by_its_facts(cli, deployed, people):
    given = _with("--title", "Next-generation wheeled armoured vehicle")
    given = [*given[:3], "GSDF", *given[4:]]
    out = create(cli, people, facts=given)
    assert out.exit_code == 0, out.output
    shown = table_rows(cli("program", "show", out.stdout.strip()).stdout)
    assert shown["title"] == "Next-generation wheeled armoured vehicle"
    assert (shown["organisation"], shown["category"]) == ("GSDF", "research")
    assert shown["fiscal year"] == "2027"
    assert shown["baseline"] == shown["original baseline"] == "1,000,000,000 JPYT"


def test_create_refuses_a_window_above_the_escrows_maximum_and_sends_nothing(cli, people):
    sent = nonce(people.manager)
    out = create(cli, people, window="91d")
    assert out.exit_code == 2
    assert "longer than the escrow allows (90d" in out.stderr
    assert nonce(people.manager) == sent


def test_create_refuses_a_signer_without_the_manager_role_and_sends_nothing(cli, people):
    sent = nonce(people.outsider)
    out = create(cli, people, signer="outsider")
    assert out.exit_code == 2
    assert out.stderr.startswith("error: ")
    assert f"you ({people.outsider.address}) do not hold the program-manager role" in out.stderr
    assert nonce(people.outsider) == sent


def test_create_refuses_a_token_address_without_a_contract(cli, people):
    sent = nonce(people.manager)
    out = create(cli, people, token=str(people.beneficiary))
    assert out.exit_code == 2
    assert "holds no contract, so it is not a token" in out.stderr
    assert nonce(people.manager) == sent


def test_create_refuses_an_address_with_a_broken_checksum(cli, people):
    address = str(people.treasury)
    broken = address[:-1] + (address[-1].lower() if address[-1].isupper() else address[-1].upper())
    if broken == address:  # the last character is a digit: change a letter instead
        i = next(i for i, c in enumerate(address) if c.isalpha() and i > 1)
        broken = address[:i] + address[i].swapcase() + address[i + 1 :]
    out = create(cli, people, treasury=broken)
    assert out.exit_code == 2
    assert f"error: treasury: {broken} fails its checksum" in out.stderr


def test_create_reports_an_unreachable_chain_in_one_line(cli, people, unreachable_profile):
    sent = nonce(people.manager)
    out = create(cli, people, rpc_url=DEAD_RPC, profile=unreachable_profile)
    assert out.exit_code == 2
    assert out.stderr.startswith("error: eth_chainId: http://127.0.0.1:9 did not answer")
    assert len(out.stderr.strip().splitlines()) == 1
    assert nonce(people.manager) == sent


def test_fund_approves_the_escrow_when_the_allowance_is_short_then_funds(cli, deployed, people):
    escrow, token = deployed.escrow, deployed.token
    pid = int(
        escrow.createProgram(
            token, people.treasury, DAY, FACTS, {"from": people.manager}
        ).return_value
    )
    sent = nonce(people.manager)
    out = cli("program", "fund", pid, "1,000,000.50")
    assert out.exit_code == 0, out.output
    amount = 1_000_000 * TOKEN_UNIT + TOKEN_UNIT // 2
    assert escrow.program(pid)[5] == amount
    assert token.balanceOf(people.manager) == MINTED - amount
    assert nonce(people.manager) == sent + 2  # approve, fund
    assert "approved the escrow" in out.stderr
    assert "balance 1,000,000.5 JPYT" in out.stdout


def test_fund_skips_the_approval_when_the_allowance_suffices(cli, deployed, people, program):
    deployed.token.approve(deployed.escrow, 5 * TOKEN_UNIT, {"from": people.manager})
    sent = nonce(people.manager)
    out = cli("program", "fund", program, "5")
    assert out.exit_code == 0, out.output
    assert nonce(people.manager) == sent + 1
    assert deployed.escrow.program(program)[5] == FUNDS + 5 * TOKEN_UNIT


def test_anyone_may_fund_a_program(cli, deployed, people, program):
    out = cli("program", "fund", program, "12.25", signer="outsider")
    assert out.exit_code == 0, out.output
    assert deployed.escrow.program(program)[5] == FUNDS + 12_250_000_000_000_000_000


def test_fund_refuses_an_amount_above_the_signers_balance_and_names_both(cli, people, program):
    sent = nonce(people.manager)
    held = MINTED - FUNDS  # the `program` fixture was funded from the manager's tokens
    assert held == 9_000_000 * TOKEN_UNIT
    out = cli("program", "fund", program, "9,000,000.000000000000000001")
    assert out.exit_code == 2
    assert (
        "the amount 9,000,000.000000000000000001 JPYT is above your balance of 9,000,000 JPYT"
        in out.stderr
    )
    assert nonce(people.manager) == sent


def test_fund_refuses_more_decimals_than_the_token_has(cli, people, program):
    sent = nonce(people.manager)
    out = cli("program", "fund", program, "1.0000000000000000001")
    assert out.exit_code == 2
    assert "19 decimal places; the token has 18" in out.stderr
    assert nonce(people.manager) == sent


@pytest.mark.parametrize("amount", ["0", "1,5", "1e3", "lots", "1,0000"])
def test_fund_refuses_an_amount_that_is_not_one(cli, people, program, amount):
    sent = nonce(people.manager)
    out = cli("program", "fund", program, amount)
    assert out.exit_code == 2
    assert out.stderr.startswith("error: amount: ")
    assert nonce(people.manager) == sent


def test_fund_refuses_an_unknown_program_and_sends_nothing(cli, deployed, people, program):
    sent = nonce(people.manager)
    out = cli("program", "fund", 999, "1")
    assert out.exit_code == 2
    count = deployed.escrow.programCount()
    assert f"error: no program 999 in escrow {deployed.escrow.address}" in out.stderr
    assert f"programs run from 1 to {count}" in out.stderr
    assert nonce(people.manager) == sent


def test_fund_refuses_a_closed_program(cli, deployed, people, program):
    deployed.escrow.closeProgram(program, {"from": people.manager})
    sent = nonce(people.manager)
    out = cli("program", "fund", program, "1")
    assert out.exit_code == 2
    assert "closed and takes no more funding" in out.stderr
    assert nonce(people.manager) == sent


def test_close_by_the_programs_manager_closes_it(cli, deployed, program):
    out = cli("program", "close", program)
    assert out.exit_code == 0, out.output
    assert deployed.escrow.program(program)[1] is True
    assert f"disburse program withdraw {program}" in out.stdout


@pytest.mark.parametrize("signer", ["manager2", "outsider"])
def test_close_refuses_anyone_but_the_programs_manager(cli, deployed, people, program, signer):
    who = getattr(people, signer)
    sent = nonce(who)
    out = cli("program", "close", program, signer=signer)
    assert out.exit_code == 2
    assert f"you ({who.address}) are not the manager of program {program}" in out.stderr
    assert str(people.manager) in out.stderr
    assert nonce(who) == sent
    assert deployed.escrow.program(program)[1] is False


def test_close_refuses_a_manager_whose_role_was_revoked(cli, deployed, people, program):
    council, escrow = deployed.council, deployed.escrow
    members = accounts[7:10]
    data = escrow.revokeRole.encode_input(keccak(text="PROGRAM_MANAGER_ROLE"), people.manager)
    pid = council.propose(escrow, data, "revoke", chain.time() + DAY, {"from": members[0]})
    council.approve(pid.return_value, {"from": members[0]})
    council.approveAndExecute(pid.return_value, data, {"from": members[1]})
    sent = nonce(people.manager)
    out = cli("program", "close", program)
    assert out.exit_code == 2
    assert "no longer hold the program-manager role" in out.stderr
    assert nonce(people.manager) == sent


def test_close_refuses_a_closed_program(cli, deployed, people, program):
    deployed.escrow.closeProgram(program, {"from": people.manager})
    out = cli("program", "close", program)
    assert out.exit_code == 2
    assert f"program {program} is already closed" in out.stderr


def test_withdraw_pays_the_uncommitted_remainder_to_the_treasury(cli, deployed, people, program):
    escrow, token = deployed.escrow, deployed.token
    committed = 100 * TOKEN_UNIT
    escrow.registerMilestone(
        program, milestone_input("W-1", people.beneficiary, committed), {"from": people.manager}
    )
    escrow.closeProgram(program, {"from": people.manager})
    before = token.balanceOf(people.treasury)
    out = cli("program", "withdraw", program)
    assert out.exit_code == 0, out.output
    assert token.balanceOf(people.treasury) - before == FUNDS - committed
    assert escrow.program(program)[5] == committed
    assert "paid 999,900 JPYT" in out.stdout


def test_withdraw_refuses_an_open_program_and_sends_nothing(cli, people, program):
    sent = nonce(people.manager)
    out = cli("program", "withdraw", program)
    assert out.exit_code == 2
    assert f"close it first with `disburse program close {program}`" in out.stderr
    assert nonce(people.manager) == sent


def test_show_prints_settings_balances_and_milestones_by_status(cli, deployed, people, program):
    escrow = deployed.escrow
    for ref in ("S-1", "S-2"):
        escrow.registerMilestone(
            program,
            milestone_input(ref, people.beneficiary, 1000 * TOKEN_UNIT),
            {"from": people.manager},
        )
    escrow.registerMilestone(
        program,
        milestone_input("S-3", people.beneficiary, 1000 * TOKEN_UNIT),
        {"from": people.manager},
    )
    mid = milestone_id(program, external_ref("S-3"))
    council, members = deployed.council, accounts[7:10]
    data = escrow.cancel.encode_input(mid)
    pid = council.propose(escrow, data, "cancel", chain.time() + DAY, {"from": members[0]})
    council.approve(pid.return_value, {"from": members[0]})
    council.approveAndExecute(pid.return_value, data, {"from": members[1]})

    out = cli("program", "show", program, signer=None)
    assert out.exit_code == 0, out.output
    shown = table_rows(out.stdout)
    assert f"Program {program}" in out.stdout
    assert shown["manager"] == str(people.manager)
    assert shown["token"] == f"JPYT ({deployed.token.address})"
    assert shown["treasury"] == str(people.treasury)
    assert shown["challenge window"] == "1d (86,400 s)"
    assert shown["balance"] == "1,000,000 JPYT"
    assert shown["committed"] == "2,000 JPYT"
    assert shown["available"] == "998,000 JPYT"
    assert shown["closed"] == "no"
    assert shown["milestones"] == "3"
    assert (shown["Registered"], shown["Cancelled"]) == ("2", "1")
    assert "Verified" not in shown


def test_show_refuses_an_unknown_program(cli, program):
    out = cli("program", "show", 0, signer=None)
    assert out.exit_code == 2
    assert "no program 0" in out.stderr


def test_a_paused_escrow_refuses_before_anything_is_sent(cli, deployed, people, program):
    deployed.council.emergencyPause({"from": accounts[7]})
    sent = nonce(people.manager)
    out = cli("program", "close", program)
    assert out.exit_code == 2
    assert "is paused by the oversight council" in out.stderr
    assert nonce(people.manager) == sent


def test_a_refusal_the_checks_miss_is_decoded_from_the_chain_in_one_line(
    cli, people, program, monkeypatch
):
    """Should the chain change between the checks and the transaction, the contract's own custom
    error reaches the user decoded, and the failed estimate means nothing was sent."""
    monkeypatch.setattr("disburse.cli.programs.check_manager", lambda *_args: None)
    sent = nonce(people.manager2)
    out = cli("program", "close", program, signer="manager2")
    assert out.exit_code == 2
    assert out.stderr == (
        f"error: closeProgram: Escrow_NotProgramManager(programId {program}, "
        f"caller {people.manager2.address})\n"
    )
    assert nonce(people.manager2) == sent


def test_a_wrong_keystore_password_is_one_clear_error(cli, people, program, monkeypatch):
    monkeypatch.setattr(cli, "password", "not the password")
    out = cli("program", "close", program)
    assert out.exit_code == 2
    assert "error: wrong password for keystore" in out.stderr

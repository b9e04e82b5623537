"""Program facts and the baseline: createProgram's facts, setBaseline, and the rule that a
program's milestones never oblige it (paid plus owed) beyond its baseline.

createProgram(token, treasury, window, facts)
├── a title, organisation or category of 0 bytes or over its limit ... Escrow_InvalidFactLength
├── a fiscal year outside 2000..2100 ................................. Escrow_FiscalYearOutOfRange
├── a zero baseline .................................................. Escrow_ZeroAmount
└── valid ................................. ProgramCreated, then ProgramDescribed(facts); stored
setBaseline(program, baseline)
├── not the admin (the council) ..................... AccessControlUnauthorizedAccount, no change
├── an unknown program ............................................... Escrow_UnknownProgram
├── zero ............................................................. Escrow_ZeroAmount
├── below paid plus committed ........................................ Escrow_BaselineBelowObligated
└── valid ..................................... BaselineChanged(previous, baseline); stored
a commitment (register, registerMilestones, amend, forceRelease of an expired milestone)
├── within the balance and paid + committed <= baseline .............. accepted
└── paid + committed > baseline ...................................... Escrow_BaselineExceeded
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import brownie
import pytest
from brownie import chain

from disburse.chain.escrow import FISCAL_YEARS, MAX_LABEL_BYTES, MAX_TITLE_BYTES, ProgramFacts
from tests.conftest import DAY, TOKEN_UNIT, error, evidence, milestone_input
from tests.programs import TEST_FACTS

UNIT = TOKEN_UNIT
BASELINE = 100 * UNIT


def facts(**changes: Any) -> tuple[Any, ...]:
    return replace(TEST_FACTS, **{"baseline": BASELINE, **changes}).as_arg()


def new_program(escrow: Any, token: Any, roles: Any, *, funds: int, **changes: Any) -> int:
    """A program with a baseline of 100 tokens (by default) and no challenge window."""
    tx = escrow.createProgram(token, roles.treasury, 0, facts(**changes), {"from": roles.manager})
    pid = int(tx.return_value)
    if funds:
        fund(escrow, token, roles, pid, funds)
    return pid


def fund(escrow: Any, token: Any, roles: Any, pid: int, amount: int) -> None:
    token.approve(escrow, amount, {"from": roles.manager})
    escrow.fund(pid, amount, {"from": roles.manager})


def register(escrow: Any, roles: Any, pid: int, ref: str, amount: int, **kw: Any) -> bytes:
    tx = escrow.registerMilestone(
        pid, milestone_input(ref, roles.beneficiary, amount, **kw), {"from": roles.manager}
    )
    return bytes(tx.return_value)


def pay(escrow: Any, oracles: list[Any], mid: bytes) -> None:
    epoch = escrow.committee()[2]
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
    escrow.release(mid, {"from": oracles[2]})


def state(escrow: Any, pid: int) -> tuple[Any, ...]:
    return tuple(escrow.program(pid))


# ---------------------------------------------------------------------- createProgram's facts


def test_the_escrow_limits_are_the_clients(escrow):
    assert escrow.MAX_TITLE_LENGTH() == MAX_TITLE_BYTES
    assert escrow.MAX_LABEL_LENGTH() == MAX_LABEL_BYTES


def test_create_program_describes_it_and_stores_the_baseline(escrow, token, roles):
    given = facts(title="次期装輪装甲車 試作", organisation="ATLA", category="procurement")
    tx = escrow.createProgram(token, roles.treasury, DAY, given, {"from": roles.manager})
    pid = tx.return_value
    assert [e.name for e in tx.events if e.address == escrow.address] == [
        "ProgramCreated",
        "ProgramDescribed",
    ]
    described = tx.events["ProgramDescribed"]
    assert described["programId"] == pid
    assert described["title"] == "次期装輪装甲車 試作"
    assert (described["organisation"], described["category"]) == ("ATLA", "procurement")
    assert (described["fiscalYear"], described["baseline"]) == (TEST_FACTS.fiscal_year, BASELINE)
    assert escrow.program(pid)["baseline"] == BASELINE


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("title", "", MAX_TITLE_BYTES),
        ("title", "t" * (MAX_TITLE_BYTES + 1), MAX_TITLE_BYTES),
        ("title", "装" * 41, MAX_TITLE_BYTES),  # 123 bytes of UTF-8
        ("organisation", "", MAX_LABEL_BYTES),
        ("organisation", "o" * (MAX_LABEL_BYTES + 1), MAX_LABEL_BYTES),
        ("category", "", MAX_LABEL_BYTES),
        ("category", "c" * (MAX_LABEL_BYTES + 1), MAX_LABEL_BYTES),
    ],
)
def test_create_program_refuses_a_fact_of_the_wrong_length(
    escrow, token, roles, field, value, limit
):
    count = escrow.programCount()
    with brownie.reverts(error("Escrow_InvalidFactLength", field, len(value.encode()), limit)):
        escrow.createProgram(
            token, roles.treasury, 0, facts(**{field: value}), {"from": roles.manager}
        )
    assert escrow.programCount() == count
    assert replace(TEST_FACTS, **{field: value}).problems()


def test_create_program_accepts_facts_at_their_limits(escrow, token, roles):
    longest = facts(title="t" * MAX_TITLE_BYTES, organisation="o" * MAX_LABEL_BYTES)
    pid = escrow.createProgram(token, roles.treasury, 0, longest, {"from": roles.manager})
    assert pid.events["ProgramDescribed"]["title"] == "t" * MAX_TITLE_BYTES


@pytest.mark.parametrize("year", [0, FISCAL_YEARS[0] - 1, FISCAL_YEARS[-1] + 1, 65535])
def test_create_program_refuses_a_fiscal_year_out_of_range(escrow, token, roles, year):
    with brownie.reverts(error("Escrow_FiscalYearOutOfRange", year)):
        escrow.createProgram(
            token, roles.treasury, 0, facts(fiscal_year=year), {"from": roles.manager}
        )
    assert escrow.programCount() == 0


@pytest.mark.parametrize("year", [FISCAL_YEARS[0], FISCAL_YEARS[-1]])
def test_create_program_accepts_the_first_and_last_fiscal_years(escrow, token, roles, year):
    tx = escrow.createProgram(
        token, roles.treasury, 0, facts(fiscal_year=year), {"from": roles.manager}
    )
    assert tx.events["ProgramDescribed"]["fiscalYear"] == year


def test_create_program_refuses_a_zero_baseline(escrow, token, roles):
    with brownie.reverts(error("Escrow_ZeroAmount")):
        escrow.createProgram(token, roles.treasury, 0, facts(baseline=0), {"from": roles.manager})
    assert escrow.programCount() == 0


# ---------------------------------------------------------------------- the baseline binds


def test_funds_beyond_the_baseline_cannot_be_committed(escrow, token, roles):
    pid = new_program(escrow, token, roles, funds=150 * UNIT)
    register(escrow, roles, pid, "A", 100 * UNIT)
    with brownie.reverts(error("Escrow_BaselineExceeded", pid, BASELINE + 1, BASELINE)):
        register(escrow, roles, pid, "B", 1)
    assert escrow.program(pid)["committed"] == 100 * UNIT


def test_payments_count_against_the_baseline_after_they_leave_the_balance(
    escrow, token, roles, oracles
):
    pid = new_program(escrow, token, roles, funds=100 * UNIT)
    pay(escrow, oracles, register(escrow, roles, pid, "A", 60 * UNIT))
    fund(escrow, token, roles, pid, 100 * UNIT)  # balance 140: more than the baseline allows
    with brownie.reverts(error("Escrow_BaselineExceeded", pid, 110 * UNIT, BASELINE)):
        register(escrow, roles, pid, "B", 50 * UNIT)
    register(escrow, roles, pid, "C", 40 * UNIT)  # 60 paid + 40 owed = the baseline
    batch = [milestone_input("D", roles.beneficiary, 1)]
    with brownie.reverts(error("Escrow_BaselineExceeded", pid, BASELINE + 1, BASELINE)):
        escrow.registerMilestones(pid, batch, {"from": roles.manager})


def test_a_cancelled_milestone_gives_its_share_of_the_baseline_back(escrow, token, roles):
    pid = new_program(escrow, token, roles, funds=200 * UNIT)
    mid = register(escrow, roles, pid, "A", 100 * UNIT)
    escrow.cancel(mid, {"from": roles.admin})
    register(escrow, roles, pid, "B", 100 * UNIT)


def test_an_amendment_cannot_raise_a_milestone_beyond_the_baseline(escrow, token, roles):
    pid = new_program(escrow, token, roles, funds=200 * UNIT)
    mid = register(escrow, roles, pid, "A", 90 * UNIT)
    before = escrow.milestone(mid)
    deadline = chain.time() + 30 * DAY
    args = (mid, roles.beneficiary, 101 * UNIT, deadline, before["evidenceSpecHash"])
    with brownie.reverts(error("Escrow_BaselineExceeded", pid, 101 * UNIT, BASELINE)):
        escrow.amendMilestone(*args, {"from": roles.manager})
    assert escrow.milestone(mid) == before
    escrow.amendMilestone(*args[:2], BASELINE, *args[3:], {"from": roles.manager})


def test_a_force_release_of_an_expired_milestone_is_held_to_the_baseline(
    escrow, token, roles, oracles
):
    pid = new_program(escrow, token, roles, funds=200 * UNIT)
    lapsed = register(escrow, roles, pid, "A", 50 * UNIT, deadline=chain.time() + DAY)
    chain.sleep(DAY + 1)
    escrow.expire(lapsed, {"from": roles.outsider})
    register(escrow, roles, pid, "B", 60 * UNIT)
    with brownie.reverts(error("Escrow_BaselineExceeded", pid, 110 * UNIT, BASELINE)):
        escrow.forceRelease(lapsed, b"\x01" * 32, {"from": roles.admin})
    escrow.setBaseline(pid, 110 * UNIT, {"from": roles.admin})
    escrow.forceRelease(lapsed, b"\x01" * 32, {"from": roles.admin})
    assert escrow.statusOf(lapsed) == 5  # Released


def test_withdrawing_the_remainder_lowers_what_was_funded(escrow, token, roles):
    pid = new_program(escrow, token, roles, funds=150 * UNIT)
    register(escrow, roles, pid, "A", 30 * UNIT)
    escrow.closeProgram(pid, {"from": roles.manager})
    escrow.withdrawRemainder(pid, {"from": roles.manager})
    # 30 held for A, 120 back at the treasury: the baseline can come down to what is owed.
    escrow.setBaseline(pid, 30 * UNIT, {"from": roles.admin})
    assert escrow.program(pid)["baseline"] == 30 * UNIT


# ---------------------------------------------------------------------- setBaseline


def test_the_council_raises_the_baseline_and_the_history_keeps_the_earlier_one(
    escrow, token, roles
):
    pid = new_program(escrow, token, roles, funds=150 * UNIT)
    register(escrow, roles, pid, "A", BASELINE)
    tx = escrow.setBaseline(pid, 150 * UNIT, {"from": roles.admin})
    changed = tx.events["BaselineChanged"]
    assert (changed["programId"], changed["previous"], changed["baseline"]) == (
        pid,
        BASELINE,
        150 * UNIT,
    )
    register(escrow, roles, pid, "B", 50 * UNIT)
    assert escrow.program(pid)["baseline"] == 150 * UNIT


def test_a_baseline_cut_below_the_funds_binds_the_next_commitment(escrow, token, roles):
    pid = new_program(escrow, token, roles, funds=100 * UNIT)
    register(escrow, roles, pid, "A", 40 * UNIT)
    escrow.setBaseline(pid, 50 * UNIT, {"from": roles.admin})
    with brownie.reverts(error("Escrow_BaselineExceeded", pid, 51 * UNIT, 50 * UNIT)):
        register(escrow, roles, pid, "B", 11 * UNIT)
    register(escrow, roles, pid, "C", 10 * UNIT)


def test_set_baseline_refuses_less_than_paid_plus_owed(escrow, token, roles, oracles):
    pid = new_program(escrow, token, roles, funds=100 * UNIT)
    pay(escrow, oracles, register(escrow, roles, pid, "A", 30 * UNIT))
    register(escrow, roles, pid, "B", 20 * UNIT)
    before = state(escrow, pid)
    below = 50 * UNIT - 1
    with brownie.reverts(error("Escrow_BaselineBelowObligated", pid, below, 50 * UNIT)):
        escrow.setBaseline(pid, below, {"from": roles.admin})
    assert state(escrow, pid) == before
    escrow.setBaseline(pid, 50 * UNIT, {"from": roles.admin})


def test_set_baseline_refuses_zero_and_an_unknown_program(escrow, token, roles):
    pid = new_program(escrow, token, roles, funds=0)
    with brownie.reverts(error("Escrow_ZeroAmount")):
        escrow.setBaseline(pid, 0, {"from": roles.admin})
    with brownie.reverts(error("Escrow_UnknownProgram", pid + 1)):
        escrow.setBaseline(pid + 1, BASELINE, {"from": roles.admin})


@pytest.mark.parametrize("who", ["manager", "outsider", "beneficiary", "treasury", "oracle"])
def test_only_the_council_sets_a_baseline(escrow, token, roles, oracles, who):
    pid = new_program(escrow, token, roles, funds=50 * UNIT)
    caller = oracles[0] if who == "oracle" else getattr(roles, who)
    before = state(escrow, pid)
    with brownie.reverts(
        error("AccessControlUnauthorizedAccount", caller, escrow.DEFAULT_ADMIN_ROLE())
    ):
        escrow.setBaseline(pid, 2 * BASELINE, {"from": caller})
    assert state(escrow, pid) == before


def test_set_baseline_works_while_paused_and_on_a_closed_program(escrow, token, roles):
    pid = new_program(escrow, token, roles, funds=0)
    escrow.closeProgram(pid, {"from": roles.manager})
    escrow.pause({"from": roles.admin})
    escrow.setBaseline(pid, 2 * BASELINE, {"from": roles.admin})
    assert escrow.program(pid)["baseline"] == 2 * BASELINE


def test_program_facts_problems_name_each_field():
    bad = ProgramFacts(title=" ", organisation="o" * 33, category="", fiscal_year=1999, baseline=0)
    found = " | ".join(bad.problems())
    for word in ("title", "organisation", "category", "fiscal year 1999", "baseline"):
        assert word in found
    assert not TEST_FACTS.problems()

"""Alerts: silent on a healthy program, and each threshold held from both sides.

alerts
├── healthy program, organisation, committee: no alert at all
├── SPI, CPI: green band / amber below and above / red below and above
├── TCPI, BEI, SPI(t): at the limit silent, past it amber (SPI(t) red further)
├── baseline growth, cost growth: below significant silent, significant amber, critical red
├── overdue: at the deadline silent, past it amber, a month past red; a verified one silent
├── idle funds, low execution: at the limit silent, past it amber
├── concentration: half silent, more amber (program and organisation)
├── force-release and dispute rates: 10 % silent, more amber
└── oracle disagreement: 2x the peers' median silent, more amber; few attestations ignored
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from disburse.analytics.alerts import (
    Alert,
    Thresholds,
    all_alerts,
    oracle_alerts,
    organisation_alerts,
    program_alerts,
)
from disburse.analytics.model import DAY, Attestation, MilestoneFacts, ProgramFacts
from tests.analytics.facts import FY_END, FY_START, T0, done, milestone, program

NOW = T0 + 125 * DAY


def healthy() -> list[MilestoneFacts]:
    """Four milestones done a day early (B1, B2, B3, B0), six to come."""
    return [*(done(n) for n in range(1, 5)), *(milestone(n) for n in range(5, 11))]


def fired(
    ms: list[MilestoneFacts], kind: str, *, now: int = NOW, p: ProgramFacts | None = None
) -> list[str]:
    """The severities of the program's alerts of that kind."""
    found = program_alerts(p or program(), ms, now=now)
    return [a.severity for a in found if a.kind == kind]


def test_healthy_program_raises_no_alert() -> None:
    assert all_alerts([program()], healthy(), now=NOW) == ()


def test_alerts_carry_their_numbers() -> None:
    (a,) = [
        a for a in program_alerts(program(), [milestone(1)], now=T0 + 31 * DAY) if a.kind == "spi"
    ]
    assert isinstance(a, Alert)
    assert a.severity == "red" and a.program_id == 1 and a.milestone_id is None
    assert "SPI 0.00" in a.message and "PV 100 JPYC" in a.message
    assert a.facts == {"spi": 0.0, "ev": 0, "pv": 100}


@pytest.mark.parametrize(
    ("done_amount", "open_amount", "severity"),
    [(95, 5, []), (94, 6, ["amber"]), (90, 10, ["amber"]), (89, 11, ["red"])],
)
def test_spi_below_the_green_band(done_amount: int, open_amount: int, severity: list[str]) -> None:
    ms = [done(1, amount=done_amount), milestone(2, amount=open_amount)]
    assert fired(ms, "spi", now=T0 + 65 * DAY) == severity


@pytest.mark.parametrize(
    ("early_amount", "severity"), [(5, []), (6, ["amber"]), (10, ["amber"]), (11, ["red"])]
)
def test_spi_above_the_green_band(early_amount: int, severity: list[str]) -> None:
    ms = [done(1), done(2, amount=early_amount, late_days=-30)]
    assert fired(ms, "spi", now=T0 + 35 * DAY) == severity


@pytest.mark.parametrize(("forced_amount", "severity"), [(5, []), (6, ["amber"]), (12, ["red"])])
def test_cpi_below_the_green_band(forced_amount: int, severity: list[str]) -> None:
    ms = [done(1), done(2, amount=forced_amount, forced=True, late_days=-30)]
    assert fired(ms, "cpi", now=T0 + 35 * DAY) == severity


@pytest.mark.parametrize(("unpaid_amount", "severity"), [(5, []), (6, ["amber"]), (11, ["red"])])
def test_cpi_above_the_green_band(unpaid_amount: int, severity: list[str]) -> None:
    ms = [done(1), replace(done(2, amount=unpaid_amount, late_days=-30), released_time=None)]
    assert fired(ms, "cpi", now=T0 + 35 * DAY) == severity


@pytest.mark.parametrize(("forced_amount", "severity"), [(90, []), (100, ["amber"])])
def test_tcpi_above_its_limit(forced_amount: int, severity: list[str]) -> None:
    # TCPI = (1000 - 0) / (1000 - forced): 1.099 then 1.111.
    ms = [done(1, amount=forced_amount, forced=True), milestone(2)]
    assert fired(ms, "tcpi", now=T0 + 35 * DAY) == severity


@pytest.mark.parametrize(("finished", "severity"), [(19, []), (18, ["amber"])])
def test_bei_below_its_limit(finished: int, severity: list[str]) -> None:
    ms = [
        *(done(n) for n in range(1, finished + 1)),
        *(milestone(n) for n in range(finished + 1, 21)),
    ]
    p = program(baseline_current=2000, baseline_original=2000, idle_since=T0 + 600 * DAY)
    assert fired(ms, "bei", now=T0 + 601 * DAY, p=p) == severity


@pytest.mark.parametrize(("day", "severity"), [(126, []), (127, ["amber"]), (134, ["red"])])
def test_spi_t_below_its_limits(day: int, severity: list[str]) -> None:
    # Earned schedule 120 days (four milestones earned): SPI(t) = 120 / day.
    assert fired(healthy(), "spi_t", now=T0 + day * DAY) == severity


@pytest.mark.parametrize(
    ("current", "severity"), [(1299, []), (1300, ["amber"]), (1499, ["amber"]), (1500, ["red"])]
)
def test_baseline_growth_over_the_original_nunn_mccurdy(current: int, severity: list[str]) -> None:
    assert fired(healthy(), "baseline_growth", p=program(baseline_current=current)) == severity


@pytest.mark.parametrize(
    ("paid", "severity"), [(114, []), (116, ["amber"]), (124, ["amber"]), (126, ["red"])]
)
def test_cost_growth_over_the_current_baseline_nunn_mccurdy(paid: int, severity: list[str]) -> None:
    # EV 100; AC = 100 + the forced milestone: EAC = 1000 * AC / 100.
    ms = [done(1), done(2, amount=paid - 100, forced=True, late_days=-30)]
    assert fired(ms, "cost_growth", now=T0 + 35 * DAY) == severity


@pytest.mark.parametrize(
    ("past", "severity"), [(0, []), (1, ["amber"]), (30 * DAY, ["amber"]), (30 * DAY + 1, ["red"])]
)
def test_overdue_milestone_nobody_expired(past: int, severity: list[str]) -> None:
    m = milestone(1)
    assert fired([m], "overdue", now=m.deadline + past) == severity


def test_verified_or_expired_milestone_is_not_overdue() -> None:
    m = milestone(1)
    verified = replace(m, status="Verified", verified_time=m.deadline - DAY)
    expired = replace(m, status="Expired", expired_time=m.deadline + DAY)
    assert fired([verified, expired], "overdue", now=m.deadline + 40 * DAY) == []


def test_milestone_read_as_expired_that_nobody_expired_is_overdue() -> None:
    # The escrow's view reads it Expired past its deadline; no `expire` call returned the amount.
    m = replace(milestone(1), status="Expired")
    assert fired([m], "overdue", now=m.deadline + DAY) == ["amber"]


@pytest.mark.parametrize(
    ("idle", "available", "severity"),
    [(90 * DAY, 600, []), (90 * DAY + 1, 600, ["amber"]), (200 * DAY, 0, [])],
)
def test_idle_funds(idle: int, available: int, severity: list[str]) -> None:
    p = program(idle_since=NOW - idle, funded=400 + available)
    assert fired(healthy(), "idle_funds", p=p) == severity


@pytest.mark.parametrize(
    ("paid", "elapsed", "severity"),
    [(499, 0.76, ["amber"]), (500, 0.76, []), (499, 0.75, [])],
)
def test_low_execution_late_in_the_fiscal_year(
    paid: int, elapsed: float, severity: list[str]
) -> None:
    now = FY_START + round(elapsed * (FY_END - FY_START))
    p = program(paid=paid, idle_since=now)
    assert fired(healthy(), "low_execution", now=now, p=p) == severity


@pytest.mark.parametrize(("extra", "severity"), [(0, []), (1, ["amber"])])
def test_one_beneficiary_above_half_of_a_programs_payments(extra: int, severity: list[str]) -> None:
    # B1 is paid 200 + extra, B2 and B3 100 each.
    ms = [done(1), done(5, amount=100 + extra), done(2), done(3)]
    assert fired(ms, "concentration", now=T0 + 200 * DAY) == severity


@pytest.mark.parametrize(("extra", "count"), [(0, 0), (1, 1)])
def test_one_beneficiary_above_half_of_an_organisations_payments(extra: int, count: int) -> None:
    programs = [program(program_id=1), program(program_id=2)]
    ms = [done(1), done(2), done(5, program_id=2, amount=100 + extra), done(3, program_id=2)]
    found = organisation_alerts(programs, ms)
    assert len(found) == count
    if count:
        assert found[0].program_id is None and found[0].facts["organisation"] == "ATLA"


def test_organisation_with_one_program_is_left_to_the_programs_alert() -> None:
    assert organisation_alerts([program()], [done(1)]) == ()


@pytest.mark.parametrize(("flagged", "severity"), [(1, []), (2, ["amber"])])
@pytest.mark.parametrize("kind", ["force_release_rate", "dispute_rate"])
def test_force_release_and_dispute_rates(kind: str, flagged: int, severity: list[str]) -> None:
    change: dict[str, Any] = (
        {"forced": True} if kind == "force_release_rate" else {"disputed_ever": True}
    )
    ms = healthy()
    ms[:flagged] = [replace(m, **change) for m in ms[:flagged]]
    assert fired(ms, kind) == severity


def _committee(bad: dict[str, int], per_oracle: int = 10) -> list[MilestoneFacts]:
    """per_oracle verified milestones attested by O1..O3 (and O4 on four of them); oracle o
    attests a wrong hash on the first bad[o] milestones."""
    ms = []
    for n in range(1, per_oracle + 1):
        m = done(n)
        oracles = ["O1", "O2", "O3", *(["O4"] if n <= 4 else [])]
        atts = tuple(
            Attestation(o, "0xbb" if n <= bad.get(o, 0) else "0xaa", m.verified_time or 0)
            for o in oracles
        )
        ms.append(replace(m, attestations=atts, verified_hash="0xaa"))
    return ms


@pytest.mark.parametrize(("o3_bad", "alerted"), [(0, []), (2, []), (3, ["O3"])])
def test_oracle_disagreeing_more_than_twice_its_peers_median(
    o3_bad: int, alerted: list[str]
) -> None:
    # O1 and O2 each disagree once in ten: the peers' median is 10 %.
    ms = _committee({"O1": 1, "O2": 1, "O3": o3_bad})
    assert [a.facts["oracle"] for a in oracle_alerts(ms)] == alerted


def test_oracle_with_few_attestations_is_not_rated() -> None:
    # O4 attested four milestones, all wrong: below the five needed to be rated.
    assert oracle_alerts(_committee({"O4": 4})) == ()
    assert [
        a.facts["oracle"]
        for a in oracle_alerts(
            _committee({"O4": 4}), thresholds=Thresholds(oracle_min_attestations=4)
        )
    ] == ["O4"]


def test_verified_hash_defaults_to_the_majority() -> None:
    ms = [replace(m, verified_hash=None) for m in _committee({"O3": 3})]
    assert [a.facts["oracle"] for a in oracle_alerts(ms)] == ["O3"]

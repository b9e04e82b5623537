"""Earned value on the 0/100 method: PV from deadlines, EV from verifications, AC from payments,
the indices, earned schedule, BEI and the estimates, with None for every zero denominator."""

from __future__ import annotations

import pytest

from disburse.analytics.evm import evm_at, evm_series
from disburse.analytics.model import DAY
from tests.analytics.facts import T0, done, milestone, program

# Ten milestones of 100 due every 30 days; BAC 1000.
PROGRAM = program()


def test_on_plan_program_has_indices_of_one() -> None:
    ms = [done(1, late_days=0, paid_after_days=0), done(2, late_days=0, paid_after_days=0)]
    ms += [milestone(n) for n in range(3, 11)]
    p = evm_at(PROGRAM, ms, T0 + 60 * DAY)
    assert (p.pv, p.ev, p.ac, p.sv, p.cv) == (200, 200, 200, 0, 0)
    assert p.spi == p.cpi == p.bei == p.spi_t == 1.0
    assert p.es == 60 * DAY and p.sv_t == 0
    assert p.eac == 1000 and p.vac == 0
    assert p.tcpi == 1.0


def test_late_program_is_behind_schedule() -> None:
    # At day 90 three are due, one done.
    ms = [done(1), *(milestone(n) for n in range(2, 11))]
    p = evm_at(PROGRAM, ms, T0 + 90 * DAY)
    assert (p.pv, p.ev, p.ac, p.sv) == (300, 100, 100, -200)
    assert p.spi == pytest.approx(1 / 3)
    assert p.bei == pytest.approx(1 / 3)
    # EV 100 was planned at day 30: ES 30 days, AT 90 days.
    assert p.es == 30 * DAY and p.sv_t == -60 * DAY
    assert p.spi_t == pytest.approx(1 / 3)
    assert p.tcpi == pytest.approx(900 / 900)


def test_force_released_milestone_costs_but_earns_nothing() -> None:
    ms = [done(1, forced=True), done(2), *(milestone(n) for n in range(3, 11))]
    p = evm_at(PROGRAM, ms, T0 + 70 * DAY)
    assert (p.ev, p.ac, p.done) == (100, 200, 1)
    assert p.cpi == pytest.approx(0.5)
    assert (p.eac, p.vac) == (2000, -1000)
    assert p.tcpi == pytest.approx(900 / 800)


def test_cancelled_milestones_leave_the_baseline() -> None:
    ms = [done(1), milestone(2, status="Cancelled"), milestone(3)]
    p = evm_at(PROGRAM, ms, T0 + 65 * DAY)
    assert (p.pv, p.due, p.done) == (100, 1, 1)
    assert p.spi == 1.0


def test_eac_is_exact_in_base_units() -> None:
    # CPI 1/3 as a float would give 3 * 10**27 plus rounding noise; BAC * AC // EV is exact.
    bac = 10**27
    ms = [done(1, amount=3 * 10**26), done(2, amount=10**26, forced=True)]
    spent = evm_at(program(baseline_current=bac), ms, T0 + 90 * DAY)
    assert (spent.ev, spent.ac) == (3 * 10**26, 4 * 10**26)
    assert spent.eac == 1_333_333_333_333_333_333_333_333_333
    assert spent.vac == bac - spent.eac
    assert spent.eac != int(bac / (spent.ev / spent.ac))  # what a float CPI gives


def test_a_program_without_milestones_has_no_earned_schedule() -> None:
    p = evm_at(PROGRAM, [], T0 + 60 * DAY)
    assert p.es is None and p.sv_t is None and p.spi_t is None


def test_zero_denominators_are_none() -> None:
    p = evm_at(PROGRAM, [milestone(1)], T0)
    assert p.spi is None  # no PV
    assert p.cpi is None and p.eac is None and p.vac is None  # nothing paid
    assert p.bei is None  # nothing due
    assert p.spi_t is None  # no time elapsed
    spent = evm_at(program(baseline_current=100), [done(1)], T0 + 60 * DAY)
    assert spent.tcpi is None  # the whole budget spent
    before = evm_at(PROGRAM, [milestone(1)], T0 - DAY)
    assert before.es is None and before.sv_t is None


def test_earned_schedule_interpolates_between_deadlines() -> None:
    # Milestone 1 (50, due day 30) and milestone 2 (100, due day 60).
    ms = [done(1, late_days=10, amount=50), milestone(2)]
    p = evm_at(PROGRAM, ms, T0 + 50 * DAY)
    # PV line: (0, 0) -> (30 d, 50) -> (60 d, 150): EV 50 reached at day 30.
    assert p.es == 30 * DAY
    ms = [done(1, late_days=35, amount=50), done(2, late_days=-20, amount=100)]
    p = evm_at(PROGRAM, ms, T0 + 45 * DAY)
    # EV 100 (only milestone 2 verified by day 45): halfway up the second segment, day 45.
    assert p.ev == 100
    assert p.es == 45 * DAY


def test_earned_schedule_stops_at_the_last_deadline() -> None:
    ms = [done(1, late_days=-20), done(2, late_days=-40)]
    p = evm_at(PROGRAM, ms, T0 + 25 * DAY)
    assert p.ev == 200 and p.es == 60 * DAY


def test_series_samples_the_s_curve() -> None:
    ms = [done(n, late_days=5) for n in range(1, 4)]
    times = [T0 + d * DAY for d in (0, 40, 100)]
    series = evm_series(PROGRAM, ms, times)
    assert [s.time for s in series] == times
    assert [s.pv for s in series] == [0, 100, 300]
    assert [s.ev for s in series] == [0, 100, 300]
    assert [s.ac for s in series] == [0, 100, 300]
    assert series[0].es == 0

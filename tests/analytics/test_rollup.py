"""Roll-ups: money per program and per group, execution rate, fiscal year elapsed, top
recipients."""

from __future__ import annotations

import pytest

from disburse.analytics.model import DAY, JAPAN, FiscalCalendar
from disburse.analytics.rollup import (
    rollup_beneficiaries,
    rollup_groups,
    rollup_programs,
    year_elapsed,
)
from tests.analytics.facts import FY_END, FY_START, T0, done, milestone, program


def test_japanese_fiscal_year_runs_april_to_march_in_jst() -> None:
    # 1 April 2030 00:00 JST is 31 March 2030 15:00 UTC.
    assert JAPAN.start(2030) == 1901199600
    assert JAPAN.end(2030) == JAPAN.start(2031)
    assert JAPAN.year_of(JAPAN.start(2030)) == 2030
    assert JAPAN.year_of(JAPAN.start(2030) - 1) == 2029


def test_calendar_is_a_parameter() -> None:
    us = FiscalCalendar(start_month=10, start_day=1, utc_offset_s=-5 * 3600)
    assert us.year_of(us.start(2030) + DAY) == 2030
    assert us.start(2030) != JAPAN.start(2030)


def test_year_elapsed_is_clipped_to_the_year() -> None:
    p = program()
    assert year_elapsed(p, FY_START - DAY) == 0.0
    assert year_elapsed(p, FY_END + DAY) == 1.0
    assert year_elapsed(p, (FY_START + FY_END) // 2) == pytest.approx(0.5)


def test_program_rollup_adds_up_the_money() -> None:
    ms = [done(1), done(2), done(5), milestone(3), milestone(4)]
    (r,) = rollup_programs([program(withdrawn=50)], ms, now=T0 + 180 * DAY, top_n=2)
    t = r.totals
    assert (t.funded, t.committed, t.paid, t.refunded, t.available) == (1000, 600, 400, 50, 550)
    assert t.execution_rate == pytest.approx(0.4)
    assert [(x.beneficiary, x.paid) for x in t.top_recipients] == [("B1", 200), ("B2", 100)]
    assert t.top_recipients[0].share == pytest.approx(2 / 3)


def test_zero_baseline_has_no_execution_rate() -> None:
    (r,) = rollup_programs([program(baseline_current=0)], [], now=T0)
    assert r.totals.execution_rate is None
    assert r.totals.top_recipients == ()


def test_groups_by_organisation_category_and_fiscal_year() -> None:
    programs = [
        program(program_id=1, organisation="ATLA", category="research"),
        program(program_id=2, organisation="ATLA", category="procurement", paid=100),
        program(program_id=3, organisation="JGSDF", category="research", fiscal_year=2031),
    ]
    ms = [done(1), done(2, program_id=2)]
    orgs = rollup_groups(programs, ms, by="organisation", now=T0)
    assert [(g.key, g.program_ids, g.totals.paid) for g in orgs] == [
        ("ATLA", (1, 2), 500),
        ("JGSDF", (3,), 400),
    ]
    assert orgs[0].totals.execution_rate == pytest.approx(500 / 2000)
    assert [g.key for g in rollup_groups(programs, ms, by="category", now=T0)] == [
        "procurement",
        "research",
    ]
    years = rollup_groups(programs, ms, by="fiscal_year", now=T0)
    assert [(g.key, g.totals.programs) for g in years] == [("2030", 2), ("2031", 1)]


def test_beneficiaries_rolled_up_across_programs() -> None:
    ms = [done(1), done(5, program_id=2), milestone(9), milestone(2, status="Cancelled")]
    rows = rollup_beneficiaries(ms)
    assert rows[0].beneficiary == "B1"
    assert (rows[0].programs, rows[0].milestones, rows[0].paid, rows[0].open_amount) == (
        2,
        3,
        200,
        100,
    )
    assert (rows[1].beneficiary, rows[1].paid, rows[1].open_amount) == ("B2", 0, 0)

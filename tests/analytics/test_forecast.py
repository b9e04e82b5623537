"""Forecast of missed deadlines: the contractor's record, shrunk toward the program's and
everyone's, conditioned on the time already elapsed, with the reasons in words."""

from __future__ import annotations

from dataclasses import replace

import pytest

from disburse.analytics.forecast import ForecastModel, forecast_milestone, forecast_open, records_at
from disburse.analytics.model import DAY, MilestoneFacts
from tests.analytics.facts import T0, done, milestone

OPEN = milestone(20, beneficiary="B1")
"""An open milestone of B1's, due on day 600."""


def history(beneficiary: str, late_days: list[float], first: int = 1) -> list[MilestoneFacts]:
    return [done(first + i, late_days=d, beneficiary=beneficiary) for i, d in enumerate(late_days)]


def test_reasons_say_the_record_and_the_time_left() -> None:
    ms = history("B1", [10, 12, 14, 20, -2, -3])
    now = OPEN.deadline - 9 * DAY
    (f,) = forecast_open([*ms, OPEN], now=now)
    assert f.milestone_id == OPEN.milestone_id
    assert f.reasons[0] == "contractor B1 finished 4 of 6 milestones late, by 13 days on median"
    assert "9 days left" in f.reasons[3]
    assert f.reasons[-1].startswith("weights: contractor B1 67%")


def test_unreliable_contractor_is_more_likely_to_miss() -> None:
    ms = [*history("B1", [10, 12, 14, 20, 8]), *history("B2", [-3, -2, -4, -5, 6], first=6)]
    now = OPEN.deadline - 30 * DAY
    records = records_at(ms, now)
    late = forecast_milestone(OPEN, records, now=now)
    early = forecast_milestone(replace(OPEN, beneficiary="B2"), records, now=now)
    assert late.p_miss > 0.7 > 0.4 > early.p_miss
    assert late.expected_completion is not None and late.expected_completion > OPEN.deadline
    assert early.expected_completion is not None and early.expected_completion < OPEN.deadline


def test_new_contractor_is_forecast_from_the_programs_record() -> None:
    ms = history("B2", [10, 10, 10, -1])
    now = OPEN.deadline - 30 * DAY
    f = forecast_open([*ms, OPEN], now=now)[0]
    assert f.reasons[0] == "contractor B1 has no finished milestone yet"
    assert f.p_miss == pytest.approx(0.75)
    assert "contractor B1" not in f.reasons[-1]


def test_shrinkage_weighs_a_short_record_less() -> None:
    # B1 was late once; the program (B2) is always early.
    ms = [*history("B1", [5]), *history("B2", [-10] * 9, first=2)]
    now = OPEN.deadline - 30 * DAY
    f = forecast_open([*ms, OPEN], now=now, model=ForecastModel(prior_strength=3))[0]
    # Weight 1/4 on B1's record (p 1), 3/4 on the program's (p 1/10, B1's one included).
    assert f.p_miss == pytest.approx(0.25 + 0.75 * 0.1)


def test_time_elapsed_conditions_the_distribution() -> None:
    # Three finished 20 days early, one 5 days late.
    ms = history("B1", [-20, -20, -20, 5])
    far = forecast_open([*ms, OPEN], now=OPEN.deadline - 30 * DAY)[0]
    near = forecast_open([*ms, OPEN], now=OPEN.deadline - 10 * DAY)[0]
    assert far.p_miss == pytest.approx(0.25)
    # Still open 10 days before the deadline: the early ones would have finished by now.
    assert near.p_miss == pytest.approx(0.98)
    assert near.expected_completion == OPEN.deadline + 5 * DAY


def test_milestone_past_its_deadline_has_missed_it() -> None:
    ms = history("B1", [3, -1])
    (f,) = forecast_open([*ms, OPEN], now=OPEN.deadline + 2 * DAY)
    assert f.p_miss == 1.0
    assert "passed 2 days ago" in f.reasons[3]


def test_no_history_gives_even_odds() -> None:
    (f,) = forecast_open([OPEN], now=T0)
    assert f.p_miss == 0.5
    assert f.reasons[-1] == "no history yet: even odds"


def test_expired_record_may_never_finish() -> None:
    expired = [replace(milestone(n, beneficiary="B1"), status="Expired") for n in range(1, 4)]
    f = forecast_open([*expired, OPEN], now=OPEN.deadline - 30 * DAY)[0]
    assert f.p_miss == pytest.approx(0.98)
    assert f.expected_completion is None
    assert f.reasons[0] == "contractor B1 finished 3 of 3 milestones late (3 expired)"


def test_open_past_deadline_counts_as_late_in_the_record() -> None:
    overdue = milestone(1, beneficiary="B1")
    now = OPEN.deadline - 30 * DAY
    records = records_at([overdue, OPEN], now)
    assert records.contractors["B1"].lateness_s == (now - overdue.deadline,)
    assert "1 still open past the deadline" in records.contractors["B1"].words()


def test_only_open_milestones_are_forecast() -> None:
    ms = [
        done(1),
        replace(milestone(2), status="Cancelled"),
        replace(milestone(3), status="Disputed"),
        milestone(4),
        replace(milestone(5), registered_time=T0 + 10 * DAY),
    ]
    assert [f.milestone_id for f in forecast_open(ms, now=T0 + 5 * DAY)] == [
        ms[2].milestone_id,
        ms[3].milestone_id,
    ]


def test_the_pooled_records_median_and_masses_are_those_of_every_value_pooled() -> None:
    """Read by bisection, they are what a walk over every value gives: the least value where
    half the weight is reached (up to rounding at an exact half)."""
    import math
    import random

    from disburse.analytics.forecast import _Mixture, record

    rng = random.Random(3)
    for _ in range(300):
        records = [
            record(
                name,
                [
                    (math.inf, "expired") if rng.random() < 0.1 else (rng.randint(-9, 9) * DAY, "")
                    for _ in range(rng.randint(1, 12))
                ],
            )
            for name in ("contractor", "program", "everyone")
        ]
        weights = [rng.random() for _ in records]
        mix = _Mixture(tuple((r, w / r.count) for r, w in zip(records, weights, strict=True)))
        points = [
            (v, w / r.count) for r, w in zip(records, weights, strict=True) for v in r.lateness_s
        ]
        bound = rng.randint(-10, 10) * DAY
        above = [(v, w) for v, w in points if v > bound]
        assert mix.mass(above=bound) == pytest.approx(sum(w for _, w in above))
        median = mix.median(above=bound)
        if not above:
            assert median is None
            continue
        half = sum(w for _, w in above) / 2
        assert median in {v for v, _ in above}
        assert sum(w for v, w in above if v <= median) >= half * (1 - 1e-9)
        assert sum(w for v, w in above if v < median) <= half * (1 + 1e-9)

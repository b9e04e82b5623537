"""The forecast backtest: a seeded synthetic history, the ledger as of each cut-off, and the
model beating the naive forecast (the global late rate) on the Brier score."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from disburse.analytics.backtest import HistorySettings, as_of, backtest, synthetic_history
from disburse.analytics.model import DAY
from scripts.forecast_backtest import main

SMALL = HistorySettings(seed=2, years=3, programs=12, contractors=6, milestones_per_program=10)
"""About 300 forecasts, three expiries, a twentieth of a second."""


def test_model_beats_the_naive_forecast_on_a_small_history() -> None:
    report = backtest(SMALL)
    assert report.forecasts > 200
    assert report.brier_model < report.brier_naive
    assert sum(b.count for b in report.bins) == report.forecasts


def test_history_is_the_same_for_the_same_seed() -> None:
    assert synthetic_history(SMALL) == synthetic_history(SMALL)
    other = replace(SMALL, seed=3)
    assert synthetic_history(SMALL) != synthetic_history(other)


def test_ledger_as_of_a_cutoff_shows_nothing_later() -> None:
    outcomes = synthetic_history(SMALL)
    verified = next(o for o in outcomes if o.verified_time is not None)
    assert verified.verified_time is not None
    before = as_of(verified, verified.verified_time - 1)
    assert before.status == "Registered" and before.verified_time is None
    after = as_of(verified, verified.verified_time + 2 * DAY)
    assert after.status == "Released" and after.verified_time == verified.verified_time
    expired = next(o for o in outcomes if o.expired_time is not None)
    assert expired.expired_time is not None
    assert as_of(expired, expired.expired_time - 1).status == "Registered"
    assert as_of(expired, expired.expired_time).status == "Expired"


def test_script_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "forecast-backtest.json"
    assert main(["--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["brier_model"] < report["brier_naive"]
    assert len(report["bins"]) == 10

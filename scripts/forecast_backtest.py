"""Backtest of the missed-deadline forecast on a synthetic multi-year history.

    python -m scripts.forecast_backtest [--seed N] [--out reports/forecast-backtest.json]

Generates the history (disburse.analytics.backtest: contractors of different reliability, a
seeded RNG), forecasts every open milestone at each cut-off from what was known then, and
writes the Brier score of the model and of the naive forecast (the global late rate) with the
reliability bins to the report. Exits 1 when the model does not beat the naive forecast.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from disburse.analytics.backtest import HistorySettings, backtest

REPORT = Path(__file__).resolve().parent.parent / "reports" / "forecast-backtest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=HistorySettings().seed)
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    report = backtest(replace(HistorySettings(), seed=args.seed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    print(
        f"{report.forecasts} forecasts of {report.milestones} milestones: Brier "
        f"{report.brier_model:.4f} (naive {report.brier_naive:.4f}, skill {report.skill:.1%}); "
        f"written to {args.out}"
    )
    return 0 if report.brier_model < report.brier_naive else 1


if __name__ == "__main__":
    sys.exit(main())

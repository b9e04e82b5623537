"""Analytics over the ledger: plain dataclasses in (`model`), plain dataclasses out.

No database and no chain: the ledger index builds `ProgramFacts` and `MilestoneFacts` from what it
stored, and these modules compute from them alone, so every figure can be checked in a unit test
built from hand-written facts.

- `rollup`: money per program and grouped by organisation, category, fiscal year, beneficiary;
- `evm`: earned value on the 0/100 weighted-milestone method, now and as a time series;
- `alerts`: thresholds (one `Thresholds` object) turned into amber and red alerts;
- `forecast`: the probability that an open milestone misses its deadline, with reasons;
- `backtest`: the forecast checked against a synthetic history with known outcomes.

This package imports nothing of `disburse` but `disburse._format` (tests/test_layers.py).
"""

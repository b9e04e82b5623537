"""The query phase of `make bench-index`: the read API (`disburse.index.queries`) timed on an index
of a million events, on SQLite and on PostgreSQL.

History. Issue 12 lets the query figures stand on a history written straight into the database
(ingest is timed from the chain in scripts/bench_index.py). It is written through the real code:
synthetic decoded events (`FoldEvent`, with the values the escrow's events decode to) go through
`Fold` and `IndexStore.write_batch` in windows, as the indexer writes them, so every derived row
and summary is the fold's own. Only the stored logs' topics and data are stand-ins (the event's
name hashed, no data): nothing the queries read. The shape: ~1,000 programs of ten organisations,
five categories and five fiscal years (2026-2030), each program paying two to four of 500
contractors; milestones registered through each year, attested by four of five oracles, verified
early or late by a contractor's habit, most released, a few disputed, cancelled or expired, the
latest still open at the cursor; some baselines raised by the council.

Measurement. In a child process (`python -m scripts.bench_index_queries child URL OUT`), so that
its peak resident set (VmHWM) is the queries' alone: each kind of query is run for `samples`
random programs (the roll-up in turn by organisation, category and fiscal year), after one
warm-up call of each; p50 and p95 in milliseconds. The forecast's first call at a cursor also
builds everyone's record from the whole history (kept for that cursor): `forecast_first_ms`.

    python -m scripts.bench_index_queries    the query phase alone (as BENCH_INDEX_ONLY=queries
                                             in `make bench-index`; size: BENCH_INDEX_QUERY_EVENTS)
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import quantiles
from typing import Any, Final

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from disburse.analytics.model import DAY, JAPAN
from disburse.chain.deployment import Deployment
from disburse.index.fold import Fold, FoldEvent
from disburse.index.store import Cursor, IndexStore

QUERY_EVENTS: Final = 1_000_000
"""The default size of the query phase's history (BENCH_INDEX_QUERY_EVENTS)."""
SMALL_EVENTS: Final = 100_000
"""The smaller history whose peak memory is compared with the full one's."""
SAMPLES: Final = 200
"""Calls of each query kind timed."""
WINDOW: Final = 20_000
"""Events per `write_batch`, as the indexer's windows."""
TARGET_P95_MS: Final = 50.0
"""Every query's p95 on the 2-core reference machine (issue 12)."""

ORGANISATIONS: Final = ("ATLA", "GSDF", "MSDF", "ASDF", "JSO", "DIH", "NDA", "SDF-C", "ITC", "MOD")
CATEGORIES: Final = ("research", "procurement", "maintenance", "sustainment", "construction")
FISCAL_YEARS: Final = (2026, 2027, 2028, 2029, 2030)
CONTRACTORS: Final = 500
ORACLES: Final = 5
QUORUM: Final = 4
UNIT: Final = 10**18

DEPLOYMENT: Final = Deployment(
    network="bench-synthetic",
    chain_id=31_337,
    escrow=to_checksum_address("0x" + "e5" * 20),
    council=to_checksum_address("0x" + "c0" * 20),
    token=to_checksum_address("0x" + "70" * 20),
    deployment_block=0,
    evm_version="cancun",
)
"""The deployment the synthetic index says it describes (no chain behind it)."""


def _address(kind: int, n: int) -> str:
    return "0x" + f"{kind:02x}{n:038x}"


def _checksummed(kind: int, n: int) -> str:
    return str(to_checksum_address(_address(kind, n)))


@dataclass(frozen=True)
class Shape:
    """How many of everything a synthetic history has."""

    programs: int
    milestones_per_program: int

    @classmethod
    def for_events(cls, events: int) -> Shape:
        """At least about `events` events: ~7.2 a milestone (registration, four attestations,
        verification, most released) and three a program, of which ~83 % happen by the cursor
        (the last fiscal year's are cut at it)."""
        programs = max(10, min(1_000, events // 1_000))
        return cls(programs, max(1, math.ceil((events / programs / 0.83 - 3) / 7.2)))


def synthetic_events(
    shape: Shape, *, seed: int = 12
) -> tuple[list[tuple[int, int, FoldEvent]], int]:
    """The history's decoded events in time order as (time, order, event) with block and log
    index still zero, and the cursor's time (events after it are dropped: their milestones are
    open at the cursor)."""
    rng = random.Random(seed)
    contractors = [_checksummed(0xB0, n) for n in range(CONTRACTORS)]
    oracles = [_checksummed(0x0A, n) for n in range(ORACLES)]
    manager, token, treasury = _checksummed(0x4D, 1), str(DEPLOYMENT.token), _checksummed(0x7E, 1)
    habit = [rng.gauss(0, 12 * DAY) for _ in contractors]
    end = JAPAN.start(FISCAL_YEARS[-1]) + 300 * DAY
    out: list[tuple[int, int, FoldEvent]] = []
    serial = 0

    def emit(when: int, name: str, *values: Any) -> None:
        nonlocal serial
        if when <= end:
            out.append((when, serial, FoldEvent(name, tuple(values), 0, 0, when)))
        serial += 1

    for pid in range(1, shape.programs + 1):
        year = FISCAL_YEARS[pid % len(FISCAL_YEARS)]
        start = JAPAN.start(year) + rng.randrange(0, 60 * DAY)
        mine = rng.sample(range(CONTRACTORS), rng.randint(2, 4))
        amounts = [rng.randrange(10**5, 10**8) * UNIT for _ in range(shape.milestones_per_program)]
        baseline = sum(amounts) * rng.randint(100, 110) // 100
        emit(start, "ProgramCreated", pid, manager, token, treasury, 2 * DAY)
        if pid % 29 != 0:  # a few programs were created before their facts were recorded
            organisation = ORGANISATIONS[pid % len(ORGANISATIONS)]
            category = CATEGORIES[(pid // 3) % len(CATEGORIES)]
            emit(
                start,
                "ProgramDescribed",
                pid,
                f"program {pid}",
                organisation,
                category,
                year,
                baseline,
            )
        emit(start + 3600, "ProgramFunded", pid, manager, baseline)
        if pid % 13 == 0:
            grown = baseline * rng.randint(115, 160) // 100
            emit(start + 200 * DAY, "BaselineChanged", pid, baseline, grown)
        for k, amount in enumerate(amounts):
            mid = (pid * 10_000 + k).to_bytes(32, "big")
            c = rng.choice(mine)
            beneficiary = contractors[c]
            registered = start + 7200 + rng.randrange(0, 330 * DAY)
            deadline = registered + rng.randrange(30, 180) * DAY
            emit(
                registered,
                "MilestoneRegistered",
                mid,
                pid,
                beneficiary,
                amount,
                deadline,
                keccak(mid),
                keccak(b"ref" + mid),
            )
            roll = rng.random()
            if roll < 0.02:
                emit(
                    registered + rng.randrange(1, 20) * DAY, "MilestoneCancelled", mid, pid, amount
                )
                continue
            done = deadline + int(habit[c] + rng.gauss(0, 10 * DAY))
            if roll < 0.06:
                emit(deadline + rng.randrange(1, 30) * DAY, "MilestoneExpired", mid, pid, amount)
                continue
            done = max(registered + DAY, done)
            evidence = keccak(b"evidence" + mid)
            for i, oracle in enumerate(rng.sample(oracles, QUORUM)):
                emit(done - (QUORUM - i) * 600, "AttestationRecorded", mid, oracle, evidence, 1)
            if roll < 0.09:
                emit(done, "MilestoneDisputed", mid, 1)
                emit(done + 5 * DAY, "DisputeResolved", mid, evidence)
                done += 5 * DAY
            else:
                emit(done, "MilestoneVerified", mid, evidence)
            if roll < 0.92:
                emit(done + 2 * DAY + 60, "MilestoneReleased", mid, pid, beneficiary, amount)
    out.sort(key=lambda item: (item[0], item[1]))
    return out, end


LogOf = Callable[[FoldEvent], tuple[str, str]]
"""A stored log's topics (comma-joined) and data for a decoded event."""


def write_history(url: str, events: int, *, seed: int = 12, log_of: LogOf | None = None) -> int:
    """Builds a new index of about `events` events at `url`; returns how many it holds. Its
    stored logs are stand-ins unless `log_of` encodes them (the console decodes them)."""
    history, end = synthetic_events(Shape.for_events(events), seed=seed)
    topics = {name: "0x" + keccak(text=name).hex() for name in {e.name for _, _, e in history}}
    encode: LogOf = log_of or (lambda e: (topics[e.name], "0x"))
    fold = Fold()
    store = IndexStore.open(url, DEPLOYMENT)
    try:
        block, stamp, log_index = 0, 0, 0
        rows: list[tuple[Any, ...]] = []
        folded: list[FoldEvent] = []
        blocks: dict[int, tuple[str, int]] = {}
        for when, _, e in history:
            if when != stamp:
                block, stamp, log_index = block + 1, when, 0
                blocks[block] = ("0x" + f"{block:064x}", when)
            event = FoldEvent(e.name, e.values, block, log_index, when)
            folded.append(event)
            rows.append(_event_row(event, *encode(event)))
            log_index += 1
            if len(rows) >= WINDOW and log_index == 1:
                _write(store, fold, rows, folded, blocks, block, stamp)
                rows, folded, blocks = [], [], {}
        _write(store, fold, rows, folded, blocks, block, max(stamp, end))
        with store.engine.begin() as conn:
            # Statistics for the planner, as PostgreSQL's autovacuum (and SQLite's
            # `PRAGMA optimize`) would gather them after a load this size.
            conn.exec_driver_sql("ANALYZE")
        if fold.anomalies:
            raise RuntimeError(f"the synthetic history folded with anomalies: {fold.anomalies[:3]}")
        return store.event_count()
    finally:
        store.close()


def _write(
    store: IndexStore,
    fold: Fold,
    rows: list[tuple[Any, ...]],
    folded: list[FoldEvent],
    blocks: dict[int, tuple[str, int]],
    block: int,
    stamp: int,
) -> None:
    cursor = Cursor(block, "0x" + f"{block:064x}", stamp)
    store.write_batch(events=rows, folded=folded, blocks=blocks, cursor=cursor, fold=fold)


_PROGRAM_AT: Final = {
    "MilestoneRegistered": 1,
    "MilestoneReleased": 1,
    "MilestoneCancelled": 1,
    "MilestoneExpired": 1,
}


def _event_row(e: FoldEvent, topics: str, data: str) -> tuple[Any, ...]:
    """The events table's row of a synthetic event, with the filter columns the indexer sets
    (disburse.index.ingest: the program, milestone and proposal an event names)."""
    program = milestone = None
    if e.name.startswith("Program") or e.name == "BaselineChanged":
        program = e.values[0]
    elif e.name.startswith("Milestone") or e.name in ("AttestationRecorded", "DisputeResolved"):
        milestone = "0x" + bytes(e.values[0]).hex()
        if e.name in _PROGRAM_AT:
            program = e.values[_PROGRAM_AT[e.name]]
    tx = "0x" + f"{e.block:056x}{e.log_index:08x}"
    return (
        e.block,
        e.log_index,
        tx,
        DEPLOYMENT.escrow.lower(),
        e.name,
        topics,
        data,
        None,
        program,
        milestone,
        None,
    )


# ---------------------------------------------------------------------------------- measurement


def _timed(call: Callable[[], object], samples: int) -> dict[str, float]:
    call()  # warm-up: connections, statement caches
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    cuts = quantiles(times, n=100, method="inclusive")
    return {"p50": round(cuts[49], 2), "p95": round(cuts[94], 2), "max": round(max(times), 2)}


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(url: str, out: Path, samples: int) -> None:
    """Times every query kind on the index at `url` (this process's memory is measured)."""
    from disburse.index.queries import IndexQueries
    from disburse.report.facts import TokenFacts

    store = IndexStore.open_existing(url, DEPLOYMENT)
    queries = IndexQueries(store, token=lambda _a: TokenFacts("JPYC", 18))
    rng = random.Random(7)
    programs = sorted(
        {pid for group in queries.rollup(by="organisation").value for pid in group.program_ids}
    )
    ids = [rng.choice(programs) for _ in range(samples)]
    kinds = iter(["organisation", "category", "fiscal_year"] * samples)
    started = time.perf_counter()
    queries.forecast(ids[0])
    first_forecast = (time.perf_counter() - started) * 1000
    turn = iter(ids * 4)
    figures = {
        "rollup": _timed(lambda: queries.rollup(by=next(kinds)), samples),  # type: ignore[arg-type]
        "recipients": _timed(lambda: queries.recipients(10), samples),
        "program": _timed(lambda: queries.program(next(turn)), samples),
        "alerts": _timed(lambda: queries.alerts(next(turn)), samples),
        "forecast": _timed(lambda: queries.forecast(next(turn)), samples),
    }
    store.close()
    out.write_text(
        json.dumps(
            {
                "query_ms": figures,
                "forecast_first_ms": round(first_forecast, 1),
                "programs": len(programs),
                "peak_rss_mb": round(_peak_rss_mb(), 1),
            }
        )
    )


def _measure(url: str, work: Path, name: str, samples: int, timeout: float) -> dict[str, Any]:
    out = work / f"queries-{name}.json"
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "scripts.bench_index_queries",
                "child",
                url,
                str(out),
                str(samples),
            ],
            check=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the queries on {name} did not finish within the deadline") from None
    found: dict[str, Any] = json.loads(out.read_text())
    return found


def run_phase(
    *, pg_server: str, work: Path, events: int, samples: int, deadline: Any
) -> dict[str, Any]:
    """The query phase on each engine, at `SMALL_EVENTS` and at `events`: the figures as
    reports/index-bench.json keeps them. `deadline` is a scripts.bench_common.Deadline."""
    sizes = sorted({min(SMALL_EVENTS, events), events})
    measured: dict[str, dict[int, dict[str, Any]]] = {"sqlite": {}, "postgresql": {}}
    built: dict[str, dict[int, float]] = {"sqlite": {}, "postgresql": {}}
    held: dict[str, dict[int, int]] = {"sqlite": {}, "postgresql": {}}
    for engine in measured:
        for size in sizes:
            with _database(engine, pg_server, work, size, deadline) as url:
                deadline.waiting_for(f"the synthetic history of {size:,} events in {engine}")
                started = time.perf_counter()
                held[engine][size] = write_history(url, size)
                built[engine][size] = round(time.perf_counter() - started, 1)
                deadline.check()
                deadline.waiting_for(f"the queries on {size:,} events in {engine}")
                measured[engine][size] = _measure(
                    url, work, f"{engine}-{size}", samples, deadline.remaining()
                )
                m = measured[engine][size]
                print(
                    f"queries, {engine}, {held[engine][size]:,} events (built in "
                    f"{built[engine][size]} s): "
                    + ", ".join(f"{k} p95 {v['p95']} ms" for k, v in m["query_ms"].items())
                    + f"; peak RSS {m['peak_rss_mb']} MB",
                    flush=True,
                )
    full = {engine: measured[engine][events] for engine in measured}
    return {
        "query_events": held["sqlite"][events],
        "query_ms": {engine: m["query_ms"] for engine, m in full.items()},
        "query_target_p95_ms": TARGET_P95_MS,
        "query_meets_target": all(
            q["p95"] < TARGET_P95_MS for m in full.values() for q in m["query_ms"].values()
        ),
        "query_forecast_first_ms": {e: m["forecast_first_ms"] for e, m in full.items()},
        "query_peak_rss_mb": {
            engine: {
                str(held[engine][size]): measured[engine][size]["peak_rss_mb"] for size in sizes
            }
            for engine in measured
        },
        "query_history": {
            "programs": full["sqlite"]["programs"],
            "organisations": len(ORGANISATIONS),
            "categories": len(CATEGORIES),
            "fiscal_years": len(FISCAL_YEARS),
            "contractors": CONTRACTORS,
            "build_s": built,
            "how": "synthetic decoded events through Fold and IndexStore.write_batch "
            f"({WINDOW:,} events a window); {samples} timed calls of each query kind in a "
            "child process after one warm-up; peak_rss_mb is that child's VmHWM",
        },
    }


@contextmanager
def _database(engine: str, pg_server: str, work: Path, size: int, deadline: Any) -> Iterator[str]:
    """A new, empty database for one history, dropped afterwards (SQLite: a file in `work`)."""
    if engine == "sqlite":
        path = work / f"queries-{size}.db"
        for leftover in work.glob(f"queries-{size}.db*"):
            leftover.unlink()
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in work.glob(f"queries-{size}.db*"):
                leftover.unlink()
        return
    from scripts.bench_common import scratch_pg_database

    with scratch_pg_database(pg_server, "bench_queries", deadline) as url:
        yield url


def timed_phase(pg_server: str, *, within: float) -> dict[str, Any]:
    """The phase at BENCH_INDEX_QUERY_EVENTS under its own deadline (BENCH_INDEX_QUERY_DEADLINE_S,
    never past `within` seconds from now: the whole benchmark's)."""
    from scripts.bench_common import Deadline

    events = int(os.environ.get("BENCH_INDEX_QUERY_EVENTS", str(QUERY_EVENTS)))
    seconds = min(within, float(os.environ.get("BENCH_INDEX_QUERY_DEADLINE_S", "900")))
    deadline = Deadline("bench-index queries", seconds)
    work = Path(tempfile.mkdtemp(prefix="bench-index-queries-"))
    try:
        figures = run_phase(
            pg_server=pg_server, work=work, events=events, samples=SAMPLES, deadline=deadline
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    deadline.finish()
    return figures


def summary(figures: dict[str, Any]) -> str:
    """The phase's figures in one line."""
    return "; ".join(
        f"{engine} queries at {figures['query_events']:,} events: "
        + ", ".join(f"{kind} p95 {q['p95']} ms" for kind, q in kinds.items())
        for engine, kinds in figures["query_ms"].items()
    )


def main(argv: list[str]) -> None:
    """`child URL OUT SAMPLES` (one measurement), or the phase alone, its figures merged into
    reports/index-bench.json."""
    if argv[:1] == ["child"]:
        child(argv[1], Path(argv[2]), int(argv[3]))
        return
    pg_server = os.environ.get("BENCH_INDEX_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    figures = timed_phase(pg_server, within=float(os.environ.get("BENCH_INDEX_DEADLINE_S", "1500")))
    merge_report(figures)
    print(summary(figures), flush=True)


REPORT: Final = Path("reports/index-bench.json")


def merge_report(figures: dict[str, Any]) -> None:
    """Writes the query figures into reports/index-bench.json beside the figures already there."""
    found: dict[str, Any] = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    found.update(figures)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(found, indent=2) + "\n")
    print(f"query figures written to {REPORT}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

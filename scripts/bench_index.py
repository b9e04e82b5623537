"""Benchmark of the ledger index (`make bench-index`).

    brownie run scripts/bench_index.py [--network NAME]

Deploys escrow, council and token on a development network and builds a history on chain with
the audit benchmark's builder (scripts.bench_common: registrations, eight attestations each,
verifications, disputes, releases, council proposals). Then, each in a child process timed from
the command's start to its end:
- `disburse index` from the chain into a new SQLite file, and into a new PostgreSQL database
  (ingest_events_per_s);
- after about 10,000 more events on chain, `disburse index` again on each (catch_up_s: a restart
  reads only what is new);
- `disburse report --html` from each (report_html_s: facts, analytics and rendering);
and writes reports/index-bench.json with the peak resident memory of each child. Last, the query
phase (scripts/bench_index_queries.py): the read API timed on an index of a million events written
through the fold, on each engine, with its own deadline.

Settings from the environment:
    BENCH_INDEX_MILESTONES  milestones on chain (default 11,200: about 112,000 events)
    BENCH_INDEX_PROGRAMS    programs (default 8)
    BENCH_INDEX_PG_URL      PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/test;
                            the benchmark creates and drops a database of its own there)
    BENCH_INDEX_DEADLINE_S  the whole benchmark's deadline (default 2,700: the query phase at a
                            million events took 12.5 minutes on a loaded machine); past it the
                            benchmark stops (exit 3) naming what it was waiting for
    BENCH_INDEX_QUERY_EVENTS  the query phase's history (default 1,000,000 events)
    BENCH_INDEX_QUERY_DEADLINE_S  the query phase's own deadline (default 900, and never past the
                            whole benchmark's)
    BENCH_INDEX_ONLY        `queries`: the query phase alone (no chain), its figures merged into
                            reports/index-bench.json beside those already there
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from brownie import web3

from scripts import bench_index_queries
from scripts.bench_common import (
    UNIT,
    BenchError,
    Builder,
    Deadline,
    check_chain,
    deploy_for_bench,
    scratch_pg_database,
)
from scripts.deploy import is_local

REPORT = Path("reports/index-bench.json")
TARGETS = {"sqlite": 50_000, "postgresql": 20_000}
"""Ingest targets, events per second, on the 2-core reference machine (issue 12)."""
CATCH_UP_MILESTONES = 1_000
"""About 10,000 events: each milestone is registered, attested by eight and verified."""


def _timed_index(
    *,
    deployment_file: Path,
    rpc_url: str,
    db: str,
    metrics: Path,
    deadline: Deadline,
    what: str,
    command: tuple[str, ...] = ("index",),
) -> dict[str, Any]:
    """`disburse COMMAND --db DB` in a timed child process (scripts.bench_common timed)."""
    deadline.waiting_for(what)
    argv = [
        sys.executable,
        "-m",
        "scripts.bench_common",
        "timed",
        str(metrics),
        "--deployment",
        str(deployment_file),
        "--rpc-url",
        rpc_url,
        *command,
        "--db",
        db,
    ]
    try:
        subprocess.run(argv, check=True, timeout=deadline.remaining())
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} did not finish within the benchmark's deadline") from None
    found: dict[str, Any] = json.loads(metrics.read_text())
    if found["exit_code"] != 0:
        raise BenchError(f"{what} failed (exit {found['exit_code']})")
    return found


def _event_count(db: str) -> int:
    from sqlalchemy import func, select

    from disburse.index import schema
    from disburse.index.store import open_engine

    engine = open_engine(db)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(schema.events)).scalar_one())
    finally:
        engine.dispose()


def main() -> None:
    pg_server = os.environ.get("BENCH_INDEX_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    only = os.environ.get("BENCH_INDEX_ONLY", "")
    if only not in ("", "queries"):
        raise SystemExit(f"BENCH_INDEX_ONLY is `queries` or unset, not {only!r}")
    if only == "queries":
        bench_index_queries.main([])
        return
    if not is_local():
        raise SystemExit("the benchmark builds a long history: run it on a development network")
    started = time.perf_counter()
    deadline = Deadline("bench-index", float(os.environ.get("BENCH_INDEX_DEADLINE_S", "2700")))
    gas_limit = check_chain(web3, name="bench-index")
    milestones = int(os.environ.get("BENCH_INDEX_MILESTONES", "11200"))
    programs = int(os.environ.get("BENCH_INDEX_PROGRAMS", "8"))
    with scratch_pg_database(pg_server, "bench_index", deadline) as pg_url:
        result = _run(
            deadline,
            gas_limit=gas_limit,
            milestones=milestones,
            programs=programs,
            pg_url=pg_url,
        )
    deadline.waiting_for("the query phase")
    result.update(bench_index_queries.timed_phase(pg_server, within=deadline.remaining()))
    deadline.finish()
    result["bench_wall_s"] = round(time.perf_counter() - started, 1)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n")
    ingest = result["ingest_events_per_s"]
    print(
        f"\nindex of {result['events']:,} events: SQLite {ingest['sqlite']:,} events/s (target "
        f"{TARGETS['sqlite']:,}), PostgreSQL {ingest['postgresql']:,} events/s (target "
        f"{TARGETS['postgresql']:,}); catch-up of {result['catch_up_events']:,} events: SQLite "
        f"{result['catch_up_s']['sqlite']} s, PostgreSQL {result['catch_up_s']['postgresql']} s; "
        f"report --html: SQLite {result['report_html_s']['sqlite']} s, PostgreSQL "
        f"{result['report_html_s']['postgresql']} s; {bench_index_queries.summary(result)}; "
        f"written to {REPORT}"
    )


def _run(
    deadline: Deadline, *, gas_limit: int, milestones: int, programs: int, pg_url: str
) -> dict[str, Any]:
    deadline.waiting_for("the deployment of escrow, council and token")
    record, chain, work = deploy_for_bench("bench-index")
    deployment_file = work / "deployment.json"
    rpc_url = chain.client.profile.rpc_url
    builder = Builder(chain, programs=programs)
    funds = (milestones // programs + CATCH_UP_MILESTONES + 1) * 50 * UNIT
    deadline.waiting_for(lambda: f"the history on chain ({chain.sent:,} transactions sent)")
    builder.setup(funds=funds)
    builder.round(milestones=milestones)
    print(f"history built: {builder.history.milestones:,} milestones", flush=True)
    dbs = {"sqlite": f"sqlite:///{work / 'ledger.db'}", "postgresql": pg_url}

    def timed(stage: str, what: str, *command: str) -> dict[str, dict[str, Any]]:
        """`disburse COMMAND --db` on each engine's index, timed."""
        return {
            engine: _timed_index(
                deployment_file=deployment_file,
                rpc_url=rpc_url,
                db=db,
                metrics=work / f"{stage}-{engine}.json",
                deadline=deadline,
                what=what.format(engine=engine),
                command=command or ("index",),
            )
            for engine, db in dbs.items()
        }

    ingest = timed("ingest", "disburse index into a new {engine} index")
    for engine, db in dbs.items():
        events = _event_count(db)
        ingest[engine]["events"] = events
        print(f"{engine}: {events:,} events in {ingest[engine]['audit_s']:.2f} s", flush=True)
    deadline.waiting_for(lambda: f"the catch-up history ({chain.sent:,} transactions sent)")
    builder.round(milestones=CATCH_UP_MILESTONES)
    catch_up = timed("catch-up", "disburse index catching up on the {engine} index")
    for engine, db in dbs.items():
        catch_up[engine]["events"] = _event_count(db) - ingest[engine]["events"]
    report = timed(
        "report",
        "disburse report --html from the {engine} index",
        "report",
        "--no-reconcile",
        "--output",
        str(work / "report.txt"),
        "--html",
        str(work / "report.html"),
    )
    added = catch_up["sqlite"]["events"]
    if catch_up["postgresql"]["events"] != added:
        raise BenchError("the two indexes caught up different numbers of events")
    return {
        "command": "disburse index --db URL",
        "events": events,
        "ingest_events_per_s": {e: round(events / m["audit_s"]) for e, m in ingest.items()},
        "targets_events_per_s": TARGETS,
        "meets_targets": all(events / ingest[e]["audit_s"] >= t for e, t in TARGETS.items()),
        "catch_up_events": added,
        "catch_up_s": {e: round(m["audit_s"], 3) for e, m in catch_up.items()},
        "report_html_s": {e: round(m["audit_s"], 3) for e, m in report.items()},
        "peak_rss_mb": {
            e: {
                "ingest": round(ingest[e]["peak_rss_mb"], 1),
                "catch_up": round(catch_up[e]["peak_rss_mb"], 1),
                "report": round(report[e]["peak_rss_mb"], 1),
            }
            for e in dbs
        },
        "history": {
            "milestones": builder.history.milestones,
            "programs": len(builder.history.programs),
            "transactions": builder.history.transactions,
            "blocks": chain.block_number() - record.deployment_block,
        },
        "timing": (
            "each figure runs from the command's start (connection, chain check, migrations) to "
            "its end, in a child process (scripts.bench_common timed)"
        ),
        "memory": "peak_rss_mb is each child's peak resident set (VmHWM)",
        "block_gas_limit": gas_limit,
    }

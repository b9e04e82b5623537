"""Benchmark of `disburse audit --json` on a long history (`make bench-audit`).

    brownie run scripts/bench_audit.py [--network NAME]

Deploys escrow, council and token on a development network, builds a history in two rounds of
about 56,000 events each (see scripts.bench_common), runs the audit after each round, and writes
reports/audit-bench.json: `events`, `events_per_s`, `peak_rss_mb` of the full history, and the
same figures at half the history with the memory split into the report and the working memory.

Settings from the environment:
    BENCH_AUDIT_MILESTONES   milestones registered per round (default 5,600: about 56,000 events)
    BENCH_AUDIT_PROGRAMS     programs (default 4)
    BENCH_AUDIT_DEADLINE_S   the whole benchmark's deadline (default 600); past it the benchmark
                             stops (exit 3) naming what it was waiting for

The chain must have a block gas limit of at least 30,000,000 (`make bench-audit` starts one with
explicit parameters through disburse.chain.localchain; brownie's fresh default has 12,000,000).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from brownie import web3

from scripts.bench_common import (
    TARGET_EVENTS_PER_S,
    UNIT,
    Builder,
    Deadline,
    check_chain,
    deploy_for_bench,
    measure,
)
from scripts.deploy import is_local

REPORT = Path("reports/audit-bench.json")


def main() -> None:
    if not is_local():
        raise SystemExit("the benchmark builds a long history: run it on a development network")
    started = time.perf_counter()
    deadline = Deadline("bench-audit", float(os.environ.get("BENCH_AUDIT_DEADLINE_S", "600")))
    gas_limit = check_chain(web3, name="bench-audit")
    deadline.waiting_for("the deployment of escrow, council and token")
    milestones = int(os.environ.get("BENCH_AUDIT_MILESTONES", "5600"))
    programs = int(os.environ.get("BENCH_AUDIT_PROGRAMS", "4"))
    record, chain, work = deploy_for_bench("bench-audit")
    deployment_file = work / "deployment.json"
    rpc_url = chain.client.profile.rpc_url
    builder = Builder(chain, programs=programs)
    per_round_funds = (milestones // programs + 1) * 50 * UNIT
    deadline.waiting_for(
        lambda: f"the first half of the history ({chain.sent:,} transactions sent)"
    )
    builder.setup(funds=per_round_funds)
    builder.round(milestones=milestones)
    print(f"history half built: {builder.history.milestones:,} milestones", flush=True)
    half = measure(
        deployment_file=deployment_file, rpc_url=rpc_url, work=work, label="half", deadline=deadline
    )
    print(f"half: {json.dumps(half)}", flush=True)
    deadline.waiting_for(
        lambda: f"the second half of the history ({chain.sent:,} transactions sent)"
    )
    builder.fund(per_round_funds)
    builder.round(milestones=milestones)
    full = measure(
        deployment_file=deployment_file, rpc_url=rpc_url, work=work, label="full", deadline=deadline
    )
    deadline.finish()
    print(f"full: {json.dumps(full)}", flush=True)
    wall = time.perf_counter() - started
    result = {
        "command": "disburse audit --json",
        "events": full["events"],
        "events_per_s": full["events_per_s"],
        "peak_rss_mb": full["peak_rss_mb"],
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "meets_target": full["events_per_s"] >= TARGET_EVENTS_PER_S,
        "half_history": half,
        "full_history": full,
        "history": {
            "milestones": builder.history.milestones,
            "programs": len(builder.history.programs),
            "transactions": builder.history.transactions,
            "council_proposals": builder.history.proposals,
            "blocks": chain.block_number() - record.deployment_block,
            "build_s": round(builder.history.build_s, 1),
        },
        "memory": (
            "peak_rss_mb is the audit process's peak resident set (VmHWM); report_mb is what "
            "the audit keeps (the report: ledgers, timelines, proposals) and working_mb the peak "
            "above it (tracemalloc): the working memory does not grow with the history"
        ),
        "timing": (
            "audit_s runs from the command's start (connection, chain check) to the last byte of "
            "JSON written, in a child process; process_s adds interpreter start and imports"
        ),
        "block_gas_limit": gas_limit,
        "bench_wall_s": round(wall, 1),
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"\naudit of {full['events']:,} events: {full['events_per_s']:,} events/s "
        f"(target {TARGET_EVENTS_PER_S:,}), peak RSS {full['peak_rss_mb']} MB; at half the "
        f"history ({half['events']:,} events): {half['events_per_s']:,} events/s, peak RSS "
        f"{half['peak_rss_mb']} MB; working memory {half['working_mb']} MB → "
        f"{full['working_mb']} MB, report {half['report_mb']} MB → {full['report_mb']} MB; "
        f"benchmark wall time {wall:.0f} s; written to {REPORT}"
    )

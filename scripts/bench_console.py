"""`make bench-console`: the overseer console on an index of a million events (issue 13).

History: the query benchmark's synthetic history (scripts/bench_index_queries.py: ~1,000
programs, 500 contractors, five oracles, written through the real Fold and IndexStore), here with
every stored log ABI-encoded from the escrow's own event ABI, so the console decodes the events
it lists exactly as it decodes a chain's.

Figures, written to reports/console-bench.json:
- `pages`: for each page, server time (p50, p95 in ms) of `samples` GETs through the real app
  (create_app, logged in as an overseer; in-process ASGI, so no socket time), each at a random
  program or milestone where the page names one;
- `first_load_bytes`: what a browser's first visit to each page fetches (the HTML and every script
  and style it links, uncompressed: an upper bound);
- `appear_ms`: from a new block's events committed to the index until an open page has them —
  its /live stream announces the block and its live fragment is fetched showing it (p50, p95,
  max over `appear_samples` blocks), over a real uvicorn server on 127.0.0.1.
Targets: p95 under 100 ms per page, under 2 s to appear, under 1 MB per first load.

    BENCH_CONSOLE_EVENTS (1,000,000)   BENCH_CONSOLE_SAMPLES (100)   BENCH_CONSOLE_DEADLINE_S (1800)
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from statistics import quantiles
from typing import Any, Final

import httpx
import uvicorn
from eth_abi import encode
from eth_utils import event_abi_to_log_topic
from fastapi.testclient import TestClient
from sqlalchemy import select

from disburse.chain.contracts import load_abi
from disburse.chain.deployment import save
from disburse.console.app import create_app
from disburse.console.config import ConsoleConfig
from disburse.console.users import UserStore
from disburse.index import schema
from disburse.index.fold import Fold, FoldEvent
from disburse.index.store import Cursor, IndexStore
from scripts.bench_index_queries import DEPLOYMENT, _event_row, write_history

REPORT: Final = Path("reports/console-bench.json")
TARGET_P95_MS: Final = 100.0
TARGET_APPEAR_S: Final = 2.0
TARGET_FIRST_LOAD: Final = 1_000_000
PASSWORD: Final = "bench-password-1"
_LINKED = re.compile(r'<(?:script|link)\b[^>]*?(?:src|href)="(/static/[^"]+)"')


class LogEncoder:
    """Topics and data of the escrow's events from their decoded values, by its ABI."""

    def __init__(self) -> None:
        self.events = {
            item["name"]: item for item in load_abi("MilestoneEscrow") if item["type"] == "event"
        }

    def __call__(self, e: FoldEvent) -> tuple[str, str]:
        abi = self.events[e.name]
        topics = ["0x" + event_abi_to_log_topic(abi).hex()]
        data_types, data_values = [], []
        for i, spec in enumerate(abi["inputs"]):
            kind = _canonical(spec)
            value = _fit(kind, e.values[i] if i < len(e.values) else None)
            if spec["indexed"]:
                topics.append("0x" + encode([kind], [value]).hex())
            else:
                data_types.append(kind)
                data_values.append(value)
        return ",".join(topics), "0x" + encode(data_types, data_values).hex()


_ZERO: Final = {"address": "0x" + "00" * 20, "bytes32": b"\0" * 32, "string": "", "bool": False}


def _fit(kind: str, value: Any) -> Any:
    """The synthetic history leaves out values its fold does not read (and gives a few as
    stand-ins): those are encoded as the type's zero."""
    zero = _ZERO.get(kind, 0)
    if value is None or type(value) is not type(zero):
        return zero
    return value


def _canonical(spec: dict[str, Any]) -> str:
    if spec["type"].startswith("tuple"):
        inner = ",".join(_canonical(c) for c in spec["components"])
        return f"({inner}){spec['type'][5:]}"
    return str(spec["type"])


def _ms(samples: list[float]) -> dict[str, float]:
    cuts = quantiles(samples, n=100, method="inclusive")
    return {"p50": round(cuts[49], 2), "p95": round(cuts[94], 2), "max": round(max(samples), 2)}


def _pages(store: IndexStore, rng: random.Random) -> dict[str, Callable[[], str]]:
    with store.engine.connect() as conn:
        programs = [int(r[0]) for r in conn.execute(select(schema.programs.c.program_id))]
        milestones = [
            str(r[0])
            for r in conn.execute(
                select(schema.milestones.c.milestone_id)
                .order_by(schema.milestones.c.milestone_id)
                .limit(5_000)
            )
        ]
        contractors = [
            str(r[0])
            for r in conn.execute(select(schema.milestones.c.beneficiary).distinct().limit(100))
        ]
    return {
        "portfolio": lambda: "/",
        "program": lambda: f"/programs/{rng.choice(programs)}",
        "milestone": lambda: f"/milestones/{rng.choice(milestones)}",
        "council": lambda: "/council",
        "alerts": lambda: "/alerts",
        "events": lambda: "/events",
        "events_of_a_program": lambda: f"/events?program={rng.choice(programs)}",
        "events_of_an_address": lambda: f"/events?address={rng.choice(contractors)}",
        "oracles": lambda: "/oracles",
    }


def _login(client: TestClient | httpx.Client, origin: str) -> None:
    answer = client.post(
        "/login",
        data={"name": "bench", "password": PASSWORD, "next": "/"},
        headers={"Origin": origin},
    )
    if answer.status_code != 303:
        raise RuntimeError(f"login failed: {answer.status_code} {answer.text[:200]}")


def time_pages(app: Any, pages: dict[str, Callable[[], str]], samples: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with TestClient(app, base_url="http://bench.test", follow_redirects=False) as client:
        _login(client, "http://bench.test")
        for name, path_of in pages.items():
            path = path_of()
            first = client.get(path)
            if first.status_code != 200:
                raise RuntimeError(f"{name} {path}: {first.status_code} {first.text[:300]}")
            size = len(first.content) + sum(
                len(client.get(asset).content) for asset in set(_LINKED.findall(first.text))
            )
            took = []
            for _ in range(samples):
                path = path_of()
                started = time.perf_counter()
                answer = client.get(path)
                took.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"{name} {path}: {answer.status_code}")
            figures[name] = {"ms": _ms(took), "first_load_bytes": size}
            print(
                f"  {name:22} p50 {figures[name]['ms']['p50']:7.1f} ms  p95 "
                f"{figures[name]['ms']['p95']:7.1f} ms  first load {size:,} B",
                flush=True,
            )
    return figures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(app: Any, port: int) -> Iterator[uvicorn.Server]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def time_appearance(app: Any, url: str, port: int, samples: int) -> dict[str, Any]:
    """New blocks, each with one funding event of program 1, written as the indexer writes
    them; each timed until the open events page's live fragment lists it."""
    store = IndexStore.open_existing(url, DEPLOYMENT)
    encode_log = LogEncoder()
    fold = Fold()
    origin = f"http://127.0.0.1:{port}"
    took: list[float] = []
    try:
        with (
            _serve(app, port),
            httpx.Client(base_url=origin, follow_redirects=False, timeout=30) as client,
        ):
            _login(client, origin)
            with client.stream("GET", "/live", headers={"Accept": "text/event-stream"}) as live:
                lines = live.iter_lines()
                for _ in range(samples):
                    cursor = store.cursor()
                    assert cursor is not None
                    block, stamp = cursor.number + 1, cursor.timestamp + 12
                    event = FoldEvent(
                        "ProgramFunded", (1, DEPLOYMENT.token, 10**18), block, 0, stamp
                    )
                    new = Cursor(block, "0x" + f"{block:064x}", stamp)
                    started = time.perf_counter()
                    store.write_batch(
                        events=[_event_row(event, *encode_log(event))],
                        folded=[event],
                        blocks={block: (new.hash, stamp)},
                        cursor=new,
                        fold=fold,
                    )
                    for line in lines:
                        if line.startswith("data:") and str(block) in line:
                            break
                    shown = client.get("/events?program=1")
                    if (
                        f'data-block="{block}"' not in shown.text
                        and f">{block:,}<" not in shown.text
                    ):
                        raise RuntimeError(f"block {block} not on the events page once announced")
                    took.append((time.perf_counter() - started) * 1000)
    finally:
        store.close()
    return _ms(took)


def main() -> None:
    events = int(os.environ.get("BENCH_CONSOLE_EVENTS", "1000000"))
    samples = int(os.environ.get("BENCH_CONSOLE_SAMPLES", "100"))
    deadline = float(os.environ.get("BENCH_CONSOLE_DEADLINE_S", "1800"))
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"bench-console: over its {deadline} s"))
    signal.alarm(int(deadline))
    rng = random.Random(13)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as work:
        home = Path(work)
        url = f"sqlite:///{home / 'ledger.db'}"
        started = time.perf_counter()
        held = write_history(url, events, log_of=LogEncoder())
        print(
            f"index of {held:,} events written in {time.perf_counter() - started:.0f} s", flush=True
        )
        save(DEPLOYMENT, home / "deployment.json")
        UserStore(home / "users.db").add("bench", "overseer", PASSWORD)
        config = ConsoleConfig(
            index_url=url,
            deployment=home / "deployment.json",
            users_db=home / "users.db",
            public_origin="http://bench.test",  # the in-process client's name
        )
        app = create_app(config)
        store = IndexStore.open_existing(url, DEPLOYMENT)
        try:
            pages = _pages(store, rng)
        finally:
            store.close()
        figures = time_pages(app, pages, samples)
        served = replace(config, public_origin=None, port=_free_port())
        appear = time_appearance(create_app(served), url, served.port, max(5, samples // 10))
        print(f"  appear p50 {appear['p50']:.0f} ms  p95 {appear['p95']:.0f} ms", flush=True)
    report = {
        "events": held,
        "samples": samples,
        "pages": figures,
        "appear_ms": appear,
        "targets": {
            "page_p95_ms": TARGET_P95_MS,
            "appear_s": TARGET_APPEAR_S,
            "first_load_bytes": TARGET_FIRST_LOAD,
        },
        "met": {
            "page_p95": all(f["ms"]["p95"] < TARGET_P95_MS for f in figures.values()),
            "appear": appear["p95"] < TARGET_APPEAR_S * 1000,
            "first_load": all(f["first_load_bytes"] < TARGET_FIRST_LOAD for f in figures.values()),
        },
    }
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {REPORT}: targets met {report['met']}", flush=True)


if __name__ == "__main__":
    main()

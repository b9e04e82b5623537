"""End-to-end throughput of the oracle nodes (`make bench-oracle`).

    brownie run scripts/bench_oracle.py [--network NAME]

Deploys escrow, council and token on a development network, with a committee of three oracle
keys and a quorum of two. Two programs with a zero challenge window (one per phase) are funded
and get `BENCH_ORACLE_MILESTONES` milestones each, registered with `registerMilestones` in
batches of 100 (untimed), under one specification: one required document, two claims, one
approval of two inspectors (the tests' kind). Every evidence body (claims, document reference,
inspector approval signed over its subject hash) is made before anything is timed.

Then, per phase, three fresh `oracle run` processes (oracle.localnodes; own homes, journals and
ports; poll_interval_s 0.1) get the specification and the document and are left to read the
chain's history up to the phase's first block (all untimed: a node that runs all along has done
that long before), and three driver threads, one per node, send every milestone's evidence:

- "unbatched", the simplest path: every node sends one `attest` transaction per attestation
  (`submission: direct`); evidence goes in one `POST /v1/evidence` per milestone. Only node0
  releases (`release: true`, `release_batch_size: 1`, one `release` transaction per milestone):
  in production any node may release, here one does so that racing releases do not inflate the
  transaction count.
- "batched": node2 relays (`relay: true`, `batch_size` 200, `batch_delay_s` 0.2) and releases
  (`release_batch_size` 200); node0 and node1 hand their signatures to node2's API
  (`submission: relay`, `relayer_url`). node2 is `submission: relay` too, and by default hands its
  own signatures to its batch in process (a relaying node may leave `relayer_url` out); with
  BENCH_ORACLE_SELF_RELAY=url it posts them to its own API instead, which works as well (the
  API and the worker are separate threads). Evidence goes in through `POST /v1/evidence/batch`,
  `BENCH_ORACLE_CHUNK` items per request.

`release_batch_size` is only written into a node's settings when oracle/config.py knows it (the
report says whether it did); without it, a releasing node sends one `release` per milestone.

Measurement (one clock, time.perf_counter, in this process):
- t0 is taken just before the first evidence request; a milestone's `accepted` time is when the
  first node's response accepting it arrived (for a batch, the response to the whole chunk).
- A watcher thread polls `eth_getLogs` (`ChainClient.raw_logs`, topic-filtered: the escrow's
  MilestoneReleased, counting only the phase's milestones) every 20 ms; a milestone's `released`
  time is when its event was first seen. "Release mined" is thus observed by a 20 ms log poll,
  an upper bound, because anvil's block timestamps have a resolution of one second. The same poll
  notes when each milestone was first seen verified (MilestoneVerified), which splits the latency:
  `p50_accepted_to_verified_s`, `p50_verified_to_released_s`, and `last_verified_s` (from t0).
- The phase ends when all N milestones have been seen released: `milestones_per_s` is
  N / (t_end - t0); latency is released - accepted per milestone, and p50/p95 are nearest-rank
  percentiles (the smallest value with at least p% of the values at or below it).
- `tx_per_milestone` and `gas_per_milestone`: every transaction to the escrow (attest,
  attestWithSignatures, release, releaseBatch) mined from the phase's first block until the
  phase's nodes were stopped (so late ones, mined after the last release, count too; they are
  also shown as `tx_after_end`), failed ones included (and counted in `failed_tx`), over N;
  gas is the receipts' gasUsed.
- Where the time goes: `cpu_s`, the CPU seconds each node, anvil and this process (drivers and
  watcher) used from t0 to the last release, and `cpu_busy`, their sum over wall time x cores.
- Correctness, checked after the nodes stop: each of the phase's milestones has exactly one
  MilestoneReleased event, and the beneficiary's balance rose by exactly N x amount; anything
  else ends the benchmark with an error.
- An evidence request refused with 409 (the milestone is no longer Registered: two other nodes
  already brought it to quorum, so this node's evidence is no longer needed) is counted in
  `late_refusals` and is not an error; any other refusal is.

The report, reports/oracle-bench.json, has the issue's figures of the batched phase at the top
(`milestones_per_s`, `p50_latency_s`, `p95_latency_s`, `tx_per_milestone`, `gas_per_milestone`),
`unbatched_milestones_per_s`, `speedup`, the targets, and every figure of both phases under
`phases` (when one phase only is run, the batched keys are null and `meets_target` is false).
Node homes (logs, journals, each node's /metrics at the end of its phase) stay in a
temporary folder whose path is printed.

- "batched-2s": the batched path again, with the chain making a block every 2 seconds (QBFT's
  usual block period; anvil's interval mining, as `anvil --block-time 2`, switched on for the
  phase once the nodes have caught up, and off after it). Beside what it achieves, the report
  gives the chain's capacity for this workload: block gas limit / gas per milestone / block
  period (`capacity_milestones_per_s`, and `capacity_used`, achieved over capacity).

The chain is started by `make bench-oracle` with explicit parameters
(disburse.chain.localchain: block gas limit 30,000,000, base fee 0), never from brownie's
~/.brownie settings; the benchmark refuses a chain whose block gas limit is lower. The whole
benchmark has a deadline (BENCH_ORACLE_DEADLINE_S): past it, it stops its nodes and exits with
status 3, naming what it was waiting for.

Settings from the environment:
    BENCH_ORACLE_MILESTONES   milestones per phase (default 1,000)
    BENCH_ORACLE_CHUNK        evidence items per batch request in the batched phase (default 100)
    BENCH_ORACLE_PHASES       phases to run, comma-separated (default
                              "unbatched,batched,batched-2s")
    BENCH_ORACLE_DEADLINE_S   the whole benchmark's deadline (default 900)
    BENCH_ORACLE_TIMEOUT_S    longest a phase may take, from t0 (default 600)
    BENCH_ORACLE_SELF_RELAY   `local` (default) or `url`: how node2 relays its own signatures
    BENCH_ORACLE_LOG_LEVEL    the nodes' log level (default INFO, as `oracle run`; the tests'
                              nodes log at DEBUG, every JSON-RPC request, which costs throughput)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from brownie import accounts, chain, web3
from brownie.network import rpc
from eth_account import Account
from eth_utils import keccak
from pydantic import ValidationError

from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.client import ChainClient, FunctionCodec
from disburse.chain.contracts import load_abi
from disburse.chain.deployment import save
from disburse.chain.errors import ChainError
from disburse.chain.specs import spec_hash
from oracle.config import NodeSettings
from oracle.evidence import EvidenceCreate, sign_inspector_approval, subject_hash
from oracle.localnodes import ORACLE, NodeProcess, make_node
from scripts.bench_common import BENCH_FACTS, BenchError, Deadline, bench_client, check_chain
from scripts.deploy import deploy, is_local

REPORT = Path("reports/oracle-bench.json")
UNIT = 10**18
AMOUNT = 1_000 * UNIT
REGISTER_BATCH = 100
TARGET_MILESTONES_PER_S = 200
TARGET_SPEEDUP = 5
WATCH_INTERVAL_S = 0.02
PHASES = ("unbatched", "batched", "batched-2s")
BLOCK_PERIOD_S = {"batched-2s": 2}
"""Phases run with interval mining (seconds between blocks); the others mine every transaction."""
RELEASED_TOPIC = "0x" + keccak(text="MilestoneReleased(bytes32,uint256,address,uint256)").hex()
VERIFIED_TOPIC = "0x" + keccak(text="MilestoneVerified(bytes32,bytes32,uint8)").hex()
INSPECTORS = [Account.from_key(keccak(text=f"bench-oracle-inspector-{i}")) for i in range(2)]
SPEC = f"""version: 1
title: Benchmark delivery
required_documents:
  - {{name: delivery-note.pdf, media_type: application/pdf}}
claims:
  - {{name: units_delivered, kind: number, op: ">=", value: 50}}
  - {{name: acceptance_test_passed, kind: boolean, value: true}}
approvals:
  inspectors: ["{INSPECTORS[0].address}", "{INSPECTORS[1].address}"]
  required: 1
check_deadline: true
""".encode()
DOCUMENT_NAME = "delivery-note.pdf"
DOCUMENT = b"%PDF-1.7 benchmark delivery note, 50 units\n"
CLAIMS = {"units_delivered": 50, "acceptance_test_passed": True}


# --- chain reads (through the client's raw requests and log streams) -------------------------


def _released_logs(
    client: ChainClient, *, escrow: str, program: int, from_block: int, to_block: int
) -> list[dict[str, Any]]:
    topics = [RELEASED_TOPIC, None, "0x" + program.to_bytes(32, "big").hex()]
    return client.raw_logs(escrow, from_block=from_block, to_block=to_block, topics=topics)


class ReleaseWatch(threading.Thread):
    """Polls the escrow's MilestoneReleased and MilestoneVerified events every 20 ms, and notes
    when each of the phase's milestones was first seen verified and released."""

    def __init__(
        self, *, client: ChainClient, escrow: str, wanted: set[str], from_block: int
    ) -> None:
        super().__init__(name="release-watch", daemon=True)
        self.client = client
        self.escrow = escrow
        self.wanted = wanted
        self.cursor = from_block
        self.released: dict[str, float] = {}
        self.verified: dict[str, float] = {}
        self.tx_hashes: set[str] = set()
        self.done = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self._poll():
                    self.done.set()
                    return
                time.sleep(WATCH_INTERVAL_S)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.done.set()

    def _poll(self) -> bool:
        head = self.client.block_number()
        if head < self.cursor:
            return False
        logs = self.client.raw_logs(
            self.escrow,
            from_block=self.cursor,
            to_block=head,
            topics=[[RELEASED_TOPIC, VERIFIED_TOPIC]],
        )
        seen = time.perf_counter()
        for entry in logs:
            mid = entry["topics"][1].lower()
            if mid not in self.wanted:
                continue
            if entry["topics"][0] == RELEASED_TOPIC:
                self.released.setdefault(mid, seen)
                self.tx_hashes.add(entry["transactionHash"])
            else:
                self.verified.setdefault(mid, seen)
        self.cursor = head + 1
        return len(self.released) >= len(self.wanted)


def _transactions(
    client: ChainClient, *, escrow: str, first_block: int, last_block: int, end_block: int
) -> dict[str, Any]:
    """Every transaction to the escrow mined in [first_block, last_block], with its gas."""
    codec = FunctionCodec(escrow, load_abi("MilestoneEscrow"))
    count = failed = gas = after_end = 0
    by_function: Counter[str] = Counter()
    by_sender: Counter[str] = Counter()
    target = escrow.lower()
    for start in range(first_block, last_block + 1, 50):  # 50 blocks in memory at a time
        numbers = range(start, min(start + 50, last_block + 1))
        blocks = client.batch(
            [("eth_getBlockByNumber", [hex(n), True]) for n in numbers], what="the phase's blocks"
        )
        receipts = client.batch(
            [("eth_getBlockReceipts", [hex(n)]) for n in numbers], what="the phase's receipts"
        )
        for number, block, block_receipts in zip(numbers, blocks, receipts, strict=True):
            by_hash = {r["transactionHash"]: r for r in block_receipts}
            for tx in block["transactions"]:
                if (tx.get("to") or "").lower() != target:
                    continue
                receipt = by_hash[tx["hash"]]
                count += 1
                gas += int(receipt["gasUsed"], 16)
                if int(receipt["status"], 16) != 1:
                    failed += 1
                if number > end_block:
                    after_end += 1
                selector = bytes.fromhex(tx["input"][2:10])
                by_function[codec.name_of(selector) or tx["input"][:10]] += 1
                by_sender[tx["from"]] += 1
    return {
        "count": count,
        "failed": failed,
        "gas": gas,
        "after_end": after_end,
        "by_function": dict(by_function),
        "by_sender": dict(by_sender),
    }


# --- evidence --------------------------------------------------------------------------------


def _document_ref() -> dict[str, Any]:
    return {
        "name": DOCUMENT_NAME,
        "sha256": hashlib.sha256(DOCUMENT).hexdigest(),
        "size": len(DOCUMENT),
        "media_type": "application/pdf",
    }


def _evidence(milestone: bytes) -> dict[str, Any]:
    """The body of POST /v1/evidence for one milestone, with an inspector's approval."""
    body: dict[str, Any] = {
        "milestone_id": "0x" + milestone.hex(),
        "documents": [_document_ref()],
        "claims": dict(CLAIMS),
        "approvals": [],
    }
    subject = subject_hash(EvidenceCreate.model_validate(body))
    inspector = INSPECTORS[0]
    body["approvals"] = [
        {
            "inspector": inspector.address,
            "signature": sign_inspector_approval(inspector.key, subject),
        }
    ]
    return body


# --- chain setup -----------------------------------------------------------------------------


def _program(
    *, escrow: Any, token: Any, manager: Any, beneficiary: str, label: str, count: int
) -> tuple[int, list[bytes]]:
    """A funded program with a zero challenge window and `count` registered milestones."""
    program = int(
        escrow.createProgram(
            token, manager, 0, BENCH_FACTS.as_arg(), {"from": manager}
        ).return_value
    )
    token.approve(escrow, count * AMOUNT, {"from": manager})
    escrow.fund(program, count * AMOUNT, {"from": manager})
    deadline = chain.time() + 365 * 86_400
    digest = spec_hash(SPEC)
    refs = [external_ref(f"BENCH-{label}-{i}") for i in range(count)]
    for start in range(0, count, REGISTER_BATCH):
        batch = [
            (ref, beneficiary, AMOUNT, deadline, digest)
            for ref in refs[start : start + REGISTER_BATCH]
        ]
        escrow.registerMilestones(program, batch, {"from": manager})
    return program, [milestone_id(program, ref) for ref in refs]


@dataclass
class Setup:
    rpc_url: str
    chain_id: int
    client: ChainClient
    deployment_file: Path
    escrow: Any
    token: Any
    keys: list[str]
    root: Path


# --- nodes -----------------------------------------------------------------------------------


def _nodes(setup: Setup, phase: str, self_relay: str) -> tuple[list[NodeProcess], str]:
    """Three nodes set up for the phase, and how the relaying node hands over its own
    signatures ("local": in process, without a relayer_url; "url": through its own API)."""
    nodes = [
        make_node(
            name=f"{phase}-node{i}",
            root=setup.root,
            private_key=setup.keys[i],
            rpc_url=setup.rpc_url,
            chain_id=setup.chain_id,
            deployment_file=setup.deployment_file,
            poll_interval_s=0.1,
            chain={"receipt_timeout_s": 30},
        )
        for i in range(3)
    ]
    release_batch = 1 if phase == "unbatched" else 200
    extra = {"release_batch_size": release_batch}
    if phase == "unbatched":
        for i, node in enumerate(nodes):
            node.write_config(submission="direct", release=i == 0, **extra)
        return nodes, ""
    relayer = nodes[2]
    key_file = relayer.home / "relay-key"
    key_file.write_text(relayer.add_api_key("oracle-peers", role="oracle"))
    for node in nodes:
        node.write_config(
            submission="relay",
            relayer_url=relayer.url,
            relayer_api_key_file=str(key_file),
            release=node is relayer,
            **(extra if node is relayer else {}),
        )
    relayer.write_config(relay=True, batch_size=200, batch_delay_s=0.2)
    if self_relay == "local":
        local = {**relayer.settings, "relayer_url": None, "relayer_api_key_file": None}
        try:
            NodeSettings.model_validate(local)
        except ValidationError:
            self_relay = "url"  # this node version needs a relayer_url even on the relayer
        else:
            relayer.write_config(relayer_url=None, relayer_api_key_file=None)
    return nodes, self_relay


def _start(node: NodeProcess, log_level: str) -> None:
    """Starts the node as `NodeProcess.start` does, but at the given log level: `start` always
    logs at DEBUG (every JSON-RPC request, several lines each, through the redacting formatter),
    which is the tests' need, not an operator's."""
    with open(node.log_path, "ab") as log:  # the child has its own copy of the descriptor
        node.process = subprocess.Popen(
            [str(ORACLE), "run", "--config", str(node.config), "--log-level", log_level],
            stdout=log,
            stderr=log,
            env=node.env(),
        )
    node.wait_healthy()


def _caught_up(node: NodeProcess, block: int, timeout_s: float, deadline: Deadline) -> None:
    """Waits until the node's watcher has read the chain up to `block`: a fresh node reads the
    escrow's history from the deployment block (an earlier phase's thousands of events), which
    a node that runs all along has long done, so it is not part of the timed work."""
    deadline.waiting_for(f"{node.name} to read the chain up to block {block} (/healthz cursor)")
    limit = time.monotonic() + min(timeout_s, deadline.remaining())
    while time.monotonic() < limit:
        health = httpx.get(node.url + "/healthz", timeout=5).json()
        if int(health.get("cursor") or 0) >= block:
            return
        time.sleep(0.1)
    raise SystemExit(f"{node.name} did not catch up with the chain in {timeout_s:.0f} s")


def _prepare(node: NodeProcess) -> None:
    """Uploads the specification and the document."""
    with node.http() as http:
        r = http.post("/v1/specs", content=SPEC)
        if r.status_code != 201:
            raise SystemExit(f"{node.name} refused the specification: {r.status_code} {r.text}")
        r = http.post("/v1/documents", content=DOCUMENT)
        if r.status_code != 201:
            raise SystemExit(f"{node.name} refused the document: {r.status_code} {r.text}")


@dataclass
class Intake:
    """What the driver threads saw, shared between them."""

    accepted: list[float | None]
    lock: threading.Lock = field(default_factory=threading.Lock)
    late: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)

    def mark(self, indexes: range | list[int], at: float) -> None:
        with self.lock:
            for i in indexes:
                if self.accepted[i] is None:
                    self.accepted[i] = at


def _drive(
    node: NodeProcess, bodies: list[dict[str, Any]], intake: Intake, *, chunk: int | None
) -> None:
    """Sends every body to one node: one request each, or `chunk` per batch request."""
    try:
        with httpx.Client(
            base_url=node.url, headers={"X-API-Key": node.api_key}, timeout=300
        ) as http:
            step = chunk or 1
            for start in range(0, len(bodies), step):
                indexes = range(start, min(start + step, len(bodies)))
                if chunk is None:
                    r = http.post("/v1/evidence", json=bodies[start])
                else:
                    r = http.post(
                        "/v1/evidence/batch", json={"items": [bodies[i] for i in indexes]}
                    )
                at = time.perf_counter()
                with intake.lock:
                    intake.requests += 1
                if r.status_code == 202:
                    intake.mark(indexes, at)
                elif r.status_code == 409:
                    with intake.lock:
                        intake.late += len(indexes)
                else:
                    raise RuntimeError(f"{node.name} answered {r.status_code}: {r.text[:500]}")
    except Exception as exc:
        with intake.lock:
            intake.errors.append(f"{node.name}: {exc}")
    finally:
        with intake.lock:
            intake.done_at.append(time.perf_counter())


def _processes(nodes: list[NodeProcess]) -> dict[str, psutil.Process]:
    """The processes whose CPU time is measured: the nodes, the chain (when brownie started
    it) and this one (driver and watcher threads; nothing else runs here meanwhile)."""
    found = {
        node.name.split("-")[-1]: psutil.Process(node.process.pid) for node in nodes if node.process
    }
    if isinstance(rpc.process, psutil.Process):
        found["anvil"] = rpc.process
    found["bench"] = psutil.Process()
    return found


def _cpu(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """User and system CPU seconds of each process so far."""
    found = {}
    for name, process in processes.items():
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            found[name] = times.user + times.system
    return found


def _nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _tail(node: NodeProcess, lines: int = 40) -> str:
    return "\n".join(node.logs().splitlines()[-lines:])


def _phase(
    setup: Setup,
    *,
    phase: str,
    program: int,
    milestones: list[bytes],
    bodies: list[dict[str, Any]],
    beneficiary: str,
    chunk: int,
    timeout_s: float,
    log_level: str,
    self_relay: str,
    deadline: Deadline,
) -> dict[str, Any]:
    n = len(milestones)
    batched = phase != "unbatched"
    period = BLOCK_PERIOD_S.get(phase)
    nodes, self_relay = _nodes(setup, phase, self_relay)
    deadline.on_expiry(lambda: [node.stop() for node in nodes])
    before = int(setup.token.balanceOf(beneficiary))
    watch: ReleaseWatch | None = None
    try:
        # The relaying node first: a node that hands over reports itself unhealthy (503) while
        # its relayer is not up yet.
        for node in sorted(nodes, key=lambda n: not n.settings.get("relay", False)):
            deadline.waiting_for(f"{node.name} to start and answer /healthz")
            _start(node, log_level)
            _prepare(node)
        start_block = web3.eth.block_number
        for node in nodes:
            _caught_up(node, start_block, timeout_s, deadline)
        if period is not None:
            _interval_mining(setup.client, period)
        watch = ReleaseWatch(
            client=setup.client,
            escrow=setup.escrow.address,
            wanted={"0x" + m.hex() for m in milestones},
            from_block=start_block + 1,
        )
        intake = Intake(accepted=[None] * n)
        drivers = [
            threading.Thread(
                target=_drive,
                args=(node, bodies, intake),
                kwargs={"chunk": chunk if batched else None},
                name=f"driver-{node.name}",
                daemon=True,
            )
            for node in nodes
        ]
        processes = _processes(nodes)
        cpu_before = _cpu(processes)
        watch.start()
        t0 = time.perf_counter()
        for driver in drivers:
            driver.start()
        limit = t0 + min(timeout_s, deadline.remaining())
        running = watch
        deadline.waiting_for(
            lambda: (
                f"{phase}: {n:,} milestones to be released ({len(running.verified):,} seen "
                f"verified, {len(running.released):,} released, {intake.requests:,} evidence "
                "requests answered)"
            )
        )
        while not watch.done.is_set():
            if intake.errors:
                raise SystemExit(f"{phase}: evidence refused: {'; '.join(intake.errors)}")
            if time.perf_counter() > limit:
                print(
                    f"{phase}: timed out after {limit - t0:.0f} s: "
                    f"{len(watch.released)} of {n} released"
                )
                for node in nodes:
                    print(f"--- {node.name} ({node.log_path}):\n{_tail(node)}")
                raise SystemExit(
                    f"{phase}: timed out after {limit - t0:.0f} s waiting for {n:,} releases: "
                    f"{len(watch.verified):,} seen verified, {len(watch.released):,} released"
                )
            watch.done.wait(0.1)
        if watch.error is not None:
            raise SystemExit(f"{phase}: the release watcher failed: {watch.error}")
        t_end = max(watch.released.values())
        cpu_used = {k: round(v - cpu_before.get(k, 0.0), 2) for k, v in _cpu(processes).items()}
        end_block = web3.eth.block_number
        for driver in drivers:
            driver.join(timeout=30)
        intake_s = max(intake.done_at) - t0 if intake.done_at else float("nan")
        for node in nodes:
            try:
                (node.home / "metrics.txt").write_bytes(
                    httpx.get(node.url + "/metrics", timeout=5).content
                )
            except httpx.HTTPError:
                pass
    finally:
        if watch is not None:
            watch.stop.set()
        deadline.waiting_for(f"{phase}: its nodes to stop")
        for node in nodes:
            node.stop()
        if period is not None:
            _automine(setup.client)
    deadline.waiting_for(f"{phase}: the correctness checks (transactions, releases, balance)")
    last_block = web3.eth.block_number
    txs = _transactions(
        setup.client,
        escrow=setup.escrow.address,
        first_block=start_block + 1,
        last_block=last_block,
        end_block=end_block,
    )
    # Correctness, from a fresh read once the nodes are stopped.
    logs = _released_logs(
        setup.client,
        escrow=setup.escrow.address,
        program=program,
        from_block=start_block + 1,
        to_block=last_block,
    )
    per_id = Counter(entry["topics"][1].lower() for entry in logs)
    wanted = {"0x" + m.hex() for m in milestones}
    wrong = {m: c for m, c in per_id.items() if m not in wanted or c != 1}
    missing = wanted - set(per_id)
    if wrong or missing:
        raise SystemExit(
            f"{phase}: releases are not exactly one per milestone: {len(missing)} missing, "
            f"{len(wrong)} released other than once (e.g. {list(wrong.items())[:3]})"
        )
    paid = int(setup.token.balanceOf(beneficiary)) - before
    if paid != n * AMOUNT:
        raise SystemExit(f"{phase}: the beneficiary received {paid}, expected {n * AMOUNT}")
    latencies: list[float] = []
    to_verified: list[float] = []
    verified_to_released: list[float] = []
    for i, m in enumerate(milestones):
        accepted = intake.accepted[i]
        if accepted is None:
            raise SystemExit(f"{phase}: milestone 0x{m.hex()} released but no node accepted it")
        released = watch.released["0x" + m.hex()]
        verified = watch.verified.get("0x" + m.hex(), released)
        latencies.append(released - accepted)
        to_verified.append(verified - accepted)
        verified_to_released.append(released - verified)
    wall = t_end - t0
    figures = {
        "milestones": n,
        "milestones_per_s": round(n / wall, 1),
        "p50_latency_s": round(_nearest_rank(latencies, 0.50), 3),
        "p95_latency_s": round(_nearest_rank(latencies, 0.95), 3),
        "max_latency_s": round(max(latencies), 3),
        "p50_accepted_to_verified_s": round(_nearest_rank(to_verified, 0.50), 3),
        "p50_verified_to_released_s": round(_nearest_rank(verified_to_released, 0.50), 3),
        "last_verified_s": round(max(watch.verified.values(), default=t_end) - t0, 3),
        "tx_per_milestone": round(txs["count"] / n, 3),
        "gas_per_milestone": round(txs["gas"] / n),
        "transactions": txs["count"],
        "failed_tx": txs["failed"],
        "tx_after_end": txs["after_end"],
        "tx_by_function": txs["by_function"],
        "tx_by_node": {
            node.name: txs["by_sender"].get(Account.from_key(node.private_key).address.lower(), 0)
            for node in nodes
        },
        "release_transactions": len(watch.tx_hashes),
        "evidence_requests": intake.requests,
        "late_refusals": intake.late,
        "intake_s": round(intake_s, 3),
        "wall_s": round(wall, 3),
        "blocks": end_block - start_block,
        "cpu_s": cpu_used,
        "cpu_busy": round(sum(cpu_used.values()) / (wall * (os.cpu_count() or 1)), 2),
        "settings": {
            "submission": "direct" if not batched else "relay to node2",
            "node2_own_signatures": (
                None
                if not batched
                else "in process (no relayer_url)"
                if self_relay == "local"
                else "through its own /v1/relay"
            ),
            "evidence_per_request": chunk if batched else 1,
            "releasing_node": "node0" if not batched else "node2",
            "release_batch_size": 1 if not batched else 200,
            "relay_batch_size": 200 if batched else None,
            "relay_batch_delay_s": 0.2 if batched else None,
        },
    }
    if period is not None:
        gas_limit = int(web3.eth.get_block("latest")["gasLimit"])
        capacity = gas_limit / max(1, figures["gas_per_milestone"]) / period
        figures["block_period_s"] = period
        figures["block_gas_limit"] = gas_limit
        figures["capacity_milestones_per_s"] = round(capacity, 1)
        figures["capacity_used"] = round(figures["milestones_per_s"] / capacity, 2)
        figures["capacity"] = (
            "block gas limit / gas per milestone / block period: the most this workload can "
            "pay per second on this chain, whatever the nodes do"
        )
    return figures


def _interval_mining(client: ChainClient, period: int) -> None:
    """A block every `period` seconds, as a QBFT network makes them (anvil --block-time)."""
    for method, params in (("evm_setAutomine", [False]), ("evm_setIntervalMining", [period])):
        try:
            client.request(method, params, what=method)
        except ChainError as exc:
            raise SystemExit(f"the chain refused {method}: {exc}") from None


def _automine(client: ChainClient) -> None:
    client.request("evm_setIntervalMining", [0], what="evm_setIntervalMining")
    client.request("evm_setAutomine", [True], what="evm_setAutomine")


def main() -> None:
    if not is_local():
        raise SystemExit("the benchmark runs oracle nodes on a development chain only")
    started = time.perf_counter()
    deadline = Deadline("bench-oracle", float(os.environ.get("BENCH_ORACLE_DEADLINE_S", "900")))
    try:
        gas_limit = check_chain(web3, name="bench-oracle")
    except BenchError as exc:
        raise SystemExit(str(exc)) from None
    count = int(os.environ.get("BENCH_ORACLE_MILESTONES", "1000"))
    chunk = int(os.environ.get("BENCH_ORACLE_CHUNK", "100"))
    timeout_s = float(os.environ.get("BENCH_ORACLE_TIMEOUT_S", "600"))
    log_level = os.environ.get("BENCH_ORACLE_LOG_LEVEL", "INFO").upper()
    self_relay = os.environ.get("BENCH_ORACLE_SELF_RELAY", "local")
    if self_relay not in ("local", "url"):
        raise SystemExit("BENCH_ORACLE_SELF_RELAY is `local` or `url`")
    phases = [p.strip() for p in os.environ.get("BENCH_ORACLE_PHASES", ",".join(PHASES)).split(",")]
    unknown = [p for p in phases if p not in PHASES]
    if unknown or not phases:
        raise SystemExit(f"BENCH_ORACLE_PHASES: unknown phase(s) {unknown}; choose from {PHASES}")
    if not 1 <= chunk <= 1000:
        raise SystemExit("BENCH_ORACLE_CHUNK must be between 1 and 1,000")

    keys = ["0x" + keccak(text=f"bench-oracle-node-{i}").hex() for i in range(3)]
    oracles = [Account.from_key(k).address for k in keys]
    manager = accounts[1]
    deadline.waiting_for("the deployment of escrow, council and token")
    record, escrow, _council, token = deploy(
        deployer=accounts[0],
        council_members=[str(a) for a in accounts[7:10]],
        threshold=2,
        oracles=oracles,
        quorum=2,
        managers=[str(manager)],
        with_token=True,
        evm_version="cancun",
    )
    for oracle in oracles:  # gas is free on the development chain; a balance costs nothing
        accounts[0].transfer(oracle, 10**18)
    token.mint(manager, len(phases) * count * AMOUNT, {"from": accounts[0]})
    root = Path(tempfile.mkdtemp(prefix="bench-oracle-"))
    print(f"node homes and logs under {root}", flush=True)
    deployment_file = root / "deployment.json"
    save(record, deployment_file)
    rpc_url = str(web3.provider.endpoint_uri)
    setup = Setup(
        rpc_url=rpc_url,
        chain_id=chain.id,
        client=bench_client(rpc_url, chain_id=chain.id),
        deployment_file=deployment_file,
        escrow=escrow,
        token=token,
        keys=keys,
        root=root,
    )
    beneficiaries = {
        "unbatched": str(accounts[3]),
        "batched": str(accounts[4]),
        "batched-2s": str(accounts[5]),
    }
    labels = {"unbatched": "U", "batched": "B", "batched-2s": "Q"}
    plans: dict[str, tuple[int, list[bytes], list[dict[str, Any]]]] = {}
    for phase in phases:
        deadline.waiting_for(f"{phase}: registering {count:,} milestones")
        program, milestones = _program(
            escrow=escrow,
            token=token,
            manager=manager,
            beneficiary=beneficiaries[phase],
            label=labels[phase],
            count=count,
        )
        plans[phase] = (program, milestones, [_evidence(m) for m in milestones])
        print(f"{phase}: program {program}, {count:,} milestones registered", flush=True)

    results: dict[str, dict[str, Any]] = {}
    for phase in phases:
        program, milestones, bodies = plans[phase]
        results[phase] = _phase(
            setup,
            phase=phase,
            program=program,
            milestones=milestones,
            bodies=bodies,
            beneficiary=beneficiaries[phase],
            chunk=chunk,
            timeout_s=timeout_s,
            log_level=log_level,
            self_relay=self_relay,
            deadline=deadline,
        )
        print(f"{phase}: {json.dumps(results[phase])}", flush=True)
    deadline.finish()

    batched = results["batched"] if "batched" in results else None
    unbatched = results["unbatched"] if "unbatched" in results else None
    qbft = results.get("batched-2s")
    speedup = (
        round(batched["milestones_per_s"] / unbatched["milestones_per_s"], 2)
        if batched and unbatched
        else None
    )
    result = {
        "milestones_per_s": batched["milestones_per_s"] if batched else None,
        "p50_latency_s": batched["p50_latency_s"] if batched else None,
        "p95_latency_s": batched["p95_latency_s"] if batched else None,
        "tx_per_milestone": batched["tx_per_milestone"] if batched else None,
        "gas_per_milestone": batched["gas_per_milestone"] if batched else None,
        "unbatched_milestones_per_s": unbatched["milestones_per_s"] if unbatched else None,
        "speedup": speedup,
        "block_period_2s": (
            {
                "milestones_per_s": qbft["milestones_per_s"],
                "capacity_milestones_per_s": qbft["capacity_milestones_per_s"],
                "capacity_used": qbft["capacity_used"],
                "gas_per_milestone": qbft["gas_per_milestone"],
                "block_gas_limit": qbft["block_gas_limit"],
                "p50_latency_s": qbft["p50_latency_s"],
            }
            if qbft
            else None
        ),
        "block_gas_limit": gas_limit,
        "milestones": count,
        "cores": os.cpu_count(),
        "target_milestones_per_s": TARGET_MILESTONES_PER_S,
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": bool(
            batched
            and speedup is not None
            and batched["milestones_per_s"] >= TARGET_MILESTONES_PER_S
            and speedup >= TARGET_SPEEDUP
        ),
        "node_log_level": log_level,
        "phases": results,
        "timing": (
            "t0 just before the first evidence request; accepted = first node's 202 for the "
            "milestone; released = first seen by a 20 ms eth_getLogs poll (an upper bound on "
            "mining; anvil block timestamps have 1 s resolution); milestones_per_s = N / (last "
            "release seen - t0); p50/p95 nearest-rank"
        ),
        "bench_wall_s": round(time.perf_counter() - started, 1),
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n")

    print(
        f"\n{'phase':<10} {'per s':>8} {'p50 s':>8} {'p95 s':>8} {'tx/m':>7} {'gas/m':>9} "
        f"{'failed':>6}"
    )
    for name, f in results.items():
        print(
            f"{name:<10} {f['milestones_per_s']:>8} {f['p50_latency_s']:>8} "
            f"{f['p95_latency_s']:>8} {f['tx_per_milestone']:>7} {f['gas_per_milestone']:>9,} "
            f"{f['failed_tx']:>6}"
        )
    print(
        f"{count:,} milestones per phase on {os.cpu_count()} cores; speedup {speedup}; target "
        f"{TARGET_MILESTONES_PER_S} milestones/s and {TARGET_SPEEDUP}x: "
        f"{'met' if result['meets_target'] else 'not met'}; written to {REPORT}; node logs under "
        f"{root}"
    )
    if qbft:
        print(
            f"with a block every {qbft['block_period_s']} s: {qbft['milestones_per_s']} "
            f"milestones/s achieved, capacity {qbft['capacity_milestones_per_s']} milestones/s "
            f"(block gas limit {qbft['block_gas_limit']:,} / {qbft['gas_per_milestone']:,} gas "
            f"per milestone / {qbft['block_period_s']} s)"
        )

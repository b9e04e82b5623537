"""The audit benchmark (`make bench-audit`, through scripts/bench_audit.py): a long history built
on a development chain as fast as the chain takes it, then `disburse audit --json` timed on it.

History. Programs are funded, milestones registered a few hundred per transaction
(`registerMilestones`), and attested by an eight-oracle committee as relayed EIP-712 signatures, a
few hundred milestones per `attestWithSignatures` (eight AttestationRecorded and one
MilestoneVerified each). Every round also has disputes, releases (some at the very end of the
challenge window), an expiry, and council proposals that freeze and cancel, force-release and
resolve a dispute, so that every rule of the audit runs. Transactions go to the development node's
unlocked accounts (`eth_sendTransaction`); signatures are made here with coincurve.

Measurement. The audit runs in a child process exactly as `disburse audit --json` (the root
callback and the command, from disburse.cli), timed inside the child from the command's start to
the last byte written; the child's peak RSS is its VmHWM. A second child runs the same
engine under tracemalloc to split memory into the report the audit keeps (`report_mb`) and the
working memory on top of it (`working_mb`: the window of logs being read, the output being
written); run at half and at the full history, the working memory stays flat while the report
grows with it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import coincurve
import typer
from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak
from web3 import Web3

from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.client import ChainClient
from disburse.chain.deployment import Deployment
from disburse.chain.errors import ChainError, ContractRevertError, TransactionTimeoutError
from disburse.chain.escrow import ProgramFacts
from disburse.chain.profile import ChainProfile
from disburse.index.store import with_database

DAY = 86_400
BENCH_FACTS = ProgramFacts(
    title="Benchmark program",
    organisation="ATLA",
    category="research",
    fiscal_year=2027,
    baseline=2**127,
)
"""The facts of the benchmarks' and the gas table's programs: a baseline nothing reaches."""
UNIT = 10**18
WINDOW = DAY
GAS = 29_000_000
REGISTER_BATCH = 300
ATTEST_BATCH = 300
TARGET_EVENTS_PER_S = 20_000

_DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_ATTESTATION_TYPEHASH = keccak(
    text="Attestation(bytes32 milestoneId,bytes32 evidenceHash,uint16 epoch,uint8 termsVersion)"
)


def _calldata(signature: str, types: Sequence[str], args: Sequence[Any]) -> str:
    return "0x" + (keccak(text=signature)[:4] + encode(list(types), list(args))).hex()


class BenchError(RuntimeError):
    """The history could not be built as planned."""


CHAIN_GAS_LIMIT = 30_000_000
"""The block gas limit the benchmarks' chain is started with (`make bench-*` starts it through
disburse.chain.localchain); a chain with less cannot take their transactions."""


def check_chain(w3: Web3, *, name: str) -> int:
    """The chain's block gas limit; BenchError when it is below CHAIN_GAS_LIMIT (a chain brownie
    launched from a fresh ~/.brownie has 12,000,000)."""
    limit = int(w3.eth.get_block("latest")["gasLimit"])
    if limit < CHAIN_GAS_LIMIT:
        raise BenchError(
            f"{name}: the chain's block gas limit is {limit:,}, below the {CHAIN_GAS_LIMIT:,} the "
            "benchmark is built for: run it with `make`, which starts its chain with explicit "
            "parameters (python -m disburse.chain.localchain --gas-limit ...)"
        )
    return limit


class Deadline:
    """A benchmark's overall deadline. Past it, the benchmark stops with exit status 3 and says
    what it was waiting for, whatever the main thread is blocked in (a receipt, a child
    process, a node that never answers): a watchdog thread prints the line, runs the clean-ups
    (stopping child processes) and exits the process."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self._waiting: Callable[[], str] = lambda: "start-up"
        self._cleanups: list[Callable[[], None]] = []
        self._done = threading.Event()
        threading.Thread(target=self._watch, name=f"{name}-deadline", daemon=True).start()

    def waiting_for(self, what: str | Callable[[], str]) -> None:
        """What the benchmark waits for now (a callable is asked when the deadline passes)."""
        self._waiting = what if callable(what) else (lambda: what)

    def on_expiry(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def message(self) -> str:
        try:
            what = self._waiting()
        except Exception as exc:  # the description must not hide the expiry
            what = f"(undescribed: {exc})"
        return (
            f"{self.name}: overall deadline of {self.seconds:g} s passed while waiting for {what}"
        )

    def check(self) -> None:
        """BenchError when the deadline has passed (for loops that can check it themselves)."""
        if time.monotonic() > self.at:
            raise BenchError(self.message())

    def finish(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        if self._done.wait(max(0.0, self.at - time.monotonic())):
            return
        print(f"error: {self.message()}", file=sys.stderr, flush=True)
        for cleanup in self._cleanups:
            try:
                cleanup()
            except Exception as exc:
                print(f"  clean-up failed: {exc}", file=sys.stderr, flush=True)
        os._exit(3)


def bench_client(rpc_url: str, *, chain_id: int, timeout_s: float = 120.0) -> ChainClient:
    """The chain client the benchmarks send their own requests with: no retries (a development
    chain that stops answering ends the benchmark), long requests (a phase's blocks and
    receipts), and receipts polled as fast as anvil mines them."""
    return ChainClient(
        ChainProfile(
            name="bench",
            rpc_url=rpc_url,
            chain_id=chain_id,
            request_timeout_s=timeout_s,
            receipt_timeout_s=60.0,
            poll_interval_s=0.01,
            retries=0,
        )
    )


@dataclass
class Chain:
    """A development chain with the deployment on it and the accounts that act."""

    client: ChainClient
    escrow: str
    council: str
    token: str
    manager: str
    relayer: str
    members: tuple[str, ...]
    oracle_keys: tuple[bytes, ...]
    beneficiaries: tuple[str, ...]
    sent: int = 0

    def send(self, sender: str, to: str, data: str) -> dict[str, Any]:
        """One transaction from an unlocked account; a revert stops the benchmark."""
        tx = {"from": sender, "to": to, "data": data, "gas": hex(GAS), "gasPrice": "0x0"}
        try:
            tx_hash = self.client.request("eth_sendTransaction", [tx], what=f"transaction to {to}")
        except ChainError as exc:
            raise BenchError(str(exc)) from None
        try:
            receipt = self.client.wait_raw(tx_hash)
        except ContractRevertError as exc:  # decoded by the client, replayed at its block
            found = self.client.request(
                "eth_getTransactionReceipt", [tx_hash], what="the receipt of a reverted transaction"
            )
            raise BenchError(
                f"transaction {tx_hash} reverted: {exc} "
                f"(gas used {int(found['gasUsed'], 16) if found else '?'})"
            ) from None
        except TransactionTimeoutError as exc:
            raise BenchError(f"transaction {tx_hash} was not mined: {exc}") from None
        self.sent += 1
        return receipt

    def call(self, to: str, data: str) -> bytes:
        result = self.client.request("eth_call", [{"to": to, "data": data}, "latest"], what="call")
        return bytes.fromhex(str(result)[2:])

    def now(self) -> int:
        return self.client.timestamp()

    def advance(self, seconds: int) -> None:
        self.client.request("evm_increaseTime", [seconds], what="evm_increaseTime")
        self.client.request("evm_mine", [], what="evm_mine")

    def block_number(self) -> int:
        return self.client.block_number()


def deploy_for_bench(prefix: str) -> tuple[Deployment, Chain, Path]:
    """On brownie's development network: escrow, council (2 of 3) and token deployed, eight
    oracle keys with quorum five, a manager holding 10**12 tokens; the deployment file written to
    a new temporary folder. Returns the deployment, the bench's Chain on it, and the folder."""
    from brownie import accounts, web3
    from eth_account import Account

    from disburse.chain.deployment import save
    from scripts.deploy import deploy

    keys = tuple(keccak(text=f"bench-oracle-{i}") for i in range(8))
    record, _escrow, _council, token = deploy(
        deployer=accounts[0],
        council_members=[str(a) for a in accounts[7:10]],
        threshold=2,
        oracles=[Account.from_key(k).address for k in keys],
        quorum=5,
        managers=[str(accounts[1])],
        with_token=True,
        evm_version="cancun",
    )
    token.mint(accounts[1], 10**12 * UNIT, {"from": accounts[0]})
    work = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    save(record, work / "deployment.json")
    chain = Chain(
        client=bench_client(str(web3.provider.endpoint_uri), chain_id=int(web3.eth.chain_id)),
        escrow=record.escrow,
        council=record.council,
        token=str(token.address),
        manager=str(accounts[1]),
        relayer=str(accounts[2]),
        members=tuple(str(a) for a in accounts[7:10]),
        oracle_keys=keys,
        beneficiaries=tuple(str(a) for a in accounts[3:7]),
    )
    return record, chain, work


@dataclass
class History:
    """What the builder made, round by round."""

    programs: list[int] = field(default_factory=list)
    milestones: int = 0
    transactions: int = 0
    proposals: int = 0
    build_s: float = 0.0
    rounds: int = 0


class Builder:
    """Builds the history in rounds; each round adds about ten events per milestone."""

    def __init__(self, chain: Chain, *, programs: int, seed: str = "bench") -> None:
        self.chain = chain
        self.programs_wanted = programs
        self.seed = seed
        self.history = History()
        chain_id = chain.client.check_chain()
        self.domain = keccak(
            encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    _DOMAIN_TYPEHASH,
                    keccak(text="MilestoneEscrow"),
                    keccak(text="1"),
                    chain_id,
                    chain.escrow,
                ],
            )
        )
        self.keys = [coincurve.PrivateKey(k) for k in chain.oracle_keys]
        committee = chain.call(chain.escrow, "0x" + keccak(text="committee()")[:4].hex())
        _oracles, _quorum, self.epoch = decode(["address[]", "uint8", "uint16"], committee)
        self._check_digest()

    # ------------------------------------------------------------------ signatures

    def digest(self, milestone: bytes, evidence: bytes) -> bytes:
        struct = keccak(
            encode(
                ["bytes32", "bytes32", "bytes32", "uint16", "uint8"],
                # The benchmark signs milestones it registered and never amends: terms version 0.
                [_ATTESTATION_TYPEHASH, milestone, evidence, self.epoch, 0],
            )
        )
        return keccak(b"\x19\x01" + self.domain + struct)

    def _check_digest(self) -> None:
        m, e = keccak(text="probe-m"), keccak(text="probe-e")
        data = _calldata(
            "attestationDigest(bytes32,bytes32,uint16,uint8)",
            ["bytes32", "bytes32", "uint16", "uint8"],
            [m, e, self.epoch, 0],
        )
        if self.chain.call(self.chain.escrow, data) != self.digest(m, e):
            raise BenchError("the EIP-712 digest computed here differs from the escrow's")

    def sign(self, key: coincurve.PrivateKey, digest: bytes) -> tuple[bytes, bytes]:
        raw = key.sign_recoverable(digest, hasher=None)
        r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
        return r, ((v << 255) | s).to_bytes(32, "big")

    def signed_item(
        self, milestone: bytes, evidence: bytes, keys: Sequence[coincurve.PrivateKey]
    ) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
        digest = self.digest(milestone, evidence)
        return (milestone, evidence, [self.sign(k, digest) for k in keys])

    # ------------------------------------------------------------------ calls

    def attest(self, items: Sequence[tuple[bytes, bytes, list[tuple[bytes, bytes]]]]) -> None:
        data = _calldata(
            "attestWithSignatures(uint16,(bytes32,bytes32,(bytes32,bytes32)[])[])",
            ["uint16", "(bytes32,bytes32,(bytes32,bytes32)[])[]"],
            [self.epoch, list(items)],
        )
        self.chain.send(self.chain.relayer, self.chain.escrow, data)

    def proposal(self, call: str, description: str) -> None:
        """Proposed by the first member, approved by two, executed by the second."""
        c = self.chain
        expiry = c.now() + 7 * DAY
        data = bytes.fromhex(call[2:])
        c.send(
            c.members[0],
            c.council,
            _calldata(
                "propose(address,bytes,string,uint40)",
                ["address", "bytes", "string", "uint40"],
                [c.escrow, data, description, expiry],
            ),
        )
        self.history.proposals += 1
        pid = self.history.proposals
        for member in c.members[:2]:
            c.send(member, c.council, _calldata("approve(uint256)", ["uint256"], [pid]))
        c.send(
            c.members[1],
            c.council,
            _calldata("execute(uint256,bytes)", ["uint256", "bytes"], [pid, data]),
        )

    # ------------------------------------------------------------------ rounds

    def setup(self, *, funds: int) -> None:
        c = self.chain
        c.send(
            c.manager,
            c.token,
            _calldata("approve(address,uint256)", ["address", "uint256"], [c.escrow, 2**255]),
        )
        for _ in range(self.programs_wanted):
            c.send(
                c.manager,
                c.escrow,
                _calldata(
                    "createProgram(address,address,uint40,(string,string,string,uint16,uint128))",
                    ["address", "address", "uint40", "(string,string,string,uint16,uint128)"],
                    [c.token, c.beneficiaries[-1], WINDOW, BENCH_FACTS.as_arg()],
                ),
            )
            self.history.programs.append(len(self.history.programs) + 1)
        self.fund(funds)

    def fund(self, amount: int) -> None:
        for pid in self.history.programs:
            self.chain.send(
                self.chain.manager,
                self.chain.escrow,
                _calldata("fund(uint256,uint256)", ["uint256", "uint256"], [pid, amount]),
            )

    def round(self, *, milestones: int) -> None:
        """About ten events per milestone: registered, attested by eight, verified; plus a dispute,
        releases, an expiry and three council proposals."""
        started = time.perf_counter()
        c = self.chain
        r = self.history.rounds
        now = c.now()
        per_program = max(1, milestones // len(self.history.programs))
        ids: list[tuple[int, bytes]] = []
        short_lived: list[bytes] = []
        for pid in self.history.programs:
            inputs = []
            for i in range(per_program):
                ref = external_ref(f"{self.seed}-{r}-{pid}-{i}")
                deadline = now + (3600 if i == 0 else 120 * DAY + i)
                inputs.append(
                    (
                        ref,
                        c.beneficiaries[i % len(c.beneficiaries)],
                        (1 + i % 50) * UNIT,
                        deadline,
                        keccak(text=f"spec-{i % 7}"),
                    )
                )
                mid = bytes(milestone_id(pid, ref))
                if i == 0:
                    short_lived.append(mid)
                else:
                    ids.append((pid, mid))
            for start in range(0, len(inputs), REGISTER_BATCH):
                batch = inputs[start : start + REGISTER_BATCH]
                c.send(
                    c.manager,
                    c.escrow,
                    _calldata(
                        "registerMilestones(uint256,(bytes32,address,uint128,uint40,bytes32)[])",
                        ["uint256", "(bytes32,address,uint128,uint40,bytes32)[]"],
                        [pid, batch],
                    ),
                )
            self.history.milestones += len(inputs)

        # Two disputes, two left for the council to force-release, the rest attested by all eight.
        disputed = [m for _p, m in ids[:2]]
        pending = [m for _p, m in ids[2:4]]
        attested = [m for _p, m in ids[4:]]
        self.attest(
            [
                item
                for m in disputed
                for item in (
                    self.signed_item(m, keccak(text=f"ev-a-{m.hex()}"), self.keys[:1]),
                    self.signed_item(m, keccak(text=f"ev-b-{m.hex()}"), self.keys[1:2]),
                )
            ]
        )
        for start in range(0, len(attested), ATTEST_BATCH):
            chunk = attested[start : start + ATTEST_BATCH]
            self.attest(
                [self.signed_item(m, keccak(text=f"ev-{m.hex()}"), self.keys) for m in chunk]
            )

        # The council freezes one verified milestone and cancels it, force-releases a pending
        # one, and settles a dispute.
        frozen = attested[0]
        self.proposal(
            _calldata("freeze(bytes32)", ["bytes32"], [frozen]), f"round {r}: hold {frozen.hex()}"
        )
        self.proposal(
            _calldata("cancel(bytes32)", ["bytes32"], [frozen]), f"round {r}: evidence forged"
        )
        self.proposal(
            _calldata(
                "forceRelease(bytes32,bytes32)",
                ["bytes32", "bytes32"],
                [pending[0], keccak(text=f"oracles offline in round {r}")],
            ),
            f"round {r}: pay despite the oracle outage",
        )
        self.proposal(
            _calldata(
                "resolveDispute(bytes32,bytes32)",
                ["bytes32", "bytes32"],
                [disputed[0], keccak(text=f"ev-a-{disputed[0].hex()}")],
            ),
            f"round {r}: the first evidence stands",
        )

        # Releases: three the second the window closes, the rest two hours later; the
        # short-lived milestone expires.
        c.advance(WINDOW + 5)
        releases = attested[1:40]
        for m in releases[:3]:
            c.send(c.relayer, c.escrow, _calldata("release(bytes32)", ["bytes32"], [m]))
        c.advance(2 * 3600)
        for m in releases[3:]:
            c.send(c.relayer, c.escrow, _calldata("release(bytes32)", ["bytes32"], [m]))
        for m in short_lived:
            c.send(c.relayer, c.escrow, _calldata("expire(bytes32)", ["bytes32"], [m]))
        self.history.rounds += 1
        self.history.transactions = c.sent
        self.history.build_s += time.perf_counter() - started


# ---------------------------------------------------------------------------------------- measure


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """This process's peak resident set. VmHWM belongs to the address space, so it starts afresh
    at exec; getrusage's ru_maxrss would carry over the high-water mark of the process that
    forked us (brownie, a few hundred MB) on Linux."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _app() -> typer.Typer:
    """`disburse` with its root options and the audit command, as the console script has it."""
    from disburse.cli import app as disburse_app
    from disburse.cli import main
    from disburse.cli.audit import audit

    names = {c.name for c in disburse_app.registered_commands}
    if "audit" in names:
        return disburse_app
    app = typer.Typer()
    app.callback()(main)
    app.command("audit")(audit)
    return app


def _child_timed(metrics: Path, argv: list[str]) -> int:
    """`disburse <argv>` in this process, timed; metrics written to `metrics`."""
    app = _app()
    baseline = _rss_now_mb()
    started = time.perf_counter()
    code = app(argv, standalone_mode=False, prog_name="disburse")
    elapsed = time.perf_counter() - started
    metrics.write_text(
        json.dumps(
            {
                "exit_code": int(code or 0),
                "audit_s": elapsed,
                "baseline_rss_mb": baseline,
                "peak_rss_mb": _peak_rss_mb(),
            }
        )
    )
    return int(code or 0)


def _child_traced(metrics: Path, deployment_file: Path, rpc_url: str, out: Path) -> int:
    """The same engine under tracemalloc: the report kept, and the peak above it."""
    from disburse.audit import run_audit
    from disburse.cli._session import Session

    session = Session(
        deployment_file=deployment_file,
        rpc_url=rpc_url,
        profile_file=None,
        keystore=None,
        password_file=None,
        password_env=None,
    )
    client = session.client()
    deployment = session.deployment()
    tracemalloc.start()
    report = run_audit(client, deployment)
    kept, _ = tracemalloc.get_traced_memory()
    with out.open("w") as f:
        report.write_json(f)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    metrics.write_text(
        json.dumps({"events": report.events, "report_mb": kept / 2**20, "peak_mb": peak / 2**20})
    )
    return 0


def _run_child(
    argv: list[str], *, env: dict[str, str], deadline: Deadline | None, what: str
) -> None:
    """A child process of the benchmark, within what is left of the deadline."""
    if deadline is not None:
        deadline.waiting_for(what)
    try:
        subprocess.run(
            argv,
            check=True,
            env=env,
            timeout=deadline.remaining() if deadline is not None else None,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} did not finish within the benchmark's deadline") from None


def measure(
    *,
    deployment_file: Path,
    rpc_url: str,
    work: Path,
    label: str,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Runs the timed and the traced child on the chain as it is now."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"audit-{label}.json"
    timed = work / f"timed-{label}.json"
    traced = work / f"traced-{label}.json"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    started = time.perf_counter()
    _run_child(
        [
            sys.executable,
            "-m",
            "scripts.bench_common",
            "timed",
            str(timed),
            "--deployment",
            str(deployment_file),
            "--rpc-url",
            rpc_url,
            "audit",
            "--json",
            "--output",
            str(out),
        ],
        env=env,
        deadline=deadline,
        what=f"the timed audit of the {label} history (disburse audit --json)",
    )
    process_s = time.perf_counter() - started
    t = json.loads(timed.read_text())
    doc = json.loads(out.read_text())
    if t["exit_code"] != 0 or not doc["reconciliation"]["ok"]:
        raise BenchError(f"the audit did not reconcile: {doc['reconciliation']}")
    _run_child(
        [
            sys.executable,
            "-m",
            "scripts.bench_common",
            "traced",
            str(traced),
            str(deployment_file),
            rpc_url,
            str(work / f"traced-out-{label}.json"),
        ],
        env=env,
        deadline=deadline,
        what=f"the traced audit of the {label} history (tracemalloc)",
    )
    m = json.loads(traced.read_text())
    events = int(doc["events"])
    return {
        "events": events,
        "milestones": len(doc["milestones"]),
        "audit_s": round(t["audit_s"], 3),
        "process_s": round(process_s, 3),
        "events_per_s": round(events / t["audit_s"]),
        "peak_rss_mb": round(t["peak_rss_mb"], 1),
        "baseline_rss_mb": round(t["baseline_rss_mb"], 1),
        "report_mb": round(m["report_mb"], 1),
        "working_mb": round(m["peak_mb"] - m["report_mb"], 1),
        "json_mb": round(out.stat().st_size / 2**20, 1),
        "flags": len(doc["flags"]),
    }


def main(argv: list[str]) -> int:
    """Entry of the child processes: `timed METRICS DISBURSE-ARGS...` or
    `traced METRICS DEPLOYMENT RPC-URL OUT`."""
    mode, metrics, *rest = argv
    if mode == "timed":
        return _child_timed(Path(metrics), rest)
    if mode == "traced":
        deployment_file, rpc_url, out = rest
        return _child_traced(Path(metrics), Path(deployment_file), rpc_url, Path(out))
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


@contextmanager
def scratch_pg_database(server: str, prefix: str, deadline: Deadline) -> Iterator[str]:
    """A new database of its own on the PostgreSQL server at `server`, as a URL; dropped
    afterwards, also when the deadline passes."""
    import psycopg  # only the index benchmarks need it

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    deadline.waiting_for(f"the PostgreSQL server at {server}")
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    deadline.on_expiry(drop)
    try:
        yield with_database(server, name)
    finally:
        drop()

"""The overseers' audit: the escrow's and the council's whole history rebuilt from their events,
reconciled against the chain's state, with what deserves a second look flagged.

How it reads. Every log of the escrow and of the council from the deployment block (or
`from_block`) to the head at the start of the run is read with one eth_getLogs per block window
for both contracts (so they come in chain order), through the client's `rpc` and within the
profile's block-range cap; windows grow over sparse blocks and shrink over dense ones to hold
about `LOGS_PER_READ` logs. Each response is parsed as it arrives and applied `APPLY_BATCH` logs
at a time, decoded by first topic with the ABIs of the build artifacts (static fields are sliced
from the data, the rest goes through eth_abi). Nothing keeps the raw logs: each one updates
per-program ledgers, per-milestone records (whose timelines are the report itself) and
per-proposal records, so memory grows with the report, not with the logs read. (The raw JSON is
read instead of `ChainClient.contract_logs` because web3's result formatting costs about 90 µs a
log, which would hold the audit near 10,000 events/s, and holds a whole window in memory.)

Who did what. Attestations and disputes name their oracle, funding its funder, role changes their
sender; the escrow's overrides made inside a council execution are attributed to that proposal and
its executor (the council emits ProposalExecuted before it makes the call); releases, expiries and
the other events that name nobody get their transaction's sender (read in batches).

Reconciliation (only when the history starts at the deployment block): at the block the history
ends, every program's balance, commitment, token, window and closed flag, every milestone's
`statusOf`, the program and proposal counts, every proposal's executed flag and calldata hash,
and, per settlement token, `balanceOf(escrow)` against the sum of the programs' balances.

Flags for review, and their thresholds:
- force-release: every milestone the council paid without an oracle quorum.
- dispute: every milestone whose oracles attested different evidence within one epoch.
- oracle-disagreement: a milestone whose attestations carry more than one evidence hash without
  an on-chain dispute (across committee epochs, which the contract does not treat as a dispute).
- window-shortened-before-release: a release (not forced) that came sooner than the program's
  challenge window allowed before the council shortened it, within that earlier window of the
  shortening: released before verification + the earlier window, and at most the earlier window
  after the change. The overseers' time to object was cut short just before money moved.
- short-window-high-value: with a policy (`WindowPolicy`: `disburse audit --high-value AMOUNT
  --min-window DURATION`), a milestone of at least the high value (in its program's token) whose
  challenge window (at its release; for an unpaid one, its program's window now) is shorter than
  the policy's minimum. Cancelled, expired and force-released milestones are not flagged.
  (Releases at the first second the window allows are not flagged: the oracle nodes release
  then by design.)
- overdue: deadline passed without a quorum and nobody called `expire` (stored Registered,
  `statusOf` reads Expired): the amount is still committed.
- expired: `expire` returned the milestone's amount to the program.
- schedule-ahead / schedule-behind: a program whose paid fraction (paid / scheduled, scheduled =
  the amounts of its milestones that were not cancelled) differs from its due fraction (the part
  of the scheduled amounts whose deadline has passed) by more than `SCHEDULE_TOLERANCE` (25
  percentage points by default).
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Final

import requests
from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.exceptions import Web3Exception, Web3RPCError
from web3.types import RPCEndpoint

from disburse.chain.client import ChainClient, rpc_error_of
from disburse.chain.contracts import load_abi
from disburse.chain.deployment import Deployment
from disburse.chain.errors import (
    ArtifactError,
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    DisburseError,
    LogRangeTooLargeError,
)
from disburse.chain.escrow import milestone_statuses
from disburse.proposals import MilestoneFacts, Money, describe, short

NONE, REGISTERED, VERIFIED, DISPUTED, FROZEN, RELEASED, CANCELLED, EXPIRED = range(8)

SCHEDULE_TOLERANCE: Final = 0.25
LOGS_PER_READ: Final = 20_000
APPLY_BATCH: Final = 2_000
FIRST_SPAN: Final = 16
STREAM_CHUNK: Final = 256 * 1024
RPC_BATCH: Final = 500

# Flags, in the order the report lists them.
FLAG_KINDS: Final = (
    "force-release",
    "dispute",
    "oracle-disagreement",
    "window-shortened-before-release",
    "short-window-high-value",
    "overdue",
    "expired",
    "schedule-ahead",
    "schedule-behind",
)

_ZERO32 = b"\x00" * 32
_MANAGER_ROLE = keccak(text="PROGRAM_MANAGER_ROLE")
_ROLE_NAMES = {_ZERO32: "escrow admin", _MANAGER_ROLE: "program manager"}


class AuditError(DisburseError):
    """The audit cannot run as asked (a block range the chain does not have, a node error)."""


# ---------------------------------------------------------------------------------------- records

# One timeline entry: (event, block, time, tx hash, by, proposal id, a, b); a and b depend on the
# event (see `_ENTRY_FIELDS`). Tuples keep a 100,000-event report small.
Entry = tuple[str, int, int, bytes, str | None, int | None, Any, Any]

_ENTRY_FIELDS: dict[str, tuple[str | None, str | None]] = {
    "registered": ("amount", "deadline"),
    "amended": ("amount", "terms"),
    "attested": ("evidence_hash", "epoch"),
    "verified": ("evidence_hash", "attestations"),
    "disputed": ("evidence_hash", "conflicting_hash"),
    "dispute-resolved": ("evidence_hash", None),
    "frozen": (None, None),
    "unfrozen": (None, None),
    "released": ("paid_to", "amount"),
    "force-released": ("reason_hash", None),
    "cancelled": ("amount", None),
    "expired": ("amount", None),
    "beneficiary-replaced": ("previous", "beneficiary"),
}


@dataclass(slots=True)
class TokenInfo:
    address: str
    symbol: str
    decimals: int
    money: Money


@dataclass(frozen=True, slots=True)
class WindowChange:
    """A change of a program's challenge window (always the council's: ChallengeWindowSet)."""

    time: int
    block: int
    previous: int
    window: int
    proposal: int | None

    @property
    def shortened(self) -> bool:
        return self.window < self.previous


@dataclass(frozen=True, slots=True)
class WindowPolicy:
    """How long a high-value milestone's challenge window must be: `high_value` in a token's own
    units as people write them ("1,000,000"), read with each program token's decimals."""

    high_value: str
    min_window: int
    """Seconds."""

    def threshold(self, decimals: int) -> int:
        """The high value in the token's smallest unit (rounded up for a token with fewer
        decimals than the value is written with)."""
        whole, _, fraction = self.high_value.replace(",", "").strip().partition(".")
        units: int = int(whole or "0") * int(10**decimals)
        if fraction:
            kept = fraction[:decimals].ljust(decimals, "0")
            units += int(kept or "0") + (1 if fraction[decimals:].strip("0") else 0)
        return units


@dataclass(slots=True)
class ProgramRecord:
    program_id: int
    manager: str
    token: str
    treasury: str
    challenge_window: int
    created_block: int | None
    created_time: int | None
    closed: bool = False
    closed_time: int | None = None
    funded: int = 0
    fundings: int = 0
    committed: int = 0
    paid: int = 0
    force_paid: int = 0
    withdrawn: int = 0
    returned_cancelled: int = 0
    returned_expired: int = 0
    milestones: int = 0
    window_changes: list[WindowChange] = field(default_factory=list)
    """Every ChallengeWindowSet of the program, in chain order."""

    @property
    def balance(self) -> int:
        return self.funded - self.paid - self.withdrawn

    @property
    def available(self) -> int:
        return self.balance - self.committed


@dataclass(slots=True)
class MilestoneRecord:
    milestone_id: bytes
    program_id: int
    ref: bytes
    beneficiary: str
    amount: int
    deadline: int
    spec_hash: bytes
    status: int
    timeline: list[Entry] = field(default_factory=list)
    evidence_hash: bytes | None = None
    verified_time: int | None = None
    hashes: tuple[bytes, ...] = ()
    disputed: bool = False
    release_lag: int | None = None
    release_window: int = 0
    forced: bool = False
    registered_in_range: bool = True


@dataclass(slots=True)
class ProposalRecord:
    proposal_id: int
    proposer: str
    target: str
    data: bytes
    description: str
    expiry: int
    block: int
    time: int
    tx: bytes
    text: str
    approvals: list[tuple[str, int, int, int]] = field(default_factory=list)
    revocations: list[tuple[str, int, int, int]] = field(default_factory=list)
    executed: tuple[str, int, int, bytes] | None = None

    def status(self, now: int) -> str:
        if self.executed is not None:
            return "executed"
        return "expired" if now > self.expiry else "open"


@dataclass(frozen=True, slots=True)
class GovernanceEntry:
    """An escrow- or council-wide event: committee, roles, pauses, membership, windows."""

    event: str
    block: int
    time: int
    tx: bytes
    by: str | None
    proposal: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Flag:
    kind: str
    program_id: int | None
    milestone_id: bytes | None
    message: str


@dataclass(frozen=True, slots=True)
class Difference:
    """Where the rebuilt ledger and the chain's state disagree."""

    subject: str
    field: str
    rebuilt: str
    on_chain: str
    message: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    checked: bool
    note: str
    differences: tuple[Difference, ...]
    programs: int = 0
    milestones: int = 0
    tokens: int = 0
    proposals: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences


# ---------------------------------------------------------------------------------------- decoding


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _is_word(kind: str) -> bool:
    """Static ABI types that occupy exactly one 32-byte word."""
    if "[" in kind or kind.startswith("tuple"):
        return False
    return (
        kind in ("address", "bool")
        or kind.startswith(("uint", "int"))
        or (kind.startswith("bytes") and kind != "bytes")
    )


class _Addresses:
    """Checksummed addresses, computed once per address (checksumming costs a keccak)."""

    def __init__(self) -> None:
        self._by_raw: dict[bytes, str] = {}
        self._by_topic: dict[str, str] = {}

    def of20(self, raw: bytes) -> str:
        found = self._by_raw.get(raw)
        if found is None:
            found = to_checksum_address(raw)
            self._by_raw[raw] = found
        return found

    def of_word(self, word: bytes) -> str:
        return self.of20(bytes(word[12:]))

    def of_text(self, text: str) -> str:
        return self.of20(bytes.fromhex(text[2:])[-20:])

    def of_topic(self, topic: str) -> str:
        found = self._by_topic.get(topic)
        if found is None:
            found = self.of_text(topic)
            self._by_topic[topic] = found
        return found


def _word_converter(kind: str, addresses: _Addresses) -> Callable[[bytes], Any]:
    """Decodes one 32-byte word of log data."""
    if kind == "address":
        return addresses.of_word
    if kind == "bool":
        return lambda w: w[-1] != 0
    if kind.startswith("uint"):
        return lambda w: int.from_bytes(w, "big")
    if kind.startswith("int"):
        return lambda w: int.from_bytes(w, "big", signed=True)
    size = int(kind[5:])
    return lambda w: bytes(w[:size])


def _topic_converter(kind: str, addresses: _Addresses) -> Callable[[str], Any]:
    """Decodes one topic, as the node sends it (0x and 64 hex digits)."""
    if kind == "address":
        return addresses.of_topic
    if kind == "bool":
        return lambda t: int(t, 16) != 0
    if kind.startswith("uint"):
        return lambda t: int(t, 16)
    if kind.startswith("int"):
        return lambda t: int.from_bytes(bytes.fromhex(t[2:]), "big", signed=True)
    if _is_word(kind):
        size = int(kind[5:])
        return lambda t: bytes.fromhex(t[2 : 2 + 2 * size])
    # An indexed dynamic value (string, bytes, array) is only its hash in the topic.
    return lambda t: bytes.fromhex(t[2:])


@dataclass(frozen=True)
class _EventSpec:
    """One event of an ABI, with a decoder that slices words when every data field is static
    (every event the audit reads but two) and uses eth_abi otherwise."""

    name: str
    names: tuple[str, ...]
    indexed: tuple[Callable[[str], Any] | None, ...]
    words: tuple[Callable[[bytes], Any] | None, ...]
    data_types: tuple[str, ...]
    post: tuple[Callable[[Any], Any], ...]
    fast: bool

    def decode(self, topics: Sequence[str], data: bytes) -> tuple[Any, ...]:
        out: list[Any] = []
        t = 1
        if self.fast:
            d = 0
            for topic_conv, word_conv in zip(self.indexed, self.words, strict=True):
                if topic_conv is not None:
                    out.append(topic_conv(topics[t]))
                    t += 1
                elif word_conv is not None:
                    out.append(word_conv(data[d : d + 32]))
                    d += 32
            return tuple(out)
        values = iter(abi_decode(list(self.data_types), data))
        posts = iter(self.post)
        for topic_conv in self.indexed:
            if topic_conv is not None:
                out.append(topic_conv(topics[t]))
                t += 1
            else:
                out.append(next(posts)(next(values)))
        return tuple(out)


def _event_specs(
    abi: Sequence[Mapping[str, Any]], addresses: _Addresses
) -> dict[bytes, _EventSpec]:
    specs: dict[bytes, _EventSpec] = {}
    for item in abi:
        if item.get("type") != "event" or item.get("anonymous"):
            continue
        inputs = item.get("inputs", [])
        types = [str(p["type"]) for p in inputs]
        signature = f"{item['name']}({','.join(types)})"
        indexed: list[Callable[[str], Any] | None] = []
        words: list[Callable[[bytes], Any] | None] = []
        data_types: list[str] = []
        post: list[Callable[[Any], Any]] = []
        for p, kind in zip(inputs, types, strict=True):
            if p.get("indexed"):
                indexed.append(_topic_converter(kind, addresses))
                words.append(None)
            else:
                indexed.append(None)
                words.append(_word_converter(kind, addresses) if _is_word(kind) else None)
                data_types.append(kind)
                post.append(_post_converter(kind, addresses))
        specs[keccak(text=signature)] = _EventSpec(
            name=str(item["name"]),
            names=tuple(str(p.get("name", "")) for p in inputs),
            indexed=tuple(indexed),
            words=tuple(words),
            data_types=tuple(data_types),
            post=tuple(post),
            fast=all(_is_word(k) for k in data_types),
        )
    return specs


def _post_converter(kind: str, addresses: _Addresses) -> Callable[[Any], Any]:
    """Converts what eth_abi returns into the audit's types (checksummed addresses, bytes)."""
    if kind == "address":
        return addresses.of_text
    if kind == "address[]":
        return lambda values: tuple(addresses.of_text(v) for v in values)
    if kind == "string":
        return str
    if kind.startswith("bytes") and "[" not in kind:
        return bytes
    return lambda v: v


# ------------------------------------------------------------------------------------ raw requests


def _batch(client: ChainClient, calls: Sequence[tuple[str, list[Any]]], *, what: str) -> list[Any]:
    """Results of JSON-RPC requests sent in batches (one HTTP round trip per `RPC_BATCH`); a node
    that refuses batches gets them one by one."""
    results: list[Any] = []
    provider: Any = client.w3.provider
    for start in range(0, len(calls), RPC_BATCH):
        chunk = [(RPCEndpoint(m), p) for m, p in calls[start : start + RPC_BATCH]]
        replies: Any = client.rpc(lambda c=chunk: provider.make_batch_request(c), what=what)  # type: ignore[misc]
        if not isinstance(replies, list):
            replies = [
                client.rpc(lambda m=m, p=p: provider.make_request(m, p), what=what)  # type: ignore[misc]
                for m, p in chunk
            ]
        for reply in replies:
            if "error" in reply:
                error = reply["error"]
                message = error.get("message", error) if isinstance(error, Mapping) else error
                raise AuditError(f"{what}: the node refused: {message}")
            results.append(reply.get("result"))
    return results


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def _word(value: int | bytes | str) -> str:
    if isinstance(value, int):
        return value.to_bytes(32, "big").hex()
    if isinstance(value, str):
        return bytes.fromhex(value[2:]).rjust(32, b"\0").hex()
    return bytes(value).rjust(32, b"\0").hex()


def _words(result: Any) -> list[bytes]:
    raw = bytes.fromhex(str(result)[2:]) if result else b""
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


class _LogStream:
    """eth_getLogs for a set of contracts, its response parsed one log at a time as it arrives.

    Not `ChainClient.contract_logs`: web3's result formatters cost about 90 µs a log (HexBytes,
    checksums, AttributeDicts), which alone would hold the audit near 10,000 events/s, and a
    whole response in memory is as large as the window is dense. The request still goes through
    the client's `rpc` (retries of an unreachable node) and its JSON-RPC error mapping (a range
    the node refuses raises LogRangeTooLargeError)."""

    def __init__(self, client: ChainClient, addresses: Sequence[str]) -> None:
        self.client = client
        self.addresses = list(addresses)
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/json"

    def close(self) -> None:
        self.session.close()

    def logs(self, start: int, end: int) -> Iterator[dict[str, Any]]:
        query = {"address": self.addresses, "fromBlock": hex(start), "toBlock": hex(end)}
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [query]})
        url, timeout = self.client.profile.rpc_url, self.client.profile.request_timeout_s
        response = self.client.rpc(
            lambda: self.session.post(url, data=body, stream=True, timeout=timeout),
            what="eth_getLogs",
        )
        try:
            if response.status_code != 200:
                raise ChainError(
                    f"eth_getLogs: {url} answered HTTP {response.status_code}: "
                    f"{response.text[:200]}"
                )
            yield from _result_items(response.iter_content(STREAM_CHUNK))
        except requests.RequestException as exc:
            raise ChainUnavailableError(
                f"eth_getLogs: {url} stopped answering in the middle of a response ({exc})"
            ) from None
        finally:
            response.close()


def _result_items(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """The items of a JSON-RPC response's `result` array, decoded as the bytes arrive; an error
    reply is mapped to the client's exceptions."""
    decode = json.JSONDecoder().raw_decode
    utf8 = codecs.getincrementaldecoder("utf-8")()
    buf, pos = "", 0

    def fill(*, keep: bool = False) -> bool:
        nonlocal buf, pos
        for chunk in chunks:
            if chunk:
                if keep:
                    buf += utf8.decode(chunk)
                else:
                    buf, pos = buf[pos:] + utf8.decode(chunk), 0
                return True
        return False

    # Until the array's start is found the whole (small) document is kept: it may be an error.
    while True:
        found = _RESULT_ARRAY.search(buf)
        if found is not None:
            pos = found.end()
            break
        if not fill(keep=True):
            _check_reply(buf)
            return
    while True:
        while pos < len(buf) and buf[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(buf):
            if not fill():
                raise ChainError("eth_getLogs: the response ended in the middle of the logs")
            continue
        if buf[pos] == "]":
            return
        try:
            item, pos = decode(buf, pos)
        except json.JSONDecodeError:
            if not fill():
                raise ChainError("eth_getLogs: the response ended in the middle of a log") from None
            continue
        yield item


_RESULT_ARRAY = re.compile(r'"result"\s*:\s*\[')


def _check_reply(text: str) -> None:
    """A reply without a result array: an empty result passes; the node's error is mapped as
    the client maps it (a range too large becomes LogRangeTooLargeError)."""
    try:
        reply = json.loads(text)
    except json.JSONDecodeError:
        raise ChainError(f"eth_getLogs: the node's answer is not JSON: {text[:200]!r}") from None
    if not isinstance(reply, dict):
        raise ChainError(f"eth_getLogs: unexpected answer {text[:200]!r}")
    error = reply.get("error")
    if error is None:
        if reply.get("result") is None:
            return
        raise ChainError(f"eth_getLogs: unexpected answer {text[:200]!r}")
    mapped = rpc_error_of(Web3RPCError(str(error), rpc_response=reply))  # type: ignore[arg-type]
    if mapped is not None:
        raise mapped
    message = error.get("message", error) if isinstance(error, dict) else error
    raise ChainError(f"eth_getLogs: the node refused: {message}")


# ---------------------------------------------------------------------------------------- display


def when(timestamp: int | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def duration(seconds: int) -> str:
    if seconds % 86_400 == 0 and seconds:
        days = seconds // 86_400
        return f"{days} day" + ("s" if days != 1 else "")
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600} h"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def ref_text(ref: bytes) -> str:
    """A manager's external reference as text when it is text, else in hex."""
    stripped = ref.rstrip(b"\0")
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + ref.hex()
    return text if text and text.isprintable() else "0x" + ref.hex()


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + bytes(value).hex()


# ---------------------------------------------------------------------------------------- rebuild


class _Rebuild:
    """The state every event updates; one instance per audit run."""

    def __init__(
        self, client: ChainClient, deployment: Deployment, *, to_block: int, partial: bool
    ) -> None:
        self.client = client
        self.deployment = deployment
        self.to_block = to_block
        self.partial = partial
        self.addresses = _Addresses()
        self.escrow_address = self.addresses.of_text(deployment.escrow)
        self.council_address = self.addresses.of_text(deployment.council)
        self.escrow_contract: Contract = client.contract("MilestoneEscrow", self.escrow_address)
        self.council_contract: Contract = client.contract("OversightCouncil", self.council_address)
        self.programs: dict[int, ProgramRecord] = {}
        self.milestones: dict[bytes, MilestoneRecord] = {}
        self.proposals: dict[int, ProposalRecord] = {}
        self.governance: list[GovernanceEntry] = []
        self.tokens: dict[str, TokenInfo] = {}
        self.anomalies: list[str] = []
        self.events = 0
        self.unknown_events = 0
        self._senders: dict[bytes, str] = {}
        self._times: dict[int, int] = {}
        self._exec: tuple[bytes, int, str] | None = None
        self._last_tx: bytes = b""
        self._last_tx_hex = ""
        self._last_block = -1
        self._last_block_hex = ""
        self._last_time = 0
        self._escrow_key = self.escrow_address.lower()
        self._by_address: dict[str, dict[str, tuple[_EventSpec, Callable[..., None]]]] = {}
        for address, contract in (
            (self.escrow_address, "MilestoneEscrow"),
            (self.council_address, "OversightCouncil"),
        ):
            table: dict[str, tuple[_EventSpec, Callable[..., None]]] = {}
            for topic, spec in _event_specs(load_abi(contract), self.addresses).items():
                handler = getattr(self, "_on_" + _snake(spec.name), self._other)
                expected = _EXPECTED_FIELDS.get(spec.name)
                if expected is not None and spec.names != expected:
                    raise ArtifactError(
                        f"{contract}.{spec.name} has fields {spec.names}, the audit reads "
                        f"{expected}: rebuild the audit for this ABI"
                    )
                table["0x" + topic.hex()] = (spec, handler)
            self._by_address[address.lower()] = table
        # Events naming nobody: their transaction's sender says who.
        self._needs_sender = {
            topic
            for topic, (spec, _h) in self._by_address[self.escrow_address.lower()].items()
            if spec.name in _SENDER_EVENTS
        }

    # ------------------------------------------------------------------ reading

    def read(self, from_block: int, *, progress: Callable[[int, int], None] | None) -> None:
        """Reads and applies the logs of both contracts, one block window at a time. A window
        holds about LOGS_PER_READ logs (it grows over sparse blocks and shrinks over dense ones),
        never more blocks than the profile's cap, and is halved while the node refuses it; its
        response is parsed as it arrives and applied APPLY_BATCH logs at a time, so a window
        denser than planned costs time, not memory."""
        cap = self.client.profile.log_range_cap
        span = min(cap, FIRST_SPAN)
        start = from_block
        stream = _LogStream(self.client, [self.escrow_address, self.council_address])
        try:
            while start <= self.to_block:
                end = min(start + span - 1, self.to_block)
                try:
                    count = self._read_window(stream, start, end)
                except LogRangeTooLargeError:
                    if span == 1:
                        raise
                    span = max(1, span // 2)
                    continue
                if progress is not None:
                    progress(end, self.events)
                start = end + 1
                if count > LOGS_PER_READ:
                    span = max(1, span * LOGS_PER_READ // count)
                elif count < LOGS_PER_READ // 2:
                    span = min(cap, span * 2)
        finally:
            stream.close()

    def _read_window(self, stream: _LogStream, start: int, end: int) -> int:
        pending: list[dict[str, Any]] = []
        count = 0
        for log in stream.logs(start, end):
            pending.append(log)
            if len(pending) >= APPLY_BATCH:
                count += self._apply_all(pending)
                pending = []
        return count + self._apply_all(pending)

    def _apply_all(self, logs: list[dict[str, Any]]) -> int:
        self._prefetch(logs)
        for log in logs:
            self._apply(log)
        self._senders.clear()
        self._times.clear()
        return len(logs)

    def _prefetch(self, logs: Sequence[Mapping[str, Any]]) -> None:
        """Senders of the transactions whose events name nobody, and block times the node did
        not put in its logs (anvil does; not every node does), in batched requests."""
        txs: dict[str, None] = {}
        blocks: dict[str, None] = {}
        needs = self._needs_sender
        for log in logs:
            topics = log["topics"]
            if topics and topics[0] in needs and log["address"].lower() == self._escrow_key:
                txs[log["transactionHash"]] = None
            if log.get("blockTimestamp") is None:
                blocks[log["blockNumber"]] = None
        if txs:
            found = _batch(
                self.client,
                [("eth_getTransactionByHash", [tx]) for tx in txs],
                what="eth_getTransactionByHash",
            )
            for tx, reply in zip(txs, found, strict=True):
                if reply:
                    self._senders[bytes.fromhex(tx[2:])] = self.addresses.of_text(reply["from"])
        if blocks:
            found = _batch(
                self.client,
                [("eth_getBlockByNumber", [b, False]) for b in blocks],
                what="eth_getBlockByNumber",
            )
            for number, reply in zip(blocks, found, strict=True):
                if not reply:
                    raise AuditError(f"the node has no block {int(number, 16)}")
                self._times[int(number, 16)] = int(reply["timestamp"], 16)

    def _apply(self, log: Mapping[str, Any]) -> None:
        if log.get("removed"):
            return
        self.events += 1
        topics = log["topics"]
        table = self._by_address.get(log["address"].lower())
        found = table.get(topics[0]) if table is not None and topics else None
        if found is None:
            self.unknown_events += 1
            return
        spec, handler = found
        if log["blockNumber"] != self._last_block_hex:
            self._last_block_hex = log["blockNumber"]
            self._last_block = int(self._last_block_hex, 16)
            stamp = log.get("blockTimestamp")
            self._last_time = int(stamp, 16) if stamp else self._times[self._last_block]
        if log["transactionHash"] != self._last_tx_hex:
            self._last_tx_hex = log["transactionHash"]
            self._last_tx = bytes.fromhex(self._last_tx_hex[2:])
        block = self._last_block
        try:
            values = spec.decode(topics, bytes.fromhex(log["data"][2:]))
        except Exception as exc:  # a log that does not fit its ABI is a finding, not a crash
            self.anomalies.append(
                f"block {block}: {spec.name} log does not decode with the ABI ({exc})"
            )
            return
        handler(values, block, self._last_time, self._last_tx)

    # ------------------------------------------------------------------ helpers

    def _actor(self, tx: bytes) -> tuple[str | None, int | None]:
        """Who made an escrow change: the council's proposal (and its executor) when the change
        happened inside a council execution, else the transaction's sender."""
        if self._exec is not None and self._exec[0] == tx:
            return self._exec[2], self._exec[1]
        return self._senders.get(tx), None

    def token(self, address: str) -> TokenInfo:
        found = self.tokens.get(address)
        if found is None:
            contract = self.client.contract("SettlementToken", address)
            try:
                symbol = str(self.client.call(contract.functions.symbol()))
                decimals = int(self.client.call(contract.functions.decimals()))
            except (ContractRevertError, Web3Exception, ValueError):  # not an ERC-20 with metadata
                symbol, decimals = f"units of {short(address)}", 0
            found = TokenInfo(address, symbol, decimals, Money(symbol, decimals))
            self.tokens[address] = found
        return found

    def money(self, program_id: int) -> Money:
        program = self.programs.get(program_id)
        return self.token(program.token).money if program else Money()

    def _program(self, program_id: int, block: int) -> ProgramRecord:
        found = self.programs.get(program_id)
        if found is None:
            found = self._program_from_chain(program_id)
            if not self.partial:
                self.anomalies.append(
                    f"block {block}: event for program {program_id}, which was never created"
                )
        return found

    def _program_from_chain(self, program_id: int) -> ProgramRecord:
        """A program created before the audited range, as the chain describes it now."""
        raw = self.client.call(
            self.escrow_contract.functions.program(program_id), block=self.to_block
        )
        record = ProgramRecord(
            program_id=program_id,
            manager=self.addresses.of_text(str(raw[0])),
            token=self.addresses.of_text(str(raw[2])),
            treasury=self.addresses.of_text(str(raw[4])),
            challenge_window=int(raw[3]),
            created_block=None,
            created_time=None,
            closed=bool(raw[1]),
        )
        self.programs[program_id] = record
        self.token(record.token)
        return record

    def _milestone(self, milestone_id: bytes, block: int) -> MilestoneRecord:
        found = self.milestones.get(milestone_id)
        if found is None:
            raw = self.client.call(
                self.escrow_contract.functions.milestone(milestone_id), block=self.to_block
            )
            found = MilestoneRecord(
                milestone_id=milestone_id,
                program_id=int(raw[0]),
                ref=b"",
                beneficiary=self.addresses.of_text(str(raw[1])),
                amount=int(raw[2]),
                deadline=int(raw[3]),
                spec_hash=bytes(raw[4]),
                status=REGISTERED,
                registered_in_range=False,
            )
            self.milestones[milestone_id] = found
            if not self.partial:
                self.anomalies.append(
                    f"block {block}: event for milestone {short(milestone_id)}, "
                    "which was never registered"
                )
        return found

    def facts(self, milestone_id: bytes) -> MilestoneFacts | None:
        m = self.milestones.get(bytes(milestone_id))
        if m is None:
            return None
        return MilestoneFacts(
            beneficiary=m.beneficiary, amount=m.amount, ref=ref_text(m.ref) if m.ref else None
        )

    def _governance(
        self, event: str, block: int, time: int, tx: bytes, text: str, by: str | None = None
    ) -> None:
        actor, proposal = self._actor(tx)
        self.governance.append(GovernanceEntry(event, block, time, tx, by or actor, proposal, text))

    # ------------------------------------------------------------------ escrow: programs

    def _on_program_created(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        program_id, manager, token, treasury, window = v
        self.programs[program_id] = ProgramRecord(
            program_id, manager, token, treasury, window, block, time
        )
        self.token(token)

    def _on_program_funded(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        program = self._program(v[0], block)
        program.funded += v[2]
        program.fundings += 1

    def _on_program_closed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        program = self._program(v[0], block)
        program.closed = True
        program.closed_time = time
        if self._actor(tx)[1] is not None:  # closed by the council, not by its manager
            self._governance(
                "program-closed", block, time, tx, f"program {v[0]} closed by the council"
            )

    def _on_remainder_withdrawn(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        program_id, treasury, amount = v
        program = self._program(program_id, block)
        program.withdrawn += amount
        if self._actor(tx)[1] is not None:  # the council's; the manager's own is its ledger line
            self._governance(
                "remainder-withdrawn",
                block,
                time,
                tx,
                f"program {program_id}'s remainder of {self.money(program_id).show(amount)} "
                f"paid to treasury {treasury} by the council",
            )

    def _on_program_manager_changed(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        program_id, previous, manager = v
        self._program(program_id, block).manager = manager
        self._governance(
            "program-manager-changed",
            block,
            time,
            tx,
            f"manager of program {program_id} changed from {previous} to {manager}",
        )

    def _on_program_treasury_changed(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        program_id, previous, treasury = v
        self._program(program_id, block).treasury = treasury
        self._governance(
            "program-treasury-changed",
            block,
            time,
            tx,
            f"treasury of program {program_id} changed from {previous} to {treasury}",
        )

    def _on_challenge_window_set(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        program_id, window = v
        program = self._program(program_id, block)
        was = program.challenge_window
        program.challenge_window = window
        program.window_changes.append(WindowChange(time, block, was, window, self._actor(tx)[1]))
        self._governance(
            "challenge-window-set",
            block,
            time,
            tx,
            f"challenge window of program {program_id} set to {duration(window)} "
            f"(was {duration(was)})",
        )

    # ------------------------------------------------------------------ escrow: milestones

    def _on_milestone_registered(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        mid, program_id, beneficiary, amount, deadline, spec, ref = v
        program = self._program(program_id, block)
        program.committed += amount
        program.milestones += 1
        m = MilestoneRecord(mid, program_id, ref, beneficiary, amount, deadline, spec, REGISTERED)
        m.timeline.append(("registered", block, time, tx, program.manager, None, amount, deadline))
        self.milestones[mid] = m

    def _on_milestone_amended(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, beneficiary, amount, deadline, spec = v
        m = self._milestone(mid, block)
        program = self._program(m.program_id, block)
        program.committed += amount - m.amount
        terms = (m.amount, m.deadline, m.beneficiary, deadline, beneficiary)
        m.amount, m.deadline, m.beneficiary, m.spec_hash = amount, deadline, beneficiary, spec
        m.timeline.append(("amended", block, time, tx, program.manager, None, amount, terms))

    def _on_attestation_recorded(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        mid, oracle, evidence, epoch = v
        m = self.milestones.get(mid) or self._milestone(mid, block)
        if evidence not in m.hashes:
            m.hashes = (*m.hashes, evidence)
        m.timeline.append(("attested", block, time, tx, oracle, None, evidence, epoch))

    def _on_milestone_verified(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, evidence, count = v
        m = self.milestones.get(mid) or self._milestone(mid, block)
        m.status = VERIFIED
        m.evidence_hash = evidence
        m.verified_time = time
        m.timeline.append(("verified", block, time, tx, None, None, evidence, count))

    def _on_milestone_disputed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, oracle, evidence, conflicting = v
        m = self._milestone(mid, block)
        m.status = DISPUTED
        m.disputed = True
        m.timeline.append(("disputed", block, time, tx, oracle, None, evidence, conflicting))

    def _on_dispute_resolved(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, evidence = v
        m = self._milestone(mid, block)
        m.status = VERIFIED
        m.evidence_hash = evidence
        m.verified_time = time
        by, proposal = self._actor(tx)
        m.timeline.append(("dispute-resolved", block, time, tx, by, proposal, evidence, None))

    def _on_milestone_frozen(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        m = self._milestone(v[0], block)
        m.status = FROZEN
        by, proposal = self._actor(tx)
        m.timeline.append(("frozen", block, time, tx, by, proposal, None, None))

    def _on_milestone_unfrozen(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        m = self._milestone(v[0], block)
        m.status = VERIFIED
        by, proposal = self._actor(tx)
        m.timeline.append(("unfrozen", block, time, tx, by, proposal, None, None))

    def _on_milestone_force_released(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        mid, reason = v
        m = self._milestone(mid, block)
        m.forced = True
        by, proposal = self._actor(tx)
        m.timeline.append(("force-released", block, time, tx, by, proposal, reason, None))

    def _on_milestone_released(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, program_id, beneficiary, amount = v
        m = self._milestone(mid, block)
        program = self._program(program_id, block)
        program.paid += amount
        program.committed -= amount
        m.status = RELEASED
        if m.forced:
            program.force_paid += amount
        elif m.verified_time is not None:
            m.release_window = program.challenge_window
            m.release_lag = time - (m.verified_time + program.challenge_window)
        by, proposal = self._actor(tx)
        m.timeline.append(("released", block, time, tx, by, proposal, beneficiary, amount))

    def _on_milestone_cancelled(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, program_id, amount = v
        m = self._milestone(mid, block)
        program = self._program(program_id, block)
        program.committed -= amount
        program.returned_cancelled += amount
        m.status = CANCELLED
        by, proposal = self._actor(tx)
        m.timeline.append(("cancelled", block, time, tx, by, proposal, amount, None))

    def _on_milestone_expired(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, program_id, amount = v
        m = self._milestone(mid, block)
        program = self._program(program_id, block)
        program.committed -= amount
        program.returned_expired += amount
        m.status = EXPIRED
        by, proposal = self._actor(tx)
        m.timeline.append(("expired", block, time, tx, by, proposal, amount, None))

    def _on_beneficiary_replaced(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        mid, previous, beneficiary = v
        m = self._milestone(mid, block)
        m.beneficiary = beneficiary
        by, proposal = self._actor(tx)
        m.timeline.append(
            ("beneficiary-replaced", block, time, tx, by, proposal, previous, beneficiary)
        )

    # ------------------------------------------------------------------ escrow: governance

    def _on_committee_updated(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        epoch, oracles, quorum = v
        text = f"oracle committee epoch {epoch}: {', '.join(oracles)} with quorum {quorum}"
        self._governance("committee-updated", block, time, tx, text)

    def _on_paused(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance("paused", block, time, tx, f"escrow paused by {v[0]}")

    def _on_unpaused(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance("unpaused", block, time, tx, f"escrow unpaused by {v[0]}")

    def _on_role_granted(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        role, account, sender = v
        name = _ROLE_NAMES.get(role, f"role {short(role)}")
        self._governance(
            "role-granted", block, time, tx, f"{name} role granted to {account}", by=sender
        )

    def _on_role_revoked(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        role, account, sender = v
        name = _ROLE_NAMES.get(role, f"role {short(role)}")
        self._governance(
            "role-revoked", block, time, tx, f"{name} role revoked from {account}", by=sender
        )

    # ------------------------------------------------------------------ council

    def _on_proposal_created(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        proposal_id, proposer, target, data, description, expiry = v
        money = Money()
        if target == self.escrow_address and len(data) >= 36:
            m = self.milestones.get(bytes(data[4:36]))
            if m is not None:
                money = self.money(m.program_id)
        try:
            text = describe(
                self.escrow_contract,
                self.council_contract,
                target,
                bytes(data),
                money=money,
                milestone=self.facts,
            )
        except Exception as exc:  # arguments that do not decode are shown, never fatal
            text = f"call {target} with undecodable data 0x{bytes(data)[:4].hex()} ({exc})"
        self.proposals[proposal_id] = ProposalRecord(
            proposal_id, proposer, target, bytes(data), description, expiry, block, time, tx, text
        )

    def _proposal(self, proposal_id: int, block: int) -> ProposalRecord | None:
        found = self.proposals.get(proposal_id)
        if found is None:
            self.anomalies.append(
                f"block {block}: event for proposal {proposal_id}, whose creation was not read"
            )
        return found

    def _on_proposal_approved(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        proposal_id, member, count = v
        found = self._proposal(proposal_id, block)
        if found is not None:
            found.approvals.append((member, time, block, count))

    def _on_approval_revoked(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        proposal_id, member, count = v
        found = self._proposal(proposal_id, block)
        if found is not None:
            found.revocations.append((member, time, block, count))

    def _on_proposal_executed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        proposal_id, executor = v
        self._exec = (tx, proposal_id, executor)
        found = self._proposal(proposal_id, block)
        if found is not None:
            found.executed = (executor, time, block, tx)

    def _on_member_added(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance("member-added", block, time, tx, f"council member {v[0]} added")

    def _on_member_removed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance("member-removed", block, time, tx, f"council member {v[0]} removed")

    def _on_threshold_changed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        previous, threshold = v
        self._governance(
            "threshold-changed",
            block,
            time,
            tx,
            f"council threshold changed from {previous} to {threshold}",
        )

    def _on_emergency_pause(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance(
            "emergency-pause", block, time, tx, f"emergency pause by member {v[0]}", by=v[0]
        )

    def _other(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        """Events the audit has no rule for (e.g. RoleAdminChanged) are counted, not lost."""


# The fields each handler unpacks, in ABI order: a contract change that reorders them stops the
# audit instead of misreading the history.
_EXPECTED_FIELDS: dict[str, tuple[str, ...]] = {
    "ProgramCreated": ("programId", "manager", "token", "treasury", "challengeWindow"),
    "ProgramFunded": ("programId", "funder", "amount"),
    "ProgramClosed": ("programId",),
    "RemainderWithdrawn": ("programId", "treasury", "amount"),
    "ProgramManagerChanged": ("programId", "previousManager", "newManager"),
    "ProgramTreasuryChanged": ("programId", "previousTreasury", "newTreasury"),
    "ChallengeWindowSet": ("programId", "challengeWindow"),
    "MilestoneRegistered": (
        "milestoneId",
        "programId",
        "beneficiary",
        "amount",
        "deadline",
        "evidenceSpecHash",
        "externalRef",
    ),
    "MilestoneAmended": ("milestoneId", "beneficiary", "amount", "deadline", "evidenceSpecHash"),
    "AttestationRecorded": ("milestoneId", "oracle", "evidenceHash", "epoch"),
    "MilestoneVerified": ("milestoneId", "evidenceHash", "attestations"),
    "MilestoneDisputed": ("milestoneId", "oracle", "evidenceHash", "conflictingHash"),
    "DisputeResolved": ("milestoneId", "evidenceHash"),
    "MilestoneFrozen": ("milestoneId",),
    "MilestoneUnfrozen": ("milestoneId",),
    "MilestoneForceReleased": ("milestoneId", "reasonHash"),
    "MilestoneReleased": ("milestoneId", "programId", "beneficiary", "amount"),
    "MilestoneCancelled": ("milestoneId", "programId", "amount"),
    "MilestoneExpired": ("milestoneId", "programId", "amount"),
    "BeneficiaryReplaced": ("milestoneId", "previous", "beneficiary"),
    "CommitteeUpdated": ("epoch", "oracles", "quorum"),
    "Paused": ("account",),
    "Unpaused": ("account",),
    "RoleGranted": ("role", "account", "sender"),
    "RoleRevoked": ("role", "account", "sender"),
    "ProposalCreated": ("proposalId", "proposer", "target", "data", "description", "expiry"),
    "ProposalApproved": ("proposalId", "member", "approvals"),
    "ApprovalRevoked": ("proposalId", "member", "approvals"),
    "ProposalExecuted": ("proposalId", "executor"),
    "MemberAdded": ("member",),
    "MemberRemoved": ("member",),
    "ThresholdChanged": ("previous", "threshold"),
    "EmergencyPause": ("member",),
}

_SENDER_EVENTS = frozenset(
    {
        "MilestoneReleased",
        "MilestoneExpired",
        "MilestoneFrozen",
        "MilestoneUnfrozen",
        "MilestoneCancelled",
        "MilestoneForceReleased",
        "BeneficiaryReplaced",
        "DisputeResolved",
        "CommitteeUpdated",
        "ChallengeWindowSet",
        "ProgramClosed",
        "RemainderWithdrawn",
        "ProgramManagerChanged",
        "ProgramTreasuryChanged",
    }
)


# ---------------------------------------------------------------------------------------- flags


def status_at(m: MilestoneRecord, now: int) -> int:
    """The status `statusOf` gives at time `now`: a Registered milestone past its deadline reads
    as Expired (the contract's one rule that depends on time)."""
    if m.status == REGISTERED and now > m.deadline:
        return EXPIRED
    return m.status


def released_time(m: MilestoneRecord) -> int | None:
    """When the milestone was paid (its MilestoneReleased), if it was."""
    for entry in reversed(m.timeline):
        if entry[0] == "released":
            return entry[2]
    return None


def shortened_before_release(m: MilestoneRecord, program: ProgramRecord) -> WindowChange | None:
    """The council's shortening of the program's window that let `m` be paid sooner than the
    window before it allowed, within that earlier window of the change; None when there is none
    (or `m` was force-released, or not released)."""
    released = released_time(m)
    if m.forced or released is None or m.verified_time is None:
        return None
    for change in reversed(program.window_changes):
        if change.time > released or not change.shortened:
            continue
        if released - change.time <= change.previous and (
            released < m.verified_time + change.previous
        ):
            return change
    return None


def window_below_policy(
    m: MilestoneRecord, program: ProgramRecord, policy: WindowPolicy, decimals: int
) -> int | None:
    """The challenge window that applies to `m` when it is high-value under `policy` and that
    window is shorter than the policy's minimum; else None."""
    if m.forced or m.status in (CANCELLED, EXPIRED, NONE):
        return None
    if m.amount < policy.threshold(decimals):
        return None
    window = m.release_window if m.status == RELEASED else program.challenge_window
    return window if window < policy.min_window else None


@dataclass(frozen=True, slots=True)
class Schedule:
    scheduled: int
    due: int
    paid: int

    @property
    def paid_fraction(self) -> float | None:
        return self.paid / self.scheduled if self.scheduled else None

    @property
    def due_fraction(self) -> float | None:
        return self.due / self.scheduled if self.scheduled else None


def _schedules(state: _Rebuild, now: int) -> dict[int, Schedule]:
    totals: dict[int, list[int]] = {pid: [0, 0] for pid in state.programs}
    for m in state.milestones.values():
        if m.status == CANCELLED:
            continue
        row = totals.setdefault(m.program_id, [0, 0])
        row[0] += m.amount
        if m.deadline <= now:
            row[1] += m.amount
    return {
        pid: Schedule(row[0], row[1], state.programs[pid].paid if pid in state.programs else 0)
        for pid, row in totals.items()
    }


def _flags(
    state: _Rebuild,
    now: int,
    schedules: Mapping[int, Schedule],
    tolerance: float,
    policy: WindowPolicy | None = None,
) -> list[Flag]:
    flags: list[Flag] = []
    for m in state.milestones.values():
        money = state.money(m.program_id)
        label = _label(m)
        pid = m.program_id
        mid = m.milestone_id
        for entry in m.timeline:
            kind = entry[0]
            if kind == "force-released":
                via = f" (proposal #{entry[5]})" if entry[5] is not None else ""
                flags.append(
                    Flag(
                        "force-release",
                        pid,
                        mid,
                        f"{label} force-released by the council{via} on {when(entry[2])}: "
                        f"{money.show(m.amount)} to {m.beneficiary} without an oracle quorum, "
                        f"reason hash {_hex(entry[6])}",
                    )
                )
            elif kind == "disputed":
                flags.append(
                    Flag(
                        "dispute",
                        pid,
                        mid,
                        f"{label} disputed on {when(entry[2])}: oracle {entry[4]} attested "
                        f"{short(entry[7])} against {short(entry[6])}; now "
                        f"{milestone_statuses()[status_at(m, now)]}",
                    )
                )
        if len(m.hashes) > 1 and not m.disputed:
            by_oracle = "; ".join(
                f"{e[4]} attested {short(e[6])} (epoch {e[7]})"
                for e in m.timeline
                if e[0] == "attested"
            )
            flags.append(
                Flag(
                    "oracle-disagreement",
                    pid,
                    mid,
                    f"{label}: oracles attested {len(m.hashes)} different evidence hashes "
                    f"across committee epochs: {by_oracle}",
                )
            )
        program = state.programs.get(pid)
        change = shortened_before_release(m, program) if program is not None else None
        released = released_time(m)
        if change is not None and released is not None and m.verified_time is not None:
            via = f" (proposal #{change.proposal})" if change.proposal is not None else ""
            flags.append(
                Flag(
                    "window-shortened-before-release",
                    pid,
                    mid,
                    f"{label} released on {when(released)}, {duration(released - change.time)} "
                    f"after the council shortened program {pid}'s challenge window from "
                    f"{duration(change.previous)} to {duration(change.window)}{via}; under the "
                    f"earlier window it could not have been paid before "
                    f"{when(m.verified_time + change.previous)}",
                )
            )
        if policy is not None and program is not None:
            window = window_below_policy(m, program, policy, state.token(program.token).decimals)
            if window is not None:
                flags.append(
                    Flag(
                        "short-window-high-value",
                        pid,
                        mid,
                        f"{label}: {money.show(m.amount)} (at least {policy.high_value}, the "
                        f"policy's high value) with a {duration(window)} challenge window, "
                        f"shorter than the policy's {duration(policy.min_window)}",
                    )
                )
        if m.status == REGISTERED and now > m.deadline:
            flags.append(
                Flag(
                    "overdue",
                    pid,
                    mid,
                    f"{label}: deadline {when(m.deadline)} passed without a quorum; "
                    f"{money.show(m.amount)} stays committed until someone calls expire",
                )
            )
        if m.status == EXPIRED:
            flags.append(
                Flag(
                    "expired",
                    pid,
                    mid,
                    f"{label} expired (deadline {when(m.deadline)}); "
                    f"{money.show(m.amount)} went back to program {pid}",
                )
            )
    for pid, s in sorted(schedules.items()):
        paid, due = s.paid_fraction, s.due_fraction
        if paid is None or due is None:
            continue
        if abs(paid - due) > tolerance:
            kind = "schedule-ahead" if paid > due else "schedule-behind"
            words = "ahead of" if paid > due else "behind"
            flags.append(
                Flag(
                    kind,
                    pid,
                    None,
                    f"program {pid} has paid {paid:.0%} of its scheduled "
                    f"{state.money(pid).show(s.scheduled)} while {due:.0%} is due by deadline: "
                    f"{abs(paid - due):.0%} {words} schedule (tolerance {tolerance:.0%})",
                )
            )
    return sorted(flags, key=lambda f: FLAG_KINDS.index(f.kind))


def _label(m: MilestoneRecord) -> str:
    ref = ref_text(m.ref) if m.ref else None
    return (
        f"milestone {ref} ({short(m.milestone_id)})"
        if ref
        else f"milestone {short(m.milestone_id)}"
    )


# ---------------------------------------------------------------------------------------- reconcile


def _reconcile(state: _Rebuild, now: int) -> Reconciliation:
    client, at = state.client, hex(state.to_block)
    escrow, council = state.escrow_address, state.council_address
    differences: list[Difference] = []

    def differ(subject: str, what: str, rebuilt: str, on_chain: str, message: str) -> None:
        differences.append(Difference(subject, what, rebuilt, on_chain, message))

    def call(to: str, data: str) -> tuple[str, list[Any]]:
        return ("eth_call", [{"to": to, "data": data}, at])

    programs = sorted(state.programs.values(), key=lambda p: p.program_id)
    tokens = sorted({p.token for p in programs})
    proposals = sorted(state.proposals.values(), key=lambda p: p.proposal_id)
    calls = [
        call(escrow, _selector("programCount()")),
        call(council, _selector("proposalCount()")),
        *(call(escrow, _selector("program(uint256)") + _word(p.program_id)) for p in programs),
        *(call(t, _selector("balanceOf(address)") + _word(escrow)) for t in tokens),
        *(call(council, _selector("proposal(uint256)") + _word(p.proposal_id)) for p in proposals),
    ]
    results = iter(_batch(client, calls, what="reconciliation eth_call"))

    def number(result: Any) -> int:
        return int.from_bytes(_words(result)[0], "big") if result and result != "0x" else 0

    count = number(next(results))
    if count != len(programs):
        differ(
            "escrow",
            "programCount",
            str(len(programs)),
            str(count),
            f"the escrow counts {count} programs; the events created {len(programs)}",
        )
    proposal_count = number(next(results))
    if proposal_count != len(proposals):
        differ(
            "council",
            "proposalCount",
            str(len(proposals)),
            str(proposal_count),
            f"the council counts {proposal_count} proposals; the events created {len(proposals)}",
        )
    for p in programs:
        words = _words(next(results))
        if len(words) < 7:
            differ(f"program {p.program_id}", "program", "exists", "none", "no such program")
            continue
        money = state.money(p.program_id)
        chain_token = state.addresses.of_word(words[2])
        chain_balance = int.from_bytes(words[5], "big")
        chain_committed = int.from_bytes(words[6], "big")
        for what, rebuilt, found in (
            ("balance", p.balance, chain_balance),
            (
                "committed",
                p.committed,
                chain_committed,
            ),
        ):
            if rebuilt != found:
                differ(
                    f"program {p.program_id}",
                    what,
                    str(rebuilt),
                    str(found),
                    f"program {p.program_id} {what}: the contract holds {money.show(found)}, "
                    f"the events add up to {money.show(rebuilt)} (differs by "
                    f"{_signed(money, found - rebuilt)}, {found - rebuilt:+d} units)",
                )
        if chain_token != p.token:
            differ(
                f"program {p.program_id}",
                "token",
                p.token,
                chain_token,
                f"program {p.program_id} pays in {chain_token}; the events say {p.token}",
            )
        for what, rebuilt_address, index in (
            ("manager", p.manager, 0),
            ("treasury", p.treasury, 4),
        ):
            chain_address = state.addresses.of_word(words[index])
            if chain_address != rebuilt_address:
                differ(
                    f"program {p.program_id}",
                    what,
                    rebuilt_address,
                    chain_address,
                    f"program {p.program_id}'s {what} is {chain_address} on chain; the events "
                    f"say {rebuilt_address}",
                )
        chain_closed = words[1][-1] != 0
        if chain_closed != p.closed:
            differ(
                f"program {p.program_id}",
                "closed",
                str(p.closed),
                str(chain_closed),
                f"program {p.program_id} is {'closed' if chain_closed else 'open'} on chain; "
                f"the events say {'closed' if p.closed else 'open'}",
            )
        chain_window = int.from_bytes(words[3], "big")
        if chain_window != p.challenge_window:
            differ(
                f"program {p.program_id}",
                "challengeWindow",
                str(p.challenge_window),
                str(chain_window),
                f"program {p.program_id} has a {duration(chain_window)} challenge window on "
                f"chain; the events say {duration(p.challenge_window)}",
            )
    for t in tokens:
        held = number(next(results))
        owed = sum(p.balance for p in programs if p.token == t)
        if held != owed:
            info = state.token(t)
            differ(
                f"token {info.symbol}",
                "balanceOf(escrow)",
                str(owed),
                str(held),
                f"token {info.symbol} ({t}): the escrow holds {info.money.show(held)}, but its "
                f"programs' balances add up to {info.money.show(owed)}: "
                f"{info.money.show(abs(held - owed))} ({abs(held - owed)} units) "
                f"{'more' if held > owed else 'less'} than the ledger accounts for",
            )
    for proposal in proposals:
        words = _words(next(results))
        if len(words) < 5:
            differ(
                f"proposal {proposal.proposal_id}", "proposal", "exists", "none", "no such proposal"
            )
            continue
        executed = words[2][-1] != 0
        if executed != (proposal.executed is not None):
            differ(
                f"proposal {proposal.proposal_id}",
                "executed",
                str(proposal.executed is not None),
                str(executed),
                f"proposal {proposal.proposal_id} is {_executed(executed)} on chain; the events "
                f"say {_executed(proposal.executed is not None)}",
            )
        if bytes(words[3]) != keccak(proposal.data):
            differ(
                f"proposal {proposal.proposal_id}",
                "dataHash",
                _hex(keccak(proposal.data)) or "",
                _hex(bytes(words[3])) or "",
                f"proposal {proposal.proposal_id}: the calldata in its event does not hash to the "
                "stored hash",
            )
    # Milestones a batch at a time, so that the calls never outgrow one batch.
    status_of = _selector("statusOf(bytes32)")
    milestones = iter(state.milestones.values())
    while chunk := list(itertools.islice(milestones, RPC_BATCH)):
        found_statuses = _batch(
            client,
            [call(escrow, status_of + _word(m.milestone_id)) for m in chunk],
            what="reconciliation eth_call",
        )
        for m, result in zip(chunk, found_statuses, strict=True):
            found = number(result)
            expected = status_at(m, now)
            if found != expected:
                labels = milestone_statuses()
                shown = labels[found] if 0 <= found < len(labels) else str(found)
                differ(
                    f"milestone {short(m.milestone_id)}",
                    "statusOf",
                    labels[expected],
                    shown,
                    f"{_label(m)} is {shown} on chain; the events make it {labels[expected]}",
                )
    for text in state.anomalies:
        differ("history", "events", "", "", f"the event history is inconsistent: {text}")
    return Reconciliation(
        checked=True,
        note=f"checked against chain state at block {state.to_block}",
        differences=tuple(differences),
        programs=len(programs),
        milestones=len(state.milestones),
        tokens=len(tokens),
        proposals=len(proposals),
    )


def _executed(done: bool) -> str:
    return "executed" if done else "not executed"


def _signed(money: Money, amount: int) -> str:
    return ("+" if amount >= 0 else "-") + money.show(abs(amount))


# ---------------------------------------------------------------------------------------- report


@dataclass
class AuditReport:
    """The rebuilt history, its flags and its reconciliation; renders as text, JSON or CSV."""

    chain_id: int
    escrow: str
    council: str
    deployment_block: int
    from_block: int
    to_block: int
    as_of: int
    state: _Rebuild
    schedules: dict[int, Schedule]
    flags: list[Flag]
    reconciliation: Reconciliation
    schedule_tolerance: float

    @property
    def events(self) -> int:
        return self.state.events

    @property
    def ok(self) -> bool:
        return self.reconciliation.ok

    # ------------------------------------------------------------------ shared views

    def programs(self) -> list[ProgramRecord]:
        return sorted(self.state.programs.values(), key=lambda p: p.program_id)

    def _flags_by_milestone(self) -> dict[bytes, list[str]]:
        found: dict[bytes, list[str]] = {}
        for f in self.flags:
            if f.milestone_id is not None:
                found.setdefault(f.milestone_id, []).append(f.kind)
        return found

    def totals(self) -> dict[str, dict[str, int]]:
        """Per token: the programs' ledgers added up."""
        out: dict[str, dict[str, int]] = {}
        for p in self.programs():
            row = out.setdefault(p.token, dict.fromkeys(_LEDGER, 0))
            for key in _LEDGER:
                row[key] += _ledger(p)[key]
        return out

    # ------------------------------------------------------------------ JSON

    def head(self) -> dict[str, Any]:
        """Everything but the milestones (which `write_json` streams one by one)."""
        now = self.as_of
        tokens = {
            t.address: {"symbol": t.symbol, "decimals": t.decimals}
            for t in self.state.tokens.values()
        }
        return {
            "chain_id": self.chain_id,
            "escrow": self.escrow,
            "council": self.council,
            "deployment_block": self.deployment_block,
            "from_block": self.from_block,
            "to_block": self.to_block,
            "as_of": now,
            "events": self.events,
            "unrecognised_events": self.state.unknown_events,
            "amounts": "strings of integers, in each token's smallest unit",
            "tokens": tokens,
            "overall": {
                token: {k: str(v) for k, v in row.items()} for token, row in self.totals().items()
            },
            "programs": [self._program_json(p) for p in self.programs()],
            "proposals": [
                self._proposal_json(p, now)
                for p in sorted(self.state.proposals.values(), key=lambda p: p.proposal_id)
            ],
            "governance": [
                {
                    "event": g.event,
                    "block": g.block,
                    "time": g.time,
                    "tx": _hex(g.tx),
                    "by": g.by,
                    "proposal": g.proposal,
                    "text": g.text,
                }
                for g in self.state.governance
            ],
            "flags": [
                {
                    "kind": f.kind,
                    "program": f.program_id,
                    "milestone": _hex(f.milestone_id),
                    "message": f.message,
                }
                for f in self.flags
            ],
            "anomalies": list(self.state.anomalies),
            "reconciliation": {
                "checked": self.reconciliation.checked,
                "ok": self.reconciliation.ok,
                "note": self.reconciliation.note,
                "programs": self.reconciliation.programs,
                "milestones": self.reconciliation.milestones,
                "tokens": self.reconciliation.tokens,
                "proposals": self.reconciliation.proposals,
                "differences": [
                    {
                        "subject": d.subject,
                        "field": d.field,
                        "rebuilt": d.rebuilt,
                        "on_chain": d.on_chain,
                        "message": d.message,
                    }
                    for d in self.reconciliation.differences
                ],
            },
        }

    def _program_json(self, p: ProgramRecord) -> dict[str, Any]:
        s = self.schedules.get(p.program_id, Schedule(0, 0, 0))
        return {
            "id": p.program_id,
            "manager": p.manager,
            "token": p.token,
            "symbol": self.state.token(p.token).symbol,
            "treasury": p.treasury,
            "challenge_window": p.challenge_window,
            "created_block": p.created_block,
            "created_time": p.created_time,
            "closed": p.closed,
            "closed_time": p.closed_time,
            "fundings": p.fundings,
            "milestones": p.milestones,
            **{k: str(v) for k, v in _ledger(p).items()},
            "force_paid": str(p.force_paid),
            "scheduled": str(s.scheduled),
            "due": str(s.due),
            "paid_fraction": s.paid_fraction,
            "due_fraction": s.due_fraction,
        }

    def _proposal_json(self, p: ProposalRecord, now: int) -> dict[str, Any]:
        return {
            "id": p.proposal_id,
            "status": p.status(now),
            "text": p.text,
            "description": p.description,
            "proposer": p.proposer,
            "target": p.target,
            "data": _hex(p.data),
            "expiry": p.expiry,
            "block": p.block,
            "time": p.time,
            "tx": _hex(p.tx),
            "approvals": [
                {"member": m, "time": t, "block": b, "approvals": c} for m, t, b, c in p.approvals
            ],
            "revocations": [
                {"member": m, "time": t, "block": b, "approvals": c} for m, t, b, c in p.revocations
            ],
            "executed": None
            if p.executed is None
            else {
                "executor": p.executed[0],
                "time": p.executed[1],
                "block": p.executed[2],
                "tx": _hex(p.executed[3]),
            },
        }

    def milestone_json(self, m: MilestoneRecord, flags: Sequence[str]) -> dict[str, Any]:
        timeline = []
        for kind, block, time, tx, by, proposal, a, b in m.timeline:
            item: dict[str, Any] = {
                "event": kind,
                "block": block,
                "time": time,
                "tx": _hex(tx),
                "by": by,
            }
            if proposal is not None:
                item["proposal"] = proposal
            names = _ENTRY_FIELDS[kind]
            for name, value in zip(names, (a, b), strict=True):
                if name is not None:
                    item[name] = _json_value(name, value)
            timeline.append(item)
        return {
            "id": _hex(m.milestone_id),
            "program": m.program_id,
            "ref": ref_text(m.ref) if m.ref else None,
            "beneficiary": m.beneficiary,
            "amount": str(m.amount),
            "deadline": m.deadline,
            "evidence_spec_hash": _hex(m.spec_hash),
            "status": milestone_statuses()[status_at(m, self.as_of)],
            "evidence_hash": _hex(m.evidence_hash),
            "verified_time": m.verified_time,
            "registered_in_range": m.registered_in_range,
            "flags": list(flags),
            "timeline": timeline,
        }

    def write_json(self, out: IO[str]) -> None:
        """One JSON document; milestones are encoded one at a time, never all at once."""
        head = json.dumps(self.head())
        out.write(head[:-1] + ', "milestones": [')
        by_milestone = self._flags_by_milestone()
        first = True
        for m in self.state.milestones.values():
            if not first:
                out.write(", ")
            first = False
            out.write(json.dumps(self.milestone_json(m, by_milestone.get(m.milestone_id, ()))))
        out.write("]}\n")

    # ------------------------------------------------------------------ CSV

    CSV_COLUMNS: tuple[str, ...] = (
        "milestone_id",
        "program_id",
        "ref",
        "token",
        "beneficiary",
        "amount",
        "deadline",
        "status",
        "registered_at",
        "attestations",
        "oracles",
        "evidence_hash",
        "verified_at",
        "disputed",
        "frozen",
        "released_at",
        "released_by",
        "paid_to",
        "force_released",
        "reason_hash",
        "cancelled_at",
        "expired_at",
        "beneficiary_replaced",
        "flags",
    )

    def write_csv(self, out: IO[str]) -> None:
        """A row per milestone; amounts in the token's smallest unit, times in UTC."""
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.CSV_COLUMNS)
        by_milestone = self._flags_by_milestone()
        for m in self.state.milestones.values():
            first: dict[str, Entry] = {}
            oracles: list[str] = []
            for e in m.timeline:
                first.setdefault(e[0], e)
                if e[0] == "attested" and e[4] is not None:
                    oracles.append(e[4])
            released = first.get("released")
            forced = first.get("force-released")
            token = (
                self.state.programs[m.program_id].token
                if m.program_id in (self.state.programs)
                else ""
            )
            writer.writerow(
                (
                    _hex(m.milestone_id),
                    m.program_id,
                    ref_text(m.ref) if m.ref else "",
                    self.state.token(token).symbol if token else "",
                    m.beneficiary,
                    m.amount,
                    when(m.deadline),
                    milestone_statuses()[status_at(m, self.as_of)],
                    when(first["registered"][2]) if "registered" in first else "",
                    len(oracles),
                    ";".join(oracles),
                    _hex(m.evidence_hash) or "",
                    when(m.verified_time) if m.verified_time else "",
                    "yes" if m.disputed else "",
                    "yes" if "frozen" in first else "",
                    when(released[2]) if released else "",
                    (released[4] or "") if released else "",
                    (released[6] or "") if released else "",
                    "yes" if forced else "",
                    _hex(forced[6]) if forced else "",
                    when(first["cancelled"][2]) if "cancelled" in first else "",
                    when(first["expired"][2]) if "expired" in first else "",
                    "yes" if "beneficiary-replaced" in first else "",
                    ";".join(by_milestone.get(m.milestone_id, ())),
                )
            )

    # ------------------------------------------------------------------ text

    def write_text(self, out: IO[str]) -> None:
        w = out.write
        state = self.state
        w(
            f"Audit of escrow {self.escrow} and council {self.council} on chain {self.chain_id}\n"
            f"blocks {self.from_block} to {self.to_block} (as of {when(self.as_of)}): "
            f"{self.events:,} events, {len(state.programs):,} programs, "
            f"{len(state.milestones):,} milestones, {len(state.proposals):,} council proposals\n"
        )
        if self.from_block > self.deployment_block:
            w(
                f"partial history: the escrow was deployed at block {self.deployment_block}; "
                "amounts cover the audited blocks only\n"
            )
        w("\nOverall, per settlement token\n")
        header = ("token", *_LEDGER_LABELS)
        rows: list[Sequence[str]] = []
        for token, row in self.totals().items():
            money = state.token(token).money
            rows.append((money.symbol, *(money.show(row[k]) for k in _LEDGER)))
        _table(w, header, rows)

        w("\nPrograms\n")
        rows = []
        for p in self.programs():
            money = state.token(p.token).money
            s = self.schedules.get(p.program_id, Schedule(0, 0, 0))
            ledger = _ledger(p)
            rows.append(
                (
                    str(p.program_id),
                    money.symbol,
                    duration(p.challenge_window) if p.challenge_window else "none",
                    "closed" if p.closed else "open",
                    str(p.milestones),
                    *(money.show(ledger[k]) for k in _LEDGER),
                    _percent(s.paid_fraction),
                    _percent(s.due_fraction),
                )
            )
        _table(
            w,
            ("#", "token", "window", "state", "milestones", *_LEDGER_LABELS, "paid%", "due%"),
            rows,
        )
        for p in self.programs():
            w(
                f"  program {p.program_id}: manager {p.manager}, treasury {p.treasury}, "
                f"created {when(p.created_time)}, {p.fundings} funding(s)\n"
            )

        w("\nMilestones\n")
        by_milestone = self._flags_by_milestone()
        for m in self.state.milestones.values():
            money = state.money(m.program_id)
            flags = by_milestone.get(m.milestone_id)
            w(
                f"  program {m.program_id} · {_label(m)} · {money.show(m.amount)} to "
                f"{m.beneficiary} · deadline {when(m.deadline)} · "
                f"{milestone_statuses()[status_at(m, self.as_of)]}"
                + (f" · flags: {', '.join(flags)}" if flags else "")
                + "\n"
            )
            for entry in m.timeline:
                w(f"      {when(entry[2])}  block {entry[1]:<8} {_entry_text(entry, money)}\n")

        w("\nCouncil proposals\n")
        if not state.proposals:
            w("  none\n")
        for q in sorted(state.proposals.values(), key=lambda x: x.proposal_id):
            w(f"  #{q.proposal_id} [{q.status(self.as_of)}] {q.text}\n")
            w(f'      description: "{q.description}"\n')
            w(
                f"      proposed by {q.proposer} on {when(q.time)} (block {q.block}), "
                f"expires {when(q.expiry)}\n"
            )
            for member, time, block, count in q.approvals:
                w(f"      approved by {member} on {when(time)} (block {block}): {count} in all\n")
            for member, time, block, count in q.revocations:
                w(f"      revoked by {member} on {when(time)} (block {block}): {count} left\n")
            if q.executed is not None:
                executor, time, block, _tx = q.executed
                w(f"      executed by {executor} on {when(time)} (block {block})\n")

        w("\nGovernance\n")
        if not state.governance:
            w("  none\n")
        for g in state.governance:
            by = _by(g.by, g.proposal)
            w(f"  {when(g.time)}  block {g.block:<8} {g.text}{by}\n")

        w(f"\nFlags for review ({len(self.flags)})\n")
        if not self.flags:
            w("  none\n")
        for f in self.flags:
            w(f"  {f.kind:<22} {f.message}\n")
        if state.anomalies:
            w(f"\nAnomalies in the event history ({len(state.anomalies)})\n")
            for text in state.anomalies:
                w(f"  {text}\n")

        r = self.reconciliation
        w("\nReconciliation\n")
        if not r.checked:
            w(f"  not checked: {r.note}\n")
        elif r.ok:
            w(
                f"  OK: {r.programs:,} programs, {r.milestones:,} milestones, {r.proposals:,} "
                f"proposals and {r.tokens} token balance(s) match the chain ({r.note})\n"
            )
        else:
            w(f"  FAILED: {len(r.differences)} difference(s) ({r.note})\n")
            for d in r.differences:
                w(f"  - {d.message}\n")


_LEDGER = (
    "funded",
    "committed",
    "paid",
    "refunded",
    "returned_cancelled",
    "returned_expired",
    "available",
    "balance",
)
_LEDGER_LABELS = (
    "funded",
    "committed",
    "paid",
    "refunded",
    "cancelled→available",
    "expired→available",
    "available",
    "balance",
)


def _ledger(p: ProgramRecord) -> dict[str, int]:
    return {
        "funded": p.funded,
        "committed": p.committed,
        "paid": p.paid,
        "refunded": p.withdrawn,
        "returned_cancelled": p.returned_cancelled,
        "returned_expired": p.returned_expired,
        "available": p.available,
        "balance": p.balance,
    }


def _json_value(name: str, value: Any) -> Any:
    if isinstance(value, bytes):
        return _hex(value)
    if name == "amount":
        return str(value)
    if name == "terms":
        amount, deadline, beneficiary, new_deadline, new_beneficiary = value
        return {
            "previous_amount": str(amount),
            "previous_deadline": deadline,
            "previous_beneficiary": beneficiary,
            "deadline": new_deadline,
            "beneficiary": new_beneficiary,
        }
    return value


def _by(by: str | None, proposal: int | None) -> str:
    if proposal is not None:
        return f" by the council (proposal #{proposal}, executed by {by})"
    return f" by {by}" if by else ""


def _entry_text(entry: Entry, money: Money) -> str:
    kind, _block, _time, _tx, by, proposal, a, b = entry
    who = _by(by, proposal)
    if kind == "registered":
        return f"registered by manager {by}: {money.show(a)}, deadline {when(b)}"
    if kind == "amended":
        old_amount, old_deadline, old_beneficiary, deadline, beneficiary = b
        return (
            f"amended by manager {by}: {money.show(old_amount)} → {money.show(a)}, deadline "
            f"{when(old_deadline)} → {when(deadline)}, beneficiary {old_beneficiary} → "
            f"{beneficiary}"
        )
    if kind == "attested":
        return f"attested by oracle {by}: evidence {short(a)} (epoch {b})"
    if kind == "verified":
        return f"verified: {b} matching attestations on evidence {short(a)}"
    if kind == "disputed":
        return f"disputed: oracle {by} attested {short(b)} against {short(a)}"
    if kind == "dispute-resolved":
        return f"dispute resolved for evidence {short(a)}{who}"
    if kind in ("frozen", "unfrozen"):
        return f"{kind}{who}"
    if kind == "released":
        return f"released {money.show(b)} to {a}{who}"
    if kind == "force-released":
        return f"force-released, reason hash {_hex(a)}{who}"
    if kind == "cancelled":
        return f"cancelled, {money.show(a)} back to the program{who}"
    if kind == "expired":
        return f"expired, {money.show(a)} back to the program{who}"
    if kind == "beneficiary-replaced":
        return f"beneficiary replaced: {a} → {b}{who}"
    return kind


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _table(w: Callable[[str], Any], header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        w("  none\n")
        return
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        return (
            "  "
            + first.ljust(widths[0])
            + "".join("  " + c.rjust(widths[i + 1]) for i, c in enumerate(rest))
            + "\n"
        )

    w(line(header))
    for row in rows:
        w(line(row))


# ---------------------------------------------------------------------------------------- entry


def run_audit(
    client: ChainClient,
    deployment: Deployment,
    *,
    from_block: int | None = None,
    schedule_tolerance: float = SCHEDULE_TOLERANCE,
    window_policy: WindowPolicy | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Rebuilds the history from `from_block` (default: the deployment block) to the current head,
    flags what deserves review and reconciles the ledger against the chain's state at the head."""
    try:
        to_block = client.block_number()
        start = deployment.deployment_block if from_block is None else from_block
        if start > to_block:
            raise AuditError(f"--from-block {start} is beyond the chain's head (block {to_block})")
        partial = start > deployment.deployment_block
        state = _Rebuild(client, deployment, to_block=to_block, partial=partial)
        state.read(max(start, 0), progress=progress)
        now = client.timestamp(to_block)
        schedules = _schedules(state, now)
        flags = _flags(state, now, schedules, schedule_tolerance, window_policy)
        if partial:
            reconciliation = Reconciliation(
                checked=False,
                note=f"the history starts at block {start}, after the deployment block "
                f"{deployment.deployment_block}: a partial ledger cannot match the chain's totals",
                differences=(),
            )
        else:
            reconciliation = _reconcile(state, now)
    except Web3RPCError as exc:
        raise ChainError(f"the node refused a request of the audit: {exc}") from None
    return AuditReport(
        chain_id=client.profile.chain_id,
        escrow=state.escrow_address,
        council=state.council_address,
        deployment_block=deployment.deployment_block,
        from_block=start,
        to_block=to_block,
        as_of=now,
        state=state,
        schedules=schedules,
        flags=flags,
        reconciliation=reconciliation,
        schedule_tolerance=schedule_tolerance,
    )

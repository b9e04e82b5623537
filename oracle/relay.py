"""Relaying: nodes hand their signed attestations to one node, which sends many milestones and
oracles in one `attestWithSignatures` transaction. Any node can be the relayer; it is
configuration (`relay: true` on the relayer, `submission: relay` + `relayer_url` elsewhere).

The relayer checks every signature against the current committee before queueing it, so a
relayed batch fails only when the chain moved under it; it then drops what the chain no longer
takes and sends the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
from eth_account.signers.local import LocalAccount

from disburse.chain.attestations import CompactSignature
from disburse.chain.client import ChainClient
from disburse.chain.errors import BlockGasLimitError, ContractRevertError, DisburseError
from disburse.chain.escrow import Escrow, RelayedAttestation, relayed_chunks, relayed_gas
from oracle.errors import OracleError, raise_if_own
from oracle.journal import Journal
from oracle.metrics import Metrics

log = logging.getLogger("oracle.relay")


class RelayError(OracleError):
    """A signature could not be handed over or was refused by the relayer."""


@dataclass(frozen=True)
class Relayed:
    """One signed attestation, as a node hands it to the relaying node."""

    milestone_id: bytes
    evidence_hash: bytes
    epoch: int
    signature: CompactSignature


MAX_RELAY_BATCH = 1000
"""Signatures one hand-over request may carry."""


@dataclass
class RelayerHealth:
    """What a node knows of its relaying node, for /healthz and metrics."""

    url: str
    reachable: bool | None = None
    """None until the first request (a hand-over or a probe) was answered or failed."""
    error: str = ""
    checked_at: float = 0.0


class RelayClient:
    """Hands signatures to the relaying node over its API."""

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=base_url, headers={"X-API-Key": api_key}, timeout=timeout_s
        )
        self.health = RelayerHealth(url=base_url)

    def _noted(self, reachable: bool, error: str = "") -> None:
        self.health = RelayerHealth(self.health.url, reachable, error, time.time())

    def probe(self) -> bool:
        """Asks the relayer's /healthz (any answer means it is there); returns reachability."""
        try:
            self._http.get("/healthz", timeout=2.0)
        except httpx.HTTPError as exc:
            self._noted(False, f"relayer unreachable: {exc}")
            return False
        self._noted(True)
        return True

    def hand_over_many(self, items: Sequence[Relayed]) -> None:
        """One request per MAX_RELAY_BATCH signatures; the relayer takes each request whole or
        refuses it whole."""
        for start in range(0, len(items), MAX_RELAY_BATCH):
            body = {"items": [_wire(item) for item in items[start : start + MAX_RELAY_BATCH]]}
            try:
                response = self._http.post("/v1/relay/batch", json=body)
            except httpx.HTTPError as exc:
                self._noted(False, f"relayer unreachable: {exc}")
                raise RelayError(f"relayer unreachable: {exc}") from None
            self._noted(True)
            if response.status_code != 202:
                raise RelayError(
                    f"relayer refused the signatures: {response.status_code} {response.text}"
                )


def _wire(item: Relayed) -> dict[str, object]:
    return {
        "milestone_id": "0x" + item.milestone_id.hex(),
        "evidence_hash": "0x" + item.evidence_hash.hex(),
        "epoch": item.epoch,
        "signature": "0x" + (item.signature.r + item.signature.vs).hex(),
    }


class LocalRelay:
    """The relaying node's own signatures go straight into its batcher (no HTTP to itself)."""

    def __init__(self, batcher: RelayBatcher, oracle: str) -> None:
        self.batcher = batcher
        self.oracle = oracle

    def hand_over_many(self, items: Sequence[Relayed]) -> None:
        self.batcher.add_many([(item, self.oracle) for item in items])


_RETRY_S = 0.5
_RETRY_MAX_S = 30.0


@dataclass
class BatchHealth:
    """How the relaying node's batches fare, for /healthz and metrics."""

    failures: int = 0
    """Batches failed in a row (the chain unreachable, or refusing them); 0 after a success."""
    error: str = ""
    retry_in_s: float = 0.0


@dataclass
class _Pending:
    epoch: int
    signatures: dict[str, CompactSignature] = field(default_factory=dict)


class RelayBatcher:
    """The relayer's queue: signatures grouped by (milestone, evidence hash), sent in batches."""

    def __init__(
        self,
        *,
        client: ChainClient,
        escrow: Escrow,
        account: LocalAccount,
        metrics: Metrics,
        batch_size: int,
        batch_delay_s: float,
        journal: Journal | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        """Where signatures handed over by other nodes are journaled before they are
        acknowledged (`journal_and_add`), until the chain has them: a relayer killed with them
        queued takes them up again at its next start (`restore`)."""
        self.escrow = escrow
        self.account = account
        self.metrics = metrics
        self.batch_size = batch_size
        self.batch_delay_s = batch_delay_s
        self._pending: dict[tuple[bytes, bytes], _Pending] = {}
        self._lock = threading.Lock()
        self._first_queued: float | None = None
        self.health = BatchHealth()

    def add(
        self,
        *,
        milestone_id: bytes,
        evidence_hash: bytes,
        epoch: int,
        oracle: str,
        signature: CompactSignature,
    ) -> None:
        self.add_many([(Relayed(milestone_id, evidence_hash, epoch, signature), oracle)])

    def add_many(self, items: Sequence[tuple[Relayed, str]]) -> None:
        """Queues checked signatures, each with the oracle it recovers to."""
        with self._lock:
            for item, oracle in items:
                key = (item.milestone_id, item.evidence_hash)
                entry = self._pending.setdefault(key, _Pending(item.epoch))
                if entry.epoch != item.epoch:
                    entry.epoch = item.epoch
                    entry.signatures.clear()
                entry.signatures[oracle] = item.signature
            if self._pending and self._first_queued is None:
                self._first_queued = time.monotonic()

    def journal_and_add(self, items: Sequence[tuple[Relayed, str]]) -> None:
        """Journals checked signatures (when the batcher has a journal), then queues them: once
        this returns, the hand-over may be acknowledged."""
        if self.journal is not None:
            self.journal.queue_relayed(
                [
                    (
                        item.milestone_id,
                        item.evidence_hash,
                        item.epoch,
                        oracle,
                        item.signature.r + item.signature.vs,
                    )
                    for item, oracle in items
                ]
            )
        self.add_many(items)

    def restore(self) -> int:
        """Queues again the signatures journaled by a previous run; returns how many."""
        if self.journal is None:
            return 0
        found = self.journal.relayed_queue()
        self.add_many(
            [
                (Relayed(m, h, epoch, CompactSignature(sig[:32], sig[32:])), oracle)
                for m, h, epoch, oracle, sig in found
            ]
        )
        if found:
            log.info("journaled signatures queued again", extra={"count": len(found)})
        return len(found)

    def _settled(self, keys: Sequence[tuple[bytes, bytes]]) -> None:
        """The chain has these (milestone, evidence hash) signatures, or takes them no more."""
        if self.journal is not None and keys:
            self.journal.drop_relayed(keys)

    def _requeue(self, taken: dict[tuple[bytes, bytes], _Pending]) -> None:
        with self._lock:
            for key, entry in taken.items():
                current = self._pending.setdefault(key, _Pending(entry.epoch))
                if current.epoch == entry.epoch:
                    for oracle, signature in entry.signatures.items():
                        current.signatures.setdefault(oracle, signature)
            if self._pending and self._first_queued is None:
                self._first_queued = time.monotonic()

    def queued(self) -> int:
        with self._lock:
            return len(self._pending)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            due = False
            with self._lock:
                if self._pending and self._first_queued is not None:
                    waited = time.monotonic() - self._first_queued
                    due = len(self._pending) >= self.batch_size or waited >= self.batch_delay_s
            if due:
                try:
                    self.flush()
                except DisburseError as exc:
                    raise_if_own(exc)
                    # Backs off while failures repeat, so a chain that refuses every batch is
                    # not hammered; /healthz and metrics show it meanwhile.
                    failures = self.health.failures + 1
                    delay = min(_RETRY_MAX_S, _RETRY_S * 2 ** (failures - 1))
                    self.health = BatchHealth(failures, str(exc), delay)
                    self.metrics.relay_batch_failures.set(failures)
                    log.warning(
                        "relayed batch deferred",
                        extra={"error": str(exc), "failures": failures, "retry_in_s": delay},
                    )
                    stop.wait(delay)
                else:
                    if self.health.failures:
                        self.health = BatchHealth()
                        self.metrics.relay_batch_failures.set(0)
            else:
                time.sleep(0.05)

    def flush(self) -> int:
        """Sends what is queued (up to one batch); returns the number of milestones sent."""
        with self._lock:
            keys = list(self._pending)[: self.batch_size]
            taken = {k: self._pending.pop(k) for k in keys}
            self._first_queued = time.monotonic() if self._pending else None
        if not taken:
            return 0
        try:
            return self._send(taken)
        except DisburseError as exc:
            raise_if_own(exc)
            if not isinstance(exc, ContractRevertError):
                self._requeue(taken)
            raise

    def _transact(self, epoch: int, items: list[RelayedAttestation]) -> None:
        try:
            self.client.transact_raw(
                self.account,
                self.escrow.attest_with_signatures(epoch, items),
                gas=relayed_gas(items),
            )
        except BlockGasLimitError as exc:
            # The chain's block gas limit is lower than it was read (or than configured): the
            # batch goes in two halves, each split again if need be.
            if len(items) == 1:
                raise
            log.warning(
                "relayed batch too large for a block; splitting it",
                extra={"milestones": len(items), "error": str(exc)},
            )
            half = len(items) // 2
            self._transact(epoch, items[:half])
            self._transact(epoch, items[half:])
            return
        except ContractRevertError as exc:
            # The chain moved between the checks and the send: send each item on its own.
            log.warning("relayed batch refused; retrying item by item", extra={"error": str(exc)})
            for item in items:
                try:
                    self.client.transact(
                        self.account, self.escrow.attest_with_signatures(epoch, [item])
                    )
                except ContractRevertError as single:
                    log.warning(
                        "relayed attestation refused",
                        extra={
                            "milestone_id": "0x" + item.milestone_id.hex(),
                            "error": str(single),
                        },
                    )
        self.metrics.relayed_batches.inc()

    def _send(self, taken: dict[tuple[bytes, bytes], _Pending]) -> int:
        epoch = self.escrow.committee().epoch
        current = [(key, entry) for key, entry in taken.items() if entry.epoch == epoch]
        states = self.escrow.milestones([milestone_id for (milestone_id, _), _ in current])
        open_ = [
            (key, entry)
            for (key, entry), state in zip(current, states, strict=True)
            if state.status == "Registered"
        ]
        # Only a milestone with attestations in this epoch can hold one of these signatures
        # already (sent again after a restart): the others need no per-oracle read.
        counted = {
            key[0]
            for (key, _), state in zip(current, states, strict=True)
            if state.attestations and state.attestation_epoch == epoch
        }
        pairs = [
            (key[0], oracle)
            for key, entry in open_
            if key[0] in counted
            for oracle in entry.signatures
        ]
        on_chain = dict(zip(pairs, self.escrow.attested(pairs), strict=True))
        items: list[RelayedAttestation] = []
        for (milestone_id, evidence_hash), entry in open_:
            fresh = tuple(
                sig
                for oracle, sig in entry.signatures.items()
                if not on_chain.get((milestone_id, oracle), False)
            )
            if fresh:
                items.append(RelayedAttestation(milestone_id, evidence_hash, fresh))
        sending = {(i.milestone_id, i.evidence_hash) for i in items}
        # Another epoch, no longer Registered, or every signature already on chain.
        self._settled([key for key in taken if key not in sending])
        if not items:
            return 0
        for chunk in relayed_chunks(items, self.client.batch_gas_cap()):
            self._transact(epoch, chunk)
            self._settled([(i.milestone_id, i.evidence_hash) for i in chunk])
        return len(items)

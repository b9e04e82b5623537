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
from dataclasses import dataclass, field

import httpx
from eth_account.signers.local import LocalAccount

from disburse.attestations import CompactSignature
from disburse.client import ChainClient
from disburse.errors import ContractRevertError, DisburseError
from disburse.escrow import Escrow, RelayedAttestation
from oracle.errors import OracleError
from oracle.metrics import Metrics

log = logging.getLogger("oracle.relay")


class RelayError(OracleError):
    """A signature could not be handed over or was refused by the relayer."""


class RelayClient:
    """Hands signatures to the relaying node over its API."""

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=base_url, headers={"X-API-Key": api_key}, timeout=timeout_s
        )

    def hand_over(
        self, *, milestone_id: bytes, evidence_hash: bytes, epoch: int, signature: CompactSignature
    ) -> None:
        body = {
            "milestone_id": "0x" + milestone_id.hex(),
            "evidence_hash": "0x" + evidence_hash.hex(),
            "epoch": epoch,
            "signature": "0x" + (signature.r + signature.vs).hex(),
        }
        try:
            response = self._http.post("/v1/relay", json=body)
        except httpx.HTTPError as exc:
            raise RelayError(f"relayer unreachable: {exc}") from None
        if response.status_code != 202:
            raise RelayError(
                f"relayer refused the signature: {response.status_code} {response.text}"
            )


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
    ) -> None:
        self.client = client
        self.escrow = escrow
        self.account = account
        self.metrics = metrics
        self.batch_size = batch_size
        self.batch_delay_s = batch_delay_s
        self._pending: dict[tuple[bytes, bytes], _Pending] = {}
        self._lock = threading.Lock()
        self._first_queued: float | None = None

    def add(
        self,
        *,
        milestone_id: bytes,
        evidence_hash: bytes,
        epoch: int,
        oracle: str,
        signature: CompactSignature,
    ) -> None:
        with self._lock:
            entry = self._pending.setdefault((milestone_id, evidence_hash), _Pending(epoch))
            if entry.epoch != epoch:
                entry.epoch = epoch
                entry.signatures.clear()
            entry.signatures[oracle] = signature
            if self._first_queued is None:
                self._first_queued = time.monotonic()

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
                    log.warning("relayed batch deferred", extra={"error": str(exc)})
                    time.sleep(0.5)
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
            if not isinstance(exc, ContractRevertError):
                self._requeue(taken)
            raise

    def _send(self, taken: dict[tuple[bytes, bytes], _Pending]) -> int:
        epoch = self.escrow.committee().epoch
        items: list[RelayedAttestation] = []
        for (milestone_id, evidence_hash), entry in taken.items():
            if entry.epoch != epoch:
                continue
            state = self.escrow.milestone(milestone_id)
            if state.status != "Registered":
                continue
            fresh = tuple(
                sig
                for oracle, sig in entry.signatures.items()
                if not self.escrow.has_attested(milestone_id, oracle)
            )
            if fresh:
                items.append(RelayedAttestation(milestone_id, evidence_hash, fresh))
        if not items:
            return 0
        try:
            self.client.transact(self.account, self.escrow.attest_with_signatures(epoch, items))
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
        return len(items)

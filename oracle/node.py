"""The node's pipeline: evidence accepted → verified → attestation signed → submitted → confirmed.

Every step is journaled before it is taken, and every restart begins with `recover`, which looks
at the chain before resending anything: a node killed at any instant finishes what it started
without sending a second attestation or losing one. (The escrow also refuses a second
attestation from one oracle, so even a resend racing a lost receipt cannot count twice.)
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from eth_account.signers.local import LocalAccount

from disburse.attestations import CompactSignature, sign_attestation
from disburse.client import ChainClient
from disburse.errors import ContractRevertError, DisburseError, TransactionTimeoutError
from disburse.escrow import Escrow
from oracle import _faults
from oracle.errors import JournalError
from oracle.evidence import EvidenceCreate, canonical_bundle, evidence_hash
from oracle.intake import SpecStore, check_submission, parse_milestone_id
from oracle.journal import AttestationRow, EvidenceRow, EvidenceState, Journal
from oracle.metrics import Metrics
from oracle.spec import load_spec
from oracle.store import DocumentStore
from oracle.verifiers.base import VerificationContext
from oracle.verifiers.registry import verify

log = logging.getLogger("oracle.node")


class Relayer(Protocol):
    """Where a node in relay mode hands its signatures."""

    def hand_over(
        self, *, milestone_id: bytes, evidence_hash: bytes, epoch: int, signature: CompactSignature
    ) -> None: ...


@dataclass(frozen=True)
class Accepted:
    evidence: EvidenceRow
    duplicate: bool


class Node:
    """One oracle node: its key, journal, stores and view of the escrow."""

    def __init__(
        self,
        *,
        name: str,
        client: ChainClient,
        escrow: Escrow,
        account: LocalAccount,
        journal: Journal,
        store: DocumentStore,
        specs: SpecStore,
        metrics: Metrics,
        relayer: Relayer | None = None,
    ) -> None:
        self.name = name
        self.client = client
        self.escrow = escrow
        self.account = account
        self.journal = journal
        self.store = store
        self.specs = specs
        self.metrics = metrics
        self.relayer = relayer
        self._work: queue.Queue[int] = queue.Queue()
        self._attest_lock = threading.Lock()

    @property
    def address(self) -> str:
        return str(self.account.address)

    # ------------------------------------------------------------------ intake

    def accept(self, *, submitter: str, evidence: EvidenceCreate) -> Accepted:
        """Checks a submission and journals it (`received`); verification follows in the worker."""
        check_submission(evidence=evidence, escrow=self.escrow, specs=self.specs, store=self.store)
        digest = evidence_hash(evidence)
        existing = [
            row
            for row in self.journal.evidence_for_milestone(evidence.milestone_id)
            if row.evidence_hash == "0x" + digest.hex()
        ]
        row = self.journal.record_evidence(
            milestone_id=evidence.milestone_id,
            evidence_hash="0x" + digest.hex(),
            submitter=submitter,
            body=canonical_bundle(evidence).decode(),
        )
        _faults.reached("received")
        if not existing:
            self.metrics.evidence_received.inc()
            log.info(
                "evidence received",
                extra={"evidence_id": row.id, "milestone_id": row.milestone_id, "by": submitter},
            )
        self._work.put(row.id)
        return Accepted(row, duplicate=bool(existing))

    # ------------------------------------------------------------------ worker

    def run_worker(self, stop: threading.Event) -> None:
        """Processes accepted evidence until `stop` is set."""
        while not stop.is_set():
            try:
                evidence_id = self._work.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.process(evidence_id)
            except DisburseError as exc:
                # The chain is unreachable or refused a read: try again later.
                log.warning(
                    "processing deferred", extra={"evidence_id": evidence_id, "error": str(exc)}
                )
                time.sleep(0.5)
                self._work.put(evidence_id)

    def process(self, evidence_id: int) -> None:
        row = self.journal.evidence(evidence_id)
        if row.state == "received":
            row = self._verify(row)
        if row.state == "verified":
            self._attest(row)

    def _verify(self, row: EvidenceRow) -> EvidenceRow:
        evidence = EvidenceCreate.model_validate(json.loads(row.body))
        milestone = self.escrow.milestone(parse_milestone_id(row.milestone_id))
        raw = self.specs.get(milestone.evidence_spec_hash)
        reasons: list[str]
        state: EvidenceState
        if raw is None:
            reasons = [f"specification 0x{milestone.evidence_spec_hash.hex()} is not uploaded"]
        else:
            spec = load_spec(raw, expected_hash=milestone.evidence_spec_hash)
            context = VerificationContext(
                evidence=evidence,
                spec=spec,
                store=self.store,
                now=self.client.timestamp(),
                deadline=milestone.deadline,
            )
            reasons = verify(context).reasons
        state = "rejected" if reasons else "verified"
        self.journal.set_evidence_state(row.id, state, reasons or None)
        _faults.reached("verified")
        if reasons:
            self.metrics.evidence_rejected.inc()
            log.info("evidence rejected", extra={"evidence_id": row.id, "reasons": reasons})
        else:
            self.metrics.evidence_verified.inc()
            log.info("evidence verified", extra={"evidence_id": row.id})
        return self.journal.evidence(row.id)

    def _attest(self, row: EvidenceRow) -> None:
        milestone_id = parse_milestone_id(row.milestone_id)
        digest = bytes.fromhex(row.evidence_hash[2:])
        with self._attest_lock:
            epoch = self.escrow.committee().epoch
            signature = sign_attestation(
                self.account.key,
                chain_id=self.client.profile.chain_id,
                escrow=self.escrow.address,
                milestone=milestone_id,
                evidence_hash=digest,
                epoch=epoch,
            )
            try:
                attestation = self.journal.begin_attestation(
                    milestone_id=row.milestone_id,
                    epoch=epoch,
                    evidence_id=row.id,
                    evidence_hash=row.evidence_hash,
                    signature="0x" + (signature.r + signature.vs).hex(),
                )
            except JournalError as exc:
                # This node already attested other evidence for the milestone in this epoch:
                # attesting a second hash would dispute its own attestation.
                log.warning(
                    "not attesting a second evidence hash",
                    extra={
                        "evidence_id": row.id,
                        "milestone_id": row.milestone_id,
                        "why": str(exc),
                    },
                )
                self.journal.set_evidence_state(row.id, "failed", [str(exc)])
                return
            self.journal.set_evidence_state(row.id, "signed")
            _faults.reached("signed")
        self.submit(attestation)

    # ------------------------------------------------------------------ submission

    def submit(self, attestation: AttestationRow) -> None:
        """Sends (or hands over) one journaled attestation, unless the chain already has it."""
        if attestation.state in ("confirmed", "failed"):
            return
        milestone_id = parse_milestone_id(attestation.milestone_id)
        digest = bytes.fromhex(attestation.evidence_hash[2:])
        if self.escrow.has_attested(milestone_id, self.address):
            self._confirmed(attestation)
            return
        milestone = self.escrow.milestone(milestone_id)
        current = self.escrow.committee().epoch
        if milestone.status != "Registered" or current != attestation.epoch:
            why = (
                f"milestone is {milestone.status}"
                if milestone.status != "Registered"
                else f"committee epoch moved from {attestation.epoch} to {current}"
            )
            self.journal.mark_failed(attestation.id, why)
            self._evidence_to(attestation.evidence_id, "failed", [why])
            self.metrics.attestations_failed.inc()
            log.info("attestation not sent", extra={"attestation_id": attestation.id, "why": why})
            return
        signature = bytes.fromhex(attestation.signature[2:])
        compact = CompactSignature(signature[:32], signature[32:])
        if self.relayer is not None:
            self.journal.mark_sending(attestation.id, None)
            _faults.reached("sending")
            self.relayer.hand_over(
                milestone_id=milestone_id,
                evidence_hash=digest,
                epoch=attestation.epoch,
                signature=compact,
            )
            self.journal.mark_sent(attestation.id, None)
            self._evidence_to(attestation.evidence_id, "submitted")
            self.metrics.attestations_sent.inc()
            _faults.reached("sent")
            return
        fn = self.escrow.attest(milestone_id, digest, attestation.epoch)
        try:
            gas = self.client.estimate_gas(self.account, fn)
        except ContractRevertError as exc:
            self._failed(attestation, exc)
            return
        nonce = self.client.next_nonce(self.address)
        raw, tx_hash = self.client.sign(self.account, fn, nonce=nonce, gas=gas)
        # Written before the broadcast: a restarted node looks this transaction up first.
        self.journal.mark_sending(attestation.id, nonce, tx_hash=tx_hash)
        _faults.reached("sending")
        self.client.send_raw(raw, tx_hash)
        self.journal.mark_sent(attestation.id, tx_hash)
        self._evidence_to(attestation.evidence_id, "submitted")
        self.metrics.attestations_sent.inc()
        _faults.reached("sent")
        try:
            self.client.wait(tx_hash)
        except ContractRevertError as exc:
            self._failed(attestation, exc)
            return
        self._confirmed(attestation)

    def _evidence_to(
        self, evidence_id: int, state: EvidenceState, reasons: list[str] | None = None
    ) -> None:
        """Moves the evidence along with its attestation (a repeat of a step is a no-op)."""
        current = self.journal.evidence(evidence_id).state
        if current != state and current not in ("confirmed", "failed", "rejected"):
            self.journal.set_evidence_state(evidence_id, state, reasons)

    def _confirmed(self, attestation: AttestationRow) -> None:
        self.journal.mark_confirmed(attestation.id)
        self._evidence_to(attestation.evidence_id, "confirmed")
        self.metrics.attestations_confirmed.inc()
        evidence = self.journal.evidence(attestation.evidence_id)
        self.metrics.attestation_latency.observe(max(0.0, time.time() - evidence.created_at))
        log.info(
            "attestation confirmed",
            extra={"attestation_id": attestation.id, "milestone_id": attestation.milestone_id},
        )

    def _failed(self, attestation: AttestationRow, exc: Exception) -> None:
        if self.escrow.has_attested(parse_milestone_id(attestation.milestone_id), self.address):
            self._confirmed(attestation)
            return
        self.journal.mark_failed(attestation.id, str(exc))
        self._evidence_to(attestation.evidence_id, "failed", [str(exc)])
        self.metrics.attestations_failed.inc()
        log.warning(
            "attestation failed", extra={"attestation_id": attestation.id, "error": str(exc)}
        )

    # ------------------------------------------------------------------ restart

    def recover(self) -> None:
        """Finishes what a previous run started, checking the chain before resending."""
        for attestation in self.journal.unfinished_attestations():
            milestone_id = parse_milestone_id(attestation.milestone_id)
            if self.escrow.has_attested(milestone_id, self.address):
                self._confirmed(attestation)
                continue
            if attestation.tx_hash:
                receipt = self.client.receipt(attestation.tx_hash)
                if receipt is not None and receipt["status"] != 1:
                    self._failed(
                        attestation, RuntimeError(f"transaction {attestation.tx_hash} reverted")
                    )
                    continue
                if receipt is None and self.client.transaction_known(attestation.tx_hash):
                    try:  # still in the pool: give it the receipt timeout
                        self.client.wait(attestation.tx_hash)
                        self._confirmed(attestation)
                        continue
                    except TransactionTimeoutError:
                        log.info(
                            "resending a stuck attestation",
                            extra={"attestation_id": attestation.id},
                        )
                    except ContractRevertError as exc:
                        self._failed(attestation, exc)
                        continue
                # Never broadcast, or dropped from the pool: send again with a fresh nonce.
                self.client.resync_nonce(self.address)
            self.submit(attestation)
        for row in self.journal.evidence_in_states(("received", "verified")):
            self._work.put(row.id)

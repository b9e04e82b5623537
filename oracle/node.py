"""The node's pipeline: evidence accepted → verified → attestation signed → submitted → confirmed.

Every step is journaled before it is taken, and every restart begins with `recover`, which looks
at the chain before resending anything: a node killed at any instant finishes what it started
without sending a second attestation or losing one. (The escrow also refuses a second
attestation from one oracle, so even a resend racing a lost receipt cannot count twice.)

The chain may fail too. Work interrupted by an unreachable endpoint or a receipt timeout goes
back to the worker's queue and resumes the same way as after a restart: a transaction the node
no longer knows (dropped from its pool, or lost with a restarted chain) is sent again with a
resynchronised nonce. When the watcher finds that the chain lost blocks (a local chain
restarted from an older state file), the attestations confirmed in them are checked again and
sent again if the chain no longer has them.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from eth_account.signers.local import LocalAccount

from disburse.chain.attestations import (
    AttestationError,
    CompactSignature,
    recover_attestation,
    sign_attestation,
)
from disburse.chain.client import ChainClient
from disburse.chain.errors import (
    ContractRevertError,
    DisburseError,
    NonceError,
    TransactionTimeoutError,
)
from disburse.chain.escrow import Escrow, MilestoneState
from oracle import _faults
from oracle.errors import JournalError, raise_if_own
from oracle.evidence import EvidenceCreate, canonical_bundle, evidence_hash
from oracle.intake import SpecStore, check_submission, check_submissions, parse_milestone_id
from oracle.journal import (
    UNFINISHED_ATTESTATION_STATES,
    AttestationRow,
    EvidenceRow,
    EvidenceState,
    Journal,
    Submitter,
)
from oracle.metrics import Metrics
from oracle.relay import Relayed, RelayerHealth, RelayError
from oracle.store import DocumentStore
from oracle.verifiers.base import VerificationContext
from oracle.verifiers.registry import verify

log = logging.getLogger("oracle.node")


class Relayer(Protocol):
    """Where a node in relay mode hands its signatures."""

    def hand_over_many(self, items: Sequence[Relayed]) -> None: ...


_PROBE_INTERVAL_S = 2.0
"""How often a node whose relayer is down (or not yet heard from) asks whether it is back."""


def _relayed(attestation: AttestationRow) -> Relayed:
    signature = bytes.fromhex(attestation.signature[2:])
    return Relayed(
        milestone_id=parse_milestone_id(attestation.milestone_id),
        evidence_hash=bytes.fromhex(attestation.evidence_hash[2:]),
        epoch=attestation.epoch,
        signature=CompactSignature(signature[:32], signature[32:]),
    )


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
        batch_limit: int = 200,
        reoffer_after_s: float = 30.0,
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
        self.batch_limit = batch_limit
        self.reoffer_after_s = reoffer_after_s
        self._next_reoffer = time.monotonic() + reoffer_after_s
        self._next_probe = 0.0
        self._work: queue.Queue[int] = queue.Queue()
        self._attest_lock = threading.Lock()
        # Confirmed evidence whose attestation the chain may have lost (see chain_rolled_back).
        self._suspects: set[int] = set()
        self._suspects_lock = threading.Lock()

    @property
    def address(self) -> str:
        return str(self.account.address)

    # ------------------------------------------------------------------ intake

    def accept(self, *, submitter: str | Submitter, evidence: EvidenceCreate) -> Accepted:
        """Checks a submission and journals it (`received`); verification follows in the worker."""
        return self.accept_many(submitter=submitter, items=[evidence])[0]

    def accept_many(
        self, *, submitter: str | Submitter, items: Sequence[EvidenceCreate]
    ) -> list[Accepted]:
        """Checks every submission, then journals them all in one transaction: all are accepted
        or none (the first refused one raises IntakeError, naming its position). A Submitter
        (an API key's) is held to its scope; a bare name is the node's own operator."""
        scope = submitter if isinstance(submitter, Submitter) else None
        name = submitter.name if isinstance(submitter, Submitter) else submitter
        if len(items) == 1:
            check_submission(
                evidence=items[0],
                escrow=self.escrow,
                specs=self.specs,
                store=self.store,
                submitter=scope,
            )
        else:
            check_submissions(
                items=items,
                escrow=self.escrow,
                specs=self.specs,
                store=self.store,
                submitter=scope,
            )
        digests = ["0x" + evidence_hash(e).hex() for e in items]
        accepted: list[Accepted] = []
        with self.journal.transaction():
            for evidence, digest in zip(items, digests, strict=True):
                known = {
                    row.evidence_hash
                    for row in self.journal.evidence_for_milestone(evidence.milestone_id)
                }
                row = self.journal.record_evidence(
                    milestone_id=evidence.milestone_id,
                    evidence_hash=digest,
                    submitter=name,
                    body=canonical_bundle(evidence).decode(),
                )
                accepted.append(Accepted(row, duplicate=digest in known))
        _faults.reached("received")
        for item in accepted:
            if not item.duplicate:
                self.metrics.evidence_received.inc()
                log.info(
                    "evidence received",
                    extra={
                        "evidence_id": item.evidence.id,
                        "milestone_id": item.evidence.milestone_id,
                        "by": name,
                    },
                )
            self._work.put(item.evidence.id)
        return accepted

    # ------------------------------------------------------------------ worker

    def run_worker(self, stop: threading.Event) -> None:
        """Processes accepted evidence until `stop` is set: whatever is queued, up to
        `batch_limit` at a time, goes through each step together (one batched chain read, one
        journal commit, one hand-over to the relayer per step)."""
        while not stop.is_set():
            self._look_after_relayer()
            try:
                first = self._work.get(timeout=0.2)
            except queue.Empty:
                continue
            ids = [first]
            while len(ids) < self.batch_limit:
                try:
                    ids.append(self._work.get_nowait())
                except queue.Empty:
                    break
            ids = list(dict.fromkeys(ids))
            try:
                self.process_many(ids)
            except (DisburseError, RelayError) as exc:
                raise_if_own(exc, RelayError)
                # The chain or the relaying node is unreachable, refused a read or did not mine
                # in time: the whole batch waits and is taken again.
                log.warning(
                    "processing deferred",
                    extra={"evidence_ids": ids[:20], "count": len(ids), "error": str(exc)},
                )
                time.sleep(0.5)
                for evidence_id in ids:
                    self._work.put(evidence_id)
            except Exception:
                # Anything else must not end the worker thread, nor hold up the rest of the
                # batch: each piece is taken on its own, and one that fails again waits.
                log.exception("batch processing failed; processing one by one")
                for evidence_id in ids:
                    self._process_alone(evidence_id)

    # ------------------------------------------------------------------ relayer

    @property
    def relayer_health(self) -> RelayerHealth | None:
        """What the node knows of its relaying node; None when it hands over to none (or to
        its own batcher)."""
        health = getattr(self.relayer, "health", None)
        return health if isinstance(health, RelayerHealth) else None

    def _look_after_relayer(self) -> None:
        """Between batches: asks a relayer that is down (or not heard from) whether it is back,
        and offers it again what it took but the chain has not seen in `reoffer_after_s` (a
        relayer killed with them in memory, or one that dropped them)."""
        if self.relayer is None:
            return
        now = time.monotonic()
        probe = getattr(self.relayer, "probe", None)
        health = self.relayer_health
        if probe is not None and health is not None and now >= self._next_probe:
            if health.reachable is not True or time.time() - health.checked_at > 10.0:
                probe()
            self._next_probe = now + _PROBE_INTERVAL_S
        health = self.relayer_health
        if health is not None:
            self.metrics.relayer_up.set(1 if health.reachable is not False else 0)
        if now < self._next_reoffer:
            return
        self._next_reoffer = now + max(1.0, self.reoffer_after_s / 2)
        self.reoffer()

    def reoffer(self) -> int:
        """Offers the relayer again every signature handed over more than `reoffer_after_s`
        ago that the chain does not have yet (each is checked on chain first: one the chain has
        is confirmed, one it no longer takes fails). Returns how many were offered."""
        if self.relayer is None:
            return 0
        stale = self.journal.handed_over_before(int(time.time() - self.reoffer_after_s))
        if not stale:
            return 0
        try:
            self.submit_many(stale)
        except (DisburseError, RelayError) as exc:
            raise_if_own(exc, RelayError)
            log.warning("re-offer deferred", extra={"count": len(stale), "error": str(exc)})
            for attestation in stale:
                self._work.put(attestation.evidence_id)
            return 0
        offered = [a for a in stale if self.journal.attestation(a.id).state == "sent"]
        if offered:
            self.metrics.attestations_reoffered.inc(len(offered))
            log.info("attestations offered to the relayer again", extra={"count": len(offered)})
        return len(offered)

    def _process_alone(self, evidence_id: int) -> None:
        try:
            self.process(evidence_id)
        except Exception as exc:
            if isinstance(exc, DisburseError):
                log.warning(
                    "processing deferred", extra={"evidence_id": evidence_id, "error": str(exc)}
                )
            else:
                log.exception("processing failed", extra={"evidence_id": evidence_id})
            time.sleep(0.5)
            self._work.put(evidence_id)

    def process_many(self, evidence_ids: Sequence[int]) -> None:
        """Takes each piece of evidence as far as it goes now; the common path (just received)
        in batches, anything resumed one by one."""
        rows = [self.journal.evidence(i) for i in evidence_ids]
        fresh = [r for r in rows if r.state in ("received", "verified")]
        received = [r for r in fresh if r.state == "received"]
        states = self._verify_many(received) if received else {}
        verified = [self.journal.evidence(r.id) for r in fresh]
        attestations = self._attest_many(
            [r for r in verified if r.state == "verified"], states=states
        )
        self.submit_many(attestations, states=states)
        # Then what resumes, which may wait on a pending transaction: new evidence first, and
        # the rest by nonce, each on its own (one still pending must not hold up the one below
        # it, whose transaction the chain may have lost: it goes first, with its nonce).
        resumed = [r for r in rows if r.state not in ("received", "verified")]
        deferred: DisburseError | None = None
        for row in sorted(resumed, key=self._nonce_of):
            try:
                self.process(row.id)
            except DisburseError as exc:
                raise_if_own(exc)
                deferred = deferred or exc
        if deferred is not None:
            raise deferred

    def _nonce_of(self, row: EvidenceRow) -> int:
        nonces = [
            a.nonce for a in self.journal.attestations_for_evidence(row.id) if a.nonce is not None
        ]
        return min(nonces, default=-1)

    def process(self, evidence_id: int) -> None:
        row = self.journal.evidence(evidence_id)
        if row.state in ("received", "verified"):
            self.process_many([evidence_id])
        elif row.state in ("signed", "submitted"):
            # Interrupted by the chain (unreachable, or no receipt in time): finish it.
            for attestation in self.journal.attestations_for_evidence(row.id):
                self._resume(attestation)
        elif row.state == "confirmed" and self._is_suspect(row.id):
            for attestation in self.journal.attestations_for_evidence(row.id):
                self._restore(attestation)
            with self._suspects_lock:
                self._suspects.discard(row.id)

    def _verify_many(self, rows: Sequence[EvidenceRow]) -> dict[str, MilestoneState]:
        """Judges evidence against its milestone's specification, all at one chain time.
        Returns the milestones as read, by id (submission checks them again only when it did
        not follow at once)."""
        milestones = self.escrow.milestones([parse_milestone_id(r.milestone_id) for r in rows])
        now = self.client.timestamp()
        verdicts: list[tuple[EvidenceRow, list[str]]] = []
        for row, milestone in zip(rows, milestones, strict=True):
            evidence = EvidenceCreate.model_validate(json.loads(row.body))
            spec = self.specs.parsed(milestone.evidence_spec_hash)
            reasons: list[str]
            if spec is None:
                reasons = [f"specification 0x{milestone.evidence_spec_hash.hex()} is not uploaded"]
            else:
                context = VerificationContext(
                    evidence=evidence,
                    spec=spec,
                    store=self.store,
                    now=now,
                    deadline=milestone.deadline,
                )
                reasons = verify(context).reasons
            verdicts.append((row, reasons))
        with self.journal.transaction():
            for row, reasons in verdicts:
                self.journal.set_evidence_state(
                    row.id, "rejected" if reasons else "verified", reasons or None
                )
        _faults.reached("verified")
        for row, reasons in verdicts:
            if reasons:
                self.metrics.evidence_rejected.inc()
                log.info("evidence rejected", extra={"evidence_id": row.id, "reasons": reasons})
            else:
                self.metrics.evidence_verified.inc()
                log.info("evidence verified", extra={"evidence_id": row.id})
        return {row.milestone_id: state for row, state in zip(rows, milestones, strict=True)}

    def _attest_many(
        self,
        rows: Sequence[EvidenceRow],
        *,
        states: Mapping[str, MilestoneState] | None = None,
    ) -> list[AttestationRow]:
        """Signs and journals an attestation of each piece of verified evidence. Each signs the
        milestone's terms version as verification read it (`states`), so the escrow does not
        count it once the terms change; evidence verified earlier reads it now."""
        if not rows:
            return []
        known = dict(states or {})
        missing = [r.milestone_id for r in rows if r.milestone_id not in known]
        if missing:
            read = self.escrow.milestones([parse_milestone_id(m) for m in missing])
            known.update(zip(missing, read, strict=True))
        begun: list[AttestationRow] = []
        with self._attest_lock:
            epoch = self.escrow.committee().epoch
            signed = [
                (
                    row,
                    sign_attestation(
                        self.account.key,
                        chain_id=self.client.profile.chain_id,
                        escrow=self.escrow.address,
                        milestone=parse_milestone_id(row.milestone_id),
                        evidence_hash=bytes.fromhex(row.evidence_hash[2:]),
                        epoch=epoch,
                        terms_version=known[row.milestone_id].terms_version,
                    ),
                )
                for row in rows
            ]
            with self.journal.transaction():
                for row, signature in signed:
                    try:
                        attestation = self.journal.begin_attestation(
                            milestone_id=row.milestone_id,
                            epoch=epoch,
                            evidence_id=row.id,
                            evidence_hash=row.evidence_hash,
                            signature="0x" + (signature.r + signature.vs).hex(),
                        )
                    except JournalError as exc:
                        # This node already attested other evidence for the milestone in this
                        # epoch: attesting a second hash would dispute its own attestation.
                        log.warning(
                            "not attesting a second evidence hash",
                            extra={
                                "evidence_id": row.id,
                                "milestone_id": row.milestone_id,
                                "why": str(exc),
                            },
                        )
                        self.journal.set_evidence_state(row.id, "failed", [str(exc)])
                        continue
                    self.journal.set_evidence_state(row.id, "signed")
                    begun.append(attestation)
            _faults.reached("signed")
        return begun

    # ------------------------------------------------------------------ submission

    def submit(self, attestation: AttestationRow) -> None:
        """Sends (or hands over) one journaled attestation, unless the chain already has it."""
        self.submit_many([attestation])

    def submit_many(
        self,
        attestations: Sequence[AttestationRow],
        *,
        states: Mapping[str, MilestoneState] | None = None,
    ) -> None:
        """Sends (or hands over) journaled attestations the chain does not have yet. Each is
        checked first, all with one batched read (or with `states`, read by verification
        moments ago): already on chain → confirmed; milestone no longer attestable or committee
        changed → failed. The chain refuses a stale one anyway: this only saves a doomed send."""
        pending = [a for a in attestations if a.state not in ("confirmed", "failed")]
        if not pending:
            return
        ids = [parse_milestone_id(a.milestone_id) for a in pending]
        known = states or {}
        if all(a.milestone_id in known for a in pending):
            milestones = [known[a.milestone_id] for a in pending]
        else:
            milestones = self.escrow.milestones(ids)
        current = self.escrow.committee().epoch
        # Only a milestone with attestations in this epoch can hold this node's already.
        counted = [
            m
            for m, s in zip(ids, milestones, strict=True)
            if s.attestations and s.attestation_epoch == current
        ]
        pairs = [(m, self.address) for m in counted]
        found = dict(zip(counted, self.escrow.attested(pairs), strict=True))
        attested = [found.get(m, False) for m in ids]
        to_send: list[AttestationRow] = []
        for attestation, on_chain, milestone in zip(pending, attested, milestones, strict=True):
            if on_chain:
                self._confirmed(attestation)
            elif milestone.status != "Registered" or current != attestation.epoch:
                why = (
                    f"milestone is {milestone.status}"
                    if milestone.status != "Registered"
                    else f"committee epoch moved from {attestation.epoch} to {current}"
                )
                self.journal.mark_failed(attestation.id, why)
                self._evidence_to(attestation.evidence_id, "failed", [why])
                self.metrics.attestations_failed.inc()
                log.info(
                    "attestation not sent", extra={"attestation_id": attestation.id, "why": why}
                )
            else:
                to_send.append(attestation)
        if not to_send:
            return
        if self.relayer is not None:
            self._hand_over(to_send)
            return
        for attestation in to_send:
            self._send(attestation)

    def _hand_over(self, attestations: Sequence[AttestationRow]) -> None:
        """Gives signatures to the relaying node, journaled before and after, one request."""
        assert self.relayer is not None
        with self.journal.transaction():
            for attestation in attestations:
                self.journal.mark_sending(attestation.id, None)
        _faults.reached("sending")
        self.relayer.hand_over_many([_relayed(a) for a in attestations])
        with self.journal.transaction():
            for attestation in attestations:
                self.journal.mark_sent(attestation.id, None)
                self._evidence_to(attestation.evidence_id, "submitted")
        self.metrics.attestations_sent.inc(len(attestations))
        _faults.reached("sent")

    def _send(self, attestation: AttestationRow) -> None:
        """Sends one attestation in its own transaction from this node's account, and waits.
        It names the terms version the node verified against (the one its journaled signature
        was given for); when the terms changed since, nothing is sent and the attestation fails."""
        milestone_id = parse_milestone_id(attestation.milestone_id)
        version = self._verified_terms_version(attestation)
        if version is None:
            return
        digest = bytes.fromhex(attestation.evidence_hash[2:])
        fn = self.escrow.attest(milestone_id, digest, attestation.epoch, version)
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
            receipt = self.client.wait(tx_hash)
        except ContractRevertError as exc:
            self._failed(attestation, exc)
            return
        except TransactionTimeoutError:
            # The worker queues the evidence again; `_resume` then looks for the transaction.
            log.warning(
                "attestation not mined in time",
                extra={"attestation_id": attestation.id, "tx_hash": tx_hash, "nonce": nonce},
            )
            raise
        self._confirmed(attestation, (int(receipt["blockNumber"]), bytes(receipt["blockHash"])))

    def _verified_terms_version(self, attestation: AttestationRow) -> int | None:
        """The milestone's current terms version, read now, when this node's journaled
        signature was given for it: the terms the node verified the evidence against. None when
        the terms changed since (an amendment or a beneficiary replacement after verification);
        the attestation is then failed, so that the node never attests terms it did not verify."""
        milestone_id = parse_milestone_id(attestation.milestone_id)
        version = self.escrow.milestone(milestone_id).terms_version
        if self._signed_for_terms(attestation, version):
            return version
        why = (
            f"milestone terms changed after verification: terms version is now {version}, "
            "not the one this node verified"
        )
        self.journal.mark_failed(attestation.id, why)
        self._evidence_to(attestation.evidence_id, "failed", [why])
        self.metrics.attestations_failed.inc()
        log.warning(
            "attestation not sent: terms changed",
            extra={
                "attestation_id": attestation.id,
                "milestone_id": attestation.milestone_id,
                "terms_version": version,
                "why": why,
            },
        )
        return None

    def _signed_for_terms(self, attestation: AttestationRow, terms_version: int) -> bool:
        """Whether the journaled signature is this node's for `terms_version` (it was made over
        the version verification read, which the journal does not store otherwise)."""
        raw = bytes.fromhex(attestation.signature[2:])
        try:
            signer = recover_attestation(
                CompactSignature(raw[:32], raw[32:]),
                chain_id=self.client.profile.chain_id,
                escrow=self.escrow.address,
                milestone=parse_milestone_id(attestation.milestone_id),
                evidence_hash=bytes.fromhex(attestation.evidence_hash[2:]),
                epoch=attestation.epoch,
                terms_version=terms_version,
            )
        except AttestationError:
            return False
        return signer.lower() == self.address.lower()

    def _evidence_to(
        self, evidence_id: int, state: EvidenceState, reasons: list[str] | None = None
    ) -> None:
        """Moves the evidence along with its attestation (a repeat of a step is a no-op)."""
        current = self.journal.evidence(evidence_id).state
        if current != state and current not in ("confirmed", "failed", "rejected"):
            self.journal.set_evidence_state(evidence_id, state, reasons)

    def _confirmed(
        self, attestation: AttestationRow, block: tuple[int, bytes] | None = None
    ) -> None:
        """Journals the attestation confirmed in `block` (number, hash) of its receipt; when it
        was found on chain without one, in the head block then (it is in that block or below:
        a rollback that takes the head re-checks it, one below it cannot have taken it)."""
        number, block_hash = block if block is not None else self.client.head()
        self.journal.mark_confirmed(attestation.id, block=number, block_hash=block_hash)
        self._evidence_to(attestation.evidence_id, "confirmed")
        self.metrics.attestations_confirmed.inc()
        evidence = self.journal.evidence(attestation.evidence_id)
        self.metrics.attestation_latency.observe(max(0.0, time.time() - evidence.created_at))
        log.info(
            "attestation confirmed",
            extra={"attestation_id": attestation.id, "milestone_id": attestation.milestone_id},
        )

    def _failed(self, attestation: AttestationRow, exc: Exception) -> None:
        milestone_id = parse_milestone_id(attestation.milestone_id)
        if self.escrow.has_attested(milestone_id, self.address):
            self._confirmed(attestation)
            return
        self.journal.mark_failed(attestation.id, str(exc))
        self._evidence_to(attestation.evidence_id, "failed", [str(exc)])
        self.metrics.attestations_failed.inc()
        status = self.escrow.milestone(milestone_id).status
        if status != "Registered":
            # The usual race of a committee larger than its quorum: the others got there first.
            log.info(
                "attestation not needed",
                extra={"attestation_id": attestation.id, "milestone_status": status},
            )
            return
        log.warning(
            "attestation failed", extra={"attestation_id": attestation.id, "error": str(exc)}
        )

    # ------------------------------------------------------------------ restart

    def recover(self) -> None:
        """Finishes what a previous run started, checking the chain before resending. What
        the chain cannot answer now is left to the worker."""
        away: Exception | None = None
        for attestation in self.journal.unfinished_attestations():
            if away is not None:
                self._work.put(attestation.evidence_id)
                continue
            try:
                self._resume(attestation)
            except (DisburseError, RelayError) as exc:
                raise_if_own(exc, RelayError)
                # The chain or the relaying node is away: the node starts anyway, serves its
                # API and reports it (/healthz, metrics); the worker finishes this and the rest
                # once it is back, without each waiting out the outage here first.
                away = exc
                log.warning(
                    "recovery deferred",
                    extra={"attestation_id": attestation.id, "error": str(exc)},
                )
                self._work.put(attestation.evidence_id)
        for row in self.journal.evidence_in_states(("received", "verified")):
            self._work.put(row.id)

    def _resume(self, attestation: AttestationRow) -> None:
        """Finishes one unfinished attestation: confirmed if the chain has it, awaited if its
        transaction is pending (as long as it stays pending), otherwise sent (again) with a
        resynchronised nonce."""
        attestation = self.journal.attestation(attestation.id)
        if attestation.state not in UNFINISHED_ATTESTATION_STATES:
            return
        milestone_id = parse_milestone_id(attestation.milestone_id)
        if self.escrow.has_attested(milestone_id, self.address):
            self._confirmed(attestation)
            return
        if attestation.tx_hash:
            receipt = self.client.receipt(attestation.tx_hash)
            if receipt is not None and receipt["status"] != 1:
                self._failed(
                    attestation, RuntimeError(f"transaction {attestation.tx_hash} reverted")
                )
                return
            if receipt is None and self.client.transaction_known(attestation.tx_hash):
                # Still in the pool: wait for it. Sending it again would take the next nonce,
                # which would only queue behind it; the worker looks again after a timeout.
                try:
                    receipt = self.client.wait(attestation.tx_hash)
                except TransactionTimeoutError:
                    self._replace_stuck(attestation)
                    raise
                except ContractRevertError as exc:
                    self._failed(attestation, exc)
                    return
                self._confirmed(
                    attestation, (int(receipt["blockNumber"]), bytes(receipt["blockHash"]))
                )
                return
            elif receipt is None:
                log.warning(
                    "attestation transaction unknown to the chain: sending it again",
                    extra={
                        "attestation_id": attestation.id,
                        "tx_hash": attestation.tx_hash,
                        "nonce": attestation.nonce,
                    },
                )
            # Never broadcast, dropped from the pool, or lost with a restarted chain: the
            # nonce is read again from the node (the same one when nothing else took it).
            self.client.resync_nonce(self.address)
        self.submit(attestation)

    def _replace_stuck(self, attestation: AttestationRow) -> None:
        """An attestation still pending after a receipt timeout: on a chain that charges fees
        its fees may be too low now, so it is replaced at the same nonce with the fee bump the
        node's pool requires (journaled first, like any send). The worker then waits for the
        replacement; if the original is mined instead, `_resume` finds it on chain."""
        assert attestation.tx_hash is not None and attestation.nonce is not None
        milestone_id = parse_milestone_id(attestation.milestone_id)
        version = self._verified_terms_version(attestation)
        if version is None:
            # The pending transaction names the verified terms: the escrow refuses it now.
            return
        fn = self.escrow.attest(
            milestone_id, bytes.fromhex(attestation.evidence_hash[2:]), attestation.epoch, version
        )
        fees = self.client.bumped_fees(attestation.tx_hash)
        if fees is None:  # free gas (a higher fee changes nothing), or mined meanwhile
            log.info(
                "attestation still waiting in the pool",
                extra={"attestation_id": attestation.id, "nonce": attestation.nonce},
            )
            return
        try:
            gas = self.client.estimate_gas(self.account, fn)
        except ContractRevertError:
            return  # the chain no longer takes it: the next look fails or confirms it
        raw, tx_hash = self.client.sign(
            self.account, fn, nonce=attestation.nonce, gas=gas, fees=fees
        )
        self.journal.mark_sending(attestation.id, attestation.nonce, tx_hash=tx_hash)
        log.warning(
            "attestation stuck in the pool: replacing it at its nonce with higher fees",
            extra={
                "attestation_id": attestation.id,
                "nonce": attestation.nonce,
                "stuck_tx_hash": attestation.tx_hash,
                "tx_hash": tx_hash,
            },
        )
        try:
            self.client.send_raw(raw, tx_hash)
        except NonceError:
            return  # the stuck one was mined meanwhile; the next look finds it on chain
        self.journal.mark_sent(attestation.id, tx_hash)

    # ------------------------------------------------------------------ chain rollback

    def chain_rolled_back(self, ancestor: int) -> int:
        """The chain lost the blocks above `ancestor` (a local chain restarted from an older
        state file): every attestation the journal holds as confirmed in a block above it is
        checked against the chain again, by the worker, and sent again if the chain no longer
        has it. Chosen by the block journaled with each confirmation, so the same holds after a
        restart. Returns how many."""
        self.client.resync_nonce(self.address)
        suspects = list(
            dict.fromkeys(a.evidence_id for a in self.journal.confirmed_above(ancestor))
        )
        with self._suspects_lock:
            self._suspects.update(suspects)
        unfinished = self.journal.evidence_in_states(("signed", "submitted"))
        for evidence_id in [*suspects, *(row.id for row in unfinished)]:
            self._work.put(evidence_id)
        log.warning(
            "chain lost blocks: checking the attestations confirmed in them again",
            extra={
                "above_block": ancestor,
                "confirmed": len(suspects),
                "unfinished": len(unfinished),
            },
        )
        return len(suspects)

    def _is_suspect(self, evidence_id: int) -> bool:
        with self._suspects_lock:
            return evidence_id in self._suspects

    def _restore(self, attestation: AttestationRow) -> None:
        """Sends again an attestation the journal holds as confirmed but the chain lost. The
        journal keeps it confirmed (a final state); the chain check first makes this safe to
        repeat, and the escrow refuses a second attestation anyway."""
        if attestation.state != "confirmed":
            return
        milestone_id = parse_milestone_id(attestation.milestone_id)
        if self.escrow.has_attested(milestone_id, self.address):
            return
        milestone = self.escrow.milestone(milestone_id)
        current = self.escrow.committee().epoch
        if milestone.status != "Registered" or current != attestation.epoch:
            log.warning(
                "attestation lost with the chain's blocks can no longer be sent",
                extra={
                    "attestation_id": attestation.id,
                    "status": milestone.status,
                    "epoch": current,
                },
            )
            return
        if self.relayer is not None:
            self.relayer.hand_over_many([_relayed(attestation)])
            log.warning("lost attestation handed over again", extra={"id": attestation.id})
            return
        if not self._signed_for_terms(attestation, milestone.terms_version):
            # The journal keeps it confirmed (final); the node verified other terms than these.
            log.warning(
                "attestation lost with the chain's blocks not sent again: terms changed",
                extra={
                    "attestation_id": attestation.id,
                    "terms_version": milestone.terms_version,
                },
            )
            return
        digest = bytes.fromhex(attestation.evidence_hash[2:])
        fn = self.escrow.attest(milestone_id, digest, attestation.epoch, milestone.terms_version)
        try:
            gas = self.client.estimate_gas(self.account, fn)
        except ContractRevertError as exc:
            log.warning(
                "lost attestation refused",
                extra={"attestation_id": attestation.id, "why": str(exc)},
            )
            return
        nonce = self.client.next_nonce(self.address)
        raw, tx_hash = self.client.sign(self.account, fn, nonce=nonce, gas=gas)
        log.warning(
            "attestation lost with the chain's blocks: sending it again",
            extra={"attestation_id": attestation.id, "tx_hash": tx_hash, "nonce": nonce},
        )
        self.client.send_raw(raw, tx_hash)
        self.metrics.attestations_sent.inc()
        try:
            self.client.wait(tx_hash)
        except ContractRevertError as exc:
            if not self.escrow.has_attested(milestone_id, self.address):
                log.warning(
                    "lost attestation reverted",
                    extra={"attestation_id": attestation.id, "why": str(exc)},
                )

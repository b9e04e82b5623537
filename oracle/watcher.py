"""The watcher follows the escrow's events from a stored block cursor, and the releaser pays
milestones whose challenge window has passed (release is permissionless: any node may).

Events it acts on: this node's own AttestationRecorded (confirms relayed attestations),
MilestoneVerified / DisputeResolved / MilestoneUnfrozen (a release to schedule),
MilestoneReleased / MilestoneCancelled (nothing left to release; release latency measured).

The chain may lose blocks: a local anvil killed with `kill -9` restarts from the state file it
wrote up to a second earlier. Before each read the watcher compares the hash of the newest block
it relied on (its cursor, or a receipt the node acted on) with the chain; on a difference it
reads again from the last block the chain still has, schedules again the releases it dropped
meanwhile, and has the node check its recent attestations (`on_rollback`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from web3 import Web3
from web3.types import LogReceipt

from disburse.client import ChainClient
from disburse.errors import ContractRevertError, DisburseError
from disburse.escrow import Escrow
from disburse.events import EventDecoder
from oracle.journal import Journal
from oracle.metrics import Metrics

log = logging.getLogger("oracle.watcher")
CURSOR = "escrow-events"
_SCHEDULE = {"MilestoneVerified", "DisputeResolved", "MilestoneUnfrozen"}
_DONE = {"MilestoneReleased", "MilestoneCancelled"}
_REMEMBERED = 256
# Blocks lost in a rollback were mined after the newest surviving block the watcher recorded;
# the margin covers receipts the worker acted on before the watcher read their block.
_ROLLBACK_MARGIN_S = 60.0


@dataclass
class Health:
    """What /healthz reports."""

    chain_ok: bool = False
    head: int = 0
    cursor: int = 0
    last_poll: float = 0.0
    error: str = ""

    @property
    def lag(self) -> int:
        return max(0, self.head - self.cursor)


class Watcher:
    def __init__(
        self,
        *,
        client: ChainClient,
        escrow: Escrow,
        journal: Journal,
        metrics: Metrics,
        address: str,
        start_block: int,
        poll_interval_s: float,
        release: bool,
        account: Any,
        on_rollback: Callable[[float], object] | None = None,
    ) -> None:
        self.client = client
        self.escrow = escrow
        self.journal = journal
        self.metrics = metrics
        self.address = Web3.to_checksum_address(address)
        self.start_block = start_block
        self.poll_interval_s = poll_interval_s
        self.release_enabled = release
        self.account = account
        self.on_rollback = on_rollback
        self._health = Health()
        # Block number → (hash, wall time recorded) of the cursor after each read.
        self._seen: OrderedDict[int, tuple[bytes, float]] = OrderedDict()
        # (wall time, milestone id) of releases dropped from the schedule, newest last.
        self._settled: deque[tuple[float, str]] = deque(maxlen=10_000)
        self._events = EventDecoder([escrow.contract])

    @property
    def health(self) -> Health:
        """What /healthz reports; an endpoint failing right now shows at once, before the
        client's retries run out."""
        if not self.client.reachable:
            return replace(self._health, chain_ok=False, error=self.client.last_error)
        return self._health

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
                if self.release_enabled:
                    self.release_due()
            except DisburseError as exc:
                self._health.chain_ok = False
                self._health.error = str(exc)
                log.warning("chain unavailable", extra={"error": str(exc)})
            except Exception as exc:
                # Never let the watcher thread end: report it and poll again.
                self._health.chain_ok = False
                self._health.error = str(exc)
                log.exception("watcher poll failed")
            stop.wait(self.poll_interval_s)

    def poll_once(self) -> int:
        """Reads events up to the confirmed head; returns the number handled."""
        head = self.client.block_number() - self.client.profile.confirmations
        self._health.head = head
        self._check_rollback()
        cursor = self.journal.get_cursor(CURSOR)
        if cursor is None:
            cursor = self.start_block - 1
        handled = 0
        while cursor < head:
            end = min(head, cursor + self.client.profile.log_range_cap)
            # The hash is read before the logs: if the chain loses blocks in between, the next
            # poll sees the difference and reads them again.
            end_hash = self.client.block_hash(end)
            logs = self.client.contract_logs(
                self.escrow.address, from_block=cursor + 1, to_block=end
            )
            for entry in logs:
                self._handle(entry)
                handled += 1
            cursor = end
            self.journal.set_cursor(CURSOR, cursor)
            if end_hash is not None:
                self._remember(end, end_hash)
        self._health.cursor = cursor
        self._health.chain_ok = True
        self._health.error = ""
        self._health.last_poll = time.time()
        self.metrics.cursor_lag.set(self._health.lag)
        return handled

    # ------------------------------------------------------------------ rollback

    def _remember(self, number: int, block_hash: bytes) -> None:
        self._seen[number] = (block_hash, time.time())
        self._seen.move_to_end(number)
        while len(self._seen) > _REMEMBERED:
            self._seen.popitem(last=False)

    def _check_rollback(self) -> bool:
        """Compares the newest block relied on with the chain; on a difference, rewinds to the
        newest one the chain still has. Returns whether the chain lost blocks."""
        known = {n: h for n, (h, _) in self._seen.items()}
        known.update(self.client.remembered_blocks())
        lost = self.client.take_lost_block()
        if not known and lost is None:
            return False
        top = max(known) if known else 0
        # Each block commits to its parent: the newest one intact means all below are too,
        # unless a receipt already replaced the hash of a block we had relied on (`lost`).
        if lost is None and self.client.block_hash(top) == known[top]:
            return False
        below = lost if lost is not None else top
        ancestor = self.start_block - 1
        for number in sorted(known, reverse=True):
            if number < below and self.client.block_hash(number) == known[number]:
                ancestor = number
                break
        recorded = [t for n, (_, t) in self._seen.items() if n <= ancestor]
        since = max(recorded) - _ROLLBACK_MARGIN_S if recorded else 0.0
        log.warning(
            "the chain lost blocks (restarted from an older state?): reading again",
            extra={"from_block": ancestor + 1, "lost_above": ancestor},
        )
        cursor = self.journal.get_cursor(CURSOR)
        if cursor is not None and cursor > ancestor:
            self.journal.set_cursor(CURSOR, max(ancestor, 0))
        for number in [n for n in self._seen if n > ancestor]:
            del self._seen[number]
        self.client.forget_blocks_above(ancestor)
        self.client.resync_nonce(self.address)
        # A release (ours or another node's) mined in the lost blocks is not paid any more.
        for settled_at, milestone_id in list(self._settled):
            if settled_at < since:
                continue
            mid = bytes.fromhex(milestone_id[2:])
            if self.escrow.milestone(mid).status == "Verified":
                self.journal.schedule_release(
                    milestone_id=milestone_id, releasable_at=self.escrow.releasable_at(mid)
                )
        if self.on_rollback is not None:
            self.on_rollback(since)
        return True

    def _drop_release(self, milestone_id: str) -> None:
        self.journal.drop_release(milestone_id)
        self._settled.append((time.time(), milestone_id))

    def _handle(self, entry: LogReceipt) -> None:
        event = self._events.decode(entry)
        if event is None:
            return
        name = event["event"]
        args = event["args"]
        if name == "AttestationRecorded" and args["oracle"] == self.address:
            mid = "0x" + bytes(args["milestoneId"]).hex()
            for attestation in self.journal.unfinished_attestations():
                if attestation.milestone_id == mid and attestation.epoch == args["epoch"]:
                    self.journal.mark_confirmed(attestation.id)
                    evidence = self.journal.evidence(attestation.evidence_id)
                    if evidence.state in ("signed", "submitted"):
                        self.journal.set_evidence_state(evidence.id, "confirmed")
                    self.metrics.attestations_confirmed.inc()
        elif name in _SCHEDULE:
            milestone_id = bytes(args["milestoneId"])
            self.journal.schedule_release(
                milestone_id="0x" + milestone_id.hex(),
                releasable_at=self.escrow.releasable_at(milestone_id),
            )
        elif name in _DONE:
            mid = "0x" + bytes(args["milestoneId"]).hex()
            self._drop_release(mid)
            if name == "MilestoneReleased":
                self._measure_release(mid, int(entry["blockNumber"]))

    def _measure_release(self, milestone_id: str, block: int) -> None:
        rows = self.journal.evidence_for_milestone(milestone_id)
        if rows:
            accepted = min(r.created_at for r in rows)
            mined = self.client.timestamp(block)
            self.metrics.release_latency.observe(max(0.0, mined - accepted))

    def release_due(self) -> int:
        """Releases every scheduled milestone whose window has passed; returns how many."""
        now = self.client.timestamp()
        sent = 0
        for milestone_id, _ in self.journal.due_releases(now):
            mid = bytes.fromhex(milestone_id[2:])
            state = self.escrow.milestone(mid)
            if state.status != "Verified":
                self._drop_release(milestone_id)
                continue
            try:
                self.client.transact(self.account, self.escrow.release(mid))
            except ContractRevertError as exc:
                # Another node released it first, or the council froze it meanwhile.
                log.info("release not sent", extra={"milestone_id": milestone_id, "why": str(exc)})
                self._drop_release(milestone_id)
                continue
            self._drop_release(milestone_id)
            self.metrics.releases_sent.inc()
            sent += 1
            log.info("milestone released", extra={"milestone_id": milestone_id})
        return sent

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

from disburse.chain.client import ChainClient
from disburse.chain.errors import BlockGasLimitError, ContractRevertError, DisburseError
from disburse.chain.escrow import Escrow, release_batch_capacity, release_batch_gas
from disburse.chain.events import EventDecoder, RawEvent
from oracle.journal import UNFINISHED_ATTESTATION_STATES, Journal
from oracle.metrics import Metrics

log = logging.getLogger("oracle.watcher")
CURSOR = "escrow-events"
_SCHEDULE = {"MilestoneVerified", "DisputeResolved", "MilestoneUnfrozen"}
_DONE = {"MilestoneReleased", "MilestoneCancelled"}
_REMEMBERED = 256
# A due milestone whose release failed is tried again after this, doubling up to the maximum.
_RELEASE_RETRY_S = 1.0
_RELEASE_RETRY_MAX_S = 300.0
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
        release_batch_size: int = 1,
        on_rollback: Callable[[int], object] | None = None,
    ) -> None:
        self.client = client
        self.escrow = escrow
        self.journal = journal
        self.metrics = metrics
        self.address = Web3.to_checksum_address(address)
        self._address_lower = self.address.lower()
        self.start_block = start_block
        self.poll_interval_s = poll_interval_s
        self.release_enabled = release
        self.release_batch_size = release_batch_size
        self.account = account
        self.on_rollback = on_rollback
        self._health = Health()
        # Block number → (hash, wall time recorded) of the cursor after each read.
        self._seen: OrderedDict[int, tuple[bytes, float]] = OrderedDict()
        # The blocks found intact by the last rollback check (number → hash).
        self._verified: dict[int, bytes] = {}
        # (wall time, milestone id) of releases dropped from the schedule, newest last.
        self._settled: deque[tuple[float, str]] = deque(maxlen=10_000)
        self._events = EventDecoder([escrow.contract])
        # Due milestones whose release failed: failures so far and the monotonic time before
        # which none is tried again. They stay scheduled until paid or no longer payable.
        self._restart_checked = False
        self._block_hashes: dict[int, str] = {}  # of the range being handled
        self._release_failures: dict[str, int] = {}
        self._release_not_before: dict[str, float] = {}

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
        # The block gas limit is followed (read again every half minute): batches stay under it.
        self.metrics.block_gas_limit.set(self.client.block_gas_limit())
        self.metrics.batch_gas_cap.set(self.client.batch_gas_cap())
        if not self._restart_checked:
            self._check_confirmed_blocks()
            self._restart_checked = True
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
            logs = self.client.raw_logs(self.escrow.address, from_block=cursor + 1, to_block=end)
            handled += self._handle_all(logs, cursor=end)
            cursor = end
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
        """Compares the blocks relied on with the chain (see `_first_replaced`); on a
        difference, rewinds to the newest one the chain still has. Returns whether the chain
        lost blocks."""
        known = {n: h for n, (h, _) in self._seen.items()}
        known.update(self.client.remembered_blocks())
        lost = self.client.take_lost_block()
        if not known and lost is None:
            return False
        if lost is None:
            lost = self._first_replaced(known)
            if lost is None:
                self._verified = known
                return False
        below = lost
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
        self._verified = {}
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
            self.on_rollback(ancestor)
        return True

    def _check_confirmed_blocks(self) -> None:
        """At start: compares the blocks that confirmed this node's attestations (journaled
        with each) with the chain, newest first. A chain restarted from an older state while
        the node was down has lost the ones that differ: the node checks those attestations
        again (`on_rollback`) and the cursor goes back below them."""
        lost_from: int | None = None
        intact = self.start_block - 1
        for number, block_hash in self.journal.confirmed_blocks():
            found = self.client.block_hash(number)
            if found is not None and "0x" + found.hex() == block_hash:
                intact = number  # each block commits to its parent: everything below holds too
                break
            lost_from = number
        if lost_from is None:
            return
        log.warning(
            "the chain lost blocks that confirmed attestations while the node was down",
            extra={"lowest_lost_block": lost_from, "intact_block": intact},
        )
        cursor = self.journal.get_cursor(CURSOR)
        if cursor is not None and cursor > intact:
            self.journal.set_cursor(CURSOR, max(intact, 0))
        self.client.resync_nonce(self.address)
        if self.on_rollback is not None:
            self.on_rollback(intact)

    def _first_replaced(self, known: dict[int, bytes]) -> int | None:
        """The lowest block we relied on that the chain no longer has, or None.

        Each block commits to its parent, so the newest block of the last check still intact
        means every block known then is too. Blocks learned since (receipts, the cursor) are
        checked each: one learned after a rollback may sit above blocks the rollback took."""
        still = [n for n in self._verified if known.get(n) == self._verified[n]]
        check = {n for n, h in known.items() if self._verified.get(n) != h}
        if still:
            check.add(max(still))
        for number in sorted(check):
            if self.client.block_hash(number) != known[number]:
                return number
        return None

    def _drop_release(self, milestone_id: str) -> None:
        self.journal.drop_release(milestone_id)
        self._settled.append((time.time(), milestone_id))
        if self._release_failures.pop(milestone_id, None) is not None:
            self.metrics.releases_waiting_retry.set(len(self._release_failures))
        self._release_not_before.pop(milestone_id, None)

    def _handle_all(self, logs: list[dict[str, Any]], *, cursor: int) -> int:
        """Acts on a range's events and moves the cursor past it, in one journal transaction;
        what the chain must answer (release times, block times) is read before, in batches."""
        decoded = [e for e in map(self._events.decode_raw, logs) if e is not None]
        # Every node keeps the schedule, releasing or not: one whose operator turns releasing
        # on later has every milestone verified meanwhile to pay.
        to_schedule = list(
            dict.fromkeys(bytes(e.args["milestoneId"]) for e in decoded if e.name in _SCHEDULE)
        )
        releasable = dict(
            zip(to_schedule, self.escrow.releasable_at_each(to_schedule), strict=True)
        )
        self._block_hashes = {
            int(str(log["blockNumber"]), 16): str(log["blockHash"]) for log in logs
        }
        released_blocks = {e.block_number for e in decoded if e.name == "MilestoneReleased"}
        block_times = {block: self.client.timestamp(block) for block in released_blocks}
        with self.journal.transaction():
            for event in decoded:
                self._handle(event, releasable, block_times)
            self.journal.set_cursor(CURSOR, cursor)
        return len(decoded)

    def _handle(
        self, event: RawEvent, releasable: dict[bytes, int], block_times: dict[int, int]
    ) -> None:
        name, args = event.name, event.args
        if name == "AttestationRecorded" and args["oracle"] == self._address_lower:
            mid = "0x" + bytes(args["milestoneId"]).hex()
            attestation = self.journal.attestation_for(mid, int(args["epoch"]))
            if attestation is not None and attestation.state in UNFINISHED_ATTESTATION_STATES:
                self.journal.mark_confirmed(
                    attestation.id,
                    block=event.block_number,
                    block_hash=self._block_hashes.get(event.block_number),
                )
                evidence = self.journal.evidence(attestation.evidence_id)
                if evidence.state in ("signed", "submitted"):
                    self.journal.set_evidence_state(evidence.id, "confirmed")
                self.metrics.attestations_confirmed.inc()
        elif name in _SCHEDULE:
            milestone_id = bytes(args["milestoneId"])
            self.journal.schedule_release(
                milestone_id="0x" + milestone_id.hex(), releasable_at=releasable[milestone_id]
            )
        elif name in _DONE:
            mid = "0x" + bytes(args["milestoneId"]).hex()
            self._drop_release(mid)
            if name == "MilestoneReleased":
                self._measure_release(mid, block_times[event.block_number])

    def _measure_release(self, milestone_id: str, mined: int) -> None:
        rows = self.journal.evidence_for_milestone(milestone_id)
        if rows:
            accepted = min(r.created_at for r in rows)
            self.metrics.release_latency.observe(max(0.0, mined - accepted))

    def release_due(self) -> int:
        """Releases every scheduled milestone whose window has passed, `release_batch_size` per
        transaction; returns how many this node paid. Statuses are read first (one batched
        read), so a milestone another node paid meanwhile costs no transaction.

        A milestone stays scheduled until it is paid or can no longer be paid by a release
        (frozen, disputed, cancelled: a later unfreeze or resolution schedules it again). One
        whose release fails while it is still Verified (the escrow paused, the challenge window
        lengthened, a token transfer refused) is tried again later, with backoff."""
        now = self.client.timestamp()
        clock = time.monotonic()
        due = [
            milestone_id
            for milestone_id, _ in self.journal.due_releases(now)
            if self._release_not_before.get(milestone_id, 0.0) <= clock
        ]
        if not due:
            return 0
        states = self.escrow.milestones([bytes.fromhex(m[2:]) for m in due])
        ready: list[str] = []
        with self.journal.transaction():
            for milestone_id, state in zip(due, states, strict=True):
                if state.status == "Verified":
                    ready.append(milestone_id)
                else:
                    self._drop_release(milestone_id)
        size = min(self.release_batch_size, release_batch_capacity(self.client.batch_gas_cap()))
        if size == 1:
            return sum(self._release_one(m) for m in ready)
        return sum(
            self._release_batch(ready[start : start + size]) for start in range(0, len(ready), size)
        )

    @property
    def releases_waiting_retry(self) -> int:
        """Due milestones whose release failed and that wait to be tried again."""
        return len(self._release_failures)

    def _settle_unpaid(self, milestone_ids: list[str], why: str) -> None:
        """Milestones a release did not pay: dropped when no longer Verified (paid by another
        node, frozen, cancelled...), otherwise scheduled again: at the chain's new release time
        when the window moved, or after a backoff."""
        if not milestone_ids:
            return
        ids = [bytes.fromhex(m[2:]) for m in milestone_ids]
        states = self.escrow.milestones(ids)
        verified = [m for m, s in zip(milestone_ids, states, strict=True) if s.status == "Verified"]
        releasable = dict(
            zip(
                verified,
                self.escrow.releasable_at_each([bytes.fromhex(m[2:]) for m in verified]),
                strict=True,
            )
        )
        now = self.client.timestamp()
        with self.journal.transaction():
            for milestone_id in milestone_ids:
                if milestone_id not in releasable:
                    self._drop_release(milestone_id)
                    continue
                at = int(releasable[milestone_id])
                self.journal.schedule_release(milestone_id=milestone_id, releasable_at=at)
                if at > now:
                    # The council lengthened the window: due again then, no failure.
                    self._release_failures.pop(milestone_id, None)
                    self._release_not_before.pop(milestone_id, None)
                    continue
                failures = self._release_failures.get(milestone_id, 0) + 1
                self._release_failures[milestone_id] = failures
                delay = min(_RELEASE_RETRY_MAX_S, _RELEASE_RETRY_S * 2 ** (failures - 1))
                self._release_not_before[milestone_id] = time.monotonic() + delay
                log.info(
                    "release to be tried again",
                    extra={
                        "milestone_id": milestone_id,
                        "failures": failures,
                        "retry_in_s": delay,
                        "why": why,
                    },
                )
        self.metrics.releases_waiting_retry.set(len(self._release_failures))

    def _release_one(self, milestone_id: str) -> int:
        try:
            self.client.transact(self.account, self.escrow.release(bytes.fromhex(milestone_id[2:])))
        except ContractRevertError as exc:
            # Another node released it first, the council froze it meanwhile (dropped), or it
            # cannot be paid just now: paused, window lengthened, token refusing (kept).
            log.info("release not sent", extra={"milestone_id": milestone_id, "why": str(exc)})
            self._settle_unpaid([milestone_id], str(exc))
            return 0
        self._drop_release(milestone_id)
        self.metrics.releases_sent.inc()
        log.info("milestone released", extra={"milestone_id": milestone_id})
        return 1

    def _release_batch(self, chunk: list[str]) -> int:
        """One releaseBatch; the escrow skips what is no longer due (released by another node,
        frozen meanwhile), and the receipt's events say which were paid. A batch that reverts
        (a token that refuses a transfer) is released one by one, so one bad milestone does not
        hold up the others."""
        ids = [bytes.fromhex(m[2:]) for m in chunk]
        try:
            receipt = self.client.transact_raw(
                self.account, self.escrow.release_batch(ids), gas=release_batch_gas(len(ids))
            )
        except BlockGasLimitError as exc:
            if len(chunk) == 1:
                return self._release_one(chunk[0])
            log.warning(
                "release batch too large for a block; splitting it",
                extra={"milestones": len(chunk), "error": str(exc)},
            )
            half = len(chunk) // 2
            return self._release_batch(chunk[:half]) + self._release_batch(chunk[half:])
        except ContractRevertError as exc:
            log.warning("release batch refused; releasing one by one", extra={"why": str(exc)})
            return sum(self._release_one(m) for m in chunk)
        paid = {
            "0x" + bytes(e.args["milestoneId"]).hex()
            for e in map(self._events.decode_raw, receipt["logs"])
            if e is not None and e.name == "MilestoneReleased"
        }
        with self.journal.transaction():
            for milestone_id in chunk:
                if milestone_id in paid:
                    self._drop_release(milestone_id)
        # The escrow skipped the others: paid by another node, frozen, or not due any more.
        self._settle_unpaid([m for m in chunk if m not in paid], "skipped by releaseBatch")
        self.metrics.releases_sent.inc(len(paid))
        log.info(
            "milestones released", extra={"count": len(paid), "skipped": len(chunk) - len(paid)}
        )
        return len(paid)

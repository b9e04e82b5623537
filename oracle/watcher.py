"""The watcher follows the escrow's events from a stored block cursor, and the releaser pays
milestones whose challenge window has passed (release is permissionless: any node may).

Events it acts on: this node's own AttestationRecorded (confirms relayed attestations),
MilestoneVerified / DisputeResolved / MilestoneUnfrozen (a release to schedule),
MilestoneReleased / MilestoneCancelled (nothing left to release; release latency measured).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3._utils.events import get_event_data
from web3.types import LogReceipt

from disburse.client import ChainClient
from disburse.errors import ContractRevertError, DisburseError
from disburse.escrow import Escrow
from oracle.journal import Journal
from oracle.metrics import Metrics

log = logging.getLogger("oracle.watcher")
CURSOR = "escrow-events"
_SCHEDULE = {"MilestoneVerified", "DisputeResolved", "MilestoneUnfrozen"}
_DONE = {"MilestoneReleased", "MilestoneCancelled"}


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
        self.health = Health()
        self._abi_by_topic: dict[bytes, Any] = {
            bytes(Web3.keccak(text=_signature(dict(item)))): item
            for item in escrow.contract.abi
            if item.get("type") == "event"
        }

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
                if self.release_enabled:
                    self.release_due()
            except DisburseError as exc:
                self.health.chain_ok = False
                self.health.error = str(exc)
                log.warning("chain unavailable", extra={"error": str(exc)})
            stop.wait(self.poll_interval_s)

    def poll_once(self) -> int:
        """Reads events up to the confirmed head; returns the number handled."""
        head = self.client.block_number() - self.client.profile.confirmations
        self.health.head = head
        cursor = self.journal.get_cursor(CURSOR)
        if cursor is None:
            cursor = self.start_block - 1
        handled = 0
        while cursor < head:
            end = min(head, cursor + self.client.profile.log_range_cap)
            logs = self.client.contract_logs(
                self.escrow.address, from_block=cursor + 1, to_block=end
            )
            for entry in logs:
                self._handle(entry)
                handled += 1
            cursor = end
            self.journal.set_cursor(CURSOR, cursor)
        self.health.cursor = cursor
        self.health.chain_ok = True
        self.health.error = ""
        self.health.last_poll = time.time()
        self.metrics.cursor_lag.set(self.health.lag)
        return handled

    def _handle(self, entry: LogReceipt) -> None:
        topics = entry["topics"]
        if not topics:
            return
        abi = self._abi_by_topic.get(bytes(topics[0]))
        if abi is None:
            return
        event = get_event_data(self.client.w3.codec, abi, entry)
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
            self.journal.drop_release(mid)
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
                self.journal.drop_release(milestone_id)
                continue
            try:
                self.client.transact(self.account, self.escrow.release(mid))
            except ContractRevertError as exc:
                # Another node released it first, or the council froze it meanwhile.
                log.info("release not sent", extra={"milestone_id": milestone_id, "why": str(exc)})
                self.journal.drop_release(milestone_id)
                continue
            self.journal.drop_release(milestone_id)
            self.metrics.releases_sent.inc()
            sent += 1
            log.info("milestone released", extra={"milestone_id": milestone_id})
        return sent


def _signature(item: dict[str, Any]) -> str:
    types = ",".join(_type(i) for i in item.get("inputs", []))
    return f"{item['name']}({types})"


def _type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in param["components"]) + ")" + kind[5:]
    return kind

"""The indexer: the escrow's and the council's logs, from the cursor to the chain's head, into
the index, one window (one transaction) at a time; a chain that no longer has the cursor's block
is rolled back to the common ancestor first.

Reading. Windows come from the one ranged log reader (`disburse.chain.logs.read_ranged`, within
the profile's block-range cap, steered to about `LOGS_PER_WINDOW` logs), each response streamed
(`LogStream`). The window's last block is read before and after its logs: if its hash changed in
between, the chain moved under the read and the window is read again, so a stored window is
always one chain's. The senders of the events that name nobody (releases, expiries, overrides)
and block times the node did not put in its logs are read in batches (`ChainClient.batch`).

Rollback. Before each window the cursor's block is compared with the chain's block of that
number. When they differ (an anvil restarted from an older state file, a reorganisation on a
chain that has them), the stored block hashes are compared from the highest down, in batches,
to find the highest block the chain still has; everything above it is deleted, the derived
tables are refolded from the events kept, and reading resumes from there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from disburse.audit.rebuild import SENDER_EVENTS
from disburse.chain.client import ChainClient
from disburse.chain.contracts import load_abi
from disburse.chain.deployment import Deployment
from disburse.chain.errors import ChainError
from disburse.chain.events import AddressBook, EventLayout, event_layouts
from disburse.chain.logs import LogStream, read_ranged
from disburse.index import schema
from disburse.index.fold import Fold, FoldEvent
from disburse.index.store import Cursor, EventRow, IndexStore

LOGS_PER_WINDOW: Final = 5_000
"""About this many logs per window (one transaction): bounded memory, frequent commits."""
FIRST_SPAN: Final = 64
ANCESTOR_PAGE: Final = 100
"""Stored blocks compared with the chain per request batch while looking for the ancestor."""
MAX_WINDOW_RETRIES: Final = 5


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one pass did: where it ended, how many events it stored, what it rolled back."""

    cursor: Cursor
    head: int
    events: int
    rolled_back_to: int | None
    dropped: int


class _WindowExtras(NamedTuple):
    """What a window needs besides its logs, read in one batch after them."""

    end: Cursor | None
    """The window's last block as the chain has it now (None: the chain no longer has it)."""
    senders: dict[str, str]
    """Transaction hash -> sender, for the events that name nobody."""
    times: dict[str, int]
    """Block number (hex) -> time, for logs the node sent without blockTimestamp."""


class Decoder:
    """Raw stored logs -> events the fold (and the audit) read, through the one raw-log decoder
    (`EventLayout`, from the build artifacts' ABIs)."""

    def __init__(self, deployment: Deployment) -> None:
        self.addresses = AddressBook()
        self.escrow = deployment.escrow.lower()
        self.council = deployment.council.lower()
        self.layouts: dict[str, dict[str, EventLayout]] = {}
        for address, contract in (
            (self.escrow, "MilestoneEscrow"),
            (self.council, "OversightCouncil"),
        ):
            self.layouts[address] = {
                "0x" + topic.hex(): layout
                for topic, layout in event_layouts(load_abi(contract), self.addresses).items()
            }
        self.sender_topics = {
            topic
            for topic, layout in self.layouts[self.escrow].items()
            if layout.name in SENDER_EVENTS
        }

    def layout(self, address: str, topic0: str) -> EventLayout | None:
        table = self.layouts.get(address.lower())
        return None if table is None else table.get(topic0)

    def values(self, row: EventRow) -> tuple[EventLayout, tuple[Any, ...]] | None:
        found = self.layout(row.address, row.topics[0]) if row.topics and row.topics[0] else None
        if found is None:
            return None
        return found, found.decode(row.topics, bytes.fromhex(row.data[2:]))

    def fold_event(self, row: EventRow) -> FoldEvent | None:
        decoded = self.values(row)
        if decoded is None:
            return None
        layout, values = decoded
        return FoldEvent(layout.name, values, row.block, row.log_index, row.timestamp)


_NO_KEYS: Final = (None, None, None)


def _key_positions(layout: EventLayout) -> tuple[int | None, int | None, int | None]:
    """Where an event carries its program, milestone and proposal ids, if it does."""
    names = layout.names
    return tuple(  # type: ignore[return-value]
        names.index(n) if n in names else None for n in ("programId", "milestoneId", "proposalId")
    )


def _keys(
    positions: tuple[int | None, int | None, int | None], values: tuple[Any, ...]
) -> tuple[Any, Any, Any]:
    """The filter columns of an event: its program, milestone and proposal, when it names them."""
    program, milestone, proposal = positions
    return (
        None if program is None else values[program],
        None if milestone is None else "0x" + bytes(values[milestone]).hex(),
        None if proposal is None else values[proposal],
    )


class Indexer:
    """Keeps one index current with one deployment's chain."""

    def __init__(self, client: ChainClient, deployment: Deployment, store: IndexStore) -> None:
        self.client = client
        self.deployment = deployment
        self.store = store
        self.decoder = Decoder(deployment)
        self.fold = Fold()
        self.addresses = [deployment.escrow, deployment.council]
        self.positions = {
            layout.name: _key_positions(layout)
            for table in self.decoder.layouts.values()
            for layout in table.values()
        }

    # ------------------------------------------------------------------ the chain's blocks

    def _headers(self, numbers: list[int]) -> list[Mapping[str, Any] | None]:
        replies = self.client.batch(
            [("eth_getBlockByNumber", [hex(n), False]) for n in numbers],
            what="eth_getBlockByNumber",
        )
        return list(replies)

    def _header(self, number: int) -> Cursor | None:
        reply = self._headers([number])[0]
        if not reply:
            return None
        return Cursor(number, str(reply["hash"]), int(reply["timestamp"], 16))

    # ------------------------------------------------------------------ rollback

    def _common_ancestor(self, cursor: Cursor) -> Cursor:
        """The highest stored block the chain still has, or the block before the deployment."""
        below = cursor.number + 1
        while True:
            stored = self.store.stored_blocks(below=below, limit=ANCESTOR_PAGE)
            if not stored:
                break
            for (number, hash_), reply in zip(
                stored, self._headers([n for n, _h in stored]), strict=True
            ):
                if reply and reply["hash"] == hash_:
                    return Cursor(number, hash_, int(reply["timestamp"], 16))
            below = stored[-1][0]
        start = max(self.deployment.deployment_block - 1, 0)
        found = self._header(start)
        if found is None:
            raise ChainError(
                f"the chain has no block {start}: it is not the chain of this deployment"
            )
        return found

    def check_rollback(self) -> tuple[int | None, int]:
        """Rolls the index back when the chain no longer has its cursor's block; returns
        (ancestor block or None, events dropped)."""
        cursor = self.store.cursor()
        if cursor is None:
            return None, 0
        now = self._header(cursor.number)
        if now is not None and now.hash == cursor.hash:
            return None, 0
        ancestor = self._common_ancestor(cursor)
        dropped = self.store.rollback_to(ancestor, self.fold, self.decoder.fold_event)
        return ancestor.number, dropped

    # ------------------------------------------------------------------ reading

    def sync(
        self,
        *,
        to_block: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncResult:
        """Reads from the cursor (or the deployment block) to `to_block` (default: the head)."""
        if self.store.needs_refold():  # a migration added derived columns
            self.store.refold(self.fold, self.decoder.fold_event)
        rolled_back, dropped = self.check_rollback()
        head = self.client.block_number()
        end = head if to_block is None else min(to_block, head)
        cursor = self.store.cursor()
        start = self.deployment.deployment_block if cursor is None else cursor.number + 1
        stored = 0

        def window(first: int, last: int) -> int:
            nonlocal stored
            count = self._window(stream, first, last)
            stored += count
            if progress is not None:
                progress(last, stored)
            return count

        if start <= end:
            with LogStream(self.client, self.addresses) as stream:
                read_ranged(
                    window,
                    start,
                    end,
                    cap=self.client.profile.log_range_cap,
                    first_span=FIRST_SPAN,
                    target=LOGS_PER_WINDOW,
                )
        final = self.store.cursor()
        if final is None:  # nothing to read yet: the cursor starts before the deployment
            final = self._start_cursor()
        return SyncResult(final, head, stored, rolled_back, dropped)

    def _start_cursor(self) -> Cursor:
        start = max(self.deployment.deployment_block - 1, 0)
        found = self._header(start)
        if found is None:
            raise ChainError(f"the chain has no block {start}")
        return found

    def _window(self, stream: LogStream, first: int, last: int) -> int:
        for _attempt in range(MAX_WINDOW_RETRIES):
            before = self._header(last)
            if before is None:
                raise ChainError(f"the chain has no block {last}: it went back while being read")
            logs = list(stream.logs(first, last))
            extra = self._extras(logs, last)
            if extra.end is not None and extra.end.hash == before.hash:
                self._store(logs, extra, extra.end)
                return len(logs)
            self.check_rollback()
        raise ChainError(f"the chain kept changing while blocks {first}-{last} were read")

    def _extras(self, logs: list[dict[str, Any]], last: int) -> _WindowExtras:
        """Senders and missing block times of a window's logs, and its last block again."""
        txs: dict[str, None] = {}
        times: dict[str, None] = {}
        for log in logs:
            topics = log["topics"]
            if (
                topics
                and topics[0] in self.decoder.sender_topics
                and log["address"].lower() == self.decoder.escrow
            ):
                txs[log["transactionHash"]] = None
            if log.get("blockTimestamp") is None:
                times[log["blockNumber"]] = None
        requests: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [hex(last), False])]
        requests += [("eth_getTransactionByHash", [tx]) for tx in txs]
        requests += [("eth_getBlockByNumber", [b, False]) for b in times]
        replies = iter(self.client.batch(requests, what="the index's window reads"))
        end = next(replies)
        senders = {
            tx: self.decoder.addresses.of_text(reply["from"])
            for tx, reply in zip(txs, replies, strict=False)
            if reply
        }
        block_times: dict[str, int] = {}
        for number, reply in zip(times, replies, strict=False):
            if not reply:
                raise ChainError(f"the node has no block {int(number, 16)}")
            block_times[number] = int(reply["timestamp"], 16)
        return _WindowExtras(
            end=None if not end else Cursor(last, end["hash"], int(end["timestamp"], 16)),
            senders=senders,
            times=block_times,
        )

    def _store(self, logs: list[dict[str, Any]], extra: _WindowExtras, end: Cursor) -> None:
        senders, times = extra.senders, extra.times
        positions = self.positions
        rows: list[tuple[Any, ...]] = []
        folded: list[FoldEvent] = []
        blocks: dict[int, tuple[str, int]] = {}
        for log in logs:
            if log.get("removed"):
                continue
            topics: list[str] = log["topics"]
            address = log["address"].lower()
            block = int(log["blockNumber"], 16)
            stamp = log.get("blockTimestamp")
            when = int(stamp, 16) if stamp else times[log["blockNumber"]]
            blocks[block] = (log["blockHash"], when)
            index = int(log["logIndex"], 16)
            layout = self.decoder.layout(address, topics[0]) if topics else None
            keys: tuple[Any, Any, Any] = _NO_KEYS
            name = "(unknown)"
            if layout is not None:
                name = layout.name
                try:
                    values = layout.decode(topics, bytes.fromhex(log["data"][2:]))
                except Exception:  # a log that does not fit its ABI is stored, not folded
                    values = None
                if values is not None:
                    keys = _keys(positions[layout.name], values)
                    folded.append(FoldEvent(name, values, block, index, when))
            rows.append(  # in the events table's column order (schema.bulk_insert)
                (
                    block,
                    index,
                    log["transactionHash"],
                    address,
                    name,
                    ",".join(topics),
                    log["data"],
                    senders.get(log["transactionHash"]),
                    *keys,
                )
            )
        self.store.write_batch(
            events=rows, folded=folded, blocks=blocks, cursor=end, fold=self.fold
        )

    # ------------------------------------------------------------------ following

    def follow(
        self,
        *,
        interval: float,
        report: Callable[[SyncResult], None],
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        """Syncs, then again every `interval` seconds until `should_stop()`; each pass is
        reported (its cursor, the head, so the lag)."""
        while not should_stop():
            report(self.sync())
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(0.05, interval))


__all__ = ["Decoder", "Indexer", "SyncResult", "schema"]

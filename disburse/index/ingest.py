"""The indexer: the escrow's and the council's logs, from the cursor to the chain's head, into
the index, one window (one transaction) at a time; a chain that no longer has the cursor's block
is rolled back to the common ancestor first.

Reading. Windows come from the one ranged log reader (`disburse.chain.logs.read_ranged`, within
the profile's block-range cap, steered to about `LOGS_PER_WINDOW` logs), each response read
whole (`LogStream.body`) and parsed at once (`parsed_logs`). The window's last block is read
before and after its logs: if its hash changed in between, the chain moved under the read and
the window is read again, so a stored window is always one chain's. Windows are also chained:
the block before a window's first is read with its extras, and a window is stored only if that
block is the cursor the previous window left (read ahead, a window can otherwise be of a chain
that replaced the blocks just stored: a reorganisation between two windows' reads); if not, the
sync rolls back as below and reads again. The senders of the events
that name nobody (releases, expiries, overrides) and block times the node did not put in its
logs (by block hash) are read in batches (`ChainClient.batch`).

Pipeline. A thread of its own (`_ReadAhead`) reads the windows, up to `READ_AHEAD` ahead of the
writer: it sends the requests, parses each response in one C call (`parsed_logs`) and reads the
window's extras, so that the node's work and the network's overlap the decoding and writing of
the current window. Decoding is the writer's: a second thread running Python code all along
would stall the database driver, which gives up the GIL and takes it again for every row it
inserts. Only the caller's thread writes, so the transactions and the cursor are exactly those
of a sequential read; an error in the reading thread is raised in the caller's, with its own
type and message, and leaving a sync by any way (an error, Ctrl-C) stops the thread. The two
threads share only the client (made for threads) and the decoder's address cache (whose entries
never change once made).

Rollback. Before each window the cursor's block is compared with the chain's block of that
number. When they differ (an anvil restarted from an older state file, a reorganisation on a
chain that has them), the stored block hashes are compared from the highest down, in batches,
to find the highest block the chain still has; everything above it is deleted, the derived
tables are refolded from the events kept, and reading resumes from there.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from disburse.audit.rebuild import SENDER_EVENTS
from disburse.chain.client import ChainClient
from disburse.chain.contracts import load_abi
from disburse.chain.deployment import Deployment
from disburse.chain.errors import ChainError
from disburse.chain.events import AddressBook, EventLayout, event_layouts
from disburse.chain.logs import LogStream, parsed_logs, read_ranged
from disburse.index import schema
from disburse.index.fold import Fold, FoldEvent
from disburse.index.store import Cursor, EventRow, IndexStore

LOGS_PER_WINDOW: Final = 5_000
"""About this many logs per window (one transaction): bounded memory, frequent commits."""
FIRST_SPAN: Final = 64
ANCESTOR_PAGE: Final = 100
"""Stored blocks compared with the chain per request batch while looking for the ancestor."""
MAX_WINDOW_RETRIES: Final = 5
"""Times in a row the chain may change under a window's read before a sync gives up."""
READ_AHEAD: Final = 2
"""Windows read and parsed ahead of the one being written: enough to keep the writer busy,
few enough that memory stays a few windows' worth."""
STOP_POLL_S: Final = 0.1
"""How often the reading thread, waiting for the writer, checks whether it should stop."""


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
    """Block hash -> time, for logs the node sent without blockTimestamp."""
    previous: str | None
    """The hash of the block before the window's first, read in the same batch (None: the
    window starts at block 0)."""


class _Read(NamedTuple):
    """One window as the reading thread hands it over: its logs as the node sent them, its last
    block (the same before and after the logs were read) and its `_WindowExtras`."""

    logs: list[dict[str, Any]]
    end: Cursor
    senders: dict[str, str]
    times: dict[str, int]
    first: int
    previous: str | None


class _Moved(NamedTuple):
    """The chain changed while the window [first, last] was read: nothing of it is stored."""

    first: int
    last: int


class _StopRequestedError(Exception):
    """The reading thread was asked to stop (internal to `_ReadAhead`)."""


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
        stored = 0
        moves = 0
        while True:
            cursor = self.store.cursor()
            start = self.deployment.deployment_block if cursor is None else cursor.number + 1
            if start > end:
                break
            moved: _Moved | None = None
            stored_end = None if cursor is None else cursor.hash
            with _ReadAhead(self, start, end) as windows:
                for item in windows:
                    if isinstance(item, _Moved):
                        moved = item
                        break
                    if stored_end is not None and item.previous != stored_end:
                        moved = _Moved(item.first, item.end.number)  # not the stored blocks' child
                        break
                    stored += self._store(item)
                    stored_end = item.end.hash
                    moves = 0
                    if progress is not None:
                        progress(item.end.number, stored)
            if moved is None:
                break
            moves += 1
            if moves >= MAX_WINDOW_RETRIES:
                raise ChainError(
                    f"the chain kept changing while blocks {moved.first}-{moved.last} were read"
                )
            self.check_rollback()  # then read again from the cursor, wherever it is now
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

    def _read_windows(self, start: int, end: int, put: Callable[[_Read | _Moved], None]) -> None:
        """Reads [start, end] window by window (the reading thread's work: requests and one C
        call to parse each response, so that it seldom wants the GIL while the writer inserts):
        each window's last block before and after its logs, and `put` the window, or `_Moved`
        (and stop) when the chain changed in between."""

        def window(first: int, last: int) -> int:
            before = self._header(last)
            if before is None:
                raise ChainError(f"the chain has no block {last}: it went back while being read")
            logs = parsed_logs(stream.body(first, last))
            extras = self._extras(logs, first, last)
            if extras.end is None or extras.end.hash != before.hash:
                put(_Moved(first, last))
                raise _StopRequestedError
            put(_Read(logs, extras.end, extras.senders, extras.times, first, extras.previous))
            return len(logs)

        with LogStream(self.client, self.addresses) as stream:
            read_ranged(
                window,
                start,
                end,
                cap=self.client.profile.log_range_cap,
                first_span=FIRST_SPAN,
                target=LOGS_PER_WINDOW,
            )

    def _extras(self, logs: list[dict[str, Any]], first: int, last: int) -> _WindowExtras:
        """The window's last block again, the block before its first, the senders of its logs
        that name nobody, and the times of its blocks that the node sent without (by block hash:
        the very blocks of the logs)."""
        txs: dict[str, None] = {}
        times: dict[str, None] = {}
        sender_topics, escrow = self.decoder.sender_topics, self.decoder.escrow
        for log in logs:
            topics = log["topics"]
            if topics and topics[0] in sender_topics and log["address"].lower() == escrow:
                txs[log["transactionHash"]] = None
            if log.get("blockTimestamp") is None:
                times[log["blockHash"]] = None
        requests: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [hex(last), False])]
        if first > 0:
            requests.append(("eth_getBlockByNumber", [hex(first - 1), False]))
        requests += [("eth_getTransactionByHash", [tx]) for tx in txs]
        requests += [("eth_getBlockByHash", [b, False]) for b in times]
        replies = iter(self.client.batch(requests, what="the index's window reads"))
        end = next(replies)
        before_first = next(replies) if first > 0 else None
        senders = {
            tx: self.decoder.addresses.of_text(reply["from"])
            for tx, reply in zip(txs, replies, strict=False)
            if reply
        }
        block_times: dict[str, int] = {}
        for hash_, reply in zip(times, replies, strict=False):
            if not reply:
                raise ChainError(f"the node has no block {hash_}: it went back while being read")
            block_times[hash_] = int(reply["timestamp"], 16)
        return _WindowExtras(
            end=None if not end else Cursor(last, end["hash"], int(end["timestamp"], 16)),
            senders=senders,
            times=block_times,
            previous=str(before_first["hash"]) if before_first else None,
        )

    def _store(self, window: _Read) -> int:
        """Decodes a window's logs and stores them with its last block as the cursor, in one
        transaction; returns the events stored."""
        logs, end, senders, times = window.logs, window.end, window.senders, window.times
        positions = self.positions
        layouts = self.decoder.layouts
        rows: list[tuple[Any, ...]] = []
        folded: list[FoldEvent] = []
        blocks: dict[int, tuple[str, int]] = {}
        # A window's logs come a block at a time (thousands of logs a block when dense): its
        # number and time are converted once per block.
        by_hash: dict[str, tuple[int, int]] = {}
        for log in logs:
            if log.get("removed"):
                continue
            topics: list[str] = log["topics"]
            address = log["address"].lower()
            block_hash = log["blockHash"]
            found = by_hash.get(block_hash)
            if found is None:
                stamp = log.get("blockTimestamp")
                found = (
                    int(log["blockNumber"], 16),
                    int(stamp, 16) if stamp else times[block_hash],
                )
                by_hash[block_hash] = found
                blocks[found[0]] = (block_hash, found[1])
            block, when = found
            index = int(log["logIndex"], 16)
            table = layouts.get(address)
            layout = table.get(topics[0]) if table is not None and topics else None
            keys: tuple[Any, Any, Any] = _NO_KEYS
            name = "(unknown)"
            if layout is not None:
                name = layout.name
                try:
                    values = layout.decode(topics, bytes.fromhex(log["data"][2:]))
                except Exception:  # a log that does not fit its ABI is stored, not folded
                    values = None
                if values is not None:
                    keys = _keys(positions[name], values)
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
        return len(rows)

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


class _ReadAhead:
    """The reading thread of one sync pass (see the module's Pipeline): `Indexer._read_windows`
    over [start, end], its windows handed over in chain order through a queue of READ_AHEAD.

    Iterating yields the windows; it ends after the last one or after a `_Moved`, and raises the
    reading thread's error, if it had one, as it was raised there. Leaving the context stops the
    thread: it notices within STOP_POLL_S when waiting for the writer, or after the request under
    way (the profile's timeout bounds it); a daemon thread, so it never holds up an exit."""

    _END: Final = object()

    def __init__(self, indexer: Indexer, start: int, end: int) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(indexer, start, end),
            name=f"index-read-ahead-{start}-{end}",
            daemon=True,
        )

    def __enter__(self) -> _ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        while True:  # let a thread waiting in put() see the stop
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=STOP_POLL_S * 5)

    def __iter__(self) -> Iterator[_Read | _Moved]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, _Read | _Moved)
            yield item
            if isinstance(item, _Moved):
                return

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=STOP_POLL_S)
                return
            except queue.Full:
                continue
        raise _StopRequestedError

    def _run(self, indexer: Indexer, start: int, end: int) -> None:
        try:
            indexer._read_windows(start, end, self._put)
            self._put(self._END)
        except _StopRequestedError:
            pass
        except Exception as exc:  # raised in the writer's thread, by __iter__
            try:
                self._put(exc)
            except _StopRequestedError:
                pass


__all__ = ["Decoder", "Indexer", "SyncResult", "schema"]

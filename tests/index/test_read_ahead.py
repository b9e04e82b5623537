"""The indexer's reading thread (`disburse.index.ingest._ReadAhead`), against anvil behind a
proxy that can refuse eth_getLogs, on SQLite files and PostgreSQL.

read-ahead
├── a node that refuses a window as too large: halved in the reading thread, every event once
├── a node that fails in the middle of a sync: its error raised by sync with its message, the
│   windows before it stored whole, the cursor at the last of them, and no thread left
├── the caller stopped in the middle (Ctrl-C): the thread stops, the index is consistent and a
│   later sync completes it to the same rows as an index built in one go
└── SQLite: the WAL checkpointed into the file by a thread while the index is open; the thread
    ends with the store
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from brownie import chain, web3

from disburse.chain.client import ChainClient
from disburse.chain.deployment import load
from disburse.chain.errors import ChainError
from disburse.chain.profile import ChainProfile
from disburse.index import schema
from disburse.index.ingest import FIRST_SPAN, Indexer
from disburse.index.store import IndexStore
from tests.chain.proxy import Answer, counting_proxy
from tests.conftest import TOKEN_UNIT
from tests.index.test_index import _logs, _rows, _snapshot

REFUSED = {"code": -32000, "message": "test: the node is shutting down"}


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("index-read-ahead")]


def _no_reader_left() -> bool:
    """The reading thread ends within its join timeout; give it a little more under load."""
    deadline = time.monotonic() + 5
    while _readers() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _readers()


@pytest.fixture
def spread(history: Any) -> Any:
    """The shared history followed by empty blocks, so that a sync reads several windows (the
    first is FIRST_SPAN blocks)."""
    missing = history.record.deployment_block + 2 * FIRST_SPAN - web3.eth.block_number
    if missing > 0:
        chain.mine(missing)
    return history


@contextmanager
def _indexer(url: str, db_url: str, history: Any) -> Iterator[Indexer]:
    """An indexer of the history reading the chain at `url`, into the index at `db_url`."""
    client = ChainClient(ChainProfile(name="anvil", rpc_url=url, chain_id=chain.id))
    deployment = load(history.deployment_file)
    try:
        with IndexStore.open(db_url, deployment) as store:
            yield Indexer(client, deployment, store)
    finally:
        client.close()


def _getlogs(answer: Answer) -> Answer:
    return lambda request: answer(request) if request.get("method") == "eth_getLogs" else None


def test_a_window_the_node_refuses_as_too_large_is_halved_in_the_reading_thread(db_url, spread):
    refused: list[int] = []

    def too_large(request: dict[str, Any]) -> dict[str, Any] | None:
        query = request["params"][0]
        span = int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
        if span > 16:
            refused.append(span)
            return {"code": -32005, "message": "query exceeds max block range 16"}
        return None

    with counting_proxy(web3.provider.endpoint_uri, answer=_getlogs(too_large)) as proxy:
        with _indexer(proxy.url, db_url, spread) as indexer:
            result = indexer.sync()
    assert refused, "the node never refused: the test did not test the halving"
    events = _rows(db_url, schema.events, "block", "log_index")
    assert [(e["block"], e["log_index"]) for e in events] == _logs(spread)
    assert result.events == len(events)
    assert _no_reader_left()


def test_a_node_failing_in_the_middle_of_a_sync_raises_its_error_and_keeps_whole_windows(
    db_url, spread
):
    reads = {"n": 0}

    def second_fails(_request: dict[str, Any]) -> dict[str, Any] | None:
        reads["n"] += 1
        return REFUSED if reads["n"] == 2 else None

    with counting_proxy(web3.provider.endpoint_uri, answer=_getlogs(second_fails)) as proxy:
        with _indexer(proxy.url, db_url, spread) as indexer:
            with pytest.raises(ChainError, match="the node refused: test: the node is shutting"):
                indexer.sync()
            cursor = indexer.store.cursor()
    assert _no_reader_left()
    first = spread.record.deployment_block
    assert cursor is not None and cursor.number == first + FIRST_SPAN - 1  # the first window
    assert cursor.hash == "0x" + bytes(web3.eth.get_block(cursor.number).hash).hex()
    events = _rows(db_url, schema.events, "block", "log_index")
    assert [(e["block"], e["log_index"]) for e in events] == [
        key for key in _logs(spread) if key[0] <= cursor.number
    ]


def test_a_sync_stopped_by_its_caller_stops_the_reading_thread_and_resumes_later(
    db_url, spread, tmp_path
):
    def interrupt(_block: int, _stored: int) -> None:
        raise KeyboardInterrupt

    with _indexer(str(web3.provider.endpoint_uri), db_url, spread) as indexer:
        with pytest.raises(KeyboardInterrupt):
            indexer.sync(progress=interrupt)
        assert _no_reader_left()
        stopped_at = indexer.store.cursor()
        assert stopped_at is not None and stopped_at.number < web3.eth.block_number
        result = indexer.sync()
        assert result.cursor.number == web3.eth.block_number
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    with _indexer(str(web3.provider.endpoint_uri), fresh, spread) as indexer:
        indexer.sync()
    assert _snapshot(db_url) == _snapshot(fresh)


def _events_in_file_alone(db: Path, tmp_path: Path) -> int | None:
    """The events a copy of the database file holds without its WAL (None: the copy caught a
    checkpoint in the middle of a page)."""
    copy = tmp_path / "file-alone.db"
    shutil.copyfile(db, copy)
    try:
        with closing(sqlite3.connect(copy)) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.DatabaseError:
        return None
    finally:
        copy.unlink()


def test_a_sqlite_index_is_checkpointed_into_its_file_while_open_and_the_thread_ends_on_close(
    history, tmp_path
):
    """The WAL is copied into the file after each window by the checkpointing thread, not only
    when the last connection closes (the default interval would not reach it for this history)."""
    db = tmp_path / "ledger.db"
    with _indexer(str(web3.provider.endpoint_uri), f"sqlite:///{db}", history) as indexer:
        result = indexer.sync()
        assert result.events > 0
        assert any(t.name == "index-checkpoint" for t in threading.enumerate())
        deadline = time.monotonic() + 10
        while _events_in_file_alone(db, tmp_path) != result.events:
            assert time.monotonic() < deadline, "the file never held the events without its WAL"
            time.sleep(0.05)
    assert not any(t.name == "index-checkpoint" for t in threading.enumerate())


def test_blocks_replaced_between_two_windows_are_noticed_and_read_again(
    db_url, history, roles, tmp_path
):
    """A reorganisation after one window was read and before the next: each window is whole by
    itself (its last block the same before and after its logs), but the second is of the chain
    that replaced the first one's blocks. The second must not be stored on top of the first:
    the sync notices that it does not continue the stored cursor, rolls back and reads again."""
    node = str(web3.provider.endpoint_uri)
    with _indexer(node, db_url, history) as indexer:
        indexer.sync()
    base = web3.eth.block_number
    manager = {"from": roles.manager}
    chain.snapshot()
    history.escrow.fund(1, 7 * TOKEN_UNIT, manager)  # block base + 1: in the first window
    chain.mine(2 * FIRST_SPAN)
    height = web3.eth.block_number
    replaced: list[int] = []

    def reorganise(request: Any) -> None:
        """Before the second window's first read (its last block's header, alone in a batch):
        the same heights, other blocks."""
        if not isinstance(request, list) or len(request) != 1 or replaced:
            return
        call = request[0]
        block = (call.get("params") or [None])[0]
        if (
            call.get("method") == "eth_getBlockByNumber"
            and isinstance(block, str)
            and block.startswith("0x")
            and int(block, 16) > base + FIRST_SPAN
        ):
            replaced.append(int(block, 16))
            chain.revert()
            history.escrow.fund(1, 3 * TOKEN_UNIT, manager)
            chain.mine(height - web3.eth.block_number)

    with counting_proxy(node, observe=reorganise) as proxy:
        with _indexer(proxy.url, db_url, history) as indexer:
            result = indexer.sync()
    assert replaced, "no second window was read: the test did not test the reorganisation"
    assert result.cursor.number == height == web3.eth.block_number
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    with _indexer(node, fresh, history) as indexer:
        indexer.sync()
    assert _snapshot(db_url) == _snapshot(fresh)
    funded = [e for e in _rows(db_url, schema.events, "block", "log_index") if e["block"] > base]
    assert [e["name"] for e in funded] == ["ProgramFunded"]
    assert int(funded[0]["data"], 16) == 3 * TOKEN_UNIT

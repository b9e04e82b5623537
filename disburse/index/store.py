"""The index's database: opening it (SQLite file or PostgreSQL server), its schema (Alembic
migrations, run on open), which deployment it describes, and the writes the indexer makes.

Every write that moves the cursor is one transaction with the events it covers and the derived
rows folded from them: a process killed at any instant leaves either the whole batch or none of
it, so a restart neither loses nor doubles a row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from disburse.chain.deployment import Deployment
from disburse.chain.errors import DisburseError
from disburse.index import schema, summary
from disburse.index.fold import Fold, FoldEvent

MIGRATIONS: Final = Path(__file__).with_name("migrations")
REFOLD_BATCH: Final = 5_000


RECONCILIATION_KEY: Final = "reconciliation"
"""The meta row holding the last reconciliation's result (JSON: ok, differences, block)."""


class IndexStoreError(DisburseError, ValueError):
    """The index cannot be opened or used as asked (a bad URL, a database of another chain or
    deployment, a schema newer than this version knows, a server that refuses)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last block the index has read, with its hash and time."""

    number: int
    hash: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class EventRow:
    """A stored log: where it is, what it is, and its topics and data as the node sent them."""

    block: int
    log_index: int
    tx_hash: str
    address: str
    name: str
    topics: list[str]
    data: str
    sender: str | None
    timestamp: int

    @classmethod
    def of(cls, r: Sequence[Any]) -> EventRow:
        """The row of `event_row_select()` (its first nine columns) as an EventRow."""
        return cls(
            block=int(r[0]),
            log_index=int(r[1]),
            tx_hash=r[2],
            address=r[3],
            name=r[4],
            topics=r[5].split(","),
            data=r[6],
            sender=r[7],
            timestamp=int(r[8]),
        )


def shown(url: URL) -> str:
    """The URL with any password hidden, for messages."""
    return url.render_as_string(hide_password=True)


def parse_url(text: str) -> URL:
    """A database URL the index accepts: sqlite:///FILE or postgresql://… (psycopg 3)."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise IndexStoreError(
            f"{text!r} is not a database URL: use sqlite:///FILE or "
            "postgresql://USER@HOST:PORT/DATABASE"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise IndexStoreError(
                f"{shown(url)}: the index must be a file (sqlite:///ledger.db), not in memory"
            )
        return url.set(drivername="sqlite")
    raise IndexStoreError(
        f"{shown(url)}: the index runs on SQLite (sqlite:///FILE) or PostgreSQL "
        f"(postgresql://…), not {backend}"
    )


def with_database(server: str, name: str) -> str:
    """The URL of database NAME on the server of URL SERVER (host, port, user and a socket
    directory given as ?host=… are kept)."""
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function(
        "uint_join", len(schema.UINT_PARTS), schema.sqlite_uint_join, deterministic=True
    )
    cur = dbapi_connection.cursor()
    # WAL: readers (the console, `disburse report`) never block the indexer; a committed
    # transaction survives a kill -9 of the process.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    # A checkpoint copies the WAL into the file and syncs both: at the default 1,000 pages the
    # indexer paid one per window in its own thread, each rewriting the same index pages, and
    # the syncs were half the time of a sync from the chain. The indexer's writes are now
    # checkpointed by a thread of their own (`_Checkpointer`); 256 MiB is only the backstop.
    # Durability is the same (WAL with synchronous=NORMAL keeps every committed transaction
    # through a kill -9 whatever the checkpoint interval); journal_size_limit gives the disk
    # back after a checkpoint.
    cur.execute("PRAGMA wal_autocheckpoint=65536")
    cur.execute("PRAGMA journal_size_limit=67108864")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages: index inserts stay in memory
    cur.close()


def open_engine(text: str) -> Engine:
    """An engine on the index's database; refuses what is not a usable SQLite file or server."""
    url = parse_url(text)
    if url.get_backend_name() == "sqlite":
        folder = Path(str(url.database)).expanduser().resolve().parent
        if not folder.is_dir():
            raise IndexStoreError(f"{shown(url)}: the folder {folder} does not exist")
    try:
        # PostgreSQL's JIT compiles a query whose estimated cost is high (a roll-up's correlated
        # sub-query is estimated at every program's milestones): hundreds of milliseconds of
        # compilation for a query that runs in a few. The index's queries are short; no JIT.
        connect_args = {"options": "-c jit=off"} if url.get_backend_name() == "postgresql" else {}
        engine = create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise IndexStoreError(f"{shown(url)}: {exc}") from None
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise IndexStoreError(f"cannot open the index at {shown(url)}: {reason}") from None
    return engine


def _alembic_config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


HEAD_REVISION: Final = ScriptDirectory(str(MIGRATIONS)).get_current_head()


class IndexStore:
    """One index database, bound to one deployment on one chain."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = shown(engine.url)
        self._checkpointer: _Checkpointer | None = None

    @classmethod
    def open(cls, url: str, deployment: Deployment) -> IndexStore:
        """Opens (creating when new) the index at `url` for `deployment`: refuses a database
        that holds something else, another deployment's index, or a newer schema, before
        writing anything; migrates an older schema."""
        store = cls(open_engine(url))
        try:
            store._prepare(deployment)
        except SQLAlchemyError as exc:
            store.engine.dispose()
            raise IndexStoreError(f"{store.url}: {exc}") from None
        except IndexStoreError:
            store.engine.dispose()
            raise
        return store

    @classmethod
    def open_existing(cls, url: str, deployment: Deployment) -> IndexStore:
        """Opens an index that must already exist (readers: the audit, the report)."""
        engine = open_engine(url)
        with engine.connect() as conn:
            empty = not inspect(conn).has_table("alembic_version")
        if empty:
            engine.dispose()
            raise IndexStoreError(
                f"{shown(engine.url)} holds no index yet: build it with `disburse index --db URL`"
            )
        engine.dispose()
        return cls.open(url, deployment)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ schema and identity

    def _prepare(self, deployment: Deployment) -> None:
        wanted = {
            "chain_id": str(deployment.chain_id),
            "escrow": deployment.escrow,
            "council": deployment.council,
            "deployment_block": str(deployment.deployment_block),
        }
        with self.engine.begin() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            tables = set(inspect(conn).get_table_names())
            if current is None and tables - {"alembic_version"}:
                raise IndexStoreError(
                    f"{self.url} already holds tables that are not a disburse index "
                    f"({', '.join(sorted(tables)[:5])}): give an empty database or an index"
                )
            if current is not None:
                known = {s.revision for s in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
                if current not in known:
                    raise IndexStoreError(
                        f"{self.url} has index schema {current}, newer than this version of "
                        f"disburse knows (up to {HEAD_REVISION}): upgrade disburse to read it"
                    )
                stored = dict(conn.execute(select(schema.meta.c.key, schema.meta.c.value)).all())
                for key, value in wanted.items():
                    if stored.get(key) != value:
                        raise IndexStoreError(
                            f"{self.url} indexes another deployment: its {key} is "
                            f"{stored.get(key)}, this deployment's is {value} (give another "
                            "database, or drop this one to rebuild it)"
                        )
            command.upgrade(_alembic_config(conn), "head")
            if current is None:
                conn.execute(delete(schema.meta).where(schema.meta.c.key == "refold"))
                conn.execute(
                    insert(schema.meta), [{"key": k, "value": v} for k, v in wanted.items()]
                )

    def record_reconciliation(self, *, block: int, ok: bool, differences: int) -> None:
        """Keeps the result of the last reconciliation of this index against the chain (the
        audit's, at `block`) for those who show it (the console's freshness banner): beside the
        index's identity in its meta table, replacing the one before."""
        value = json.dumps({"ok": ok, "differences": differences, "block": block})
        m = schema.meta
        with self.engine.begin() as conn:
            conn.execute(delete(m).where(m.c.key == RECONCILIATION_KEY))
            conn.execute(insert(m).values(key=RECONCILIATION_KEY, value=value))

    def needs_refold(self) -> bool:
        """True after a migration that added derived columns: the indexer refolds them."""
        with self.engine.connect() as conn:
            m = schema.meta
            return conn.execute(select(m.c.value).where(m.c.key == "refold")).first() is not None

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # ------------------------------------------------------------------ reads

    def cursor(self) -> Cursor | None:
        with self.engine.connect() as conn:
            return _cursor(conn)

    def stored_blocks(self, *, below: int, limit: int) -> list[tuple[int, str]]:
        """The stored blocks under `below`, highest first (the search for a common ancestor)."""
        b = schema.blocks
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(b.c.number, b.c.hash)
                .where(b.c.number < below)
                .order_by(b.c.number.desc())
                .limit(limit)
            ).all()
        return [(int(n), str(h)) for n, h in rows]

    def event_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(schema.events)).scalar_one())

    def iter_events(self, *, chunk: int = 5_000) -> Iterator[EventRow]:
        """Every stored event in chain order with its block's time, read `chunk` at a time
        (keyset pagination: memory stays flat however long the history), in one snapshot."""
        with self.engine.connect() as conn, conn.begin():
            yield from _event_rows(conn, chunk=chunk)

    # ------------------------------------------------------------------ writes

    def write_batch(
        self,
        *,
        events: Sequence[tuple[Any, ...]],
        folded: Sequence[FoldEvent],
        blocks: dict[int, tuple[str, int]],
        cursor: Cursor,
        fold: Fold,
    ) -> None:
        """Stores a window's events, their blocks, the derived rows and the cursor: all or none."""
        with self.engine.begin() as conn:
            known = _cursor(conn)
            if known is not None and cursor.number < known.number:
                raise IndexStoreError(
                    f"internal: cursor would move back from {known.number} to {cursor.number}"
                )
            schema.bulk_insert(conn, schema.events, events)
            rows = dict(blocks)
            rows[cursor.number] = (cursor.hash, cursor.timestamp)
            b = schema.blocks
            conn.execute(delete(b).where(b.c.number.in_(list(rows))))
            conn.execute(
                insert(b),
                [{"number": n, "hash": h, "timestamp": t} for n, (h, t) in rows.items()],
            )
            _fold(conn, fold, folded)
            _set_cursor(conn, cursor)
        if self.engine.url.get_backend_name() == "sqlite":
            if self._checkpointer is None:
                self._checkpointer = _Checkpointer(str(self.engine.url.database))
            self._checkpointer.wake()

    def rollback_to(self, ancestor: Cursor, fold: Fold, decode: Decode) -> int:
        """Forgets everything above `ancestor` (a block the chain still has) and refolds the
        derived tables from the events kept, in one transaction; returns the events dropped."""
        e, b = schema.events, schema.blocks
        with self.engine.begin() as conn:
            dropped = conn.execute(delete(e).where(e.c.block > ancestor.number)).rowcount
            conn.execute(delete(b).where(b.c.number >= ancestor.number))
            conn.execute(
                insert(b),
                [
                    {
                        "number": ancestor.number,
                        "hash": ancestor.hash,
                        "timestamp": ancestor.timestamp,
                    }
                ],
            )
            _set_cursor(conn, ancestor)
            _refold(conn, fold, decode)
        return int(dropped or 0)

    def refold(self, fold: Fold, decode: Decode) -> None:
        """Empties the derived tables and folds every stored event again (one transaction)."""
        with self.engine.begin() as conn:
            _refold(conn, fold, decode)
            conn.execute(delete(schema.meta).where(schema.meta.c.key == "refold"))


Decode = Callable[[EventRow], FoldEvent | None]


class _Checkpointer:
    """Copies a SQLite index's WAL into its file after each window, in a thread of its own (its
    own connection; a PASSIVE checkpoint never holds up the writer), so that the copying and
    the syncs overlap the indexer's work instead of all landing on the last connection's close
    (about a tenth of a sync of 100,000 events). A checkpoint is safe at any instant, a kill -9
    included; one that fails is only left to the next, or to the close."""

    def __init__(self, path: str) -> None:
        self._wake = threading.Event()
        self._stopping = False
        self.error: str | None = None
        """The last checkpoint's error, if it failed (for a reader who wonders; nothing
        depends on it)."""
        self._thread = threading.Thread(
            target=self._run, args=(path,), name="index-checkpoint", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Ends the thread after the checkpoint under way, if any."""
        self._stopping = True
        self._wake.set()
        self._thread.join()

    def _run(self, path: str) -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    self.error = str(exc)
        finally:
            conn.close()


def _refold(conn: Connection, fold: Fold, decode: Decode) -> None:
    for table in schema.DERIVED:
        conn.execute(delete(table))
    batch: list[FoldEvent] = []
    for row in _event_rows(conn, chunk=REFOLD_BATCH):
        folded = decode(row)
        if folded is not None:
            batch.append(folded)
        if len(batch) >= REFOLD_BATCH:
            _fold(conn, fold, batch)
            batch = []
    _fold(conn, fold, batch)


def _fold(conn: Connection, fold: Fold, batch: Sequence[FoldEvent]) -> None:
    """The derived tables and the summaries of one batch: everywhere the store folds."""
    fold.apply(conn, batch)
    summary.tally(conn, batch)


def read_cursor(conn: Connection) -> Cursor | None:
    """The cursor, on the caller's transaction (readers that need it with their rows)."""
    return _cursor(conn)


def _cursor(conn: Connection) -> Cursor | None:
    c = schema.cursor
    row = conn.execute(select(c.c.number, c.c.hash, c.c.timestamp).where(c.c.id == 1)).first()
    return None if row is None else Cursor(int(row[0]), str(row[1]), int(row[2]))


def _set_cursor(conn: Connection, cursor: Cursor) -> None:
    c = schema.cursor
    conn.execute(delete(c).where(c.c.id == 1))
    conn.execute(
        insert(c),
        {"id": 1, "number": cursor.number, "hash": cursor.hash, "timestamp": cursor.timestamp},
    )


def event_row_select(*extra: Any) -> Select[Any]:
    """The columns an `EventRow` is made of (events joined with their blocks' times), then
    `extra` columns."""
    e, b = schema.events, schema.blocks
    return select(
        e.c.block,
        e.c.log_index,
        e.c.tx_hash,
        e.c.address,
        e.c.name,
        e.c.topics,
        e.c.data,
        e.c.sender,
        b.c.timestamp,
        *extra,
    ).join(b, b.c.number == e.c.block)


def _event_rows(conn: Connection, *, chunk: int) -> Iterator[EventRow]:
    e = schema.events
    after = (-1, -1)
    while True:
        rows = conn.execute(
            event_row_select()
            .where((e.c.block > after[0]) | ((e.c.block == after[0]) & (e.c.log_index > after[1])))
            .order_by(e.c.block, e.c.log_index)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for r in rows:
            yield EventRow.of(r)
        after = (int(rows[-1][0]), int(rows[-1][1]))


__all__ = [
    "HEAD_REVISION",
    "Cursor",
    "EventRow",
    "IndexStore",
    "IndexStoreError",
    "open_engine",
    "parse_url",
    "read_cursor",
]

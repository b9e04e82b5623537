"""The index's tables (SQLAlchemy Core, one schema for SQLite and PostgreSQL).

Events are the source of truth and the rest is derived from them:
- `events`: every log of the escrow and the council, keyed by (block, log_index), kept as the
  node sent it (topics and data) so any reader decodes it with the ABI of the build artifacts;
  with the columns people filter by (event name, program, milestone, proposal, the transaction's
  sender for the events that name nobody);
- `blocks`: the blocks that hold events, and the cursor's block, with their hashes (a changed
  hash is how a rolled-back chain is noticed);
- `cursor`: one row, the last block read (number and hash), written in the same transaction as
  the events of that block;
- `meta`: which chain and deployment the index describes (an index of another deployment is
  refused, never mixed);
- derived: `programs`, `milestones`, `attestations`, `payments`, `proposals`, folded from the
  events in the same transaction (`disburse.index.fold`).

Amounts are uint256 and must stay exact: NUMERIC(78, 0) in PostgreSQL; in SQLite, whose integers
are 64-bit, text zero-padded to 78 digits, so that comparing text compares numbers (Ponder's
encoding), summed exactly by `uint_sum` (in SQLite, native sums of parts of the digits, joined by a
function registered on every SQLite connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator, TypeEngine

UINT_DIGITS: Final = 78
"""Decimal digits of the largest uint256 (2**256 - 1 has 78)."""
MAX_UINT256: Final = 2**256 - 1


class Uint256(TypeDecorator[int]):
    """A uint256 as an exact, sortable column: NUMERIC(78,0) or 78-digit zero-padded text."""

    impl = String(UINT_DIGITS)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(UINT_DIGITS, 0))
        return dialect.type_descriptor(String(UINT_DIGITS))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not 0 <= value <= MAX_UINT256:
            raise ValueError(f"{value} is not a uint256")
        if dialect.name == "postgresql":
            return Decimal(value)
        return str(value).zfill(UINT_DIGITS)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class uint_sum(GenericFunction[int]):  # noqa: N801 - SQL functions are lower case
    """The exact sum of a Uint256 column (0 over no rows)."""

    type = Uint256()
    inherit_cache = True
    name = "uint_sum"


@compiles(uint_sum, "postgresql")
def _uint_sum_postgresql(element: uint_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"coalesce(sum({compiler.process(element.clauses, **kw)}), 0)"


UINT_PARTS: Final = (6, 12, 12, 12, 12, 12, 12)
"""The digits of a 78-digit amount, split so that SQLite sums each part as a native 64-bit
integer: a 12-digit part is below 10**12, so a group of up to 9.2 million rows sums without
overflow (past it SQLite raises "integer overflow"; it never wraps)."""


@compiles(uint_sum)
def _uint_sum_sqlite(element: uint_sum, compiler: SQLCompiler, **kw: Any) -> str:
    # Each part summed by SQLite itself, joined once per group by `uint_join`: a Python
    # aggregate called for every row cost about 5 us a row, the most of a roll-up's time.
    parts, start = [], 1
    for digits in UINT_PARTS:
        value = compiler.process(element.clauses, **kw)
        parts.append(f"sum(CAST(substr({value}, {start}, {digits}) AS INTEGER))")
        start += digits
    return f"uint_join({', '.join(parts)})"


def sqlite_uint_join(*sums: int | None) -> str:
    """SQLite's `uint_join`: the parts' sums (None over no rows) as one exact, zero-padded
    amount."""
    total, shift = 0, UINT_DIGITS
    for digits, part in zip(UINT_PARTS, sums, strict=True):
        shift -= digits
        total += (part or 0) * 10**shift
    return str(total).zfill(UINT_DIGITS)


metadata = MetaData()

HASH = 66
"""0x and 64 hex digits."""
ADDRESS = 42

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

cursor = Table(
    "cursor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", BigInteger, nullable=False),
    Column("hash", String(HASH), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

blocks = Table(
    "blocks",
    metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(HASH), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("tx_hash", String(HASH), nullable=False),
    Column("address", String(ADDRESS), nullable=False),
    Column("name", String(64), nullable=False),
    Column("topics", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("sender", String(ADDRESS)),
    Column("program_id", BigInteger),
    Column("milestone_id", String(HASH)),
    Column("proposal_id", BigInteger),
    Index("ix_events_name", "name"),
    Index("ix_events_program", "program_id"),
    Index("ix_events_milestone", "milestone_id"),
    Index("ix_events_proposal", "proposal_id"),
    # One program's events of a kind (its last money movement, its expiries): the read API's
    # per-program queries (disburse.index.queries).
    Index("ix_events_program_name", "program_id", "name"),
)

programs = Table(
    "programs",
    metadata,
    Column("program_id", BigInteger, primary_key=True, autoincrement=False),
    Column("manager", String(ADDRESS), nullable=False),
    Column("token", String(ADDRESS), nullable=False),
    Column("treasury", String(ADDRESS), nullable=False),
    Column("challenge_window", BigInteger, nullable=False),
    Column("created_block", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("funded", Uint256, nullable=False),
    Column("committed", Uint256, nullable=False),
    Column("paid", Uint256, nullable=False),
    Column("force_paid", Uint256, nullable=False),
    Column("withdrawn", Uint256, nullable=False),
    Column("returned_cancelled", Uint256, nullable=False),
    Column("returned_expired", Uint256, nullable=False),
    Column("milestones", Integer, nullable=False),
    # Program facts (ProgramDescribed; the baseline then follows BaselineChanged): NULL for a
    # program created without them.
    Column("title", Text),
    Column("organisation", Text),
    Column("category", Text),
    Column("fiscal_year", Integer),
    Column("baseline_original", Uint256),
    Column("baseline_current", Uint256),
)

milestones = Table(
    "milestones",
    metadata,
    Column("milestone_id", String(HASH), primary_key=True),
    Column("program_id", BigInteger, nullable=False),
    Column("ref", String(HASH), nullable=False),
    Column("beneficiary", String(ADDRESS), nullable=False),
    Column("amount", Uint256, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("spec_hash", String(HASH), nullable=False),
    Column("status", Integer, nullable=False),
    Column("registered_block", BigInteger, nullable=False),
    Column("registered_time", BigInteger, nullable=False),
    Column("attestations", Integer, nullable=False),
    Column("evidence_hash", String(HASH)),
    Column("verified_time", BigInteger),
    Column("released_time", BigInteger),
    Column("forced", Boolean, nullable=False),
    Column("original_amount", Uint256),
    Column("original_deadline", BigInteger),
    Column("disputed", Boolean, nullable=False, server_default=false()),
    Index("ix_milestones_program", "program_id"),
    Index("ix_milestones_beneficiary", "beneficiary"),
)

attestations = Table(
    "attestations",
    metadata,
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("milestone_id", String(HASH), nullable=False),
    Column("oracle", String(ADDRESS), nullable=False),
    Column("evidence_hash", String(HASH), nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Index("ix_attestations_milestone", "milestone_id"),
    Index("ix_attestations_oracle", "oracle"),
)

payments = Table(
    "payments",
    metadata,
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("milestone_id", String(HASH), nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("beneficiary", String(ADDRESS), nullable=False),
    Column("amount", Uint256, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("forced", Boolean, nullable=False),
    Index("ix_payments_program", "program_id"),
    Index("ix_payments_beneficiary", "beneficiary"),
)

proposals = Table(
    "proposals",
    metadata,
    Column("proposal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("proposer", String(ADDRESS), nullable=False),
    Column("target", String(ADDRESS), nullable=False),
    Column("data", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("expiry", BigInteger, nullable=False),
    Column("created_block", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("approvals", Integer, nullable=False),
    Column("executed_block", BigInteger),
    Column("executed_time", BigInteger),
    Column("executor", String(ADDRESS)),
)

baselines = Table(
    "baselines",
    metadata,
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("program_id", BigInteger, nullable=False),
    Column("previous", Uint256, nullable=False),
    Column("baseline", Uint256, nullable=False),
    Column("time", BigInteger, nullable=False),
    Index("ix_baselines_program", "program_id"),
)

recipients = Table(
    "recipients",
    metadata,
    Column("program_id", BigInteger, primary_key=True, autoincrement=False),
    Column("beneficiary", String(ADDRESS), primary_key=True),
    Column("paid", Uint256, nullable=False),
    Column("payments", Integer, nullable=False),
)
"""What each beneficiary was paid by each program: the payments summed as they are stored
(`disburse.index.summary`), so that a roll-up's top recipients read a few rows per program
instead of every payment of the history."""

DERIVED: Final = (
    programs,
    milestones,
    attestations,
    payments,
    proposals,
    baselines,
    recipients,
)
"""The tables folded from the events: emptied and refolded when the chain rolls back."""


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Sequence[Any]]) -> None:
    """Inserts rows given as tuples in the table's column order, through the driver: one
    executemany on SQLite, COPY on PostgreSQL (SQLAlchemy's per-row parameter processing costs
    more than the database's own work at the indexer's rates). Uint256 values are encoded here
    as the column type would."""
    if not rows:
        return
    columns = list(table.columns)
    uint = [i for i, c in enumerate(columns) if isinstance(c.type, Uint256)]
    names = ", ".join(c.name for c in columns)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    if uint:
        encoded: list[Sequence[Any]] = []
        for row in rows:
            values = list(row)
            for i in uint:
                if values[i] is not None:
                    values[i] = str(values[i]).zfill(UINT_DIGITS)
            encoded.append(values)
        rows = encoded
    marks = ", ".join("?" for _ in columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        # Names from our own schema; every value is a bound parameter.
        cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)  # noqa: S608
    finally:
        cursor.close()


def row_tuple(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    """A row given by column names, as the tuple `bulk_insert` takes."""
    return tuple(row[c.name] for c in table.columns)

"""The index's derived tables -> the analytics' facts (`disburse.analytics.model`), at the index's
cursor: the whole index (`load_facts`, for the report), or one program (`load_program`, for the
read API, `disburse.index.queries`), through the same queries narrowed to that program and the
same row -> facts conversion."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, func, select, true

from disburse.analytics.model import (
    JAPAN,
    Attestation,
    FiscalCalendar,
    MilestoneFacts,
    MilestoneStatus,
    ProgramFacts,
)
from disburse.chain.escrow import milestone_statuses
from disburse.index import schema
from disburse.index.store import Cursor, IndexStore, IndexStoreError, read_cursor

MONEY_EVENTS = ("ProgramFunded", "MilestoneReleased", "RemainderWithdrawn")
"""Events that move a program's available balance (for how long it has been idle)."""
NOT_RECORDED: Final = "(not recorded)"
"""The organisation and category of a program created without facts."""
UNCOMMITTED: Final = ("Cancelled", "Expired")
"""Milestone states whose amount went back to the program (not part of a missing baseline)."""


@dataclass(frozen=True, slots=True)
class TokenFacts:
    symbol: str
    decimals: int


TokenLookup = Callable[[str], TokenFacts]
"""A settlement token's symbol and decimals, by address."""


@dataclass(frozen=True, slots=True)
class IndexFacts:
    """What the analytics read, and the block it describes."""

    cursor: Cursor
    programs: tuple[ProgramFacts, ...]
    milestones: tuple[MilestoneFacts, ...]


def ready_cursor(store: IndexStore, conn: Connection) -> Cursor:
    """The index's cursor, refused while the index cannot answer (nothing read yet, or a
    migration's refold still to run)."""
    cursor = read_cursor(conn)
    if cursor is None:
        raise IndexStoreError(
            f"the index at {store.url} has read no block yet: run `disburse index`"
        )
    m = schema.meta
    if conn.execute(select(m.c.value).where(m.c.key == "refold")).first() is not None:
        raise IndexStoreError(
            f"the index at {store.url} was migrated and is being refolded: run `disburse index`"
        )
    return cursor


def load_facts(
    store: IndexStore,
    *,
    token: TokenLookup,
    calendar: FiscalCalendar = JAPAN,
) -> IndexFacts:
    """Every program and milestone of the index as facts; `token(address)` gives a settlement
    token's symbol and decimals. A program created without facts (before they were recorded)
    is named by its id, with its fiscal year the one it was created in and no baseline beyond
    what it committed."""
    with store.engine.connect() as conn, conn.begin():
        cursor = ready_cursor(store, conn)
        programs, milestones = _load(conn, None, token=token, calendar=calendar)
    return IndexFacts(cursor=cursor, programs=tuple(programs), milestones=tuple(milestones))


def load_program(
    conn: Connection,
    program_id: int,
    *,
    token: TokenLookup,
    calendar: FiscalCalendar = JAPAN,
) -> tuple[ProgramFacts, tuple[MilestoneFacts, ...]] | None:
    """One program's facts and milestones (None for a program the index does not hold),
    reading only that program's rows, on the caller's transaction."""
    programs, milestones = _load(conn, program_id, token=token, calendar=calendar)
    return (programs[0], tuple(milestones)) if programs else None


def _load(
    conn: Connection,
    program_id: int | None,
    *,
    token: TokenLookup,
    calendar: FiscalCalendar,
) -> tuple[list[ProgramFacts], list[MilestoneFacts]]:
    """The facts of every program (program_id None) or of one, in program then milestone id
    order."""
    p, m, a, e, b = (
        schema.programs,
        schema.milestones,
        schema.attestations,
        schema.events,
        schema.blocks,
    )

    def of(column: Any) -> ColumnElement[bool]:
        return true() if program_id is None else column == program_id

    program_rows = list(
        conn.execute(select(p).where(of(p.c.program_id)).order_by(p.c.program_id)).mappings()
    )
    if not program_rows:
        return [], []
    idle = dict(
        conn.execute(
            select(e.c.program_id, func.max(b.c.timestamp))
            .join(b, b.c.number == e.c.block)
            .where(of(e.c.program_id), e.c.name.in_(MONEY_EVENTS))
            .group_by(e.c.program_id)
        ).all()
    )
    expired = dict(
        conn.execute(
            select(e.c.milestone_id, b.c.timestamp)
            .join(b, b.c.number == e.c.block)
            .where(of(e.c.program_id), e.c.name == "MilestoneExpired")
        ).all()
    )
    attested: dict[str, list[Attestation]] = defaultdict(list)
    query = select(a.c.milestone_id, a.c.oracle, a.c.evidence_hash, a.c.time)
    if program_id is not None:
        query = query.join(m, m.c.milestone_id == a.c.milestone_id).where(
            m.c.program_id == program_id
        )
    for row in conn.execute(query.order_by(a.c.block, a.c.log_index)):
        attested[row[0]].append(Attestation(row[1], row[2], int(row[3])))
    milestone_rows = conn.execute(
        select(m).where(of(m.c.program_id)).order_by(m.c.program_id, m.c.milestone_id)
    ).mappings()
    labels = milestone_statuses()
    milestones = [
        milestone_facts(
            r,
            labels=labels,
            attestations=attested.get(r["milestone_id"], ()),
            expired_time=expired.get(r["milestone_id"]),
        )
        for r in milestone_rows
    ]
    obligated: dict[int, int] = defaultdict(int)
    for f in milestones:
        if f.status not in UNCOMMITTED:
            obligated[f.program_id] += f.amount
    programs = [
        program_facts(
            r,
            token=token,
            calendar=calendar,
            obligated=obligated.get(int(r["program_id"]), 0),
            idle_since=idle.get(r["program_id"]),
        )
        for r in program_rows
    ]
    return programs, milestones


def milestone_facts(
    r: Mapping[Any, Any],
    *,
    labels: Sequence[str],
    attestations: Sequence[Attestation] = (),
    expired_time: int | None = None,
) -> MilestoneFacts:
    """A `milestones` row as facts; `labels` are the compiled status labels
    (`milestone_statuses()`)."""
    return MilestoneFacts(
        milestone_id=r["milestone_id"],
        program_id=int(r["program_id"]),
        beneficiary=r["beneficiary"],
        amount=int(r["amount"]),
        deadline=int(r["deadline"]),
        registered_time=int(r["registered_time"]),
        verified_time=None if r["verified_time"] is None else int(r["verified_time"]),
        released_time=None if r["released_time"] is None else int(r["released_time"]),
        forced=bool(r["forced"]),
        status=status_label(int(r["status"]), labels),
        disputed_ever=bool(r["disputed"]),
        attestations=tuple(attestations),
        verified_hash=r["evidence_hash"],
        expired_time=None if expired_time is None else int(expired_time),
    )


def program_facts(
    r: Mapping[Any, Any],
    *,
    token: TokenLookup,
    calendar: FiscalCalendar,
    obligated: int,
    idle_since: int | None,
) -> ProgramFacts:
    """A `programs` row as facts. `obligated` (its milestones' amounts, cancelled and expired
    ones left out) stands for a baseline never recorded; `idle_since` is the time of its last
    money event (None: none yet, so its creation)."""
    pid = int(r["program_id"])
    t = token(r["token"])
    fiscal_year = fiscal_year_of(r, calendar)
    return ProgramFacts(
        program_id=pid,
        title=r["title"] or f"program {pid}",
        organisation=r["organisation"] or NOT_RECORDED,
        category=r["category"] or NOT_RECORDED,
        fiscal_year=fiscal_year,
        baseline_original=int(r["baseline_original"] or obligated),
        baseline_current=int(r["baseline_current"] or obligated),
        funded=int(r["funded"]),
        committed=int(r["committed"]),
        paid=int(r["paid"]),
        withdrawn=int(r["withdrawn"]),
        token_symbol=t.symbol,
        token_decimals=t.decimals,
        created_time=int(r["created_time"]),
        idle_since=int(idle_since or r["created_time"]),
        fiscal_year_start=calendar.start(fiscal_year),
        fiscal_year_end=calendar.end(fiscal_year),
    )


def fiscal_year_of(r: Mapping[Any, Any], calendar: FiscalCalendar) -> int:
    """A program's fiscal year: recorded, else the one it was created in."""
    if r["fiscal_year"] is not None:
        return int(r["fiscal_year"])
    return calendar.year_of(int(r["created_time"]))


_KNOWN: frozenset[str] = frozenset(
    {"Registered", "Verified", "Disputed", "Frozen", "Released", "Cancelled", "Expired"}
)


def status_label(status: int, labels: Sequence[str]) -> MilestoneStatus:
    """A stored status number as the analytics' label; refused when they do not know it."""
    label = labels[status] if status < len(labels) else f"status {status}"
    if label not in _KNOWN:
        raise IndexStoreError(
            f"the index holds a milestone status the analytics do not know: {label}"
        )
    return label  # type: ignore[return-value]

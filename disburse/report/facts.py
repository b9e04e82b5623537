"""The index's derived tables -> the analytics' facts (`disburse.analytics.model`): one query per
table, at the index's cursor."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

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
from disburse.index.store import Cursor, IndexStore, IndexStoreError

MONEY_EVENTS = ("ProgramFunded", "MilestoneReleased", "RemainderWithdrawn")
"""Events that move a program's available balance (for how long it has been idle)."""


@dataclass(frozen=True, slots=True)
class TokenFacts:
    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class IndexFacts:
    """What the analytics read, and the block it describes."""

    cursor: Cursor
    programs: tuple[ProgramFacts, ...]
    milestones: tuple[MilestoneFacts, ...]


def load_facts(
    store: IndexStore,
    *,
    token: Callable[[str], TokenFacts],
    calendar: FiscalCalendar = JAPAN,
) -> IndexFacts:
    """Every program and milestone of the index as facts; `token(address)` gives a settlement
    token's symbol and decimals. A program created without facts (before they were recorded)
    is named by its id, with its fiscal year the one it was created in and no baseline beyond
    what it committed."""
    cursor = store.cursor()
    if cursor is None:
        raise IndexStoreError(
            f"the index at {store.url} has read no block yet: run `disburse index`"
        )
    if store.needs_refold():
        raise IndexStoreError(
            f"the index at {store.url} was migrated and is being refolded: run `disburse index`"
        )
    labels = milestone_statuses()
    p, m, a, e, b = (
        schema.programs,
        schema.milestones,
        schema.attestations,
        schema.events,
        schema.blocks,
    )
    with store.engine.connect() as conn, conn.begin():
        idle = dict(
            conn.execute(
                select(e.c.program_id, func.max(b.c.timestamp))
                .join(b, b.c.number == e.c.block)
                .where(e.c.name.in_(MONEY_EVENTS))
                .group_by(e.c.program_id)
            ).all()
        )
        expired = dict(
            conn.execute(
                select(e.c.milestone_id, b.c.timestamp)
                .join(b, b.c.number == e.c.block)
                .where(e.c.name == "MilestoneExpired")
            ).all()
        )
        attested: dict[str, list[Attestation]] = defaultdict(list)
        for row in conn.execute(
            select(a.c.milestone_id, a.c.oracle, a.c.evidence_hash, a.c.time).order_by(
                a.c.block, a.c.log_index
            )
        ):
            attested[row[0]].append(Attestation(row[1], row[2], int(row[3])))
        milestone_rows = list(
            conn.execute(select(m).order_by(m.c.program_id, m.c.milestone_id)).mappings()
        )
        program_rows = list(conn.execute(select(p).order_by(p.c.program_id)).mappings())
    committed_by_program: dict[int, int] = defaultdict(int)
    milestones = []
    for r in milestone_rows:
        label = labels[r["status"]] if r["status"] < len(labels) else f"status {r['status']}"
        milestones.append(
            MilestoneFacts(
                milestone_id=r["milestone_id"],
                program_id=int(r["program_id"]),
                beneficiary=r["beneficiary"],
                amount=int(r["amount"]),
                deadline=int(r["deadline"]),
                registered_time=int(r["registered_time"]),
                verified_time=None if r["verified_time"] is None else int(r["verified_time"]),
                released_time=None if r["released_time"] is None else int(r["released_time"]),
                forced=bool(r["forced"]),
                status=_status(label),
                disputed_ever=bool(r["disputed"]),
                attestations=tuple(attested.get(r["milestone_id"], ())),
                verified_hash=r["evidence_hash"],
                expired_time=None
                if r["milestone_id"] not in expired
                else int(expired[r["milestone_id"]]),
            )
        )
        if label not in ("Cancelled", "Expired"):
            committed_by_program[int(r["program_id"])] += int(r["amount"])
    programs = []
    for r in program_rows:
        pid = int(r["program_id"])
        t = token(r["token"])
        fiscal_year = (
            int(r["fiscal_year"])
            if r["fiscal_year"] is not None
            else calendar.year_of(int(r["created_time"]))
        )
        obligated = committed_by_program.get(pid, 0)
        programs.append(
            ProgramFacts(
                program_id=pid,
                title=r["title"] or f"program {pid}",
                organisation=r["organisation"] or "(not recorded)",
                category=r["category"] or "(not recorded)",
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
                idle_since=int(idle.get(pid) or r["created_time"]),
                fiscal_year_start=calendar.start(fiscal_year),
                fiscal_year_end=calendar.end(fiscal_year),
            )
        )
    return IndexFacts(cursor=cursor, programs=tuple(programs), milestones=tuple(milestones))


_KNOWN: frozenset[str] = frozenset(
    {"Registered", "Verified", "Disputed", "Frozen", "Released", "Cancelled", "Expired"}
)


def _status(label: str) -> MilestoneStatus:
    if label not in _KNOWN:
        raise IndexStoreError(
            f"the index holds a milestone status the analytics do not know: {label}"
        )
    return label  # type: ignore[return-value]

"""Stored events decoded for people: each log of the index as its kind, where it is (block,
transaction, time) and its arguments typed for display (amounts with their token, addresses,
hashes, durations), through the index's own decoder (`disburse.index.ingest.Decoder`, the build
artifacts' ABIs).

Shared by the milestone timeline, the events list and its CSV, so that one event reads the same
on every page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, Select, select

from disburse._format import ref_text
from disburse.index import schema
from disburse.index.ingest import Decoder
from disburse.index.store import Cursor, EventRow, IndexStoreError, event_row_select, read_cursor
from disburse.report.facts import TokenFacts, TokenLookup

ArgKind = Literal[
    "amount", "address", "addresses", "hash", "number", "duration", "time", "text", "ref"
]

_AMOUNTS: Final = frozenset({"amount", "baseline"})
"""uint256 arguments that are money of the event's program."""
_DURATIONS: Final = frozenset({"challengeWindow"})
_TIMES: Final = frozenset({"deadline", "expiry"})
_AMOUNT_OF: Final = {("BaselineChanged", "previous"), ("setBaseline", "baseline")}
"""Arguments named otherwise that are money (a baseline's previous value)."""

COUNCIL_ACTED: Final = frozenset(
    {
        "MilestoneFrozen",
        "MilestoneUnfrozen",
        "MilestoneCancelled",
        "MilestoneForceReleased",
        "BeneficiaryReplaced",
        "DisputeResolved",
        "ChallengeWindowSet",
        "BaselineChanged",
        "ProgramManagerChanged",
        "ProgramTreasuryChanged",
        "CommitteeUpdated",
    }
)
"""Escrow events only the council's executed proposals cause."""


@dataclass(frozen=True, slots=True)
class Arg:
    """One decoded argument: its ABI name, how it is shown, and its value (amounts as exact
    integers in base units, hashes as 0x hex)."""

    name: str
    kind: ArgKind
    value: Any


@dataclass(frozen=True, slots=True)
class EventView:
    """One stored event, decoded."""

    block: int
    log_index: int
    tx_hash: str
    time: int
    name: str
    contract: Literal["escrow", "council"]
    program_id: int | None
    """The program the event is about: named by it, or its milestone's."""
    milestone_id: str | None
    milestone_ref: str | None
    """The milestone's reference as its manager wrote it (A/M1), when the index knows it."""
    proposal_id: int | None
    sender: str | None
    """The transaction's sender, stored for the events that name nobody."""
    args: tuple[Arg, ...]
    token: TokenFacts | None
    """The program's token, for the amounts; None for an event of no program."""

    def arg(self, name: str) -> Any:
        for a in self.args:
            if a.name == name:
                return a.value
        return None


def event_columns() -> Select[Any]:
    """The columns an `EventRow` is made of, then the event's program, milestone and proposal."""
    e = schema.events
    return event_row_select(e.c.program_id, e.c.milestone_id, e.c.proposal_id)


def arg_kind(event: str, name: str, value: Any) -> ArgKind:
    """How an event's (or a call's) argument is shown, from its name and decoded value."""
    if isinstance(value, bytes | bytearray):
        return "ref" if name == "externalRef" else "hash"
    if isinstance(value, list | tuple):
        return "addresses"
    if isinstance(value, str):
        return "address" if value.startswith("0x") and len(value) == 42 else "text"
    if name in _AMOUNTS or (event, name) in _AMOUNT_OF:
        return "amount"
    if name in _DURATIONS:
        return "duration"
    if name in _TIMES:
        return "time"
    return "number"


def shown_value(kind: ArgKind, value: Any) -> Any:
    """A decoded argument as a view holds it (hashes as 0x hex, numbers as int)."""
    if kind == "hash":
        return "0x" + bytes(value).hex()
    if kind == "ref":
        return ref_text(bytes(value))
    if kind == "addresses":
        return tuple(str(v) for v in value)
    if isinstance(value, bool):
        return value
    return int(value) if kind in ("amount", "number", "duration", "time") else value


class EventDecoding:
    """Decodes stored rows into `EventView`s, looking up each program's token and each
    milestone's program once per call."""

    def __init__(self, decoder: Decoder, token: TokenLookup) -> None:
        self.decoder = decoder
        self.token = token

    def views(self, conn: Connection, rows: Sequence[Any]) -> list[EventView]:
        """Rows of `event_columns()` as views, in the order given; logs of no known event are
        left out."""
        milestones = {r[10] for r in rows if r[10] is not None}
        known = _milestones(conn, milestones)
        program_of = {mid: pid for mid, (pid, _ref) in known.items()}
        programs = {r[9] for r in rows if r[9] is not None} | set(program_of.values())
        tokens = _tokens(conn, programs, self.token)
        out = []
        for r in rows:
            row = EventRow.of(r)
            decoded = self.decoder.values(row)
            if decoded is None:
                continue
            layout, values = decoded
            program = int(r[9]) if r[9] is not None else program_of.get(r[10])
            args = tuple(
                Arg(n, k, shown_value(k, v))
                for n, v in zip(layout.names, values, strict=True)
                for k in (arg_kind(layout.name, n, v),)
            )
            out.append(
                EventView(
                    block=row.block,
                    log_index=row.log_index,
                    tx_hash=row.tx_hash,
                    time=row.timestamp,
                    name=layout.name,
                    contract="council" if row.address.lower() == self.decoder.council else "escrow",
                    program_id=program,
                    milestone_id=r[10],
                    milestone_ref=known[r[10]][1] if r[10] in known else None,
                    proposal_id=None if r[11] is None else int(r[11]),
                    sender=row.sender,
                    args=args,
                    token=tokens.get(program) if program is not None else None,
                )
            )
        return out


def _milestones(conn: Connection, milestones: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Each milestone's program and reference (as text when it is text)."""
    wanted = sorted(milestones)
    if not wanted:
        return {}
    m = schema.milestones
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for mid, pid, ref in conn.execute(
            select(m.c.milestone_id, m.c.program_id, m.c.ref).where(m.c.milestone_id.in_(chunk))
        ):
            found[str(mid)] = (int(pid), ref_text(bytes.fromhex(str(ref)[2:])))
    return found


def _tokens(conn: Connection, programs: Iterable[int], token: TokenLookup) -> dict[int, TokenFacts]:
    wanted = sorted(programs)
    if not wanted:
        return {}
    p = schema.programs
    rows = conn.execute(select(p.c.program_id, p.c.token).where(p.c.program_id.in_(wanted)))
    return {int(pid): token(str(address)) for pid, address in rows}


def executed_proposals(conn: Connection, events: Iterable[EventView]) -> dict[str, tuple[int, str]]:
    """The council proposal executed in each of these events' transactions, with its executor:
    who is behind an escrow event the council caused. Looked up by block (the events' primary
    key) and then transaction, never by a scan of the transactions."""
    wanted = {(v.block, v.tx_hash) for v in events}
    if not wanted:
        return {}
    p, e = schema.proposals, schema.events
    blocks = sorted({block for block, _ in wanted})
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(blocks), 500):
        chunk = blocks[start : start + 500]
        rows = conn.execute(
            select(e.c.block, e.c.tx_hash, p.c.proposal_id, p.c.executor)
            .join(p, p.c.proposal_id == e.c.proposal_id)
            .where(e.c.block.in_(chunk), e.c.name == "ProposalExecuted")
        )
        for block, tx, pid, executor in rows:
            if (int(block), str(tx)) in wanted:
                found[str(tx)] = (int(pid), str(executor))
    return found


def cursor_of(conn: Connection) -> Cursor:
    """The index's cursor on the caller's transaction; an index that has read no block yet is
    refused as the read API refuses it (the app answers 503, not a crash)."""
    cursor = read_cursor(conn)
    if cursor is None:
        raise IndexStoreError("the index has read no block yet: run `disburse index`")
    return cursor

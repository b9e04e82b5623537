"""The events list: every stored event decoded, filtered by program, milestone, address, kind
and date range, newest first, a page at a time (keyset on (block, log index): a page costs the
same at the millionth event as at the first), and the same filter as CSV with amounts in base
units.

Visibility: a program manager's filter is narrowed to their programs: events naming one of
them, or one of their milestones (an attestation names only its milestone); events of no
program (the council's own, roles) are for overseers and auditors only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, false, func, or_, select

from disburse.chain.errors import DisburseError
from disburse.console.views._events import EventDecoding, EventView, event_columns
from disburse.console.views.milestone import parse_milestone_id
from disburse.index import schema

PAGE_SIZE: Final = 50
PAGE_MAX: Final = 200
"""The largest page a request may ask for."""
CSV_CHUNK: Final = 2_000
TEXT_MAX: Final = 100
"""Longest parameter text accepted (an address is 42, a milestone id 66)."""


class FilterError(DisburseError, ValueError):
    """A filter parameter that is not what it should be; the message names it."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    program: int | None = None
    milestone: str | None = None
    address: str | None = None
    """Lower-case 0x hex of 40 digits."""
    kind: str | None = None
    since: int | None = None
    """Unix time, inclusive (the start of the `from` day, UTC)."""
    until: int | None = None
    """Unix time, exclusive (the end of the `to` day, UTC)."""
    visible: frozenset[int] | None = None
    """The programs the viewer may see; None: everything."""
    query: dict[str, str] = field(default_factory=dict)
    """The parameters as given (validated), to build links to other pages."""


@dataclass(frozen=True, slots=True)
class EventsPage:
    events: tuple[EventView, ...]
    next_before: str | None
    """The keyset of the next (older) page, "BLOCK-LOG", None on the last page."""
    size: int


def _text(params: dict[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if len(value) > TEXT_MAX:
        raise FilterError(f"{name} is at most {TEXT_MAX} characters")
    return value


def _day(value: str, name: str) -> int:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} must be a date written YYYY-MM-DD, not {value[:20]!r}") from None
    if len(value) != 10:
        raise FilterError(f"{name} must be a date written YYYY-MM-DD, not {value[:20]!r}")
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def parse_filter(
    params: dict[str, str], *, kinds: frozenset[str], visible: frozenset[int] | None
) -> EventFilter:
    """The filter of a request's parameters; FilterError names the first that is wrong."""
    program = None
    if (text := _text(params, "program")) is not None:
        if not text.isascii() or not text.isdigit() or len(text) > 20:
            raise FilterError(f"program must be a program id (a whole number), not {text!r}")
        program = int(text)
    milestone = None
    if (text := _text(params, "milestone")) is not None:
        milestone = parse_milestone_id(text)
        if milestone is None:
            raise FilterError(f"milestone must be 0x and 64 hex digits, not {text!r}")
    address = None
    if (text := _text(params, "address")) is not None:
        digits = text[2:]
        if (
            len(text) != 42
            or not text.startswith(("0x", "0X"))
            or any(c not in "0123456789abcdefABCDEF" for c in digits)
        ):
            raise FilterError(f"address must be 0x and 40 hex digits, not {text!r}")
        address = "0x" + digits.lower()
    kind = _text(params, "kind")
    if kind is not None and kind not in kinds:
        raise FilterError(f"kind must be one of the events' names, not {kind!r}")
    since = _day(text, "from") if (text := _text(params, "from")) is not None else None
    until = _day(text, "to") + 86_400 if (text := _text(params, "to")) is not None else None
    if since is not None and until is not None and until <= since:
        raise FilterError("from must be on or before to")
    query = {
        k: v
        for k, v in (
            ("program", params.get("program", "").strip()),
            ("milestone", params.get("milestone", "").strip()),
            ("address", params.get("address", "").strip()),
            ("kind", kind or ""),
            ("from", params.get("from", "").strip()),
            ("to", params.get("to", "").strip()),
        )
        if v
    }
    return EventFilter(program, milestone, address, kind, since, until, visible, query)


def parse_before(text: str | None) -> tuple[int, int] | None:
    """The keyset "BLOCK-LOG" of a page link; FilterError when it is not one."""
    if text is None or not text.strip():
        return None
    parts = text.strip().split("-")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
        raise FilterError(f"before must be BLOCK-LOG (two whole numbers), not {text[:40]!r}")
    return int(parts[0]), int(parts[1])


def parse_size(text: str | None) -> int:
    if text is None or not text.strip():
        return PAGE_SIZE
    value = text.strip()
    if not value.isascii() or not value.isdigit() or not 1 <= int(value[:6]) <= PAGE_MAX:
        raise FilterError(f"size must be a whole number from 1 to {PAGE_MAX}, not {value[:20]!r}")
    return int(value)


def _of_programs(programs: Sequence[int]) -> ColumnElement[bool]:
    """Events about these programs: naming one, or one of their milestones."""
    e, m = schema.events, schema.milestones
    theirs = select(m.c.milestone_id).where(m.c.program_id.in_(list(programs)))
    return or_(e.c.program_id.in_(list(programs)), e.c.milestone_id.in_(theirs))


def _where(conn: Connection, f: EventFilter) -> list[ColumnElement[bool]]:
    e = schema.events
    where: list[ColumnElement[bool]] = []
    if f.visible is not None:
        where.append(_of_programs(sorted(f.visible)) if f.visible else false())
    if f.program is not None:
        where.append(_of_programs([f.program]))
    if f.milestone is not None:
        where.append(e.c.milestone_id == f.milestone)
    if f.kind is not None:
        where.append(e.c.name == f.kind)
    if f.address is not None:
        digits = f.address[2:]
        # An address is in the sender column, an indexed argument's topic or a data word.
        where.append(
            or_(
                func.lower(e.c.sender) == f.address,
                e.c.topics.contains(digits),
                e.c.data.contains(digits),
            )
        )
    # Dates as a block range: block times only grow with the block number.
    if f.since is not None:
        first = first_block_at(conn, f.since)
        where.append(e.c.block >= first if first is not None else false())
    if f.until is not None:
        after = first_block_at(conn, f.until)
        if after is not None:
            where.append(e.c.block < after)
    return where


def first_block_at(conn: Connection, time: int) -> int | None:
    """The first stored block at or after `time`, None when every block is older: a binary
    search over block numbers (their times only grow), a few primary-key reads, where a
    search by time would read every block."""
    b = schema.blocks
    # Apart: SQLite reads min() or max() alone off the key, both together from every row.
    low = conn.execute(select(func.min(b.c.number))).scalar()
    high = conn.execute(select(func.max(b.c.number))).scalar()
    if low is None or high is None:
        return None

    def at_or_after(number: int) -> tuple[int, int]:
        """The first stored block from `number` on, and its time."""
        row = conn.execute(
            select(b.c.number, b.c.timestamp)
            .where(b.c.number >= number)
            .order_by(b.c.number)
            .limit(1)
        ).one()
        return int(row[0]), int(row[1])

    low, high = int(low), int(high)
    if at_or_after(high)[1] < time:
        return None
    while low < high:
        middle = (low + high) // 2
        number, stamp = at_or_after(middle)
        if stamp >= time:
            high = middle
        else:
            low = number + 1
    return at_or_after(low)[0]


def events_page(
    conn: Connection,
    decoding: EventDecoding,
    f: EventFilter,
    *,
    before: tuple[int, int] | None = None,
    size: int = PAGE_SIZE,
) -> EventsPage:
    """One page of matching events, newest first, before the keyset `before` if given."""
    e = schema.events
    where = _where(conn, f)
    if before is not None:
        # A range on the block first: SQLite plans an OR of the two bounds as a scan.
        where.append(e.c.block <= before[0])
        where.append(or_(e.c.block < before[0], e.c.log_index < before[1]))
    rows = conn.execute(
        event_columns()
        .where(*where)
        .order_by(e.c.block.desc(), e.c.log_index.desc())
        .limit(size + 1)
    ).all()
    more = len(rows) > size
    rows = rows[:size]
    last = rows[-1] if rows else None
    return EventsPage(
        events=tuple(decoding.views(conn, rows)),
        next_before=f"{last[0]}-{last[1]}" if more and last is not None else None,
        size=size,
    )


CSV_HEADER: Final = (
    "block",
    "log_index",
    "time_utc",
    "tx_hash",
    "contract",
    "event",
    "program_id",
    "milestone_id",
    "proposal_id",
    "sender",
    "args",
)
"""`args` is a JSON object of the event's arguments: amounts as base-unit integers in strings
(exact whatever the reader's number type), hashes as 0x hex."""


def _csv_args(v: EventView) -> str:
    values: dict[str, Any] = {}
    for a in v.args:
        values[a.name] = (
            str(a.value) if a.kind in ("amount", "number", "duration", "time") else a.value
        )
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def csv_lines(conn: Connection, decoding: EventDecoding, f: EventFilter) -> Iterator[str]:
    """The matching events as CSV, header first, oldest first, read CSV_CHUNK at a time."""
    e = schema.events
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    yield out.getvalue()
    where = _where(conn, f)
    after = (-1, -1)
    while True:
        rows = conn.execute(
            event_columns()
            .where(
                *where,
                e.c.block >= after[0],
                or_(e.c.block > after[0], e.c.log_index > after[1]),
            )
            .order_by(e.c.block, e.c.log_index)
            .limit(CSV_CHUNK)
        ).all()
        if not rows:
            return
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for v in decoding.views(conn, rows):
            writer.writerow(
                (
                    v.block,
                    v.log_index,
                    datetime.fromtimestamp(v.time, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    v.tx_hash,
                    v.contract,
                    v.name,
                    "" if v.program_id is None else v.program_id,
                    v.milestone_id or "",
                    "" if v.proposal_id is None else v.proposal_id,
                    v.sender or "",
                    _csv_args(v),
                )
            )
        yield out.getvalue()
        after = (int(rows[-1][0]), int(rows[-1][1]))


def event_kinds(decoding: EventDecoding) -> frozenset[str]:
    """Every event name of the escrow's and the council's ABIs (what `kind` may be)."""
    return frozenset(
        layout.name for table in decoding.decoder.layouts.values() for layout in table.values()
    )

"""The milestone page's facts: its row, its timeline (every event about it, who acted, block
and transaction), its challenge window, its forecast, and the freeze command an overseer would
run.

Who acted: an oracle names itself in its attestation; an event only the council causes is told
with the proposal executed in the same transaction and its executor; for the rest, the
transaction's sender the index keeps (the manager who registered, whoever released).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, select

from disburse._format import ref_text
from disburse.analytics.forecast import Forecast
from disburse.chain.escrow import milestone_statuses
from disburse.console.views._events import (
    COUNCIL_ACTED,
    EventDecoding,
    EventView,
    cursor_of,
    event_columns,
    executed_proposals,
)
from disburse.index import schema
from disburse.index.queries import IndexQueries
from disburse.index.store import Cursor
from disburse.report.facts import TokenFacts

_SETTLED: Final = frozenset({"Released", "Cancelled", "Verified", "Frozen"})
"""States with nothing left to forecast (done, or waiting only for the window)."""
_BY_MANAGER: Final = frozenset({"MilestoneRegistered", "MilestoneAmended"})
MAX_TIMELINE: Final = 500
"""Events shown on one milestone's timeline (a milestone has a dozen; the bound keeps a page
small whatever an attacker of the chain floods it with)."""


@dataclass(frozen=True, slots=True)
class MilestoneRow:
    milestone_id: str
    program_id: int
    ref: str
    beneficiary: str
    amount: int
    original_amount: int | None
    deadline: int
    original_deadline: int | None
    spec_hash: str
    evidence_hash: str | None
    status: str
    registered_block: int
    registered_time: int
    attestations: int
    verified_time: int | None
    released_time: int | None
    forced: bool
    disputed: bool


@dataclass(frozen=True, slots=True)
class Step:
    """One event of the timeline and who did it."""

    event: EventView
    actor: str | None
    """The address that acted: the oracle, the proposal's executor, or the sender."""
    proposal: int | None
    """The council proposal that caused it, if any."""


@dataclass(frozen=True, slots=True)
class Window:
    """The challenge window of a verified milestone: anyone may release it from `ends`."""

    starts: int
    ends: int
    seconds: int
    open: bool
    """True while the window runs at the index's cursor."""


@dataclass(frozen=True, slots=True)
class MilestonePage:
    cursor: Cursor
    row: MilestoneRow
    manager: str
    program_title: str
    token: TokenFacts
    timeline: tuple[Step, ...]
    window: Window | None
    forecast: Forecast | None
    freeze_command: str | None
    """`disburse council propose freeze …` while a freeze can still be proposed (Verified)."""


def parse_milestone_id(text: str) -> str | None:
    """A milestone id as the URL gives it, in the index's form (0x and 64 lower-case hex
    digits); None when it is not one."""
    if len(text) != 66 or not text.startswith(("0x", "0X")):
        return None
    digits = text[2:]
    if any(c not in "0123456789abcdefABCDEF" for c in digits):
        return None
    return "0x" + digits.lower()


def milestone_row(conn: Connection, milestone_id: str) -> tuple[MilestoneRow, str] | None:
    """The milestone and its program's manager (for the access check); None when unknown."""
    m, p = schema.milestones, schema.programs
    r = (
        conn.execute(
            select(m, p.c.manager)
            .join(p, p.c.program_id == m.c.program_id)
            .where(m.c.milestone_id == milestone_id)
        )
        .mappings()
        .first()
    )
    if r is None:
        return None
    labels = milestone_statuses()
    row = MilestoneRow(
        milestone_id=str(r["milestone_id"]),
        program_id=int(r["program_id"]),
        ref=ref_text(bytes.fromhex(str(r["ref"])[2:])),
        beneficiary=str(r["beneficiary"]),
        amount=int(r["amount"]),
        original_amount=None if r["original_amount"] is None else int(r["original_amount"]),
        deadline=int(r["deadline"]),
        original_deadline=None if r["original_deadline"] is None else int(r["original_deadline"]),
        spec_hash=str(r["spec_hash"]),
        evidence_hash=None if r["evidence_hash"] is None else str(r["evidence_hash"]),
        status=labels[int(r["status"])],
        registered_block=int(r["registered_block"]),
        registered_time=int(r["registered_time"]),
        attestations=int(r["attestations"]),
        verified_time=None if r["verified_time"] is None else int(r["verified_time"]),
        released_time=None if r["released_time"] is None else int(r["released_time"]),
        forced=bool(r["forced"]),
        disputed=bool(r["disputed"]),
    )
    return row, str(r["manager"])


def timeline(
    conn: Connection, decoding: EventDecoding, milestone_id: str, *, manager: str | None = None
) -> tuple[Step, ...]:
    """Every event about the milestone in chain order, with who acted."""
    e = schema.events
    rows = conn.execute(
        event_columns()
        .where(e.c.milestone_id == milestone_id)
        .order_by(e.c.block, e.c.log_index)
        .limit(MAX_TIMELINE)
    ).all()
    events = decoding.views(conn, rows)
    council = executed_proposals(conn, [v for v in events if v.name in COUNCIL_ACTED])
    steps = []
    for v in events:
        oracle = v.arg("oracle")
        if oracle is not None:
            steps.append(Step(v, str(oracle), None))
        elif v.tx_hash in council and v.name in COUNCIL_ACTED:
            pid, executor = council[v.tx_hash]
            steps.append(Step(v, executor, pid))
        elif v.name in _BY_MANAGER and v.sender is None:
            # Only the program's manager registers and amends (the index keeps no sender).
            steps.append(Step(v, manager, None))
        else:
            steps.append(Step(v, v.sender, None))
    return tuple(steps)


def challenge_window(
    conn: Connection, row: MilestoneRow, window_now: int, now: int
) -> Window | None:
    """The window of a milestone verified and not yet paid or cancelled. The escrow's rule
    (`_releasableAt`): the program's window, or for a milestone verified before the council
    last changed it, the longer of that and the window in force when it was verified."""
    if row.verified_time is None or row.status not in ("Verified", "Frozen"):
        return None
    e, b = schema.events, schema.blocks
    changes = conn.execute(
        select(b.c.timestamp, e.c.data)
        .join(b, b.c.number == e.c.block)
        .where(e.c.program_id == row.program_id, e.c.name == "ChallengeWindowSet")
        .order_by(e.c.block, e.c.log_index)
    ).all()
    seconds = window_now
    if changes and row.verified_time <= int(changes[-1][0]):
        before = [int(str(d), 16) for t, d in changes if int(t) < row.verified_time]
        created = conn.execute(
            select(e.c.data).where(e.c.program_id == row.program_id, e.c.name == "ProgramCreated")
        ).scalar_one()
        # ProgramCreated's data: token, treasury, challengeWindow (one word each).
        then = before[-1] if before else int(str(created)[2 + 128 : 2 + 192], 16)
        seconds = max(window_now, then)
    ends = row.verified_time + seconds
    return Window(row.verified_time, ends, seconds, row.status == "Verified" and now < ends)


def freeze_command(row: MilestoneRow) -> str | None:
    """The command an overseer runs to propose freezing the milestone (the console never signs):
    `disburse council propose freeze MILESTONE --description …` (disburse.cli.council). Only a
    Verified milestone can be frozen."""
    if row.status != "Verified":
        return None
    reason = f"hold {row.ref} during its challenge window: <why>"
    return f"disburse council propose freeze {row.milestone_id} --description {shlex.quote(reason)}"


def milestone_page(
    queries: IndexQueries,
    conn: Connection,
    decoding: EventDecoding,
    row: MilestoneRow,
    manager: str,
    *,
    forecasts: Callable[[int], tuple[Forecast, ...]] | None = None,
) -> MilestonePage:
    """Everything the milestone page shows, at the index's cursor. `forecasts(program)` gives a
    program's open milestones' forecasts (default: `IndexQueries.forecast`; the page passes
    one answered once per cursor)."""
    cursor = cursor_of(conn)
    p = schema.programs
    window, title, token = conn.execute(
        select(p.c.challenge_window, p.c.title, p.c.token).where(p.c.program_id == row.program_id)
    ).one()
    window_now = int(window)
    forecast = None
    if row.status not in _SETTLED:
        # The analytics decide which milestones are open (an unexpired overdue one is).
        found = forecasts(row.program_id) if forecasts else queries.forecast(row.program_id).value
        forecast = next((f for f in found if f.milestone_id == row.milestone_id), None)
    return MilestonePage(
        cursor=cursor,
        row=row,
        manager=manager,
        program_title=str(title or f"#{row.program_id}"),
        token=queries.token(str(token)),
        timeline=timeline(conn, decoding, row.milestone_id, manager=manager),
        window=challenge_window(conn, row, window_now, cursor.timestamp),
        forecast=forecast,
        freeze_command=freeze_command(row),
    )

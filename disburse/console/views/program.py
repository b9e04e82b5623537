"""The program page's figures: facts and baseline history, the PV/EV/AC S-curves and today's
earned value with green/amber/red bands (the analytics' `Thresholds`), funding and payments over
time, and the milestones.

Earned value comes from `IndexQueries.program` (the analytics' `evm_at` on the program's own
rows); the curves are PV, EV and AC at every instant they move (a deadline, a verification, a
release on the 0/100 method: a step function changes nowhere else), so the chart's points are
exact, not interpolated (tests hold each equal to `evm_at` at its instant).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from sqlalchemy import Connection, select

from disburse._format import ref_text
from disburse.analytics.alerts import Thresholds
from disburse.analytics.evm import EvmPoint, baseline, earned
from disburse.analytics.model import MilestoneFacts
from disburse.index import schema
from disburse.index.queries import IndexQueries, ProgramAnswer
from disburse.index.store import Cursor

Band = Literal["green", "amber", "red", "none"]
T = TypeVar("T")
MAX_POINTS: Final = 120
"""Points of a chart at most (one this wide shows no more, and its table stays readable): the
S-curves' and the funding and payments'."""


@dataclass(frozen=True, slots=True)
class ProgramRow:
    """What the `programs` table says beyond the analytics' facts."""

    program_id: int
    manager: str
    token: str
    treasury: str
    challenge_window: int
    closed: bool
    created_block: int
    baseline_recorded: int | None
    """The original baseline as ProgramDescribed recorded it; None when never described."""


@dataclass(frozen=True, slots=True)
class BaselineStep:
    """One BaselineChanged: the council re-baselined the program."""

    block: int
    log_index: int
    tx_hash: str
    time: int
    previous: int
    baseline: int


@dataclass(frozen=True, slots=True)
class CashPoint:
    """The program's money to date at `time`: cumulative funding, payments and refunds."""

    time: int
    funded: int
    paid: int
    withdrawn: int


@dataclass(frozen=True, slots=True)
class MilestoneLine:
    facts: MilestoneFacts
    ref: str
    spec_hash: str


@dataclass(frozen=True, slots=True)
class ProgramPage:
    cursor: Cursor
    row: ProgramRow
    answer: ProgramAnswer
    baselines: tuple[BaselineStep, ...]
    curve: tuple[CurvePoint, ...]
    cash: tuple[CashPoint, ...]
    milestones: tuple[MilestoneLine, ...]
    bands: dict[str, Band]
    """The band of each earned-value figure that has one: spi, cpi, spi_t, bei, tcpi, eac."""


def program_row(conn: Connection, program_id: int) -> ProgramRow | None:
    """The program's row, None when the index holds no such program (the page's 404; also what
    the access check reads the manager from)."""
    p = schema.programs
    r = conn.execute(select(p).where(p.c.program_id == program_id)).mappings().first()
    if r is None:
        return None
    return ProgramRow(
        program_id=int(r["program_id"]),
        manager=str(r["manager"]),
        token=str(r["token"]),
        treasury=str(r["treasury"]),
        challenge_window=int(r["challenge_window"]),
        closed=bool(r["closed"]),
        created_block=int(r["created_block"]),
        baseline_recorded=None if r["baseline_original"] is None else int(r["baseline_original"]),
    )


def baseline_history(conn: Connection, program_id: int) -> tuple[BaselineStep, ...]:
    """Every BaselineChanged of the program in chain order, with its transaction."""
    b, e = schema.baselines, schema.events
    rows = conn.execute(
        select(b.c.block, b.c.log_index, e.c.tx_hash, b.c.time, b.c.previous, b.c.baseline)
        .join(e, (e.c.block == b.c.block) & (e.c.log_index == b.c.log_index))
        .where(b.c.program_id == program_id)
        .order_by(b.c.block, b.c.log_index)
    )
    return tuple(
        BaselineStep(int(r[0]), int(r[1]), str(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows
    )


def cash_history(
    conn: Connection, program_id: int, *, limit: int = MAX_POINTS
) -> tuple[CashPoint, ...]:
    """Funding (ProgramFunded), payments (the `payments` table) and refunds
    (RemainderWithdrawn) summed to date, one point per instant any of them moved (past `limit`,
    evenly spaced ones and the last: each still exact, the sums run over every movement)."""
    e, b, pay = schema.events, schema.blocks, schema.payments
    moves: list[tuple[int, int, int, str, int]] = []
    rows = conn.execute(
        select(e.c.block, e.c.log_index, b.c.timestamp, e.c.name, e.c.data)
        .join(b, b.c.number == e.c.block)
        .where(
            e.c.program_id == program_id,
            e.c.name.in_(("ProgramFunded", "RemainderWithdrawn")),
        )
    )
    for block, index, time, name, data in rows:
        # Both events carry one non-indexed word: the amount (IMilestoneEscrow).
        moves.append((int(block), int(index), int(time), str(name), int(str(data), 16)))
    for block, index, time, amount in conn.execute(
        select(pay.c.block, pay.c.log_index, pay.c.time, pay.c.amount).where(
            pay.c.program_id == program_id
        )
    ):
        moves.append((int(block), int(index), int(time), "MilestoneReleased", int(amount)))
    moves.sort()
    funded = paid = withdrawn = 0
    points: list[CashPoint] = []
    for _block, _index, time, name, amount in moves:
        if name == "ProgramFunded":
            funded += amount
        elif name == "RemainderWithdrawn":
            withdrawn += amount
        else:
            paid += amount
        point = CashPoint(time, funded, paid, withdrawn)
        if points and points[-1].time == time:
            points[-1] = point
        else:
            points.append(point)
    return _thinned(points, limit)


def _thinned(points: list[T], limit: int, *, keep: int | None = None) -> tuple[T, ...]:
    """At most `limit` of `points` (and the one at index `keep`), evenly spaced, first and last
    kept."""
    if len(points) <= limit:
        return tuple(points)
    kept = {round(i * (len(points) - 1) / (limit - 1)) for i in range(limit)}
    if keep is not None:
        kept.add(keep)
    return tuple(p for i, p in enumerate(points) if i in kept)


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """PV, EV and AC to date at `time` (base units): `evm_at`'s figures at that instant."""

    time: int
    pv: int
    ev: int
    ac: int


def s_curve(answer: ProgramAnswer, now: int, *, limit: int = MAX_POINTS) -> tuple[CurvePoint, ...]:
    """PV, EV and AC at every instant they move (on the 0/100 method a milestone is planned at
    its deadline, earned at its verification unless forced, spent at its release: the analytics'
    `baseline` and `earned`), from the program's creation and through now, summed in one pass
    (`evm_series` at each instant costs a pass over the milestones per instant). Past `limit`
    instants, evenly spaced ones are kept (each still exact: the sums run over all of them)."""
    moves: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for m in baseline(answer.milestones):
        moves[m.deadline][0] += m.amount
        if m.verified_time is not None and earned(m, m.verified_time):
            moves[m.verified_time][1] += m.amount
    for m in answer.milestones:
        if m.released_time is not None:
            moves[m.released_time][2] += m.amount
    instants = sorted({answer.facts.created_time, now, *moves})
    points: list[CurvePoint] = []
    pv = ev = ac = 0
    for t in instants:
        step = moves.get(t)
        if step is not None:
            pv, ev, ac = pv + step[0], ev + step[1], ac + step[2]
        points.append(CurvePoint(t, pv, ev, ac))
    return _thinned(points, limit, keep=instants.index(now))


def milestone_lines(conn: Connection, answer: ProgramAnswer) -> tuple[MilestoneLine, ...]:
    """The program's milestones (id order, as the index gives them) with their references."""
    m = schema.milestones
    pid = answer.facts.program_id
    extra = {
        str(mid): (str(ref), str(spec))
        for mid, ref, spec in conn.execute(
            select(m.c.milestone_id, m.c.ref, m.c.spec_hash).where(m.c.program_id == pid)
        )
    }
    return tuple(
        MilestoneLine(
            f,
            ref_text(bytes.fromhex(extra[f.milestone_id][0][2:])),
            extra[f.milestone_id][1],
        )
        for f in answer.milestones
    )


def index_band(value: float | None, t: Thresholds) -> Band:
    """SPI and CPI against the FEMA dashboard bands the alerts use."""
    if value is None:
        return "none"
    if t.index_green_low <= value <= t.index_green_high:
        return "green"
    if t.index_amber_low <= value <= t.index_amber_high:
        return "amber"
    return "red"


def bands(e: EvmPoint, t: Thresholds) -> dict[str, Band]:
    """Each figure's band by the thresholds the alerts hold it to (disburse.analytics.alerts):
    SPI, CPI by the index bands; SPI(t) by its own two; BEI and TCPI amber past their bound;
    EAC by its growth over the current baseline (Nunn-McCurdy)."""

    def below(value: float | None, amber: float, red: float | None = None) -> Band:
        if value is None:
            return "none"
        if red is not None and value < red:
            return "red"
        return "amber" if value < amber else "green"

    growth: Band = "none"
    if e.eac is not None and e.bac_current > 0:
        over = e.eac / e.bac_current - 1
        growth = (
            "red"
            if over >= t.growth_current_critical
            else "amber"
            if over >= t.growth_current_significant
            else "green"
        )
    return {
        "spi": index_band(e.spi, t),
        "cpi": index_band(e.cpi, t),
        "spi_t": below(e.spi_t, t.spi_t_amber, t.spi_t_red),
        "bei": below(e.bei, t.bei_min),
        "tcpi": "none" if e.tcpi is None else "amber" if e.tcpi > t.tcpi_max else "green",
        "eac": growth,
    }


def program_page(
    queries: IndexQueries, conn: Connection, row: ProgramRow, *, thresholds: Thresholds
) -> ProgramPage:
    """Everything the program page shows, at the index's cursor."""
    at = queries.program(row.program_id)
    answer, now = at.value, at.cursor.timestamp
    return ProgramPage(
        cursor=at.cursor,
        row=row,
        answer=answer,
        baselines=baseline_history(conn, row.program_id),
        curve=s_curve(answer, now),
        cash=cash_history(conn, row.program_id),
        milestones=milestone_lines(conn, answer),
        bands=bands(answer.evm, thresholds),
    )

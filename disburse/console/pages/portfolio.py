"""GET / : the portfolio. The alerts that need attention first, then the totals (funded,
committed, paid, available, execution rate against the share of the fiscal year elapsed), the
roll-ups by organisation, category and fiscal year, and where the funds are: a treemap
organisation -> program -> top recipients drawn on the server as SVG, with its numbers in a
table (a picture without a table shuts out whoever cannot see it).

A program manager sees the totals of the whole portfolio, and only their own programs in the
roll-ups, the rows and the treemap (the roll-ups are then computed from their programs alone).
GET /fragment/portfolio is the live part (everything below the heading), re-fetched when the
index moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from disburse.analytics.alerts import Alert
from disburse.analytics.model import MilestoneFacts, ProgramFacts
from disburse.analytics.rollup import GroupBy, GroupRollup, Totals, ratio, rollup_groups
from disburse.console.auth import Viewer, current_viewer
from disburse.console.data import IndexReader, ProgramRow
from disburse.console.render import render
from disburse.index.store import Cursor
from disburse.report.facts import TokenFacts

GROUPINGS: Final[tuple[GroupBy, ...]] = ("organisation", "category", "fiscal_year")
TOP_RECIPIENTS: Final = 3
ALERTS_SHOWN: Final = 10
WIDTH: Final = 1000
HEIGHT: Final = 560
LABEL_MIN: Final = (90.0, 28.0)
"""A treemap cell is labelled only when at least this wide and tall (viewBox units)."""

router = APIRouter()


@dataclass(frozen=True)
class Cell:
    """One rectangle of the treemap (viewBox units) and what it stands for."""

    x: float
    y: float
    w: float
    h: float
    level: str
    """"org", "program" or "recipient"."""
    label: str
    amount: int
    token: TokenFacts
    shade: int
    """Which of the palette's colours (by organisation)."""
    href: str | None = None

    @property
    def labelled(self) -> bool:
        return self.w >= LABEL_MIN[0] and self.h >= LABEL_MIN[1]


@dataclass(frozen=True)
class TreeRow:
    """A row of the treemap's table: organisation, program, recipient (or none), amount."""

    organisation: str
    program: ProgramRow
    recipient: str | None
    amount: int
    token: TokenFacts


@dataclass(frozen=True)
class Portfolio:
    cursor: Cursor
    totals: Totals
    token: TokenFacts | None
    """The one token of every program; None when programs use several (base units shown)."""
    groups: dict[GroupBy, tuple[GroupRollup, ...]]
    programs: list[ProgramRow]
    tokens: dict[int, TokenFacts]
    alerts: list[Alert]
    alerts_more: int
    cells: list[Cell]
    tree_rows: list[TreeRow]


def sum_totals(groups: tuple[GroupRollup, ...]) -> Totals:
    """The portfolio's totals from one partition of it into groups (every program is in
    exactly one organisation); the year elapsed is the programs' mean."""
    programs = sum(g.totals.programs for g in groups)
    baseline = sum(g.totals.baseline for g in groups)
    paid = sum(g.totals.paid for g in groups)
    weighed = [(g.totals.year_elapsed, g.totals.programs) for g in groups]
    known = [(share, n) for share, n in weighed if share is not None]
    count = sum(n for _, n in known)
    return Totals(
        programs=programs,
        baseline=baseline,
        funded=sum(g.totals.funded for g in groups),
        committed=sum(g.totals.committed for g in groups),
        paid=paid,
        refunded=sum(g.totals.refunded for g in groups),
        available=sum(g.totals.available for g in groups),
        execution_rate=ratio(paid, baseline),
        year_elapsed=sum(share * n for share, n in known) / count if count else None,
        top_recipients=(),
    )


Groups = dict[GroupBy, tuple[GroupRollup, ...]]


def _all_groups(reader: IndexReader) -> tuple[Cursor, Groups]:
    """The read API's roll-ups of every program, by each grouping."""
    answers = {by: reader.queries.rollup(by=by, top_n=TOP_RECIPIENTS) for by in GROUPINGS}
    return answers["organisation"].cursor, {by: a.value for by, a in answers.items()}


def _own_groups(reader: IndexReader, program_ids: list[int], now: Cursor) -> tuple[Cursor, Groups]:
    """The roll-ups of these programs only (a manager's), by the analytics' own function over
    the read API's facts of each."""
    facts: list[ProgramFacts] = []
    milestones: list[MilestoneFacts] = []
    cursor: Cursor | None = None
    for pid in program_ids:
        answer = reader.queries.program(pid)
        cursor = answer.cursor if cursor is None else min(cursor, answer.cursor, key=_number)
        facts.append(answer.value.facts)
        milestones.extend(answer.value.milestones)
    at = cursor if cursor is not None else now
    return at, {
        by: rollup_groups(facts, milestones, by=by, now=at.timestamp, top_n=TOP_RECIPIENTS)
        for by in GROUPINGS
    }


def _number(cursor: Cursor) -> int:
    return cursor.number


def portfolio(reader: IndexReader, viewer: Viewer) -> Portfolio:
    """Everything the page shows, for this viewer. The roll-ups are computed once per cursor
    (IndexReader.per_cursor: at a million events they take a tenth of a second each)."""
    cursor, everything = reader.per_cursor("portfolio-groups", lambda: _all_groups(reader))
    rows = reader.programs()
    visible = [p for p in rows if viewer.may_see(p.manager)]
    if viewer.sees_everything:
        groups = everything
    else:
        ids = [p.program_id for p in visible]
        groups = reader.per_cursor(
            "portfolio-groups-of:" + ",".join(map(str, ids)),
            lambda: _own_groups(reader, ids, cursor),
        )[1]
    tokens = {p.program_id: reader.token(p.token) for p in rows}
    distinct = {tokens[p.program_id] for p in rows}
    seen = {p.program_id for p in visible}
    alerts = [
        a
        for a in reader.all_alerts()
        if (a.program_id in seen if a.program_id is not None else viewer.sees_everything)
    ]
    cells, tree_rows = treemap(reader, visible, tokens)
    return Portfolio(
        cursor=cursor,
        totals=sum_totals(everything["organisation"]),
        token=next(iter(distinct)) if len(distinct) == 1 else None,
        groups=groups,
        programs=visible,
        tokens=tokens,
        alerts=alerts[:ALERTS_SHOWN],
        alerts_more=max(0, len(alerts) - ALERTS_SHOWN),
        cells=cells,
        tree_rows=tree_rows,
    )


# ---------------------------------------------------------------------- the treemap


def _split(
    x: float, y: float, w: float, h: float, weights: list[float], horizontal: bool
) -> list[tuple[float, float, float, float]]:
    """Slices of a rectangle proportional to `weights`, side by side (horizontal) or stacked:
    slice-and-dice, so each level reads in one direction."""
    total = sum(weights)
    out = []
    offset = 0.0
    for weight in weights:
        share = weight / total if total else 1 / len(weights)
        if horizontal:
            out.append((x + offset * w, y, share * w, h))
        else:
            out.append((x, y + offset * h, w, share * h))
        offset += share
    return out


def _weight(amount: int, token: TokenFacts) -> float:
    """An amount in whole tokens, for areas only (never shown: amounts are exact integers)."""
    return float(amount) / float(10**token.decimals)


def treemap(
    reader: IndexReader, programs: list[ProgramRow], tokens: dict[int, TokenFacts]
) -> tuple[list[Cell], list[TreeRow]]:
    """The funds of these programs as rectangles: organisations side by side, each one's
    programs stacked, each program split into its top recipients' payments and the rest of its
    funds (not paid, or paid to others)."""
    funded = [p for p in programs if p.funded > 0]
    by_org: dict[str, list[ProgramRow]] = {}
    for p in funded:
        by_org.setdefault(p.organisation, []).append(p)
    paid_to = reader.top_recipients([p.program_id for p in funded], TOP_RECIPIENTS)
    cells: list[Cell] = []
    rows: list[TreeRow] = []
    orgs = sorted(by_org)
    org_weights = [sum(_weight(p.funded, tokens[p.program_id]) for p in by_org[o]) for o in orgs]
    for shade, (org, (ox, oy, ow, oh)) in enumerate(
        zip(orgs, _split(0, 0, WIDTH, HEIGHT, org_weights, True), strict=True)
    ):
        members = by_org[org]
        token = tokens[members[0].program_id]
        total = sum(p.funded for p in members)
        cells.append(Cell(ox, oy, ow, oh, "org", org, total, token, shade % 6))
        weights = [_weight(p.funded, tokens[p.program_id]) for p in members]
        for p, (px, py, pw, ph) in zip(
            members, _split(ox, oy, ow, oh, weights, False), strict=True
        ):
            tok = tokens[p.program_id]
            href = f"/programs/{p.program_id}"
            cells.append(Cell(px, py, pw, ph, "program", p.title, p.funded, tok, shade % 6, href))
            parts = [(b, amount) for b, amount in paid_to[p.program_id] if amount > 0]
            rest = p.funded - sum(amount for _, amount in parts)
            pieces: list[tuple[str | None, int]] = [*parts, *([(None, rest)] if rest > 0 else [])]
            for (who, amount), (rx, ry, rw, rh) in zip(
                pieces,
                _split(px, py, pw, ph, [_weight(a, tok) for _, a in pieces], True),
                strict=True,
            ):
                cells.append(
                    Cell(rx, ry, rw, rh, "recipient", who or "", amount, tok, shade % 6, href)
                )
                rows.append(TreeRow(org, p, who, amount, tok))
    return cells, rows


# ---------------------------------------------------------------------- routes


@router.get("/", response_class=HTMLResponse)
def portfolio_page(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    found = portfolio(request.app.state.reader, viewer)
    return render(request, viewer, "portfolio.html", p=found, groupings=GROUPINGS)


@router.get("/fragment/portfolio", response_class=HTMLResponse)
def portfolio_fragment(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    found = portfolio(request.app.state.reader, viewer)
    return render(request, viewer, "_portfolio.html", p=found, groupings=GROUPINGS)

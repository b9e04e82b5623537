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

from fastapi import APIRouter, Depends, HTTPException, Query, Request
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
TREEMAP_PROGRAMS: Final = 40
"""The treemap draws this many programs (the largest); each organisation's others are one cell
(at a thousand programs the picture and its table stay readable, and the page small)."""
PAGE_SIZE: Final = 100
"""Programs per page of the programs table."""
ALERTS_SHOWN: Final = 10
WIDTH: Final = 1000
HEIGHT: Final = 560
LABEL_MIN: Final = (60.0, 22.0)
"""A treemap cell is labelled only when at least this wide and tall (viewBox units)."""
ORG_HEADER: Final = 22.0
"""The band at the top of an organisation's rectangle that holds its name."""
PALETTE: Final = 6
"""Colours of the organisations (console.css: tm-shade-0 .. tm-shade-5)."""

router = APIRouter()


@dataclass(frozen=True)
class Box:
    """A rectangle of the treemap, in viewBox units."""

    x: float
    y: float
    w: float
    h: float

    def fits(self, chars: int = 4) -> bool:
        """Whether a label of about `chars` characters can be written inside."""
        return self.w >= LABEL_MIN[0] and self.h >= LABEL_MIN[1] and self.w >= chars * 4

    def chars(self) -> int:
        """How many characters of a label fit across (the label font is ~8.5 units wide)."""
        return max(0, int((self.w - 10) / 8.5))


@dataclass(frozen=True)
class Part:
    """A share of a program's funds: paid to one recipient, or the rest (`recipient` None)."""

    box: Box
    recipient: str | None
    amount: int


@dataclass(frozen=True)
class ProgramBox:
    box: Box
    program: ProgramRow
    token: TokenFacts
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Others:
    """An organisation's programs beyond the TREEMAP_PROGRAMS largest, as one rectangle."""

    box: Box
    count: int
    amount: int
    token: TokenFacts


@dataclass(frozen=True)
class OrgBox:
    box: Box
    name: str
    shade: int
    """Which of the palette's colours."""
    programs: tuple[ProgramBox, ...]
    others: Others | None


@dataclass(frozen=True)
class TreeRow:
    """A row of the treemap's table: organisation, program (None: its other programs, `others`
    of them), recipient (None: the rest of the funds), amount."""

    organisation: str
    program: ProgramRow | None
    recipient: str | None
    amount: int
    token: TokenFacts
    others: int = 0


@dataclass(frozen=True)
class Portfolio:
    cursor: Cursor
    totals: Totals
    token: TokenFacts | None
    """The one token of every program; None when programs use several (base units shown)."""
    groups: dict[GroupBy, tuple[GroupRollup, ...]]
    programs: list[ProgramRow]
    """The programs of this page of the table (PAGE_SIZE of the visible ones, id order)."""
    page: int
    pages: int
    visible: int
    """How many programs the viewer may see."""
    tokens: dict[int, TokenFacts]
    alerts: list[Alert]
    alerts_more: int
    treemap: tuple[OrgBox, ...]
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


def warm(reader: IndexReader) -> None:
    """Computes what the portfolio shares between requests (roll-ups, programs, alerts), so
    that the first visitor of a big index does not wait for them (`disburse console serve`
    calls it in a thread at start)."""
    reader.per_cursor("portfolio-groups", lambda: _all_groups(reader))
    reader.programs()
    reader.all_alerts()


def portfolio(reader: IndexReader, viewer: Viewer, page: int = 1) -> Portfolio:
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
    boxes, tree_rows = treemap(reader, visible, tokens)
    pages = max(1, -(-len(visible) // PAGE_SIZE))
    if page > pages:
        raise HTTPException(400, f"page {page}: the programs fill {pages} page(s)")
    return Portfolio(
        cursor=cursor,
        totals=sum_totals(everything["organisation"]),
        token=next(iter(distinct)) if len(distinct) == 1 else None,
        groups=groups,
        programs=visible[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        page=page,
        pages=pages,
        visible=len(visible),
        tokens=tokens,
        alerts=alerts[:ALERTS_SHOWN],
        alerts_more=max(0, len(alerts) - ALERTS_SHOWN),
        treemap=boxes,
        tree_rows=tree_rows,
    )


# ---------------------------------------------------------------------- the treemap


def _worst(row: list[float], side: float) -> float:
    """The worst aspect ratio of a row of areas laid along a side of this length."""
    total = sum(row)
    return max(max(row) * side**2 / total**2, total**2 / (side**2 * min(row)))


def squarify(weights: list[float], box: Box) -> list[Box]:
    """Rectangles of `box` with areas proportional to `weights` (all positive), as square as the
    squarified layout makes them (Bruls, Huizing, van Wijk 2000): the largest first, rows laid
    along the shorter side while adding one more does not make the row's worst ratio worse."""
    total = sum(weights)
    scale = box.w * box.h / total if total > 0 else 0.0
    order = sorted(range(len(weights)), key=lambda i: (-weights[i], i))
    out: list[Box] = [Box(box.x, box.y, 0.0, 0.0)] * len(weights)
    x, y, w, h = box.x, box.y, box.w, box.h
    i = 0
    while i < len(order) and w > 0 and h > 0:
        side = min(w, h)
        row = [order[i]]
        i += 1
        while i < len(order) and _worst(
            [weights[j] * scale for j in [*row, order[i]]], side
        ) <= _worst([weights[j] * scale for j in row], side):
            row.append(order[i])
            i += 1
        area = sum(weights[j] * scale for j in row)
        if w >= h:  # a column at the left
            width = area / h
            offset = y
            for j in row:
                height = weights[j] * scale / width
                out[j] = Box(x, offset, width, height)
                offset += height
            x, w = x + width, w - width
        else:  # a row at the top
            height = area / w
            offset = x
            for j in row:
                width = weights[j] * scale / height
                out[j] = Box(offset, y, width, height)
                offset += width
            y, h = y + height, h - height
    return out


def _weight(amount: int, token: TokenFacts) -> float:
    """An amount in whole tokens, for areas only (never shown: amounts are exact integers)."""
    return float(amount) / float(10**token.decimals)


def _inset(box: Box, top: float, side: float) -> Box:
    return Box(box.x + side, box.y + top, max(0.0, box.w - 2 * side), max(0.0, box.h - top - side))


def treemap(
    reader: IndexReader, programs: list[ProgramRow], tokens: dict[int, TokenFacts]
) -> tuple[tuple[OrgBox, ...], list[TreeRow]]:
    """The funds of these programs as nested rectangles, area for amount: organisations, in
    each its programs, in each its top recipients' payments and the rest of its funds (not paid
    yet, or paid to others); and the same numbers as rows of a table."""
    funded = [p for p in programs if p.funded > 0]
    ranked = sorted(funded, key=lambda p: (-_weight(p.funded, tokens[p.program_id]), p.program_id))
    drawn = {p.program_id for p in ranked[:TREEMAP_PROGRAMS]}
    by_org: dict[str, list[ProgramRow]] = {}
    rest_of: dict[str, list[ProgramRow]] = {}
    for p in funded:
        (by_org if p.program_id in drawn else rest_of).setdefault(p.organisation, []).append(p)
        by_org.setdefault(p.organisation, [])
    paid_to = reader.top_recipients(sorted(drawn), TOP_RECIPIENTS)
    orgs = sorted(by_org)

    def weight(p: ProgramRow) -> float:
        return _weight(p.funded, tokens[p.program_id])

    weights = [sum(map(weight, by_org[o])) + sum(map(weight, rest_of.get(o, []))) for o in orgs]
    out: list[OrgBox] = []
    rows: list[TreeRow] = []
    for shade, (org, org_box) in enumerate(
        zip(orgs, squarify(weights, Box(0, 0, WIDTH, HEIGHT)), strict=True)
    ):
        members = by_org[org]
        extra = rest_of.get(org, [])
        inner = _inset(org_box, ORG_HEADER if org_box.h > 3 * ORG_HEADER else 2, 2)
        boxes = squarify(
            [*map(weight, members), *([sum(map(weight, extra))] if extra else [])], inner
        )
        others = None
        if extra:
            amount = sum(p.funded for p in extra)
            others = Others(boxes[-1], len(extra), amount, tokens[extra[0].program_id])
            boxes = boxes[:-1]
        placed = []
        for p, program_box in zip(members, boxes, strict=True):
            token = tokens[p.program_id]
            pieces: list[tuple[str | None, int]] = [
                (b, amount) for b, amount in paid_to[p.program_id] if amount > 0
            ]
            rest = p.funded - sum(amount for _, amount in pieces)
            if rest > 0:
                pieces.append((None, rest))
            part_boxes = squarify([_weight(a, token) for _, a in pieces], _inset(program_box, 1, 1))
            parts = tuple(
                Part(b, who, amount) for (who, amount), b in zip(pieces, part_boxes, strict=True)
            )
            placed.append(ProgramBox(program_box, p, token, parts))
            rows.extend(TreeRow(org, p, part.recipient, part.amount, token) for part in parts)
        if others is not None:
            rows.append(TreeRow(org, None, None, others.amount, others.token, others.count))
        out.append(OrgBox(org_box, org, shade % PALETTE, tuple(placed), others))
    return tuple(out), rows


# ---------------------------------------------------------------------- routes

Page = Annotated[int, Query(ge=1, le=1_000_000, description="page of the programs table")]


@router.get("/", response_class=HTMLResponse)
def portfolio_page(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)], page: Page = 1
) -> HTMLResponse:
    found = portfolio(request.app.state.reader, viewer, page)
    return render(request, viewer, "portfolio.html", p=found, groupings=GROUPINGS)


@router.get("/fragment/portfolio", response_class=HTMLResponse)
def portfolio_fragment(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)], page: Page = 1
) -> HTMLResponse:
    found = portfolio(request.app.state.reader, viewer, page)
    return render(request, viewer, "_portfolio.html", p=found, groupings=GROUPINGS)

"""GET /programs/{id}: one program's facts and baseline history, its PV/EV/AC S-curves and
earned-value figures with their bands, funding and payments over time, and its milestones
(sortable, filterable, each linking to its page). Each chart is followed by a table of its
numbers.

GET /programs/{id}/fragment/milestones is the live part (the figures and the milestones),
re-fetched when the index moves. A program the viewer may not see answers 404, as an unknown
one does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from disburse.console.auth import Viewer, current_viewer, require_program
from disburse.console.i18n import t
from disburse.console.pages._detail import (
    NOT_FOUND,
    json_block,
    page_context,
    program_id,
    reader_of,
    thresholds,
)
from disburse.console.render import render, request_lang
from disburse.console.views.program import ProgramPage, program_page, program_row

router = APIRouter()


def _page(request: Request, viewer: Viewer, text: str) -> ProgramPage:
    pid = program_id(text)
    reader = reader_of(request)
    with reader.store.engine.connect() as conn:
        row = program_row(conn, pid)
        if row is None:
            raise HTTPException(404, NOT_FOUND)
        require_program(viewer, row.manager)
        return program_page(reader.queries, conn, row, thresholds=thresholds(request))


def _units(amount: int, decimals: int) -> float:
    """An amount as a chart coordinate in whole tokens (the tables beside show it exactly)."""
    return float(amount / 10**decimals)


def charts(page: ProgramPage, lang: str) -> dict[str, Any]:
    """The charts' numbers and labels for /static/charts.js."""
    facts = page.answer.facts
    d = facts.token_decimals
    return {
        "symbol": facts.token_symbol,
        "scurve": {
            "title": t(lang, "program.scurve"),
            "t": [p.time for p in page.curve],
            "series": [
                {"label": t(lang, "program.pv"), "values": [_units(p.pv, d) for p in page.curve]},
                {"label": t(lang, "program.ev"), "values": [_units(p.ev, d) for p in page.curve]},
                {"label": t(lang, "program.ac"), "values": [_units(p.ac, d) for p in page.curve]},
            ],
        },
        "cash": {
            "title": t(lang, "program.cash"),
            "t": [c.time for c in page.cash],
            "series": [
                {
                    "label": t(lang, "program.cash_funded"),
                    "values": [_units(c.funded, d) for c in page.cash],
                },
                {
                    "label": t(lang, "program.cash_paid"),
                    "values": [_units(c.paid, d) for c in page.cash],
                },
                {
                    "label": t(lang, "program.cash_withdrawn"),
                    "values": [_units(c.withdrawn, d) for c in page.cash],
                },
            ],
        },
    }


@router.get("/programs/{program}", response_class=HTMLResponse)
def program(
    request: Request, program: str, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    page = _page(request, viewer, program)
    return render(
        request,
        viewer,
        "program.html",
        page=page,
        charts=json_block(charts(page, request_lang(request))),
        **page_context(request),
    )


@router.get("/programs/{program}/fragment/milestones", response_class=HTMLResponse)
def program_fragment(
    request: Request, program: str, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    page = _page(request, viewer, program)
    return render(request, viewer, "_program_live.html", page=page, **page_context(request))

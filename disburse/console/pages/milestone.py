"""GET /milestones/{id}: one milestone's facts, its timeline (registered, each attestation and
by which oracle, verified, frozen, released, cancelled, force-released, amended, beneficiary
replaced: who did each, with block and transaction), its challenge window with a live
countdown, its evidence and specification hashes, its forecast with the reasons, and the
`disburse council propose freeze …` command an overseer would run (the console never signs).

GET /milestones/{id}/fragment/timeline is the live part (status, window and timeline). A
milestone of a program the viewer may not see answers 404, as an unknown one does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from disburse.analytics.forecast import Forecast
from disburse.console.auth import Viewer, current_viewer, require_program
from disburse.console.data import IndexReader
from disburse.console.pages._detail import page_context, reader_of, views
from disburse.console.render import render
from disburse.console.views.milestone import (
    MilestonePage,
    milestone_page,
    milestone_row,
    parse_milestone_id,
)
from disburse.index.store import Cursor

router = APIRouter()
NOT_FOUND = "no such milestone"


def _page(request: Request, viewer: Viewer, text: str) -> MilestonePage:
    mid = parse_milestone_id(text.strip())
    if mid is None:
        raise HTTPException(400, f"a milestone id is 0x and 64 hex digits, not {text[:80]!r}")
    reader = reader_of(request)
    with reader.store.engine.connect() as conn:
        found = milestone_row(conn, mid)
        if found is None:
            raise HTTPException(404, NOT_FOUND)
        row, manager = found
        try:
            require_program(viewer, manager)
        except HTTPException:
            raise HTTPException(404, NOT_FOUND) from None
        return milestone_page(
            reader.queries,
            conn,
            views(request).decoding,
            row,
            manager,
            forecasts=lambda program: _forecasts(reader, program),
        )


def _forecasts(reader: IndexReader, program: int) -> tuple[Forecast, ...]:
    """A program's forecasts once per cursor: the first at a new cursor reads every milestone
    (everyone's lateness record), seconds at a million events; later cursors are then served the
    previous answer while one thread computes the new one (`IndexReader.per_cursor`)."""

    def compute() -> tuple[Cursor, tuple[Forecast, ...]]:
        at = reader.queries.forecast(program)
        return at.cursor, at.value

    return reader.per_cursor(f"forecast:{program}", compute)[1]


@router.get("/milestones/{milestone}", response_class=HTMLResponse)
def milestone(
    request: Request, milestone: str, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    page = _page(request, viewer, milestone)
    return render(request, viewer, "milestone.html", page=page, **page_context(request))


@router.get("/milestones/{milestone}/fragment/timeline", response_class=HTMLResponse)
def milestone_fragment(
    request: Request, milestone: str, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    page = _page(request, viewer, milestone)
    return render(request, viewer, "_milestone_live.html", page=page, **page_context(request))

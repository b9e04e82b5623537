"""GET /events: every event decoded into words, filtered by program, milestone, address, kind and
date range (each parameter validated and bounded; a bad one is a 400 naming it), newest first,
a page at a time (keyset: `before=BLOCK-LOG`, `size` at most 200). GET /events/fragment is the
live list with the same filters; GET /events.csv the same events as CSV, amounts in base units.

A program manager's events are those of their programs; a filter naming another program or one
of its milestones answers 404, as one naming no program does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from disburse.console.auth import Viewer, current_viewer
from disburse.console.pages._detail import (
    NOT_FOUND,
    page_context,
    reader_of,
    views,
    visible_programs,
)
from disburse.console.render import render
from disburse.console.views.events import (
    EventFilter,
    EventsPage,
    FilterError,
    csv_lines,
    event_kinds,
    events_page,
    parse_before,
    parse_filter,
    parse_size,
)
from disburse.console.views.milestone import milestone_row

router = APIRouter()


def _filter(request: Request, viewer: Viewer) -> EventFilter:
    params = {k: v for k, v in request.query_params.items()}
    decoding = views(request).decoding
    visible = visible_programs(request, viewer)
    try:
        found = parse_filter(params, kinds=event_kinds(decoding), visible=visible)
    except FilterError as exc:
        raise HTTPException(400, str(exc)) from None
    if visible is not None:
        if found.program is not None and found.program not in visible:
            raise HTTPException(404, NOT_FOUND)
        if found.milestone is not None:
            with reader_of(request).store.engine.connect() as conn:
                row = milestone_row(conn, found.milestone)
            if row is None or row[0].program_id not in visible:
                raise HTTPException(404, "no such milestone")
    return found


def _page(request: Request, viewer: Viewer) -> tuple[EventFilter, EventsPage]:
    f = _filter(request, viewer)
    try:
        before = parse_before(request.query_params.get("before"))
        size = parse_size(request.query_params.get("size"))
    except FilterError as exc:
        raise HTTPException(400, str(exc)) from None
    with reader_of(request).store.engine.connect() as conn:
        page = events_page(conn, views(request).decoding, f, before=before, size=size)
    return f, page


def _context(request: Request, f: EventFilter, page: EventsPage) -> dict[str, Any]:
    kinds = sorted(event_kinds(views(request).decoding))
    return {"f": f, "page": page, "kinds": kinds, **page_context(request)}


@router.get("/events", response_class=HTMLResponse)
def events(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> HTMLResponse:
    f, page = _page(request, viewer)
    return render(request, viewer, "events.html", **_context(request, f, page))


@router.get("/events/fragment", response_class=HTMLResponse)
def events_fragment(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    f, page = _page(request, viewer)
    return render(request, viewer, "_events_list.html", **_context(request, f, page))


@router.get("/events.csv")
def events_csv(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> StreamingResponse:
    f = _filter(request, viewer)
    reader = reader_of(request)
    decoding = views(request).decoding

    def lines() -> Iterator[str]:
        # One read snapshot for the whole file, however many chunks it is read in.
        with reader.store.engine.connect() as conn, conn.begin():
            yield from csv_lines(conn, decoding, f)

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="events.csv"'},
    )

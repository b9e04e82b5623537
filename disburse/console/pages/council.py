"""GET /council: the oversight council's queue, as Safe's is shown: open proposals decoded into
plain words, approvals counted against the current members and threshold, who still has to
approve, time to expiry, and a loud warning on every proposal that moves money or changes who
decides; executed and expired ones below.

GET /council/fragment/queue is the live part (members and every proposal). A program manager
sees only the proposals about their own programs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from disburse.console.auth import Viewer, current_viewer
from disburse.console.pages._detail import page_context, reader_of, views, visible_programs
from disburse.console.render import render
from disburse.console.views.council import CouncilPage, council_page
from disburse.index.store import Cursor

router = APIRouter()


def _page(request: Request, viewer: Viewer) -> CouncilPage:
    made = views(request)
    visible = visible_programs(request, viewer)
    reader = reader_of(request)

    def compute() -> tuple[Cursor, CouncilPage]:
        with reader.store.engine.connect() as conn, conn.begin():
            page = council_page(conn, made.decoding, made.describer, visible=visible)
        return page.cursor, page

    # Every proposal described (a hundred decoded calls): once per block the index reads.
    name = "council" if visible is None else f"council:{','.join(map(str, sorted(visible)))}"
    return reader.per_cursor(name, compute)[1]


@router.get("/council", response_class=HTMLResponse)
def council(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> HTMLResponse:
    page = _page(request, viewer)
    return render(request, viewer, "council.html", page=page, **page_context(request))


@router.get("/council/fragment/queue", response_class=HTMLResponse)
def council_fragment(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    page = _page(request, viewer)
    return render(request, viewer, "_council_queue.html", page=page, **page_context(request))

"""GET /oracles: per oracle, its attestations, its disagreements (attested evidence other than
the verified one, and the disputes it raised) and its latency (attestation time minus the
milestone's registration time). GET /oracles/fragment is the live part. A program manager sees
the oracles' work on their own programs' milestones only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from disburse.console.auth import Viewer, current_viewer
from disburse.console.pages._detail import page_context, reader_of, visible_programs
from disburse.console.render import render
from disburse.console.views._events import cursor_of
from disburse.console.views.oracles import OracleLine, oracle_lines
from disburse.index.store import Cursor

router = APIRouter()


def _lines(request: Request, viewer: Viewer) -> tuple[OracleLine, ...]:
    visible = visible_programs(request, viewer)
    reader = reader_of(request)

    def compute() -> tuple[Cursor, tuple[OracleLine, ...]]:
        with reader.store.engine.connect() as conn, conn.begin():
            cursor = cursor_of(conn)
            return cursor, oracle_lines(conn, visible)

    # A GROUP BY over every attestation: once per block the index reads, shared by requests.
    name = "oracles" if visible is None else f"oracles:{','.join(map(str, sorted(visible)))}"
    return reader.per_cursor(name, compute)[1]


@router.get("/oracles", response_class=HTMLResponse)
def oracles(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> HTMLResponse:
    found = _lines(request, viewer)
    return render(request, viewer, "oracles.html", lines=found, **page_context(request))


@router.get("/oracles/fragment", response_class=HTMLResponse)
def oracles_fragment(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    found = _lines(request, viewer)
    return render(request, viewer, "_oracles_table.html", lines=found, **page_context(request))

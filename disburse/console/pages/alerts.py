"""GET /alerts: every alert of the programs the viewer may see, most severe first, each naming
its program (and milestone) with the numbers behind it, PAGE_SIZE to a page (`?page=N`).
GET /alerts/fragment (same parameter) is the live part.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from disburse.console.auth import Viewer, current_viewer
from disburse.console.pages._detail import page_context, reader_of, visible_programs
from disburse.console.render import render
from disburse.console.views.alerts import page_of, visible_alerts

router = APIRouter()


def _context(request: Request, viewer: Viewer) -> dict[str, Any]:
    text = request.query_params.get("page", "1").strip() or "1"
    if not text.isascii() or not text.isdigit() or len(text) > 6 or int(text) < 1:
        raise HTTPException(400, f"page must be a whole number from 1, not {text[:20]!r}")
    found = visible_alerts(reader_of(request).all_alerts(), visible_programs(request, viewer))
    shown, pages = page_of(found, int(text))
    return {
        "alerts": shown,
        "total": len(found),
        "page": min(int(text), pages),
        "pages": pages,
        "red": sum(1 for a in found if a.severity == "red"),
        **page_context(request),
    }


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> HTMLResponse:
    return render(request, viewer, "alerts.html", **_context(request, viewer))


@router.get("/alerts/fragment", response_class=HTMLResponse)
def alerts_fragment(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    return render(request, viewer, "_alerts_list.html", **_context(request, viewer))

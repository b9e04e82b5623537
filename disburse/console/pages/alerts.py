"""GET /alerts: every alert of the programs the viewer may see, most severe first, each naming
its program (and milestone) with the numbers behind it. GET /alerts/fragment is the live part.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from disburse.analytics.alerts import Alert
from disburse.console.auth import Viewer, current_viewer
from disburse.console.pages._detail import page_context, reader_of, visible_programs
from disburse.console.render import render
from disburse.console.views.alerts import visible_alerts

router = APIRouter()


def _alerts(request: Request, viewer: Viewer) -> tuple[Alert, ...]:
    return visible_alerts(reader_of(request).all_alerts(), visible_programs(request, viewer))


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> HTMLResponse:
    found = _alerts(request, viewer)
    return render(request, viewer, "alerts.html", alerts=found, **page_context(request))


@router.get("/alerts/fragment", response_class=HTMLResponse)
def alerts_fragment(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> HTMLResponse:
    found = _alerts(request, viewer)
    return render(request, viewer, "_alerts_list.html", alerts=found, **page_context(request))

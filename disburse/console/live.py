"""GET /live: server-sent events telling an open page that the index has moved.

The stream polls the index's cursor every `poll_s` and sends `event: ledger` with
`{"block": N, "hash": "0x..."}` when it changes (console.js then triggers htmx's `ledger` event
on the page's body, and every live region re-fetches its fragment). A page says which block it
shows (`?since=N`): when the index is already past it, the first event is sent at once, so a page
rendered just before a new block never stays behind. A comment line every `KEEPALIVE_S` keeps
proxies from closing an idle stream; the stream ends after `max_s` (the browser reconnects).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from disburse.console.auth import Viewer, current_viewer
from disburse.console.data import IndexReader
from disburse.console.render import render
from disburse.index.store import Cursor

KEEPALIVE_S: Final = 15.0
RETRY_MS: Final = 1000

router = APIRouter()


def _event(cursor: Cursor) -> str:
    body = json.dumps({"block": cursor.number, "hash": cursor.hash})
    return f"event: ledger\ndata: {body}\n\n"


async def stream(
    request: Request, reader: IndexReader, since: int | None, poll_s: float, max_s: float
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    seen = await run_in_threadpool(reader.live_cursor)
    if seen is not None and since is not None and seen.number != since:
        yield _event(seen)
    started = last_sent = time.monotonic()
    while time.monotonic() - started < max_s:
        await asyncio.sleep(poll_s)
        if await request.is_disconnected():
            return
        now = await run_in_threadpool(reader.live_cursor)
        if now is not None and now != seen:
            seen = now
            last_sent = time.monotonic()
            yield _event(now)
        elif time.monotonic() - last_sent >= KEEPALIVE_S:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"


@router.get("/live")
def live(
    request: Request,
    viewer: Annotated[Viewer, Depends(current_viewer)],
    since: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> StreamingResponse:
    state = request.app.state
    return StreamingResponse(
        stream(request, state.reader, since, state.config.poll_s, state.live_max_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/fragment/freshness", response_class=HTMLResponse)
def freshness(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> HTMLResponse:
    """The freshness banner alone (base.html includes it; htmx swaps it on `ledger`)."""
    return render(request, viewer, "_banner.html")

"""`create_app(config)`: the console as a FastAPI application.

- the pages: the `router` of every module in `PAGES` (an explicit list), the login routes
  (disburse.console.auth), /live (disburse.console.live), /healthz, /static;
- a middleware that refuses a state-changing request whose Origin (or Referer) is not the
  console's own (403) and puts the security headers on every response (the content security
  policy allows only the console's own scripts, styles and images: no inline code at all);
- error pages: a logged-out browser is sent to /login?next=..., a bad parameter is a 400 page
  naming it, anything unexpected a 500 page that says nothing of the inside.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Final
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from disburse.console import auth, live
from disburse.console.auth import LoginRequired, viewer_or_none
from disburse.console.config import ConsoleConfig
from disburse.console.data import IndexReader
from disburse.console.pages import alerts, council, events, milestone, oracles, portfolio, program
from disburse.console.render import render
from disburse.console.users import UserStore
from disburse.index.queries import UnknownProgramError
from disburse.index.store import IndexStoreError

PAGES: Final[tuple[ModuleType, ...]] = (
    portfolio,
    program,
    milestone,
    council,
    alerts,
    events,
    oracles,
)
"""The page modules whose `router` the app includes (disburse/console/pages/)."""

STATIC: Final = Path(__file__).parent / "static"
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it Chromium sends `Origin: null` with a form POST, which the Origin
    # check must refuse. same-origin keeps URLs (ids, filters) from leaving for other sites.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
LIVE_MAX_S: Final = 600.0

log = logging.getLogger(__name__)


def own_origin(request: Request, config: ConsoleConfig) -> str:
    if config.public_origin is not None:
        return config.public_origin.rstrip("/")
    host = request.headers.get("host", f"{config.host}:{config.port}")
    return f"{request.url.scheme}://{host}"


LOOPBACK: Final = ("127.0.0.1", "localhost", "[::1]")
ANY_ADDRESS: Final = ("0.0.0.0", "::", "")  # noqa: S104 - names of a bind-all, compared only


def allowed_hosts(config: ConsoleConfig) -> frozenset[str] | None:
    """The Host headers the console answers (None: any, for a console bound to every address
    with no public origin given). Any other name is a page of another site whose name was made
    to resolve to this machine (DNS rebinding): refused before it reaches a page or the login."""
    if config.public_origin is not None:
        return frozenset({urlsplit(config.public_origin).netloc.lower()})
    if config.host in ANY_ADDRESS:
        return None
    names = {config.host.lower(), *LOOPBACK} if config.host in LOOPBACK else {config.host.lower()}
    return frozenset(f"{name}:{config.port}" for name in names)


def _origin_of(request: Request) -> str | None:
    origin = request.headers.get("origin")
    if origin:
        return origin.rstrip("/")
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def create_app(
    config: ConsoleConfig,
    *,
    users: UserStore | None = None,
    reader: IndexReader | None = None,
    live_max_s: float = LIVE_MAX_S,
) -> FastAPI:
    """The console over `config`'s index and accounts (both must exist)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, title="disburse console")
    app.state.config = config
    app.state.users = users or UserStore.open_existing(
        config.users_db, idle_s=config.session_idle_s
    )
    app.state.reader = reader or IndexReader(config)
    app.state.live_max_s = live_max_s
    hosts = allowed_hosts(config)

    @app.middleware("http")
    async def security(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response: Response
        if hosts is not None and request.headers.get("host", "").lower() not in hosts:
            response = PlainTextResponse(
                "421: this console does not answer to that host name (see --public-origin)",
                status_code=421,
            )
        elif request.method not in SAFE_METHODS and _origin_of(request) != own_origin(
            request, config
        ):
            response = PlainTextResponse(
                "403: this request did not come from the console's own pages", status_code=403
            )
        else:
            try:
                response = await call_next(request)
            except Exception:  # here, not in a handler, so that a 500 gets the headers too
                log.exception("console error on %s", request.url.path)
                response = _internal_error(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        token = getattr(request.state, "new_session", None)
        if isinstance(token, str):
            auth.set_session_cookie(response, token, config)
        return response

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(auth.router)
    app.include_router(live.router)
    for page in PAGES:
        app.include_router(page.router)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        cursor = app.state.reader.cursor()
        return {"ok": True, "block": None if cursor is None else cursor.number}

    _error_pages(app)
    return app


def _is_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and "hx-request" not in request.headers


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return _error(request, 400, problems[:500])

    @app.exception_handler(IndexStoreError)
    async def index_not_ready(request: Request, exc: IndexStoreError) -> Response:
        if isinstance(exc, UnknownProgramError):
            return _error(request, 404, "no such program")
        # e.g. an index that has read no block yet, or is being refolded after a migration
        return _error(request, 503, str(exc))


def _internal_error(request: Request) -> Response:
    """A 500 page that says nothing of the inside (the log has the traceback)."""
    try:
        return _error(request, 500, "")
    except Exception:  # the page itself cannot be drawn (e.g. the index is gone)
        log.exception("console error page on %s", request.url.path)
        return PlainTextResponse("500: the console failed to answer", status_code=500)


def _error(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """An error as a page for a browser, as plain text or JSON for anything else."""
    if status == 401 and not _is_page(request):
        return PlainTextResponse("401: log in first", status_code=401, headers=headers)
    if _is_page(request):
        try:
            viewer = viewer_or_none(request) if status != 401 else None
        except HTTPException:
            viewer = None
        return render(
            request,
            viewer,
            "error.html",
            status_code=status,
            headers=headers,
            status=status,
            detail=detail,
        )
    if request.url.path.endswith(".json"):
        return JSONResponse({"error": detail, "status": status}, status_code=status)
    return PlainTextResponse(f"{status}: {detail}", status_code=status, headers=headers)

"""Who is looking: the session cookie (or the trusted single sign-on header), the viewer it
names, and what that viewer may see.

Overseers and auditors see everything; a program manager sees the programs whose on-chain
`manager` is one of their addresses, and the portfolio's totals. A page about a program the
viewer may not see answers 404, as for a program that does not exist: the console does not
confirm to someone what they may not see.

Routes: GET/POST /login, POST /logout, POST /lang (the language cookie). Every POST passes the
app's Origin check first (disburse.console.app).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from disburse.chain.errors import DisburseError
from disburse.console.config import ConsoleConfig
from disburse.console.i18n import LANGS
from disburse.console.users import Account, Throttled, UserStore

SESSION_COOKIE: Final = "console_session"
NEXT_MAX: Final = 512


@dataclass(frozen=True)
class Viewer:
    name: str
    role: str
    managers: frozenset[str]
    """Checksummed manager addresses (a program manager's); empty for the other roles."""

    @property
    def sees_everything(self) -> bool:
        return self.role in ("overseer", "auditor")

    def may_see(self, program_manager: str) -> bool:
        """Whether the viewer may see a program managed by this address."""
        if self.sees_everything:
            return True
        return program_manager.lower() in {m.lower() for m in self.managers}

    @classmethod
    def of(cls, account: Account) -> Viewer:
        return cls(account.name, account.role, frozenset(account.managers))


class LoginRequired(DisburseError):  # noqa: N818 - a control-flow signal, not a failure
    """A logged-out browser asking for a page: sent to /login?next=PATH (app.py)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def client_host(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _config(request: Request) -> ConsoleConfig:
    config: ConsoleConfig = request.app.state.config
    return config


def _users(request: Request) -> UserStore:
    users: UserStore = request.app.state.users
    return users


def _wants_page(request: Request) -> bool:
    """A browser navigating (redirect it to the login) rather than a fragment, an event stream
    or a download (answer 401)."""
    if request.method != "GET" or "hx-request" in request.headers:
        return False
    path = request.url.path
    if path == "/live" or path.endswith(".csv") or "/fragment" in path:
        return False
    return "text/html" in request.headers.get("accept", "")


def _trusted(request: Request) -> Viewer | None:
    """The viewer the single sign-on header names, from a trusted proxy only (from any other
    client the header is ignored). Its first request of a session starts one (logged once)."""
    config = _config(request)
    header = config.trusted_header
    if header is None or client_host(request) not in config.trusted_proxies:
        return None
    name = request.headers.get(header)
    if not name:
        return None
    users = _users(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session = users.session(token, client_host(request)) if token else None
    if session is not None and session.name == name:
        return Viewer.of(session)
    account = users.get(name)
    if account is None:
        raise HTTPException(403, f"the single sign-on names {name[:64]!r}, no console account")
    users.log(account.name, client_host(request), "ok")
    request.state.new_session = users.start_session(account.name, sso=True)
    return Viewer.of(account)


def _spoofed(request: Request) -> bool:
    """A request naming an account in the single sign-on header from a client that is not the
    trusted proxy: someone tries to be someone; it is not logged in, whatever its cookie."""
    config = _config(request)
    return (
        config.trusted_header is not None
        and client_host(request) not in config.trusted_proxies
        and config.trusted_header in request.headers
    )


def viewer_or_none(request: Request) -> Viewer | None:
    """The logged-in viewer of this request, or None."""
    cached = getattr(request.state, "viewer", None)
    if isinstance(cached, Viewer):
        return cached
    viewer = _trusted(request)
    if viewer is None and not _spoofed(request):
        token = request.cookies.get(SESSION_COOKIE, "")
        account = _users(request).session(token, client_host(request)) if token else None
        viewer = Viewer.of(account) if account is not None else None
    request.state.viewer = viewer
    return viewer


def current_viewer(request: Request) -> Viewer:
    """FastAPI dependency: the logged-in viewer; else a browser is sent to the login page and
    anything else (fragments, /live, CSV) gets 401."""
    viewer = viewer_or_none(request)
    if viewer is not None:
        return viewer
    if _wants_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    raise HTTPException(401, "log in first")


def require_program(viewer: Viewer, manager: str) -> None:
    """404 unless the viewer may see the program managed by `manager`."""
    if not viewer.may_see(manager):
        raise HTTPException(404, "no such program")


def safe_next(value: str | None) -> str:
    """A path on this console to go to after logging in; anything else is the portfolio."""
    if (
        not value
        or len(value) > NEXT_MAX
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 for c in value)
    ):
        return "/"
    return value


def set_session_cookie(response: Response, token: str, config: ConsoleConfig) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=config.secure_cookies,
        path="/",
    )


router = APIRouter()


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    from disburse.console.render import render

    if viewer_or_none(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, None, "login.html", next=safe_next(next), message=None)


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    next: Annotated[str, Form(max_length=NEXT_MAX * 2)] = "/",
) -> Response:
    from disburse.console.render import render

    target = safe_next(next)
    if not name or not password:
        return render(
            request,
            None,
            "login.html",
            status_code=400,
            next=target,
            message=("login.bad_form", {}),
        )
    users = _users(request)
    found = users.login(name, password, client_host(request))
    if isinstance(found, Throttled):
        return render(
            request,
            None,
            "login.html",
            status_code=429,
            headers={"Retry-After": str(found.retry_after)},
            next=target,
            message=("login.throttled", {"seconds": found.retry_after}),
        )
    if found is None:
        return render(
            request, None, "login.html", status_code=401, next=target, message=("login.failed", {})
        )
    previous = request.cookies.get(SESSION_COOKIE, "")
    if previous:  # a new login never keeps a session the browser brought (fixation)
        users.end_session(previous, client_host(request), log=False)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, users.start_session(found.name), _config(request))
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        _users(request).end_session(token, client_host(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_config(request).secure_cookies,
    )
    return response


@router.post("/lang")
def set_lang(
    request: Request,
    lang: Annotated[str, Form(max_length=8)] = "",
    next: Annotated[str, Form(max_length=NEXT_MAX * 2)] = "/",
) -> Response:
    if lang not in LANGS:
        raise HTTPException(400, f"a language is one of {', '.join(LANGS)}, not {lang[:8]!r}")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        "lang",
        lang,
        max_age=365 * 86_400,
        httponly=True,
        samesite="strict",
        secure=_config(request).secure_cookies,
        path="/",
    )
    return response


__all__ = [
    "SESSION_COOKIE",
    "LoginRequired",
    "Viewer",
    "current_viewer",
    "require_program",
    "router",
    "viewer_or_none",
]

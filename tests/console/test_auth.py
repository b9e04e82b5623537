"""Logging in and out of the console over real HTTP (create_app on the real index):

├── a logged-out visitor: every page redirects to /login?next=..., every fragment, /live and
│   CSV answer 401; /login and /healthz open
├── the login form: a wrong password or unknown name -> 401 and no cookie; a good one -> a
│   session cookie and the page asked for; `next` never leaves the console
├── throttling: after five failures (for a name, or from a client) the sixth attempt, even with
│   the right password, is 429 with Retry-After and the password is not even hashed; the delay
│   doubles with each failure; a success after waiting ends it for the name
├── sessions: a forged cookie and an idle one open nothing (the idle one logged as expired);
│   logout deletes the session (the old cookie no longer works); passwd ends sessions
├── the login log: ok, bad-password, unknown-user, throttled, logout, expired; no password in it
└── trusted-header single sign-on: believed only from the configured proxy, for an existing
    account, recorded once per session
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import disburse.console.users as users_module
from disburse.console.users import THROTTLE_AFTER, UserStore
from tests.console.conftest import BASE_URL, ORIGIN, PASSWORDS, login

SAMPLES = {
    "program": "1",
    "program_id": "1",
    "milestone": "0x" + "11" * 32,
    "milestone_id": "0x" + "11" * 32,
}


def _routes(routes) -> list[APIRoute]:
    """Every API route, also those of included routers (FastAPI keeps them nested)."""
    out = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out.extend(_routes(route.original_router.routes))
    return out


def _get_paths(app) -> list[str]:
    """The app's GET routes with sample values for their parameters."""
    return [
        re.sub(r"{(\w+)(:\w+)?}", lambda m: SAMPLES.get(m.group(1), "1"), route.path)
        for route in _routes(app.routes)
        if "GET" in route.methods
    ]


class Clock:
    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def own_users(users_db: Path, tmp_path: Path):
    """A copy of the accounts file with a clock the test moves."""
    path = tmp_path / "users.db"
    shutil.copy(users_db, path)
    clock = Clock()
    return UserStore(path, clock=clock, idle_s=600), clock


@pytest.fixture
def clocked(own_users, console_config, make_app):
    store, clock = own_users
    app = make_app(console_config, users=store, users_db=store.path, session_idle_s=600)
    with TestClient(
        app, base_url=BASE_URL, follow_redirects=False, headers={"Accept": "text/html"}
    ) as client:
        yield client, store, clock


def _post_login(client: TestClient, name: str, password: str, next_: str = "/"):
    return client.post(
        "/login",
        data={"name": name, "password": password, "next": next_},
        headers={"Origin": ORIGIN},
    )


# ---------------------------------------------------------------------- logged out


def test_every_page_sends_a_logged_out_browser_to_the_login_and_everything_else_gets_401(
    console, console_app
):
    paths = _get_paths(console_app)
    assert "/" in paths and "/live" in paths and "/fragment/freshness" in paths
    for path in paths:
        if path in ("/login", "/healthz"):
            continue
        response = console.get(path)
        if "/fragment" in path or path == "/live" or path.endswith(".csv"):
            assert response.status_code == 401, path
        else:
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=" + path[:1]), path
        assert "console_session" not in response.headers.get("set-cookie", "")
        # a fragment request (htmx) and a script's request get 401, never a redirect
        assert console.get(path, headers={"HX-Request": "true"}).status_code == 401, path
        assert console.get(path, headers={"Accept": "*/*"}).status_code == 401, path


def test_the_login_page_and_healthz_are_open(console):
    assert console.get("/login").status_code == 200
    health = console.get("/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    assert isinstance(health.json()["block"], int)


def test_a_redirect_keeps_the_page_asked_for_and_login_returns_to_it(console):
    first = console.get("/?x=1")
    assert first.headers["location"] == "/login?next=/%3Fx%3D1"
    response = _post_login(console, *PASSWORDS["overseer"], next_="/?x=1")
    assert response.status_code == 303 and response.headers["location"] == "/?x=1"


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_next_never_leaves_the_console(console, target):
    response = _post_login(console, *PASSWORDS["auditor"], next_=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


# ---------------------------------------------------------------------- the form


def test_a_wrong_password_or_unknown_name_is_refused_without_a_session(clocked):
    client, store, _clock = clocked
    name, password = PASSWORDS["overseer"]
    for attempt in ((name, password + "x"), ("nobody", password), ("NOT A NAME", password)):
        response = _post_login(client, *attempt)
        assert response.status_code == 401
        assert "console_session" not in response.headers.get("set-cookie", "")
        assert "Wrong account name or password" in response.text
        assert password not in response.text
    assert client.get("/").status_code == 303
    outcomes = [e.outcome for e in store.entries(limit=3)]
    assert outcomes == ["unknown-user", "unknown-user", "bad-password"]


def test_a_good_password_opens_a_session_and_the_portfolio(clocked):
    client, store, _clock = clocked
    response = _post_login(client, *PASSWORDS["auditor"])
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert client.get("/").status_code == 200
    entry = store.entries(limit=1)[0]
    assert (entry.name, entry.client, entry.outcome) == ("audrey", "testclient", "ok")


def test_an_empty_form_is_a_400_naming_what_is_missing(console):
    response = console.post("/login", data={"name": "olive"}, headers={"Origin": ORIGIN})
    assert response.status_code == 400
    assert "Give an account name and a password" in response.text


# ---------------------------------------------------------------------- throttling


def test_after_five_failures_the_right_password_is_refused_unchecked_until_the_delay_passes(
    clocked, monkeypatch
):
    client, store, clock = clocked
    name, password = PASSWORDS["manager"]
    for _ in range(THROTTLE_AFTER):
        assert _post_login(client, name, "wrong-password").status_code == 401
        clock.now += 1
    hashed = []
    real_hash = users_module._hash
    monkeypatch.setattr(users_module, "_hash", lambda *a: hashed.append(a) or real_hash(*a))
    refused = _post_login(client, name, password)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert wait > 0
    assert hashed == []  # the password was not even looked at
    assert "console_session" not in refused.headers.get("set-cookie", "")
    assert "Too many failed logins" in refused.text
    assert store.entries(limit=1)[0].outcome == "throttled"
    clock.now += wait
    assert _post_login(client, name, password).status_code == 303
    assert len(hashed) == 1
    assert client.get("/").status_code == 200


def test_the_delay_doubles_with_each_failure_up_to_fifteen_minutes(clocked):
    client, _store, clock = clocked
    name = PASSWORDS["auditor"][0]
    waits = []
    for _ in range(THROTTLE_AFTER):
        _post_login(client, name, "wrong-password")
    for _ in range(3):
        refused = _post_login(client, name, "wrong-password")
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        waits.append(wait)
        clock.now += wait
        assert _post_login(client, name, "wrong-password").status_code == 401  # one more failure
    assert waits[1] == 2 * waits[0] and waits[2] == 2 * waits[1]
    for _ in range(20):
        clock.now += 15 * 60
        _post_login(client, name, "wrong-password")
    # failures older than the fifteen-minute window no longer count; within it the cap holds
    refused = _post_login(client, name, "wrong-password")
    assert refused.status_code in (401, 429)
    if refused.status_code == 429:
        assert int(refused.headers["Retry-After"]) <= 15 * 60


def test_failures_from_one_client_slow_down_every_name_from_it(clocked, console_config, make_app):
    client, store, _clock = clocked
    for i in range(THROTTLE_AFTER):
        assert _post_login(client, f"guess{i}", "wrong-password").status_code == 401
    assert _post_login(client, *PASSWORDS["overseer"]).status_code == 429
    app = make_app(console_config, users=store, users_db=store.path)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False, client=("10.1.2.3", 1)) as c:
        assert _post_login(c, *PASSWORDS["overseer"]).status_code == 303  # another client


def test_a_name_guessed_from_many_clients_is_slowed_down_too(clocked, console_config, make_app):
    _client, store, _clock = clocked
    app = make_app(console_config, users=store, users_db=store.path)
    name, password = PASSWORDS["overseer"]
    for i in range(THROTTLE_AFTER):
        with TestClient(app, base_url=BASE_URL, client=(f"10.0.0.{i}", 1)) as c:
            assert _post_login(c, name, "wrong-password").status_code == 401
    with TestClient(app, base_url=BASE_URL, client=("10.0.0.99", 1)) as c:
        assert _post_login(c, name, password).status_code == 429


# ---------------------------------------------------------------------- sessions


def test_a_forged_session_cookie_opens_nothing(console):
    for forged in ("x" * 43, "", "a" * 500, "'; DROP TABLE sessions; --"):
        console.cookies.set("console_session", forged)
        assert console.get("/").status_code == 303
        assert console.get("/fragment/portfolio").status_code == 401


def test_the_database_keeps_only_a_digest_of_the_session_token(clocked):
    client, store, _clock = clocked
    login(client, "overseer")
    token = client.cookies["console_session"]
    with sqlite3.connect(store.path) as db:
        stored = [r[0] for r in db.execute("SELECT token_sha256 FROM sessions")]
        dump = "\n".join(db.iterdump())
    assert token not in dump
    assert users_module.token_digest(token) in stored
    assert PASSWORDS["overseer"][1] not in dump


def test_an_idle_session_expires_and_is_logged(clocked):
    client, store, clock = clocked
    login(client, "overseer")
    clock.now += 500
    assert client.get("/").status_code == 200  # used: the idle clock restarts
    clock.now += 500
    assert client.get("/").status_code == 200
    clock.now += 601
    assert client.get("/").status_code == 303
    assert store.entries(limit=1)[0].outcome == "expired"
    assert client.get("/").status_code == 303


def test_sessions_idle_past_their_end_are_deleted_when_another_starts(clocked):
    client, store, clock = clocked
    login(client, "overseer")
    clock.now += 601
    with TestClient(client.app, base_url=BASE_URL, follow_redirects=False) as other:
        login(other, "auditor")
    with sqlite3.connect(store.path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sessions")]
    assert names == ["audrey"]


def test_logout_ends_the_session_for_good(clocked):
    client, store, _clock = clocked
    login(client, "manager")
    old = client.cookies["console_session"]
    response = client.post("/logout", headers={"Origin": ORIGIN})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert 'console_session=""' in response.headers["set-cookie"]
    assert store.entries(limit=1)[0].outcome == "logout"
    client.cookies.set("console_session", old)
    assert client.get("/").status_code == 303
    assert client.get("/live").status_code == 401


def test_a_new_password_or_a_removed_account_ends_its_sessions(clocked):
    client, store, _clock = clocked
    login(client, "auditor")
    store.passwd("audrey", "another-password-2")
    assert client.get("/").status_code == 303
    assert _post_login(client, "audrey", "another-password-2").status_code == 303
    store.remove("audrey")
    assert client.get("/").status_code == 303


def test_the_login_log_never_holds_a_password(clocked):
    client, store, _clock = clocked
    name, password = PASSWORDS["overseer"]
    _post_login(client, name, password + "-typo")
    _post_login(client, password, password)  # a password typed into the name field
    login(client, "overseer")
    with sqlite3.connect(store.path) as db:
        logged = [" ".join(map(str, r)) for r in db.execute("SELECT * FROM login_log")]
    assert not any(password + "-typo" in row for row in logged)
    assert not any(PASSWORDS["auditor"][1] in row for row in logged)


# ---------------------------------------------------------------------- single sign-on


@pytest.fixture
def sso(own_users, console_config, make_app):
    store, _clock = own_users
    app = make_app(
        console_config,
        users=store,
        users_db=store.path,
        trusted_header="X-Remote-User",
        trusted_proxies=frozenset({"10.0.0.1"}),
    )
    return app, store


def _client(app, host: str) -> TestClient:
    return TestClient(
        app,
        base_url=BASE_URL,
        follow_redirects=False,
        client=(host, 40000),
        headers={"Accept": "text/html"},
    )


def test_the_trusted_header_from_the_proxy_is_the_named_account_logged_once(sso):
    app, store = sso
    with _client(app, "10.0.0.1") as proxy:
        first = proxy.get("/", headers={"X-Remote-User": "olive"})
        assert first.status_code == 200
        assert "Signed in as olive" in first.text
        assert "HttpOnly" in first.headers["set-cookie"]
        for _ in range(3):
            assert proxy.get("/", headers={"X-Remote-User": "olive"}).status_code == 200
    rows = [e for e in store.entries(limit=10) if e.client.startswith("10.")]
    assert [(e.name, e.outcome, e.client) for e in rows] == [("olive", "ok", "10.0.0.1")]


def test_the_trusted_header_from_any_other_client_is_ignored(sso):
    app, store = sso
    with _client(app, "10.0.0.2") as other:
        response = other.get("/", headers={"X-Remote-User": "olive"})
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        assert (
            other.get("/fragment/portfolio", headers={"X-Remote-User": "olive"}).status_code == 401
        )
    assert not [e for e in store.entries(limit=10) if e.client.startswith("10.")]


def test_the_trusted_header_from_another_client_undoes_even_a_real_session(sso):
    app, _store = sso
    with _client(app, "10.0.0.2") as other:
        login(other, "auditor")
        assert other.get("/").status_code == 200
        spoofed = other.get("/", headers={"X-Remote-User": "olive"})
        assert spoofed.status_code == 303 and spoofed.headers["location"].startswith("/login")
        assert other.get("/").status_code == 200  # the session itself goes on


def test_the_trusted_header_must_name_an_existing_account(sso):
    app, _store = sso
    with _client(app, "10.0.0.1") as proxy:
        assert proxy.get("/", headers={"X-Remote-User": "mallory"}).status_code == 403


def test_a_managers_single_sign_on_carries_the_managers_limits(sso):
    app, _store = sso
    with _client(app, "10.0.0.1") as proxy:
        page = proxy.get("/", headers={"X-Remote-User": "mona"})
    assert page.status_code == 200
    assert "Harbour crane overhaul" in page.text
    assert "Coastal radar refit" not in page.text


def test_a_new_login_ends_the_session_the_browser_brought(clocked):
    client, _store, _clock = clocked
    login(client, "auditor")
    first = client.cookies["console_session"]
    login(client, "overseer")
    assert client.cookies["console_session"] != first
    client.cookies.set("console_session", first)
    assert client.get("/").status_code == 303

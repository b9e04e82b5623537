"""The console's defences over real HTTP, and its templates read as files:

├── headers: the content security policy (own scripts and styles only), nosniff, referrer
│   same-origin, no framing, on pages, errors (500 too), static files, fragments and /healthz;
│   no-store on pages
├── cookies: HttpOnly, SameSite=Strict, Path=/; Secure when configured
├── another host name in Host (DNS rebinding): 421 before any page or login attempt
├── cross-site POSTs (login, logout, language) with another Origin or Referer, or none: 403,
│   and nothing happens (no session, the session still alive, no cookie set)
├── bad parameters: a 400 page naming the parameter
├── /live: 401 logged out; an event when the index is past the page's block
└── templates: no inline script code, no style attributes, no on* handlers, only /static/
    scripts and styles; no English outside t(); both catalogs with the same keys
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from disburse.console import i18n
from disburse.console.app import CSP, allowed_hosts
from disburse.console.i18n import core
from disburse.console.users import UserStore
from tests.console.conftest import BASE_URL, ORIGIN, PASSWORDS, login

TEMPLATES = Path(__file__).parents[2] / "disburse" / "console" / "templates"


def _assert_hardened(response) -> None:
    h = response.headers
    assert h["content-security-policy"] == CSP
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "same-origin"
    assert h["x-frame-options"] == "DENY"


def test_the_policy_allows_only_the_consoles_own_scripts_and_styles():
    assert "script-src 'self';" in CSP and "style-src 'self';" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP and "http" not in CSP
    assert "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP


def test_every_kind_of_response_carries_the_security_headers(console):
    for path in ("/login", "/healthz", "/", "/fragment/portfolio", "/nowhere"):
        _assert_hardened(console.get(path))
    login(console, "overseer")
    for path in ("/", "/fragment/portfolio", "/fragment/freshness", "/nowhere"):
        response = console.get(path)
        _assert_hardened(response)
        assert response.headers["cache-control"] == "no-store"
    static = console.get("/static/console.js")
    assert static.status_code == 200
    _assert_hardened(static)
    assert console.get("/nowhere").status_code == 404


def test_an_unexpected_error_is_a_500_with_the_headers_and_nothing_of_the_inside(
    console_config, make_app
):
    app = make_app(console_config)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        for accept in ("text/html", "*/*"):
            response = client.get("/boom", headers={"Accept": accept})
            assert response.status_code == 500
            _assert_hardened(response)
            assert "secret internals" not in response.text
            assert "Traceback" not in response.text


def test_the_session_cookie_is_httponly_strict_and_not_secure_unless_configured(console):
    name, password = PASSWORDS["overseer"]
    response = console.post(
        "/login", data={"name": name, "password": password}, headers={"Origin": ORIGIN}
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("console_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # ends with the browser


def test_secure_cookies_when_configured(console_config, make_app):
    app = make_app(console_config, secure_cookies=True, public_origin="https://console.test")
    with TestClient(app, base_url="https://console.test", follow_redirects=False) as client:
        name, password = PASSWORDS["auditor"]
        response = client.post(
            "/login",
            data={"name": name, "password": password},
            headers={"Origin": "https://console.test"},
        )
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]
        lang = client.post("/lang", data={"lang": "ja"}, headers={"Origin": "https://console.test"})
        assert "Secure" in lang.headers["set-cookie"] and "HttpOnly" in lang.headers["set-cookie"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://console.test:8080"},
        {"Referer": "http://evil.example/console.test"},
        {},
    ],
)
def test_a_cross_site_post_is_refused_and_changes_nothing(console, headers):
    name, password = PASSWORDS["overseer"]
    response = console.post("/login", data={"name": name, "password": password}, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    _assert_hardened(response)
    login(console, "overseer")
    assert console.post("/logout", headers=headers).status_code == 403
    assert console.get("/").status_code == 200  # still logged in
    refused = console.post("/lang", data={"lang": "ja"}, headers=headers)
    assert refused.status_code == 403 and "set-cookie" not in refused.headers


def test_a_same_origin_referer_stands_in_for_a_missing_origin(console):
    name, password = PASSWORDS["overseer"]
    response = console.post(
        "/login",
        data={"name": name, "password": password},
        headers={"Referer": BASE_URL + "/login?next=/"},
    )
    assert response.status_code == 303


def test_the_language_switch_is_remembered_in_a_cookie(console):
    login(console, "overseer")
    response = console.post("/lang", data={"lang": "ja", "next": "/"}, headers={"Origin": ORIGIN})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lang=ja") and "SameSite=strict" in cookie
    page = console.get("/")
    assert '<html lang="ja">' in page.text and "ポートフォリオ" in page.text
    bad = console.post("/lang", data={"lang": "fr"}, headers={"Origin": ORIGIN})
    assert bad.status_code == 400 and "fr" in bad.text


def test_a_bad_parameter_is_a_400_page_naming_it(console):
    login(console, "overseer")
    response = console.get("/live?since=abc")
    assert response.status_code == 400
    assert "since" in response.text
    assert console.get("/live?since=-1").status_code == 400


# ---------------------------------------------------------------------- /live


def _events(response, count: int) -> list[tuple[str, str]]:
    """The first `count` events (name, data) of a server-sent event stream."""
    found: list[tuple[str, str]] = []
    name, data = "", ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
        elif line == "" and name:
            found.append((name, data))
            name, data = "", ""
            if len(found) == count:
                break
    return found


def test_live_needs_a_login(console):
    assert console.get("/live").status_code == 401


def test_live_sends_the_block_at_once_when_the_page_is_behind(console, reader):
    login(console, "overseer")
    cursor = reader.cursor()
    with console.stream("GET", f"/live?since={cursor.number - 1}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        _assert_hardened(response)
        [(name, data)] = _events(response, 1)
    assert name == "ledger"
    assert json.loads(data) == {"block": cursor.number, "hash": cursor.hash}


def test_live_is_quiet_while_the_page_is_current(console, reader):
    login(console, "overseer")
    cursor = reader.cursor()
    with console.stream("GET", f"/live?since={cursor.number}") as response:
        body = "".join(response.iter_text())  # the stream ends after live_max_s (2 s here)
    assert "event: ledger" not in body
    assert body.startswith("retry:")


# ---------------------------------------------------------------------- templates

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTR = re.compile(r"\sstyle\s*=", re.IGNORECASE)
REMOTE = re.compile(r"(src|href)=\"(https?:)?//", re.IGNORECASE)


def _templates() -> list[Path]:
    found = sorted(TEMPLATES.glob("*.html"))
    assert found
    return found


def test_no_template_holds_inline_code_styles_or_remote_resources():
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        assert not INLINE_SCRIPT.search(text), path.name
        assert not HANDLER.search(text), path.name
        assert not STYLE_ATTR.search(text), path.name
        assert "<style" not in text, path.name
        assert not REMOTE.search(text), path.name
        assert "javascript:" not in text.lower(), path.name
        for src in re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", text):
            assert src.startswith("/static/"), (path.name, src)


JINJA = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.DOTALL)
TAG = re.compile(r"<[^>]*>", re.DOTALL)
LABEL_ATTRS = re.compile(r"\s(?:aria-label|title|placeholder|alt)=\"([^\"]*)\"")


def test_no_template_holds_english_outside_t():
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        for value in LABEL_ATTRS.findall(text):
            assert not re.search(r"[A-Za-z]", JINJA.sub("", value)), (path.name, value)
        bare = TAG.sub(" ", JINJA.sub(" ", text))
        words = re.findall(r"[A-Za-z]{2,}", bare)
        assert not words, (path.name, words[:10])


def test_both_catalogs_have_the_same_keys_and_fields():
    for catalog in (core.CATALOG, i18n.CATALOG):
        assert set(catalog["en"]) == set(catalog["ja"])
        for key, english in catalog["en"].items():
            fields = set(re.findall(r"{(\w+)}", english))
            assert fields == set(re.findall(r"{(\w+)}", catalog["ja"][key])), key


def test_a_missing_label_is_an_error_not_a_raw_key():
    with pytest.raises(KeyError):
        i18n.t("en", "no.such.label")
    with pytest.raises(KeyError):
        i18n.t("fr", "portfolio.title")


def test_another_host_name_is_refused_before_any_page_or_login(console_config, make_app, users_db):
    """A page of another site whose name was made to resolve to this machine (DNS rebinding)
    reaches the console with its own name in Host, and its own origin, which it could match."""
    app = make_app(console_config)
    name, password = PASSWORDS["auditor"]
    logged = len(UserStore.open_existing(users_db).entries(name=name, limit=10_000))
    with TestClient(app, base_url="http://rebound.example", follow_redirects=False) as client:
        assert client.get("/login").status_code == 421
        attempt = client.post(
            "/login",
            data={"name": name, "password": password},
            headers={"Origin": "http://rebound.example"},
        )
        assert attempt.status_code == 421
        assert "set-cookie" not in attempt.headers
        assert "421" in attempt.text and "host name" in attempt.text
    assert len(UserStore.open_existing(users_db).entries(name=name, limit=10_000)) == logged


@pytest.mark.parametrize(
    ("host", "public_origin", "expected"),
    [
        ("127.0.0.1", None, {"127.0.0.1:8600", "localhost:8600", "[::1]:8600"}),
        ("10.1.2.3", None, {"10.1.2.3:8600"}),
        ("0.0.0.0", None, None),
        ("0.0.0.0", "https://console.example", {"console.example"}),
    ],
)
def test_the_host_names_a_console_answers(console_config, host, public_origin, expected):
    config = replace(console_config, host=host, public_origin=public_origin)
    found = allowed_hosts(config)
    assert (None if found is None else set(found)) == expected

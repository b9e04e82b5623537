"""The console as an overseer, an auditor and a program manager meet it: in Chromium, against
the real console and indexer processes over the console's chain history (conftest.py). Each
page visited is also saved as a screenshot in reports/console/.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from brownie import web3

from disburse.console.i18n import t
from tests.audit.conftest import PROGRAM_A
from tests.conftest import evidence
from tests.console.browser.conftest import Served, shot, signed_in
from tests.console.conftest import PROGRAM_C


def _milestone_url(served: Served, ref: str) -> str:
    return f"{served.url}/milestones/0x{served.history.history.ids[ref].hex()}"


def test_a_logged_out_visitor_meets_only_the_login_page(page: Any, served: Served) -> None:
    for path in ("/", "/programs/1", "/council", "/events", "/oracles", "/alerts"):
        page.goto(served.url + path)
        assert "/login" in page.url, f"{path} shown without a login"
        assert PROGRAM_A.title not in page.content()
    csv_answer = page.request.get(f"{served.url}/events.csv")
    assert csv_answer.status == 401
    assert "0x" not in csv_answer.text()
    shot(page, "login")


def test_an_overseer_walks_from_the_portfolio_to_a_program_and_a_milestone(
    page: Any, served: Served
) -> None:
    signed_in(page, served, "overseer")
    assert page.locator("h1").inner_text() == t("en", "portfolio.title")
    assert page.get_by_role("link", name=PROGRAM_A.title).first.is_visible()
    assert page.get_by_role("link", name=PROGRAM_C.title).first.is_visible()
    shot(page, "portfolio")

    page.get_by_role("link", name=PROGRAM_A.title).first.click()
    page.wait_for_url(f"{served.url}/programs/1")
    assert PROGRAM_A.title in page.locator("h1").inner_text()
    page.wait_for_selector("canvas")  # uPlot drew the S-curves from the page's own script
    shot(page, "program")

    page.get_by_role("link", name="A/M1").first.click()
    page.wait_for_url(_milestone_url(served, "A/M1"))
    attested = page.locator("#timeline tr[data-event=AttestationRecorded]")
    assert attested.count() == 2  # oracles 0 and 1 (tests/audit/conftest.py)
    assert page.locator("#timeline tr[data-event=MilestoneReleased]").count() == 1
    shot(page, "milestone")

    for name, path in (
        ("council", "/council"),
        ("alerts", "/alerts"),
        ("events", "/events"),
        ("oracles", "/oracles"),
    ):
        answer = page.goto(served.url + path)
        assert answer is not None and answer.status == 200, path
        shot(page, name)


def test_a_new_attestation_appears_on_an_open_page_without_a_reload(
    page: Any, served: Served
) -> None:
    history = served.history.history
    signed_in(page, served, "auditor", path="/")
    page.goto(_milestone_url(served, "A/M8"))
    rows = page.locator("#timeline tr[data-event=AttestationRecorded]")
    assert rows.count() == 0
    page.evaluate("window.__notReloaded = true")
    members = {str(a) for a in history.escrow.committee()[0]}
    oracle = next(o for o in history.oracles if str(o) in members)
    milestone = history.ids["A/M8"]
    terms = history.escrow.milestone(milestone)[10]  # its beneficiary was replaced: version 1
    history.escrow.attest(
        milestone, evidence("A/M8 late"), history.escrow.committee()[2], terms, {"from": oracle}
    )
    rows.first.wait_for(timeout=15_000)
    assert rows.count() == 1
    assert (
        rows.first.locator("[data-actor]").get_attribute("data-actor").lower()
        == str(oracle).lower()
    )
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    assert web3.eth.block_number == int(page.locator("body").get_attribute("data-block"))


def test_japanese_is_chosen_on_any_page_and_remembered(page: Any, served: Served) -> None:
    signed_in(page, served, "overseer", path="/")
    page.select_option("#lang-select", "ja")
    page.wait_for_function("document.documentElement.lang === 'ja'")
    assert page.locator("h1").inner_text() == t("ja", "portfolio.title")
    shot(page, "portfolio-ja")
    page.goto(f"{served.url}/programs/1")
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert t("ja", "nav.portfolio") in page.locator("nav").inner_text()
    shot(page, "program-ja")


def test_the_events_csv_is_exported_in_base_units(page: Any, served: Served) -> None:
    signed_in(page, served, "auditor", path="/events?program=2")
    with page.expect_download() as download:
        page.locator("a[href^='/events.csv']").first.click()
    text = download.value.path().read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, text[:500]
    assert {r["program_id"] for r in rows} == {"2"}
    funded = [r for r in rows if r["event"] == "ProgramFunded"]
    assert funded and any("10000000000000000000000" in r["args"] for r in funded), funded


def test_a_manager_cannot_open_another_managers_program(page: Any, served: Served) -> None:
    signed_in(page, served, "manager", path="/")
    assert PROGRAM_C.title not in page.content()
    answer = page.goto(f"{served.url}/programs/3")
    assert answer is not None and answer.status == 404
    assert PROGRAM_C.title not in page.content()
    answer = page.goto(_milestone_url(served, "A/M1"))
    assert answer is not None and answer.status == 200  # their own program's milestone


def test_a_forged_session_cookie_is_refused(page: Any, served: Served) -> None:
    page.context.add_cookies([{"name": "console_session", "value": "A" * 43, "url": served.url}])
    page.goto(f"{served.url}/programs/1")
    assert "/login" in page.url
    assert PROGRAM_A.title not in page.content()


@pytest.fixture
def other_site(served: Served) -> Iterator[str]:
    """A site on another port of 127.0.0.1 whose page posts a form to the console's /logout."""
    target = f"{served.url}/logout"

    class _Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (
                f'<form id="f" method="post" action="{target}"></form>'
                "<script>document.getElementById('f').submit()</script>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_cross_site_post_is_refused_and_the_session_survives(
    page: Any, served: Served, other_site: str
) -> None:
    signed_in(page, served, "overseer", path="/")
    page.context.allowed.append(other_site)
    with page.expect_response(f"{served.url}/logout") as posted:
        page.goto(other_site)
    assert posted.value.status == 403
    page.goto(f"{served.url}/programs/1")
    assert "/login" not in page.url, "the cross-site POST ended the session"
    assert PROGRAM_A.title in page.content()


def test_the_keyboard_reaches_the_skip_link_and_the_navigation(page: Any, served: Served) -> None:
    signed_in(page, served, "overseer", path="/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip')")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('href')")
    assert focused == "/", "the first link after the brand is the portfolio"

"""GET /alerts and its live fragment, over HTTP on the real index of the audit history.

alerts page
├── every alert (IndexReader.all_alerts: IndexQueries.alerts for each program, and the
│   oracles'), red before amber
├── a program manager sees only their programs' alerts (none about no program)
└── the live fragment; a logged-out fragment is 401; lang=ja
"""

from __future__ import annotations

import re
from collections import Counter

from disburse.console.views.alerts import PAGE_SIZE, page_of
from tests.console._html import assert_no_inline_script

pytest_plugins = ["tests.console._detail"]


def _rows(page: str) -> list[tuple[str, str, str]]:
    """(kind, severity, program) of each row."""
    return re.findall(
        r'<tr class="sev-\w+" data-alert="(\w+)" data-severity="(\w+)" data-program="(\d*)">',
        page,
    )


def _expected(reader, programs):
    return Counter(
        (a.kind, a.severity, str(a.program_id))
        for pid in programs
        for a in reader.queries.alerts(pid).value
    )


def test_every_programs_alerts_most_severe_first(client_as, reader):
    page = client_as("overseer").get("/alerts")
    assert page.status_code == 200, page.text
    rows = _rows(page.text)
    everything = Counter(
        (a.kind, a.severity, "" if a.program_id is None else str(a.program_id))
        for a in reader.all_alerts()
    )
    assert Counter(rows) == everything
    # Every program's own alerts are among them (and the oracles', which name no program).
    assert everything - Counter(r for r in rows if r[2] == "") == _expected(reader, (1, 2, 3))
    assert rows, "the audit history raises alerts"
    severities = [s for _, s, _ in rows]
    assert severities == sorted(severities, key=lambda s: s != "red")
    # The history was built to raise these (tests/audit/conftest.py).
    kinds = {(k, p) for k, _, p in rows}
    assert {("overdue", "1"), ("force_release_rate", "1"), ("dispute_rate", "1")} <= kinds
    assert_no_inline_script(page.text)


def test_a_manager_sees_only_their_programs_alerts(client_as, reader):
    manny = _rows(client_as("manager").get("/alerts").text)
    assert Counter(manny) == _expected(reader, (1, 2))
    mona = _rows(client_as("other_manager").get("/alerts").text)
    assert Counter(mona) == _expected(reader, (3,))
    assert all(p == "3" for _, _, p in mona)


def test_the_live_fragment_and_its_login(client_as, reader):
    fragment = client_as("auditor").get("/alerts/fragment", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="alerts-live"')
    assert 'hx-trigger="ledger from:body"' in fragment.text
    assert len(_rows(fragment.text)) == len(reader.all_alerts())
    assert client_as(None).get("/alerts/fragment").status_code == 401


def test_the_page_speaks_japanese(client_as):
    client = client_as("overseer")
    client.cookies.set("lang", "ja")
    page = client.get("/alerts").text
    assert "アラート" in page and "期限超過のマイルストーン" in page
    assert "What is wrong" not in page


def test_alerts_come_a_page_at_a_time(client_as, reader):
    alerts = reader.all_alerts()
    shown, pages = page_of(alerts * 150, 2)  # thousands of alerts, as a big index raises
    assert pages == -(-len(alerts) * 150 // PAGE_SIZE) and len(shown) == PAGE_SIZE
    assert shown == (alerts * 150)[PAGE_SIZE : 2 * PAGE_SIZE]
    client = client_as("overseer")
    assert client.get("/alerts?page=abc").status_code == 400
    assert "page" in client.get("/alerts?page=0").text
    beyond = client.get("/alerts?page=99")  # past the last page: the last page
    assert beyond.status_code == 200 and len(_rows(beyond.text)) == len(alerts)
    assert f'data-total="{len(alerts)}"' in beyond.text

"""The portfolio page over real HTTP on the real index; every figure compared with what the
index's read API (IndexQueries) answers, never with numbers written here:

├── an overseer: the totals (sum of the roll-up's groups), the roll-ups by organisation,
│   category and fiscal year, every program's row, the alerts first, the treemap and its table
│   (each program's cells sum to its funds)
├── a program manager: the whole portfolio's totals, but only their own programs in the rows,
│   roll-ups, alerts and treemap; another manager's program page and fragment are 404
├── Japanese: labels, amounts and times in Asia/Tokyo by default; a tz cookie is followed
└── live: the fragment alone; a new block indexed -> /live says so and the fragment shows it
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

from brownie import chain
from fastapi.testclient import TestClient

from disburse.analytics.alerts import all_alerts
from disburse.analytics.rollup import GroupRollup
from disburse.console.data import IndexReader, ProgramRow
from disburse.console.i18n import t
from disburse.console.pages.portfolio import Box, squarify, sum_totals, treemap
from disburse.console.render import money
from disburse.index.store import Cursor
from disburse.report.facts import TokenFacts, load_facts
from tests.console.conftest import BASE_URL, login, run_cli, table_rows, units

FIGURES = ("baseline", "funded", "committed", "paid", "refunded", "available")


def _figures(html: str) -> dict[str, int]:
    return {
        name: int(units_)
        for name, units_ in re.findall(r'data-figure="(\w+)" data-units="(\d+)"', html)
    }


def _token(reader: IndexReader):
    [token] = {reader.token(p.token) for p in reader.programs()}
    return token


def _program_ids(html: str, table: str) -> set[int]:
    ids = set()
    for row in table_rows(html, table):
        ids.add(int(row[0]))
    return ids


# ---------------------------------------------------------------------- an overseer


def test_the_totals_are_the_index_roll_ups_summed(console, reader):
    login(console, "overseer")
    page = console.get("/")
    assert page.status_code == 200
    groups = reader.queries.rollup(by="organisation").value
    totals = sum_totals(groups)
    assert totals.programs == len(reader.programs()) == 3
    shown = _figures(page.text)
    assert shown == {name: getattr(totals, name) for name in FIGURES}
    token = _token(reader)
    assert token.symbol == "JPYT" and token.decimals == 18
    for name in FIGURES:
        assert money(getattr(totals, name), token.decimals, token.symbol) in page.text
    # the sums are those of every program's row in the index, whatever the grouping
    for by in ("category", "fiscal_year"):
        assert sum_totals(reader.queries.rollup(by=by).value) == totals
    assert totals.funded == sum(p.funded for p in reader.programs())


def _assert_rollup_table(html: str, by: str, groups: tuple[GroupRollup, ...], token) -> None:
    rows = table_rows(html, f"rollup-{by}")
    assert [r[0] for r in rows] == [g.key for g in groups]
    for row, g in zip(rows, groups, strict=True):
        assert int(row[1]) == g.totals.programs
        amounts = (
            g.totals.baseline,
            g.totals.funded,
            g.totals.committed,
            g.totals.paid,
            g.totals.available,
        )
        assert row[2:7] == [money(a, token.decimals, token.symbol) for a in amounts], g.key
        rate = g.totals.execution_rate
        assert row[7] == ("n/a" if rate is None else f"{rate * 100:.1f} %")


def test_the_roll_ups_are_the_read_apis(console, reader):
    login(console, "auditor")
    html = console.get("/").text
    token = _token(reader)
    for by in ("organisation", "category", "fiscal_year"):
        _assert_rollup_table(html, by, reader.queries.rollup(by=by, top_n=3).value, token)
    assert [r[0] for r in table_rows(html, "rollup-fiscal_year")] == ["2026", "2027"]


def test_every_program_has_its_row_with_its_money(console, reader):
    login(console, "overseer")
    html = console.get("/").text
    rows = table_rows(html, "portfolio-programs")
    programs = reader.programs()
    assert [int(r[0]) for r in rows] == [p.program_id for p in programs]
    token = _token(reader)
    for row, p in zip(rows, programs, strict=True):
        assert row[1] == p.title and row[2] == p.organisation
        expected = [p.funded, p.committed, p.paid, p.available]
        assert row[3:] == [money(a, token.decimals, token.symbol) for a in expected]


def test_alerts_come_first_and_are_the_index_alerts(console, reader):
    login(console, "overseer")
    html = console.get("/").text
    assert html.index('id="alerts-h"') < html.index('id="totals-h"') < html.index('id="by-')
    facts = load_facts(reader.store, token=reader.token)
    expected = all_alerts(facts.programs, facts.milestones, now=facts.cursor.timestamp)
    # each program's alerts are the read API's (the report's and the console's agree)
    for pid in (1, 2, 3):
        assert tuple(a for a in expected if a.program_id == pid) == reader.queries.alerts(pid).value
    rows = table_rows(html, "portfolio-alerts")
    assert len(rows) == min(10, len(expected)) and rows
    assert {r[3] for r in rows} <= {a.message for a in expected}
    ranked = sorted(expected, key=lambda a: (a.severity != "red", a.program_id or 0))[:10]
    assert [r[3] for r in rows] == [a.message for a in ranked]
    assert [r[0] for r in rows] == [a.severity for a in ranked]


def test_the_treemap_and_its_table_split_each_programs_funds(console, reader):
    login(console, "overseer")
    html = console.get("/").text
    assert re.search(r'<svg class="treemap-svg"[^>]*role="group"', html)
    rows = table_rows(html, "treemap-table")
    token = _token(reader)
    for p in reader.programs():
        cells = [r for r in rows if r[1] == p.title]
        assert cells, p.title
        paid_to = reader.top_recipients([p.program_id], 3)[p.program_id]
        shown = {r[2]: r[3] for r in cells}
        for beneficiary, paid in paid_to:
            short = f"{beneficiary[:6]}…{beneficiary[-4:]}"
            assert shown[short] == money(paid, token.decimals, token.symbol)
        rest = p.funded - sum(paid for _, paid in paid_to)
        if rest:
            assert shown["Not paid yet"] == money(rest, token.decimals, token.symbol)
    # every cell of the picture is a link to its program, with its amount in a <title>
    assert html.count('<a href="/programs/3">') >= 2
    assert "<title>Harbour crane overhaul: " in html


# ---------------------------------------------------------------------- a program manager


def test_a_manager_sees_the_totals_but_only_their_own_programs(console, reader):
    login(console, "manager")  # roles.manager: programs 1 and 2
    html = console.get("/").text
    everyone = sum_totals(reader.queries.rollup(by="organisation").value)
    assert _figures(html) == {name: getattr(everyone, name) for name in FIGURES}
    assert _program_ids(html, "portfolio-programs") == {1, 2}
    assert "Harbour crane overhaul" not in html and "GSDF" not in html
    assert {r[1] for r in table_rows(html, "treemap-table")} == {
        "Coastal radar refit",
        "Counter-drone sensor research",
    }
    assert [r[0] for r in table_rows(html, "rollup-organisation")] == ["ATLA", "MSDF"]
    assert "procurement" not in [r[0] for r in table_rows(html, "rollup-category")]
    alerts = table_rows(html, "portfolio-alerts")
    assert alerts and {r[1] for r in alerts} <= {"#1", "#2"}


def test_a_managers_roll_ups_are_those_of_their_programs_alone(console, reader):
    login(console, "other_manager")  # program 3 only
    html = console.get("/").text
    assert _program_ids(html, "portfolio-programs") == {3}
    [row] = table_rows(html, "rollup-organisation")
    p3 = reader.queries.program(3).value
    token = _token(reader)
    assert row[0] == "GSDF" and row[1] == "1"
    assert row[3] == money(p3.rollup.totals.funded, token.decimals, token.symbol)
    assert row[5] == money(p3.rollup.totals.paid, token.decimals, token.symbol)
    assert "Coastal radar refit" not in html and "MSDF" not in html


def test_another_managers_program_is_404_like_one_that_does_not_exist(console):
    login(console, "manager")
    assert console.get("/programs/1").status_code == 200
    for path in ("/programs/3", "/programs/3/fragment/milestones", "/programs/999"):
        response = console.get(path)
        assert response.status_code == 404, path
        assert "Harbour crane" not in response.text
    login(console, "other_manager")
    assert console.get("/programs/1").status_code == 404
    assert console.get("/programs/3").status_code == 200


# ---------------------------------------------------------------------- language and time


def test_japanese_labels_and_tokyo_times_by_default(console, reader):
    login(console, "overseer")
    console.cookies.set("lang", "ja")
    html = console.get("/").text
    assert "ポートフォリオ" in html and "拠出額" in html and "要対応のアラート" in html
    cursor = reader.cursor()
    iso = re.search(r'<time datetime="([^"]+)">([^<]+)</time>', html)
    assert iso is not None
    assert iso.group(1).endswith("Z") and iso.group(2).endswith("JST")
    console.cookies.set("lang", "en")
    english = console.get("/fragment/freshness").text
    assert f"Block {cursor.number:,}" in english and "UTC</time>" in english
    console.cookies.set("tz", "Europe/Paris")
    assert re.search(r"<time [^>]+>[^<]+CE[S]?T</time>", console.get("/fragment/freshness").text)
    console.cookies.set("tz", "Not/AZone")
    assert "UTC</time>" in console.get("/fragment/freshness").text


# ---------------------------------------------------------------------- live


def test_the_fragment_is_the_live_region_alone(console):
    login(console, "overseer")
    fragment = console.get("/fragment/portfolio", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<div id="portfolio-live"')
    assert "<html" not in fragment
    page = console.get("/").text
    assert 'hx-trigger="ledger from:body"' in page and 'hx-get="/fragment/portfolio"' in page
    assert 'id="freshness"' in page and 'hx-get="/fragment/freshness"' in page


def _events(response, count: int) -> list[tuple[str, str]]:
    found, name = [], ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name:
            found.append((name, line.split(":", 1)[1].strip()))
            name = ""
            if len(found) == count:
                break
    return found


def test_a_new_block_indexed_is_announced_and_shown(
    console_config, console_history, make_app, index_url, roles, tmp_path: Path
):
    """A copy of the index, moved on by `disburse index` after a funding on the chain: the
    open stream announces the new block and the fragment shows the new total."""
    source = Path(index_url.removeprefix("sqlite:///"))
    copy = tmp_path / "ledger.db"
    shutil.copy(source, copy)
    config = replace(console_config, index_url=f"sqlite:///{copy}")
    own = IndexReader(config)
    try:
        app = make_app(config, live_max_s=20.0)
        app.state.reader = own
        with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
            login(client, "overseer")
            before = own.cursor()
            funded = sum(p.funded for p in own.programs())
            h = console_history.history
            h.escrow.fund(1, units(1_234), {"from": roles.manager})
            chain.mine()
            with client.stream("GET", f"/live?since={before.number}") as stream:
                result = run_cli(h.deployment_file, "index", "--db", f"sqlite:///{copy}")
                assert result.exit_code == 0, result.output
                [(name, data)] = _events(stream, 1)
            after = own.cursor()
            assert name == "ledger" and json.loads(data)["block"] == after.number > before.number
            fragment = client.get("/fragment/portfolio").text
            assert f'data-figure="funded" data-units="{funded + units(1_234)}"' in fragment
    finally:
        own.close()


# ---------------------------------------------------------------------- pages and limits


def test_the_programs_table_is_paged_and_a_page_beyond_is_a_400(console):
    login(console, "overseer")
    assert console.get("/?page=1").status_code == 200
    beyond = console.get("/?page=2")
    assert beyond.status_code == 400 and "the programs fill 1 page(s)" in beyond.text
    for bad in ("0", "-1", "x", "1" * 30):
        assert console.get(f"/?page={bad}").status_code == 400, bad
    assert 'class="pager"' not in console.get("/").text  # three programs: one page


def test_an_index_that_has_read_nothing_yet_is_a_503_saying_so(
    console_config, console_history, make_app, tmp_path
):
    from disburse.chain.deployment import load
    from disburse.console.app import create_app
    from disburse.console.users import UserStore
    from disburse.index.store import IndexStore

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    IndexStore.open(url, load(console_history.history.deployment_file)).close()
    config = replace(console_config, index_url=url)
    empty = IndexReader(config)
    try:
        app = create_app(config, reader=empty, users=UserStore(config.users_db))
        with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
            login(client, "overseer")
            page = client.get("/", headers={"Accept": "text/html"})
            assert page.status_code == 503
            assert "has read no block yet: run `disburse index`" in page.text
            assert client.get("/healthz").json() == {"ok": True, "block": None}
    finally:
        empty.close()


# ---------------------------------------------------------------------- the layout


def _inside(box: Box, outer: Box) -> bool:
    eps = 1e-6
    return (
        box.x >= outer.x - eps
        and box.y >= outer.y - eps
        and box.x + box.w <= outer.x + outer.w + eps
        and box.y + box.h <= outer.y + outer.h + eps
    )


def test_squarify_gives_areas_in_proportion_inside_the_box_without_overlap():
    outer = Box(10, 20, 600, 300)
    weights = [50.0, 30.0, 10.0, 5.0, 3.0, 1.5, 0.5]
    boxes = squarify(weights, outer)
    total = outer.w * outer.h
    for weight, box in zip(weights, boxes, strict=True):
        assert abs(box.w * box.h - weight / sum(weights) * total) < 1e-6 * total
        assert _inside(box, outer)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap_w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
            overlap_h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
            assert overlap_w <= 1e-6 or overlap_h <= 1e-6
    # squarified: no sliver worse than the slice-and-dice strip of the largest weight
    assert max(max(b.w / b.h, b.h / b.w) for b in boxes) < 6


class _Recipients:
    def top_recipients(self, ids, n):
        return {pid: [(f"0x{pid:040x}", 10**18)] for pid in ids}


def test_the_treemap_draws_the_largest_programs_and_groups_the_rest():
    token = TokenFacts("JPYT", 18)
    rows = [
        ProgramRow(
            i,
            f"P{i}",
            f"ORG{i % 3}",
            "c",
            2026,
            "0x" + "1" * 40,
            "0xT",
            i * 10**18,
            0,
            10**18,
            0,
            False,
        )
        for i in range(1, 61)
    ]
    orgs, table = treemap(_Recipients(), rows, {r.program_id: token for r in rows})
    drawn = [pb.program.program_id for org in orgs for pb in org.programs]
    assert sorted(drawn) == list(range(21, 61))  # the 40 largest
    assert sum(org.others.count for org in orgs if org.others) == 20
    assert sum(r.amount for r in table) == sum(r.funded for r in rows)
    for org in orgs:
        assert _inside(org.box, Box(0, 0, 1000, 560))
        for pb in org.programs:
            assert _inside(pb.box, org.box)
            assert sum(part.amount for part in pb.parts) == pb.program.funded
            for part in pb.parts:
                assert _inside(part.box, pb.box)


# ---------------------------------------------------------------------- shared answers


def test_a_quick_answer_is_recomputed_when_the_cursor_moves(console_config):
    reader = IndexReader(console_config)
    try:
        cursors = [Cursor(1, "0x01", 1)]
        reader.cursor = lambda: cursors[-1]
        calls = []

        def quick():
            calls.append(1)
            return cursors[-1], len(calls)

        assert reader.per_cursor("q", quick) == (cursors[0], 1)
        assert reader.per_cursor("q", quick) == (cursors[0], 1)
        cursors.append(Cursor(2, "0x02", 2))
        assert reader.per_cursor("q", quick) == (cursors[1], 2)
    finally:
        reader.close()


def test_a_slow_answer_is_served_stale_while_one_thread_recomputes_it(console_config):
    clock = [0.0]
    reader = IndexReader(console_config, clock=lambda: clock[0])
    try:
        cursors = [Cursor(1, "0x01", 1)]
        reader.cursor = lambda: cursors[-1]
        calls = []
        release = threading.Event()

        def slow():
            calls.append(cursors[-1])
            clock[0] += 1.0  # one second of work
            if len(calls) > 1:
                assert release.wait(5)
            return cursors[-1], len(calls)

        assert reader.per_cursor("s", slow) == (cursors[0], 1)
        cursors.append(Cursor(2, "0x02", 2))
        # too soon after the last computation (less than twice its cost): the old answer
        assert reader.per_cursor("s", slow) == (cursors[0], 1)
        assert len(calls) == 1
        clock[0] += 2.0
        assert reader.per_cursor("s", slow) == (cursors[0], 1)  # served at once, stale
        assert reader.per_cursor("s", slow) == (cursors[0], 1)  # one refresh only
        release.set()
        deadline = time.monotonic() + 5
        while reader.per_cursor("s", slow)[1] != 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reader.per_cursor("s", slow) == (cursors[1], 2)
        assert len(calls) == 2
    finally:
        reader.close()


def test_tokens_come_from_the_chain_once_and_a_silent_chain_is_not_asked_each_time(
    console_config, reader
):
    address = reader.programs()[0].token
    assert reader.token(address) == TokenFacts("JPYT", 18)  # eth_call on the real chain
    silent = IndexReader(replace(console_config, rpc_url="http://127.0.0.1:9"))
    try:
        asked = []
        real = silent._rpc
        silent._rpc = lambda method, params: asked.append(method) or real(method, params)
        first = silent.token(address)
        assert first.decimals == 0 and first.symbol.startswith("units of 0x")
        assert silent.token(address) == first
        assert asked == ["eth_call"]  # the second lookup did not ask again
        assert silent.head() is None
    finally:
        silent.close()


def test_the_banner_says_what_the_last_reconciliation_found(console, reader):
    """`disburse report` and `disburse audit --db` record it in the index (tests/report); the
    banner shows it, and a later one replaces it."""
    client = login(console, "auditor")
    assert t("en", "fresh.reconciled_unknown") in client.get("/").text
    cursor = reader.cursor()
    assert cursor is not None
    reader.store.record_reconciliation(block=cursor.number, ok=False, differences=3)
    assert t("en", "fresh.reconciled_bad", count=3) in client.get("/").text
    reader.store.record_reconciliation(block=cursor.number, ok=True, differences=0)
    assert t("en", "fresh.reconciled_ok") in client.get("/").text

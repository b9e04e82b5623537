"""GET /programs/{id} and its live fragment, over HTTP on the real index of the audit history.

program page
├── its figures are the index's: money and earned value (IndexQueries.program), bands (the
│   analytics' thresholds), baseline history (the baselines table, with block and tx), the
│   milestones (every one, linking to its page), the charts' JSON and their tables
├── the live fragment: the same figures behind hx-get, re-fetched on "ledger"
├── who: an overseer, an auditor and the program's manager see it; another manager gets 404
│   for the page and the fragment, as for a program that does not exist
├── refused: an id that is no number (400 naming it), an unknown id (404)
└── Japanese labels with lang=ja; no inline script, handler or style
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from disburse.analytics.alerts import Thresholds
from disburse.analytics.evm import evm_at
from disburse.console.pages._detail import json_block as json_block_of
from disburse.console.views.program import bands, cash_history, s_curve
from disburse.index import schema
from tests.console._html import assert_no_inline_script, attrs, json_block

pytest_plugins = ["tests.console._detail"]


def test_the_program_page_shows_the_index_figures(client_as, reader):
    answer = reader.queries.program(1).value
    page = client_as("overseer").get("/programs/1")
    assert page.status_code == 200, page.text
    assert "Coastal radar refit" in page.text
    figures = attrs(page.text, "figure")
    f = answer.facts
    assert figures["funded"] == str(f.funded)
    assert figures["committed"] == str(f.committed)
    assert figures["paid"] == str(f.paid)
    assert figures["available"] == str(f.available)
    assert figures["baseline_original"] == str(f.baseline_original)
    assert figures["baseline_current"] == str(f.baseline_current)
    evm = attrs(page.text, "evm")
    e = answer.evm
    assert (evm["pv"], evm["ev"], evm["ac"], evm["eac"]) == tuple(
        str(v) for v in (e.pv, e.ev, e.ac, e.eac)
    )


def test_the_bands_are_the_thresholds_bands(client_as, reader):
    e = reader.queries.program(1).value.evm
    page = client_as("auditor").get("/programs/1").text
    expected = bands(e, Thresholds())
    for key in ("spi", "cpi", "spi_t", "bei", "tcpi", "eac"):
        row = re.search(rf'<tr data-evm="{key}".*?</tr>', page, re.DOTALL)
        assert row, key
        assert f'data-band="{expected[key]}"' in row.group(0), key
    # The history's program 1 is behind schedule: the SPI band says so.
    assert expected["spi"] in ("amber", "red")


def test_the_baseline_history_is_the_index_one(client_as, reader):
    b = schema.baselines
    with reader.store.engine.connect() as conn:
        rows = conn.execute(select(b).where(b.c.program_id == 1)).mappings().all()
    page = client_as("overseer").get("/programs/1").text
    table = re.search(r'<table class="data" id="baseline-history">.*?</table>', page, re.DOTALL)
    assert table and len(rows) == 1
    assert f'data-block="{rows[0]["block"]}"' in table.group(0)
    assert f'data-units="{rows[0]["previous"]}"' in table.group(0)
    assert f'data-units="{rows[0]["baseline"]}"' in table.group(0)


def test_every_milestone_is_listed_and_linked(client_as, reader):
    answer = reader.queries.program(1).value
    page = client_as("manager").get("/programs/1").text
    listed = re.findall(r'<tr data-milestone="(0x[0-9a-f]{64})">', page)
    assert listed == [m.milestone_id for m in answer.milestones]
    for m in answer.milestones:
        assert f'href="/milestones/{m.milestone_id}"' in page
    assert "data-sortable" in page and 'data-filter-for="milestones-table"' in page


def test_the_charts_carry_their_numbers_in_json_and_in_tables(client_as, reader):
    at = reader.queries.program(1)
    answer = at.value
    page = client_as("overseer").get("/programs/1").text
    charts = json_block(page, "program-charts")
    curve = charts["scurve"]
    assert len(curve["t"]) == len(curve["series"][0]["values"]) >= 2
    table = re.search(r'id="scurve-table">.*?</table>', page, re.DOTALL).group(0)
    assert table.count("<tr>") == len(curve["t"]) + 1  # the header row
    decimals = answer.facts.token_decimals
    # One sample is now (the index's block time): its PV, EV and AC are today's figures.
    now = curve["t"].index(at.cursor.timestamp)
    assert [s["values"][now] for s in curve["series"]] == [
        v / 10**decimals for v in (answer.evm.pv, answer.evm.ev, answer.evm.ac)
    ]
    cash = charts["cash"]
    assert cash["series"][0]["values"][-1] == answer.facts.funded / 10**decimals
    assert cash["series"][1]["values"][-1] == answer.facts.paid / 10**decimals
    assert_no_inline_script(page)


def test_the_live_fragment_is_the_same_figures(client_as, reader):
    client = client_as("overseer")
    fragment = client.get("/programs/1/fragment/milestones", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="program-live"')
    assert 'hx-get="/programs/1/fragment/milestones"' in fragment.text
    assert 'hx-trigger="ledger from:body"' in fragment.text
    assert "<html" not in fragment.text
    assert attrs(fragment.text, "figure")["paid"] == str(reader.queries.program(1).value.facts.paid)


@pytest.mark.parametrize("path", ["/programs/1", "/programs/1/fragment/milestones"])
def test_another_manager_gets_404_as_for_no_program(client_as, path):
    refused = client_as("other_manager").get(path)
    assert refused.status_code == 404
    assert "Coastal radar refit" not in refused.text
    missing = client_as("other_manager").get(path.replace("/1", "/999", 1))
    assert missing.status_code == 404


def test_a_manager_sees_their_own_programs(client_as):
    mona = client_as("other_manager")
    assert mona.get("/programs/3").status_code == 200
    assert "Harbour crane overhaul" in mona.get("/programs/3").text
    assert client_as("manager").get("/programs/3").status_code == 404


def test_a_bad_id_is_a_400_naming_it_and_an_unknown_one_404(client_as):
    client = client_as("overseer")
    bad = client.get("/programs/abc")
    assert bad.status_code == 400
    assert "program id" in bad.text
    assert client.get("/programs/" + "9" * 30).status_code == 400
    assert client.get("/programs/999").status_code == 404


def test_a_logged_out_visitor_is_sent_to_the_login(client_as):
    anonymous = client_as(None)
    assert anonymous.get("/programs/1").status_code == 303
    fragment = anonymous.get("/programs/1/fragment/milestones", headers={"HX-Request": "true"})
    assert fragment.status_code == 401


def test_the_page_speaks_japanese(client_as):
    client = client_as("overseer")
    client.cookies.set("lang", "ja")
    page = client.get("/programs/1").text
    assert 'lang="ja"' in page
    assert "計画価値（PV）" in page and "マイルストーン" in page  # noqa: RUF001
    assert "Planned value" not in page


def test_each_s_curve_point_is_the_analytics_earned_value_at_its_instant(reader):
    at = reader.queries.program(1)
    answer = at.value
    curve = s_curve(answer, at.cursor.timestamp)
    # Deadlines (2, 3, 30 and 60 days), verifications and payments: instants that never share a
    # second whatever the machine's speed (blocks mined within a second share their time).
    assert len(curve) >= 6 and at.cursor.timestamp in [p.time for p in curve]
    for p in curve:
        e = evm_at(answer.facts, answer.milestones, p.time)
        assert (p.pv, p.ev, p.ac) == (e.pv, e.ev, e.ac), p.time
    bounded = s_curve(answer, at.cursor.timestamp, limit=6)
    assert len(bounded) <= 7  # the limit, and now
    assert bounded[0] == curve[0] and bounded[-1] == curve[-1]
    assert set(bounded) <= set(curve)


def test_a_json_block_cannot_close_its_script_element():
    """A token symbol is the chain's to choose: in the charts' JSON no text can end the
    <script type="application/json"> element or open another."""
    hostile = {"symbol": "</script><script>alert(1)</script>&"}
    block = str(json_block_of(hostile))
    assert "<" not in block and ">" not in block and "&" not in block
    assert json.loads(block) == hostile


def test_funding_and_payments_to_date_are_the_index_sums(reader):
    """Each point of the funding chart is the program's movements summed to its instant; the
    last is the program's funded, paid and refunded; a bounded chart keeps first and last."""
    with reader.store.engine.connect() as conn:
        every = cash_history(conn, 2)
        bounded = cash_history(conn, 2, limit=2)
    facts = reader.queries.program(2).value.facts
    assert (every[-1].funded, every[-1].paid, every[-1].withdrawn) == (
        facts.funded,
        facts.paid,
        facts.withdrawn,
    )
    assert [p.time for p in every] == sorted({p.time for p in every})
    assert bounded == (every[0], every[-1])

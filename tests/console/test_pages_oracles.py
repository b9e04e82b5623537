"""GET /oracles and its live fragment, over HTTP on the real index of the audit history.

oracles page
├── per oracle: attestations and milestones attested (the attestations table), attestations of
│   verified milestones and disagreements with the verified hash (the analytics' oracle_rates
│   over the whole index), disputes raised (MilestoneDisputed), latency from registration
├── a program manager: the oracles' work on their programs' milestones only
└── the live fragment; lang=ja
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest
from sqlalchemy import select

from disburse.analytics.alerts import oracle_rates
from disburse.chain.deployment import load
from disburse.console.views._events import cursor_of
from disburse.index import schema
from disburse.index.store import IndexStore, IndexStoreError
from disburse.report.facts import load_facts
from tests.console._html import assert_no_inline_script

pytest_plugins = ["tests.console._detail"]


def _table(page: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for oracle, row in re.findall(r'<tr data-oracle="(0x[0-9a-fA-F]{40})">(.*?)</tr>', page, re.S):
        out[oracle] = dict(re.findall(r'data-col="(\w+)" data-sort="(-?\d+)"', row))
    return out


def _attestations(reader, programs=None):
    a, m = schema.attestations, schema.milestones
    query = select(a.c.oracle, a.c.milestone_id, a.c.time, m.c.registered_time).join(
        m, m.c.milestone_id == a.c.milestone_id
    )
    if programs is not None:
        query = query.where(m.c.program_id.in_(programs))
    with reader.store.engine.connect() as conn:
        return conn.execute(query).all()


def test_each_oracles_work_is_the_index_and_the_analytics(client_as, reader, console_history):
    page = client_as("overseer").get("/oracles")
    assert page.status_code == 200, page.text
    table = _table(page.text)
    rows = _attestations(reader)
    counts = Counter(r[0] for r in rows)
    assert {o: int(v["attestations"]) for o, v in table.items()} == dict(counts)
    rates = oracle_rates(load_facts(reader.store, token=reader.token).milestones)
    for oracle, (n, bad) in rates.items():
        assert (int(table[oracle]["on_verified"]), int(table[oracle]["disagreements"])) == (n, bad)
    latency = defaultdict(list)
    for oracle, _mid, time, registered in rows:
        latency[oracle].append(int(time) - int(registered))
    for oracle, values in latency.items():
        assert int(table[oracle]["latency_mean"]) == round(sum(values) / len(values))
        assert int(table[oracle]["latency_max"]) == max(values)
    # A/M3: oracle 1 attested other evidence than oracle 0 and raised the dispute.
    disputer = str(console_history.history.oracles[1])
    assert table[disputer]["disputes"] == "1"
    assert sum(int(v["disputes"]) for v in table.values()) == 1
    assert_no_inline_script(page.text)


def test_a_manager_sees_the_oracles_work_on_their_programs(client_as, reader):
    mona = _table(client_as("other_manager").get("/oracles").text)
    expected = Counter(r[0] for r in _attestations(reader, [3]))
    assert {o: int(v["attestations"]) for o, v in mona.items()} == dict(expected)
    assert all(v["disputes"] == "0" for v in mona.values())


def test_the_live_fragment(client_as):
    fragment = client_as("auditor").get("/oracles/fragment", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="oracles-live"')
    assert 'hx-trigger="ledger from:body"' in fragment.text
    assert client_as(None).get("/oracles/fragment").status_code == 401


def test_the_page_speaks_japanese(client_as):
    client = client_as("overseer")
    client.cookies.set("lang", "ja")
    page = client.get("/oracles").text
    assert "オラクル" in page and "平均遅延" in page
    assert "Mean latency" not in page


def test_an_index_that_has_read_nothing_yet_is_refused_as_the_read_api_refuses_it(
    console_history, tmp_path
):
    """Not a crash: the app answers IndexStoreError with a 503 naming `disburse index`."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    store = IndexStore.open(url, load(console_history.history.deployment_file))
    try:
        with store.engine.connect() as conn, pytest.raises(IndexStoreError, match="disburse index"):
            cursor_of(conn)
    finally:
        store.close()

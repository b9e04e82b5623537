"""The index's read API (disburse.index.queries) against the analytics on the whole index, on
SQLite files and PostgreSQL.

queries
├── on the chain's history (every kind of event, indexed by `disburse index`)
│   ├── roll-ups by organisation, category, fiscal year: equal to rollup_groups
│   ├── top recipients: equal to top_recipients over every milestone
│   ├── each program's facts, milestones, alerts and forecast: equal to the whole-index ones
│   └── the recipients summary: the payments summed, also after a migration's refold
├── on a synthetic history (the benchmark's: many programs, legacy programs without facts,
│   raised baselines, expiries, open milestones): the same equalities
└── refused with a message naming the problem: an unknown program id, an id that is no id,
    a grouping that is not one, a count below one, an index that has read nothing yet
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from disburse.analytics.alerts import program_alerts
from disburse.analytics.forecast import forecast_open
from disburse.analytics.rollup import rollup_groups, rollup_programs, top_recipients
from disburse.chain.deployment import load
from disburse.index import schema
from disburse.index.queries import IndexQueries, UnknownProgramError
from disburse.index.store import IndexStore, IndexStoreError, _alembic_config
from disburse.report.facts import IndexFacts, TokenFacts, load_facts
from scripts.bench_index_queries import DEPLOYMENT, write_history

TOKEN = TokenFacts("JPYC", 18)


def _token(_address: str) -> TokenFacts:
    return TOKEN


def _assert_like_the_analytics(queries: IndexQueries, facts: IndexFacts) -> None:
    """Every answer of the read API equals what the analytics compute from the whole index."""
    now = facts.cursor.timestamp
    for by in ("organisation", "category", "fiscal_year"):
        answer = queries.rollup(by=by, top_n=3)
        assert answer.cursor == facts.cursor
        assert answer.value == rollup_groups(
            facts.programs, facts.milestones, by=by, now=now, top_n=3
        ), by
    assert queries.recipients(7).value == top_recipients(facts.milestones, 7)
    forecasts = forecast_open(facts.milestones, now=now)
    for program in facts.programs:
        pid = program.program_id
        milestones = tuple(m for m in facts.milestones if m.program_id == pid)
        answer = queries.program(pid).value
        assert answer.facts == program
        assert answer.milestones == milestones
        assert answer.rollup == rollup_programs([program], milestones, now=now)[0]
        assert queries.alerts(pid).value == program_alerts(program, milestones, now=now)
        assert queries.forecast(pid).value == tuple(f for f in forecasts if f.program_id == pid)


def _recipients_and_payments(store: IndexStore) -> tuple[dict[Any, Any], dict[Any, Any]]:
    r, p = schema.recipients, schema.payments
    with store.engine.connect() as conn:
        summary = {
            (row.program_id, row.beneficiary): (row.paid, row.payments)
            for row in conn.execute(select(r))
        }
        summed: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
        for row in conn.execute(select(p)):
            summed[(row.program_id, row.beneficiary)][0] += row.amount
            summed[(row.program_id, row.beneficiary)][1] += 1
    return summary, {k: tuple(v) for k, v in summed.items()}


# ---------------------------------------------------------------------- the chain's history


@pytest.fixture
def indexed(db_url: str, disburse: Any, history: Any) -> Iterator[IndexStore]:
    assert disburse("index", "--db", db_url).exit_code == 0
    store = IndexStore.open_existing(db_url, load(history.deployment_file))
    try:
        yield store
    finally:
        store.close()


def test_answers_on_the_chains_history_equal_the_analytics_on_the_whole_index(indexed):
    facts = load_facts(indexed, token=_token)
    assert facts.programs and any(m.released_time for m in facts.milestones)
    _assert_like_the_analytics(IndexQueries(indexed, token=_token), facts)


def test_recipients_summary_sums_the_payments_also_after_a_refold(
    indexed, db_url, disburse, history
):
    summary, summed = _recipients_and_payments(indexed)
    assert summary == summed and summary
    with indexed.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0002")
    indexed.close()
    again = disburse("index", "--db", db_url)  # migrates to 0003, then refolds
    assert again.exit_code == 0, again.stderr
    store = IndexStore.open_existing(db_url, load(history.deployment_file))
    try:
        assert not store.needs_refold()
        assert _recipients_and_payments(store) == (summed, summed)
    finally:
        store.close()


def test_an_unknown_program_is_refused_naming_it_and_what_the_index_holds(indexed):
    queries = IndexQueries(indexed, token=_token)
    for ask in (queries.program, queries.alerts, queries.forecast):
        with pytest.raises(UnknownProgramError, match=r"holds no program 987654 at block \d+"):
            ask(987654)


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True, None])
def test_a_program_id_that_is_no_id_is_refused(indexed, bad):
    with pytest.raises(ValueError, match="a program id is a non-negative integer"):
        IndexQueries(indexed, token=_token).program(bad)


def test_a_grouping_or_count_out_of_range_is_refused(indexed):
    queries = IndexQueries(indexed, token=_token)
    with pytest.raises(ValueError, match="a roll-up is by category, fiscal_year, organisation"):
        queries.rollup(by="contractor")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_n is a positive integer, not 0"):
        queries.rollup(by="category", top_n=0)
    with pytest.raises(ValueError, match="n is a positive integer, not -2"):
        queries.recipients(-2)


def test_an_index_that_has_read_nothing_yet_is_refused(db_url, history):
    store = IndexStore.open(db_url, load(history.deployment_file))
    try:
        with pytest.raises(IndexStoreError, match="has read no block yet: run `disburse index`"):
            IndexQueries(store, token=_token).rollup(by="organisation")
    finally:
        store.close()


# ---------------------------------------------------------------------- a synthetic history


@pytest.fixture
def synthetic(db_url: str) -> Iterator[IndexStore]:
    """The benchmark's history at 40 programs (scripts/bench_index_queries.py)."""
    write_history(db_url, 40_000)
    store = IndexStore.open_existing(db_url, DEPLOYMENT)
    try:
        yield store
    finally:
        store.close()


def test_answers_on_a_synthetic_history_equal_the_analytics_on_the_whole_index(synthetic):
    facts = load_facts(synthetic, token=_token)
    legacy = [p for p in facts.programs if p.organisation == "(not recorded)"]
    assert legacy, "the history has programs created before facts were recorded"
    assert any(p.baseline_current > p.baseline_original for p in facts.programs)
    assert any(m.status == "Registered" for m in facts.milestones), "open milestones"
    assert any(m.expired_time for m in facts.milestones)
    _assert_like_the_analytics(IndexQueries(synthetic, token=_token), facts)
    summary, summed = _recipients_and_payments(synthetic)
    assert summary == summed

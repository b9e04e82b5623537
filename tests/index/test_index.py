"""`disburse index` and `disburse audit --db` against anvil, on SQLite files and PostgreSQL.

index
├── a new database: every event of both contracts once, the cursor at the head
├── a second run: nothing added
├── the derived tables: the same money and statuses as the from-chain audit
├── audit --db: the same report as the audit from the chain, reconciled at the index's block
├── a chain that went back (snapshot reverted, other blocks mined): rolled back and re-read
└── refused, nothing written: a bad URL, a missing folder, a server that does not answer,
    a database of another deployment, a newer schema, a database that is not an index
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from brownie import chain, web3
from sqlalchemy import create_engine, select, text

from disburse.audit.model import status_values
from disburse.chain.deployment import load, save
from disburse.index import schema
from disburse.index.store import IndexStore, open_engine, parse_url
from tests.audit.conftest import PROGRAM_A, PROGRAM_B, RAISED_BASELINE
from tests.conftest import TOKEN_UNIT


def _logs(history: Any) -> list[tuple[int, int]]:
    found = web3.eth.get_logs(
        {
            "address": [history.escrow.address, history.council.address],
            "fromBlock": history.record.deployment_block,
            "toBlock": web3.eth.block_number,
        }
    )
    return [(log["blockNumber"], log["logIndex"]) for log in found]


def _rows(url: str, table: Any, *order: str) -> list[dict[str, Any]]:
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            query = select(table).order_by(*(table.c[o] for o in order))
            return [dict(r) for r in conn.execute(query).mappings()]
    finally:
        engine.dispose()


def _snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every table of the index that the chain decides, as rows."""
    return {
        "events": _rows(url, schema.events, "block", "log_index"),
        "programs": _rows(url, schema.programs, "program_id"),
        "milestones": _rows(url, schema.milestones, "milestone_id"),
        "attestations": _rows(url, schema.attestations, "block", "log_index"),
        "payments": _rows(url, schema.payments, "block", "log_index"),
        "proposals": _rows(url, schema.proposals, "proposal_id"),
        "baselines": _rows(url, schema.baselines, "block", "log_index"),
    }


def test_a_new_index_holds_every_event_once_and_a_second_run_adds_nothing(
    db_url, disburse, history
):
    first = disburse("index", "--db", db_url)
    assert first.exit_code == 0, first.stderr
    head = web3.eth.block_number
    assert f"index at block {head} " in first.stdout
    expected = _logs(history)
    events = _rows(db_url, schema.events, "block", "log_index")
    assert [(e["block"], e["log_index"]) for e in events] == expected
    assert f"{len(expected)} new events" in first.stdout

    again = disburse("index", "--db", db_url)
    assert again.exit_code == 0, again.stderr
    assert "0 new events" in again.stdout
    assert len(_rows(db_url, schema.events, "block", "log_index")) == len(expected)


def test_the_derived_tables_hold_the_audits_money_and_statuses(db_url, disburse, history):
    assert disburse("index", "--db", db_url).exit_code == 0
    audit = disburse("audit", "--json")
    assert audit.exit_code == 0, audit.stderr
    doc = json.loads(audit.stdout)
    programs = {p["program_id"]: p for p in _rows(db_url, schema.programs, "program_id")}
    assert sorted(programs) == [p["id"] for p in doc["programs"]]
    for p in doc["programs"]:
        row = programs[p["id"]]
        for field in ("funded", "committed", "paid", "returned_cancelled", "returned_expired"):
            assert str(row[field]) == p[field], (p["id"], field)
        assert str(row["withdrawn"]) == p["refunded"]
        assert str(row["force_paid"]) == p["force_paid"]
        assert (row["manager"], row["treasury"], row["closed"]) == (
            p["manager"],
            p["treasury"],
            p["closed"],
        )
    milestones = {m["milestone_id"]: m for m in _rows(db_url, schema.milestones, "milestone_id")}
    status = status_values()
    on_chain = {"0x" + mid.hex(): history.escrow.milestone(mid) for mid in history.ids.values()}
    assert set(milestones) == set(on_chain)
    for mid, m in milestones.items():
        stored = on_chain[mid]
        assert (m["program_id"], m["beneficiary"], m["amount"], m["deadline"]) == (
            stored[0],
            stored[1],
            stored[2],
            stored[3],
        ), mid
        # The index keeps the status the events set; the view reads a lapsed Registered
        # milestone as Expired (one place decides a status that depends on time).
        lapsed = m["status"] == status["REGISTERED"] and m["deadline"] < chain.time()
        assert stored[5] == (status["EXPIRED"] if lapsed else m["status"]), mid
    paid = {p["milestone_id"]: p for p in _rows(db_url, schema.payments, "block", "log_index")}
    released = {ref for ref in ("A/M1", "A/M2", "A/M5", "B/M1")}
    assert set(paid) == {"0x" + history.ids[ref].hex() for ref in released}
    assert paid["0x" + history.ids["A/M5"].hex()]["forced"] is True
    assert paid["0x" + history.ids["A/M1"].hex()]["amount"] == 10_000 * TOKEN_UNIT
    proposals = _rows(db_url, schema.proposals, "proposal_id")
    assert [p["proposal_id"] for p in proposals] == [p["id"] for p in doc["proposals"]]
    assert [p["executed_block"] is not None for p in proposals] == [
        p["status"] == "executed" for p in doc["proposals"]
    ]


def test_the_programs_carry_their_facts_and_every_baseline_they_had(db_url, disburse):
    assert disburse("index", "--db", db_url).exit_code == 0
    programs = {p["program_id"]: p for p in _rows(db_url, schema.programs, "program_id")}
    for pid, facts in ((1, PROGRAM_A), (2, PROGRAM_B)):
        row = programs[pid]
        assert (row["title"], row["organisation"], row["category"], row["fiscal_year"]) == (
            facts.title,
            facts.organisation,
            facts.category,
            facts.fiscal_year,
        )
        assert row["baseline_original"] == facts.baseline
    assert programs[2]["baseline_current"] == PROGRAM_B.baseline
    assert programs[1]["baseline_current"] == RAISED_BASELINE * TOKEN_UNIT  # proposal 7
    changes = _rows(db_url, schema.baselines, "block", "log_index")
    assert [(c["program_id"], c["previous"], c["baseline"]) for c in changes] == [
        (1, PROGRAM_A.baseline, RAISED_BASELINE * TOKEN_UNIT)
    ]


def test_the_audit_from_the_index_is_the_audit_from_the_chain(db_url, disburse):
    assert disburse("index", "--db", db_url).exit_code == 0
    from_chain = disburse("audit", "--json")
    from_index = disburse("audit", "--json", "--db", db_url)
    assert from_index.exit_code == 0, from_index.stderr
    assert json.loads(from_index.stdout) == json.loads(from_chain.stdout)
    assert json.loads(from_index.stdout)["reconciliation"]["ok"] is True


def test_the_audit_from_an_index_behind_the_chain_reconciles_at_the_index_block(
    db_url, disburse, history, roles
):
    assert disburse("index", "--db", db_url).exit_code == 0
    indexed_at = web3.eth.block_number
    history.escrow.fund(1, 5 * TOKEN_UNIT, {"from": roles.manager})
    report = disburse("audit", "--json", "--db", db_url)
    assert report.exit_code == 0, report.stderr
    doc = json.loads(report.stdout)
    assert doc["to_block"] == indexed_at
    assert doc["reconciliation"]["ok"] is True


def test_a_chain_that_went_back_is_rolled_back_to_the_common_ancestor(
    db_url, disburse, history, roles, tmp_path
):
    manager = {"from": roles.manager}
    chain.snapshot()
    history.escrow.fund(1, 7 * TOKEN_UNIT, manager)
    history.escrow.fund(1, 8 * TOKEN_UNIT, manager)
    assert disburse("index", "--db", db_url).exit_code == 0
    gone = web3.eth.get_block("latest")
    chain.revert()
    history.escrow.fund(1, 3 * TOKEN_UNIT, manager)
    assert web3.eth.get_block(gone.number - 1).hash != gone.hash

    again = disburse("index", "--db", db_url)
    assert again.exit_code == 0, again.stderr
    assert "rolled back to block" in again.stdout
    assert "(2 events dropped)" in again.stdout
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert disburse("index", "--db", fresh).exit_code == 0
    assert _snapshot(db_url) == _snapshot(fresh)
    report = disburse("audit", "--json", "--db", db_url)
    assert json.loads(report.stdout)["reconciliation"]["ok"] is True


def test_amounts_beyond_64_bits_are_stored_sorted_and_summed_exactly(db_url):
    engine = open_engine(db_url)
    try:
        schema.metadata.create_all(engine)
        big = [2**255 + 1, 2**200, 12, 2**64]
        with engine.begin() as conn:
            conn.execute(
                schema.payments.insert(),
                [
                    {
                        "block": i,
                        "log_index": 0,
                        "milestone_id": "0x" + "00" * 32,
                        "program_id": 1,
                        "beneficiary": "0x" + "00" * 20,
                        "amount": amount,
                        "time": 0,
                        "forced": False,
                    }
                    for i, amount in enumerate(big)
                ],
            )
        with engine.connect() as conn:
            total = conn.execute(select(schema.uint_sum(schema.payments.c.amount))).scalar_one()
            ordered = conn.execute(
                select(schema.payments.c.amount).order_by(schema.payments.c.amount)
            ).scalars()
            assert total == sum(big)
            assert list(ordered) == sorted(big)
            empty = conn.execute(
                select(schema.uint_sum(schema.payments.c.amount)).where(
                    schema.payments.c.block > 99
                )
            ).scalar_one()
            assert empty == 0
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://root@127.0.0.1/test", "runs on SQLite (sqlite:///FILE) or PostgreSQL"),
        ("sqlite://", "must be a file"),
        ("not a url", "is not a database URL"),
        ("sqlite:////no/such/folder/ledger.db", "the folder /no/such/folder does not exist"),
        ("postgresql://postgres@127.0.0.1:1/test", "cannot open the index at postgresql"),
    ],
)
def test_a_bad_database_url_is_refused_with_the_reason(disburse, url, words):
    result = disburse("index", "--db", url)
    assert result.exit_code == 2
    assert words in result.stderr
    assert result.stderr.startswith("error: ")


def test_a_password_in_the_url_is_never_shown():
    with pytest.raises(Exception) as caught:
        open_engine("postgresql://postgres:s3cret@127.0.0.1:1/test")
    assert "s3cret" not in str(caught.value)
    assert str(parse_url("postgresql://u@h/d").drivername) == "postgresql+psycopg"


def test_an_index_of_another_deployment_is_refused_and_left_as_it_was(
    db_url, disburse, history, tmp_path
):
    assert disburse("index", "--db", db_url).exit_code == 0
    before = _snapshot(db_url)
    other = load(history.deployment_file).model_copy(update={"escrow": history.council.address})
    path = tmp_path / "other.json"
    save(other, path)
    from typer.testing import CliRunner

    from disburse.cli import app

    result = CliRunner().invoke(
        app,
        [
            "--deployment",
            str(path),
            "--rpc-url",
            str(web3.provider.endpoint_uri),
            "index",
            "--db",
            db_url,
        ],
    )
    assert result.exit_code == 2
    assert "indexes another deployment: its escrow is" in result.stderr
    assert _snapshot(db_url) == before


def test_a_newer_schema_is_refused_and_nothing_is_written(db_url, disburse):
    assert disburse("index", "--db", db_url).exit_code == 0
    before = _snapshot(db_url)
    engine = create_engine(parse_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    result = disburse("index", "--db", db_url)
    assert result.exit_code == 2
    assert "has index schema 9999, newer than this version of disburse knows" in result.stderr
    assert _snapshot(db_url) == before
    audit = disburse("audit", "--db", db_url)
    assert audit.exit_code == 2
    assert "newer than this version" in audit.stderr


def test_a_database_that_is_not_an_index_is_refused_and_not_touched(db_url, disburse):
    engine = create_engine(parse_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE payroll (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(text("INSERT INTO payroll VALUES (1, 'kept')"))
    result = disburse("index", "--db", db_url)
    assert result.exit_code == 2
    assert "already holds tables that are not a disburse index (payroll)" in result.stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM payroll")).scalar_one() == "kept"
        from sqlalchemy import inspect

        assert inspect(conn).get_table_names() == ["payroll"]
    engine.dispose()


def test_the_audit_refuses_a_database_that_holds_no_index(disburse, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = disburse("audit", "--db", url)
    assert result.exit_code == 2
    assert "holds no index yet: build it with `disburse index --db URL`" in result.stderr


def test_the_migrated_schema_is_the_schema_the_code_describes(db_url, history):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store = IndexStore.open(db_url, load(history.deployment_file))
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    finally:
        store.close()
    assert diff == []

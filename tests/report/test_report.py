"""`disburse report` from an index of the audit's history (tests/audit/conftest.py):

report
├── text: by organisation, category and fiscal year; programs with earned value; alerts;
│   forecasts; the reconciliation; stamped with the index's block and hash
├── JSON: the money of each program is the audit's; the alerts the history was built to
│   raise are there (force-release and dispute rates, an overdue milestone, concentration)
├── CSV: one row per program
├── HTML: one file that asks for nothing (no script, no external reference), charts inline
└── refused: an index not built yet, --json with --csv
"""

from __future__ import annotations

import csv
import io
import json
import re

from brownie import web3
from sqlalchemy import select

from disburse.index import schema
from disburse.index.store import RECONCILIATION_KEY, open_engine
from tests.audit.conftest import PROGRAM_A, PROGRAM_B, RAISED_BASELINE
from tests.conftest import TOKEN_UNIT


def _indexed(disburse, db_url):
    result = disburse("index", "--db", db_url)
    assert result.exit_code == 0, result.stderr


def test_the_text_report_is_stamped_and_reconciled(db_url, disburse):
    _indexed(disburse, db_url)
    result = disburse("report", "--db", db_url)
    assert result.exit_code == 0, result.stderr
    head = web3.eth.get_block("latest")
    assert f"block {head.number:,} (0x{bytes(head.hash).hex()})" in result.stdout
    for section in ("By organisation", "By category", "By fiscal year", "Programs", "Alerts"):
        assert section in result.stdout
    assert "Reconciliation: OK: the index's ledger matches the chain" in result.stdout


def test_the_json_report_holds_the_audits_money_and_the_alerts_the_history_raises(
    db_url, disburse, history
):
    _indexed(disburse, db_url)
    report = json.loads(disburse("report", "--db", db_url, "--json").stdout)
    audit = json.loads(disburse("audit", "--json").stdout)
    programs = {p["facts"]["program_id"]: p for p in report["programs"]}
    for p in audit["programs"]:
        facts = programs[p["id"]]["facts"]
        assert (facts["funded"], facts["paid"], facts["committed"]) == (
            p["funded"],
            p["paid"],
            p["committed"],
        )
    kinds = {(a["kind"], a["program_id"]) for a in report["alerts"]}
    assert ("force_release_rate", 1) in kinds  # A/M5 of nine
    assert ("dispute_rate", 1) in kinds  # A/M3 of nine
    overdue = [a for a in report["alerts"] if a["kind"] == "overdue"]
    assert [a["milestone_id"] for a in overdue] == ["0x" + history.ids["A/M7"].hex()]
    assert report["reconciliation"]["ok"] is True
    assert report["stamp"]["block"] == web3.eth.block_number
    open_ids = {f["milestone_id"] for f in report["forecasts"]}
    assert "0x" + history.ids["A/M8"].hex() in open_ids  # registered, deadline ahead


def test_the_json_report_rolls_the_programs_up_by_their_facts(db_url, disburse):
    _indexed(disburse, db_url)
    report = json.loads(disburse("report", "--db", db_url, "--json", "--no-reconcile").stdout)
    by = {
        kind: {g["key"]: g for g in report[f"by_{kind}"]}
        for kind in ("organisation", "category", "fiscal_year")
    }
    assert by["organisation"]["MSDF"]["programs"] == [1]
    assert by["organisation"]["ATLA"]["programs"] == [2]
    assert sorted(by["category"]) == ["maintenance", "research"]
    assert sorted(by["fiscal_year"]) == ["2026", "2027"]  # keys are labels
    msdf = by["organisation"]["MSDF"]["totals"]
    assert msdf["baseline"] == str(RAISED_BASELINE * TOKEN_UNIT)  # the current one
    assert msdf["funded"] == str(150_000 * TOKEN_UNIT)
    facts = {p["facts"]["program_id"]: p["facts"] for p in report["programs"]}
    assert facts[1]["baseline_original"] == str(PROGRAM_A.baseline)
    assert facts[2]["title"] == PROGRAM_B.title


def test_the_csv_report_has_a_row_per_program(db_url, disburse):
    _indexed(disburse, db_url)
    result = disburse("report", "--db", db_url, "--csv", "--no-reconcile")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["program_id"] for r in rows] == ["1", "2"]
    assert int(rows[1]["refunded"]) > 0  # program 2's remainder went back to its treasury


def test_the_html_report_is_one_file_that_asks_for_nothing(db_url, disburse, tmp_path):
    _indexed(disburse, db_url)
    page = tmp_path / "report.html"
    result = disburse("report", "--db", db_url, "--html", str(page), "--no-reconcile")
    assert result.exit_code == 0, result.stderr
    text = page.read_text()
    assert text.startswith("<!doctype html>")
    assert "<svg" in text and "<polyline" in text
    assert "<script" not in text
    assert not re.search(r"""(src|href)\s*=|url\(|@import|https?://""", text), "external reference"


def test_a_report_needs_an_index_and_one_format(disburse, tmp_path):
    missing = disburse("report", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.exit_code == 2
    assert "holds no index yet" in missing.stderr
    both = disburse("report", "--json", "--csv")
    assert both.exit_code == 2
    assert "--json and --csv are alternatives" in both.stderr


def test_a_report_of_one_program_holds_only_that_program(db_url, disburse):
    _indexed(disburse, db_url)
    whole = json.loads(disburse("report", "--db", db_url, "--json", "--no-reconcile").stdout)
    result = disburse("report", "--db", db_url, "--json", "--no-reconcile", "--program", "2")
    assert result.exit_code == 0, result.stderr
    one = json.loads(result.stdout)
    assert [p["facts"]["program_id"] for p in one["programs"]] == [2]
    assert [g["key"] for g in one["by_organisation"]] == ["ATLA"]
    assert {a["program_id"] for a in one["alerts"]} <= {2, None}
    assert all(a["program_id"] != 1 for a in one["alerts"])
    program_2 = next(p for p in whole["programs"] if p["facts"]["program_id"] == 2)
    assert one["programs"][0] == program_2  # the same figures as in the whole report
    text = disburse("report", "--db", db_url, "--no-reconcile", "--program", "1").stdout
    assert PROGRAM_A.title in text and PROGRAM_B.title not in text


def test_a_report_of_a_program_the_index_does_not_hold_is_refused(db_url, disburse):
    _indexed(disburse, db_url)
    result = disburse("report", "--db", db_url, "--program", "1", "--program", "9")
    assert result.exit_code == 2
    assert "the index holds no program 9 (it holds 2 programs, numbered from 1)" in result.stderr
    assert result.stdout == ""
    zero = disburse("report", "--db", db_url, "--program", "0")
    assert zero.exit_code == 2 and "--program" in zero.stderr


def _recorded(db_url):
    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            m = schema.meta
            row = conn.execute(select(m.c.value).where(m.c.key == RECONCILIATION_KEY)).first()
            return None if row is None else json.loads(row[0])
    finally:
        engine.dispose()


def test_a_reconciliation_leaves_its_result_in_the_index_for_the_console(db_url, disburse):
    _indexed(disburse, db_url)
    assert _recorded(db_url) is None
    assert disburse("report", "--db", db_url, "--no-reconcile").exit_code == 0
    assert _recorded(db_url) is None  # nothing checked, nothing said
    assert disburse("report", "--db", db_url).exit_code == 0
    head = web3.eth.block_number
    assert _recorded(db_url) == {"ok": True, "differences": 0, "block": head}
    web3.provider.make_request("evm_mine", [])
    assert disburse("index", "--db", db_url).exit_code == 0
    assert disburse("audit", "--db", db_url).exit_code == 0
    assert _recorded(db_url) == {"ok": True, "differences": 0, "block": head + 1}

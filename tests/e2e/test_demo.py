"""The demo scenario (`make demo`) runs to the end on the test chain: manager commands, three
oracle node processes, council overrides and the audit, all through the users' tools."""

from __future__ import annotations

import io
from typing import Any

import pytest

import scripts.demo as demo


@pytest.fixture(scope="module", autouse=True)
def isolate(module_isolation: Any) -> None:
    """The demo's node processes outlive any one test: a fresh chain for the module only."""


def test_demo_scenario_runs_to_the_audit(tmp_path):
    out = io.StringIO()
    demo._OUT = out
    nodes: list[Any] = []
    try:
        demo.scenario(nodes, home=tmp_path / "demo")
    finally:
        for node in nodes:
            node.stop()
    text = out.getvalue()
    assert "registered 5, skipped 0" in text
    assert "CR-2026/M5 spare parts       Disputed" in text
    assert "M3 rejected by audit-office: claims: claim 'units_delivered' is 10" in text
    assert "CR-2026/M4 crew training: Frozen" in text
    assert "(2 of 2) and executed" in text
    assert "CR-2026/M1 hull survey: released by an oracle node" in text
    assert "CR-2026/M2 radar delivery: released by an oracle node" in text
    assert "$ disburse audit" in text
    assert "OK:" in text
    # The demo ends with the ledger index and the budget report built from it.
    assert "$ disburse index" in text
    assert "lag 0 blocks" in text
    assert "$ disburse report --html" in text
    assert "By organisation" in text
    assert "Reconciliation: OK: the index's ledger matches the chain" in text
    page = (tmp_path / "demo" / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<script" not in page

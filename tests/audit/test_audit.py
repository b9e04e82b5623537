"""`disburse audit` through the CLI runner, against anvil (the history is the module fixture's,
described in conftest.py).

    audit
    ├── the chain does not answer ................ exit 2, one line naming the endpoint
    ├── no deployment file ....................... exit 2, names the file
    ├── --json with --csv ........................ exit 2, nothing read
    ├── the history rebuilt
    │   ├── ledgers per program and overall (funded, committed, paid, refunded, returns, available)
    │   ├── every milestone's timeline, with who acted (oracle, manager, council, tx sender)
    │   ├── council proposals in plain words, approvals and revocations, executed/expired/open
    │   └── flags (force-release, dispute, oracle disagreement, release at the window's end,
    │       overdue, expired, schedule)
    ├── outputs: text, --json (one document, matching the chain), --csv (a row per milestone)
    ├── reconciliation: OK; tokens moved into the escrow directly → exit 1, token and amount named
    ├── --from-block after the deployment ........ partial history, not reconciled
    └── a small eth_getLogs range cap ............ the same report
and the streaming parser of eth_getLogs responses (chunk boundaries, node errors).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from brownie import web3
from eth_utils import keccak

from disburse._format import short
from disburse.chain.errors import ChainError, LogRangeTooLargeError
from disburse.chain.logs import result_items
from tests.audit.conftest import FORCE_REASON, units

STATUS = (
    "None",
    "Registered",
    "Verified",
    "Disputed",
    "Frozen",
    "Released",
    "Cancelled",
    "Expired",
)


def by_ref(doc: dict[str, Any], history: Any) -> dict[str, dict[str, Any]]:
    refs = {"0x" + mid.hex(): ref for ref, mid in history.ids.items()}
    return {refs[m["id"]]: m for m in doc["milestones"]}


def program(doc: dict[str, Any], pid: int) -> dict[str, Any]:
    return next(p for p in doc["programs"] if p["id"] == pid)


# ------------------------------------------------------------------------------------ failures


def test_an_unreachable_chain_fails_with_one_clear_line(run_audit, tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text("retries: 1\nbackoff_s: 0.01\n")
    result = run_audit(rpc_url="http://127.0.0.1:9", root=("--profile", str(profile)))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: eth_chainId: http://127.0.0.1:9 did not answer")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_deployment_file_is_named(cli, tmp_path):
    from typer.testing import CliRunner

    missing = tmp_path / "nowhere.json"
    result = CliRunner().invoke(cli, ["--deployment", str(missing), "audit"])
    assert result.exit_code == 2
    assert f"no deployment file at {missing}" in result.stderr


def test_json_and_csv_together_are_refused(run_audit):
    result = run_audit("--json", "--csv")
    assert result.exit_code == 2
    assert "--json and --csv are alternatives" in result.stderr


# ------------------------------------------------------------------------------------ ledgers


def test_each_program_ledger_adds_up_funding_payments_and_returns(audit_json):
    one = program(audit_json, 1)
    assert one["funded"] == str(units(150_000))
    assert one["fundings"] == 2
    assert one["paid"] == str(units(33_000))
    assert one["force_paid"] == str(units(3_000))
    assert one["committed"] == str(units(5_000 + 6_000 + 8_000 + 9_000))
    assert one["refunded"] == "0"
    assert one["returned_cancelled"] == str(units(7_000))
    assert one["returned_expired"] == str(units(4_000))
    assert one["balance"] == str(units(117_000))
    assert one["available"] == str(units(117_000 - 28_000))
    two = program(audit_json, 2)
    assert (two["funded"], two["paid"], two["refunded"]) == tuple(
        str(units(n)) for n in (10_000, 2_000, 8_000)
    )
    assert (two["balance"], two["committed"], two["available"], two["closed"]) == (
        "0",
        "0",
        "0",
        True,
    )


def test_the_overall_ledger_is_the_sum_per_token(audit_json, history):
    overall = audit_json["overall"][history.token.address]
    assert overall["funded"] == str(units(160_000))
    assert overall["paid"] == str(units(35_000))
    assert overall["refunded"] == str(units(8_000))
    assert overall["committed"] == str(units(28_000))
    assert overall["balance"] == str(units(117_000))
    assert overall["available"] == str(units(89_000))
    assert audit_json["tokens"][history.token.address] == {"symbol": "JPYT", "decimals": 18}


# ------------------------------------------------------------------------------------ timelines


def test_a_released_milestone_shows_each_oracle_and_who_released_it(audit_json, history, roles):
    m = by_ref(audit_json, history)["A/M1"]
    events = [e["event"] for e in m["timeline"]]
    assert events == ["registered", "attested", "attested", "verified", "released"]
    registered, first, second, verified, released = m["timeline"]
    assert registered["by"] == roles.manager
    assert registered["amount"] == str(units(10_000))
    assert [first["by"], second["by"]] == [history.oracles[0], history.oracles[1]]
    assert first["evidence_hash"] == "0x" + keccak(text="evidence:A/M1").hex()
    assert verified["attestations"] == 2
    assert released["by"] == roles.outsider
    assert released["paid_to"] == roles.beneficiary
    assert released["amount"] == str(units(10_000))
    assert m["status"] == "Released"


def test_council_actions_name_the_proposal_and_its_executor(audit_json, history, roles):
    ms = by_ref(audit_json, history)
    executor = history.members[1]
    frozen, cancelled = ms["A/M4"]["timeline"][-2:]
    assert (frozen["event"], frozen["by"], frozen["proposal"]) == ("frozen", executor, 1)
    assert (cancelled["event"], cancelled["proposal"]) == ("cancelled", 2)
    assert ms["A/M4"]["status"] == "Cancelled"
    forced, paid = ms["A/M5"]["timeline"][1:]
    assert forced["event"] == "force-released"
    assert forced["reason_hash"] == "0x" + keccak(text=FORCE_REASON).hex()
    assert (forced["by"], forced["proposal"]) == (executor, 3)
    assert (paid["event"], paid["proposal"], paid["paid_to"]) == ("released", 3, roles.beneficiary)
    replaced = ms["A/M8"]["timeline"][-1]
    assert replaced["event"] == "beneficiary-replaced"
    assert (replaced["previous"], replaced["beneficiary"]) == (
        roles.beneficiary,
        roles.beneficiary2,
    )
    assert replaced["proposal"] == 4
    assert ms["A/M8"]["beneficiary"] == roles.beneficiary2


def test_disputes_expiries_and_relayed_attestations_are_told(audit_json, history, roles):
    ms = by_ref(audit_json, history)
    disputed = ms["A/M3"]["timeline"][-1]
    assert disputed["event"] == "disputed"
    assert disputed["by"] == history.oracles[1]
    assert disputed["conflicting_hash"] == "0x" + keccak(text="evidence:second").hex()
    assert ms["A/M3"]["status"] == "Disputed"
    expired = ms["A/M6"]["timeline"][-1]
    assert (expired["event"], expired["by"]) == ("expired", roles.outsider)
    assert ms["A/M7"]["status"] == "Expired"  # what statusOf says of an overdue milestone
    relayed = [e["by"] for e in ms["B/M1"]["timeline"] if e["event"] == "attested"]
    assert relayed == [history.oracles[0], history.oracles[1]]
    epochs = [e["epoch"] for e in ms["A/M9"]["timeline"] if e["event"] == "attested"]
    assert epochs == [1, 2, 2]


# ------------------------------------------------------------------------------------ proposals


def test_proposals_are_decoded_into_plain_words_with_approvals(audit_json, history, roles):
    proposals = {p["id"]: p for p in audit_json["proposals"]}
    ids = history.ids
    jpyt = "JPYT"
    assert proposals[1]["text"] == f"freeze milestone A/M4 ({short(ids['A/M4'])})"
    assert proposals[2]["text"] == f"cancel milestone A/M4 ({short(ids['A/M4'])}) (7,000 {jpyt})"
    assert proposals[3]["text"] == (
        f"force-release milestone A/M5 ({short(ids['A/M5'])}) to {roles.beneficiary} for "
        f"3,000 {jpyt}, reason {short(keccak(text=FORCE_REASON))}"
    )
    assert proposals[4]["text"] == (
        f"replace the beneficiary of milestone A/M8 ({short(ids['A/M8'])}) with "
        f"{roles.beneficiary2} (was {roles.beneficiary})"
    )
    oracles = ", ".join(str(o) for o in history.oracles)
    assert proposals[5]["text"] == f"set the oracle committee to {oracles} with quorum 2"
    first, second = proposals[3]["approvals"]
    assert (first["member"], first["approvals"]) == (history.members[0], 1)
    assert (second["member"], second["approvals"]) == (history.members[1], 2)
    assert first["time"] <= second["time"] == proposals[3]["executed"]["time"]
    assert proposals[3]["executed"]["executor"] == history.members[1]
    assert proposals[3]["status"] == "executed"
    stale = proposals[6]
    assert stale["status"] == "expired"
    assert stale["executed"] is None
    assert [(a["member"], a["approvals"]) for a in stale["approvals"]] == [(history.members[2], 1)]
    assert [(r["member"], r["approvals"]) for r in stale["revocations"]] == [
        (history.members[2], 0)
    ]
    assert stale["description"] == "cancel A/M8 (withdrawn)"


def test_committee_renewals_are_attributed_to_their_proposal(audit_json, history):
    renewals = [g for g in audit_json["governance"] if g["event"] == "committee-updated"]
    assert [g["proposal"] for g in renewals] == [None, 5]
    assert renewals[1]["by"] == history.members[1]
    assert "epoch 2" in renewals[1]["text"]


# ------------------------------------------------------------------------------------ flags


def test_flags_name_every_milestone_and_program_that_needs_review(audit_json, history):
    refs = {"0x" + mid.hex(): ref for ref, mid in history.ids.items()}
    found = {(f["kind"], refs.get(f["milestone"] or "", f["program"])) for f in audit_json["flags"]}
    assert found == {
        ("force-release", "A/M5"),
        ("dispute", "A/M3"),
        ("oracle-disagreement", "A/M9"),
        ("overdue", "A/M7"),
        ("expired", "A/M6"),
        ("schedule-ahead", 1),
    }
    schedule = next(f for f in audit_json["flags"] if f["kind"] == "schedule-ahead")
    assert "paid 51% of its scheduled 65,000 JPYT while 15% is due" in schedule["message"]
    # A release ten seconds after the window closed is what the nodes do by design: no flag
    # (issue 11, item 20, replaced release-at-window-end).
    assert by_ref(audit_json, history)["A/M2"]["flags"] == []


def test_a_wider_schedule_tolerance_drops_the_schedule_flag(run_audit):
    result = run_audit("--json", "--schedule-tolerance", "0.5")
    assert result.exit_code == 0
    kinds = {f["kind"] for f in json.loads(result.stdout)["flags"]}
    assert "schedule-ahead" not in kinds


# ------------------------------------------------------------------------------------ outputs


def test_json_is_one_document_that_matches_the_chain(audit_json, history):
    escrow = history.escrow
    assert audit_json["reconciliation"]["ok"] is True
    assert audit_json["reconciliation"]["milestones"] == len(history.ids)
    for p in audit_json["programs"]:
        on_chain = escrow.program(p["id"])
        assert (int(p["balance"]), int(p["committed"])) == (on_chain[5], on_chain[6])
    for m in audit_json["milestones"]:
        assert m["status"] == STATUS[escrow.statusOf(m["id"])]
    logs = web3.eth.get_logs(
        {
            "address": [escrow.address, history.council.address],
            "fromBlock": history.record.deployment_block,
            "toBlock": audit_json["to_block"],
        }
    )
    assert audit_json["events"] == len(logs)
    assert audit_json["from_block"] == history.record.deployment_block


def test_csv_has_a_row_per_milestone(run_audit, history, audit_json, roles):
    result = run_audit("--csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(history.ids)
    by = {r["ref"]: r for r in rows}
    assert set(by) == set(history.ids)
    assert by["A/M5"]["force_released"] == "yes"
    assert by["A/M5"]["reason_hash"] == "0x" + keccak(text=FORCE_REASON).hex()
    assert by["A/M1"]["released_by"] == roles.outsider
    assert by["A/M1"]["oracles"] == f"{history.oracles[0]};{history.oracles[1]}"
    assert by["A/M2"]["flags"] == ""
    assert by["A/M5"]["flags"] == "force-release"
    assert by["A/M4"]["status"] == "Cancelled"
    assert by["A/M1"]["amount"] == str(units(10_000))
    statuses = {m["id"]: m["status"] for m in audit_json["milestones"]}
    assert {r["milestone_id"]: r["status"] for r in rows} == statuses


def test_the_text_report_reads_as_a_report(run_audit, history):
    result = run_audit()
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "2 programs, 10 milestones, 7 council proposals" in text
    assert "150,000 JPYT" in text and "117,000 JPYT" in text
    assert f"#3 [executed] force-release milestone A/M5 ({short(history.ids['A/M5'])})" in text
    assert "#6 [expired] cancel milestone A/M8" in text
    assert f"revoked by {history.members[2]}" in text
    assert "by the council (proposal #1, executed by" in text
    assert "Flags for review (6)" in text  # the release-at-window-end noise is gone
    assert "Reconciliation\n  OK: 2 programs, 10 milestones, 7 proposals" in text


def test_output_can_go_to_a_file(run_audit, tmp_path, audit_json):
    target = tmp_path / "audit.json"
    result = run_audit("--json", "--output", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(target.read_text()) == audit_json


# ------------------------------------------------------------------------------------ reconcile


def test_tokens_moved_into_the_escrow_directly_fail_the_reconciliation(run_audit, history, roles):
    history.token.transfer(history.escrow, units(5), {"from": roles.funder})
    result = run_audit()
    assert result.exit_code == 1
    assert "Reconciliation\n  FAILED: 1 difference(s)" in result.stdout
    assert "error: reconciliation failed: 1 difference(s)" in result.stderr
    assert (
        f"token JPYT ({history.token.address}): the escrow holds 117,005 JPYT, but its programs' "
        f"balances add up to 117,000 JPYT: 5 JPYT ({units(5)} units) more than the ledger "
        "accounts for"
    ) in result.stderr
    doc = json.loads(run_audit("--json").stdout)
    (difference,) = doc["reconciliation"]["differences"]
    assert difference["field"] == "balanceOf(escrow)"
    assert int(difference["on_chain"]) - int(difference["rebuilt"]) == units(5)


# ------------------------------------------------------------------------------------ ranges


def test_from_block_gives_a_partial_history_that_is_not_reconciled(run_audit, audit_json, history):
    later = history.record.deployment_block + 20
    result = run_audit("--json", "--from-block", str(later))
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["from_block"] == later
    assert 0 < doc["events"] < audit_json["events"]
    assert doc["reconciliation"]["checked"] is False
    assert "partial ledger" in doc["reconciliation"]["note"]
    assert doc["anomalies"] == []


def test_a_small_log_range_cap_gives_the_same_report(run_audit, audit_json, tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text("log_range_cap: 3\n")
    result = run_audit("--json", root=("--profile", str(profile)))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == audit_json


# ------------------------------------------------------------------------------------ parser


def _reply(items: list[Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "result": items}).encode()


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_logs_are_parsed_across_any_chunk_boundary(size):
    items = [{"n": i, "text": "é€" * i} for i in range(20)]
    raw = _reply(items)
    chunks = (raw[i : i + size] for i in range(0, len(raw), size))
    assert list(result_items(chunks)) == items


def test_an_empty_result_has_no_logs():
    assert list(result_items(iter([_reply([])]))) == []


def test_a_range_the_node_refuses_raises_the_clients_error():
    refused = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "range too large"}}
    ).encode()
    with pytest.raises(LogRangeTooLargeError, match="range too large"):
        list(result_items(iter([refused[:10], refused[10:]])))


def test_a_response_cut_short_is_an_error():
    raw = _reply([{"n": 1}, {"n": 2}])
    with pytest.raises(ChainError, match="ended in the middle"):
        list(result_items(iter([raw[:-8]])))

"""Three oracle nodes (quorum two) as real processes against anvil: evidence in, attestations
on chain, release after the window; a node down; differing evidence; and `kill -9` at every
step of the journal, after which exactly one attestation per node reaches the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from brownie import chain, web3
from eth_account import Account
from eth_utils import keccak

from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.client import ChainClient
from disburse.chain.deployment import save
from disburse.chain.profile import ChainProfile
from oracle.evidence import EvidenceCreate, sign_inspector_approval, subject_hash
from scripts.deploy import deploy
from tests.conftest import TOKEN_UNIT
from tests.oracle.nodes import NodeProcess, evidence_state, make_node, upload_evidence, wait_for
from tests.programs import FACTS

WINDOW = 100
AMOUNT = 5_000 * TOKEN_UNIT
INSPECTORS = [Account.from_key(keccak(text=f"inspector-{i}")) for i in range(2)]
SPEC = f"""version: 1
title: Radar delivery, lot 7
required_documents:
  - {{name: delivery-note.pdf, media_type: application/pdf}}
claims:
  - {{name: units_delivered, kind: number, op: ">=", value: 50}}
  - {{name: acceptance_test_passed, kind: boolean, value: true}}
approvals:
  inspectors: ["{INSPECTORS[0].address}", "{INSPECTORS[1].address}"]
  required: 1
check_deadline: true
""".encode()
DOCUMENTS = {"delivery-note.pdf": b"%PDF-1.7 delivery note lot 7, 50 units\n"}


@pytest.fixture(scope="module", autouse=True)
def isolate(module_isolation: Any) -> None:
    """The node processes live across this module's tests: no rewind between tests, only a
    fresh chain for the module."""


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, roles: Any, oracles: list[Any]
) -> Iterator[dict[str, Any]]:
    from brownie import accounts

    root = tmp_path_factory.mktemp("nodes")
    record, escrow, _council, token = deploy(
        deployer=roles.admin,
        council_members=[str(a) for a in accounts[7:10]],
        threshold=2,
        oracles=[o.address for o in oracles[:3]],
        quorum=2,
        managers=[str(roles.manager)],
        with_token=True,
        evm_version="cancun",
    )
    deployment_file = root / "deployment.json"
    save(record, deployment_file)
    program = escrow.createProgram(
        token, roles.treasury, WINDOW, FACTS, {"from": roles.manager}
    ).return_value
    token.mint(roles.manager, 10**9 * TOKEN_UNIT, {"from": roles.admin})
    token.approve(escrow, 10**9 * TOKEN_UNIT, {"from": roles.manager})
    escrow.fund(program, 10**9 * TOKEN_UNIT, {"from": roles.manager})
    nodes = [
        make_node(
            name=f"node{i}",
            root=root,
            private_key=oracles[i].private_key,
            rpc_url=web3.provider.endpoint_uri,
            chain_id=chain.id,
            deployment_file=deployment_file,
        )
        for i in range(3)
    ]
    for node in nodes:
        node.start()
        with node.http() as http:
            assert http.post("/v1/specs", content=SPEC).status_code == 201
    yield {"escrow": escrow, "token": token, "program": program, "nodes": nodes, "root": root}
    for node in nodes:
        node.stop()


def new_milestone(system: dict[str, Any], roles: Any, ref: str) -> bytes:
    escrow = system["escrow"]
    terms = (
        external_ref(ref),
        str(roles.beneficiary),
        AMOUNT,
        chain.time() + 30 * 86400,
        keccak(SPEC),
    )
    escrow.registerMilestone(system["program"], terms, {"from": roles.manager})
    return milestone_id(system["program"], external_ref(ref))


def claims(units: int = 50) -> dict[str, Any]:
    return {"units_delivered": units, "acceptance_test_passed": True}


def approvals_for(milestone: bytes, the_claims: dict[str, Any]) -> list[dict[str, str]]:
    refs = [
        {
            "name": n,
            "sha256": __import__("hashlib").sha256(d).hexdigest(),
            "size": len(d),
            "media_type": "application/pdf",
        }
        for n, d in DOCUMENTS.items()
    ]
    subject = subject_hash(
        EvidenceCreate.model_validate(
            {
                "milestone_id": "0x" + milestone.hex(),
                "documents": refs,
                "claims": the_claims,
                "approvals": [],
            }
        )
    )
    inspector = INSPECTORS[0]
    return [
        {
            "inspector": inspector.address,
            "signature": sign_inspector_approval(inspector.key, subject),
        }
    ]


def submit(node: NodeProcess, milestone: bytes, units: int = 50) -> dict[str, Any]:
    the_claims = claims(units)
    return upload_evidence(
        node,
        milestone=milestone,
        documents=DOCUMENTS,
        claims=the_claims,
        approvals=approvals_for(milestone, the_claims),
    )


def client() -> ChainClient:
    return ChainClient(
        ChainProfile(name="test", rpc_url=web3.provider.endpoint_uri, chain_id=chain.id)
    )


def events(system: dict[str, Any], name: str, milestone: bytes, **filters: Any) -> list[Any]:
    c = client()
    contract = c.contract("MilestoneEscrow", system["escrow"].address)
    return c.get_logs(
        getattr(contract.events, name),
        from_block=0,
        to_block=c.block_number(),
        argument_filters={"milestoneId": milestone, **filters},
    )


def status(system: dict[str, Any], milestone: bytes) -> int:
    return int(system["escrow"].statusOf(milestone))


VERIFIED, DISPUTED, RELEASED = 2, 3, 5


def pass_window() -> None:
    chain.sleep(WINDOW + 1)
    chain.mine()


def test_evidence_to_two_nodes_is_verified_then_released_once_after_the_window(system, roles):
    nodes, token = system["nodes"], system["token"]
    mid = new_milestone(system, roles, "E2E-1")
    before = token.balanceOf(roles.beneficiary)
    first = [submit(node, mid) for node in nodes[:2]]
    wait_for(lambda: status(system, mid) == VERIFIED, what="quorum")
    for node, accepted in zip(nodes[:2], first[:2], strict=True):
        wait_for(
            lambda n=node, a=accepted: (
                evidence_state(n, a["id"])["attestation"]["state"] in ("confirmed",)
            ),
            what=f"{node.name} confirmed",
        )
    assert status(system, mid) == VERIFIED  # the window holds the payment
    pass_window()
    wait_for(lambda: status(system, mid) == RELEASED, what="release by a node")
    assert token.balanceOf(roles.beneficiary) - before == AMOUNT
    assert len(events(system, "MilestoneReleased", mid)) == 1
    per_oracle = [e["args"]["oracle"] for e in events(system, "AttestationRecorded", mid)]
    assert len(per_oracle) == len(set(per_oracle)) >= 2


def test_with_one_node_down_the_other_two_still_release(system, roles):
    nodes, token = system["nodes"], system["token"]
    nodes[2].stop()
    try:
        mid = new_milestone(system, roles, "E2E-DOWN")
        before = token.balanceOf(roles.beneficiary)
        submit(nodes[0], mid)
        submit(nodes[1], mid)
        wait_for(lambda: status(system, mid) == VERIFIED, what="quorum of the two up")
        pass_window()
        wait_for(lambda: status(system, mid) == RELEASED, what="release")
        assert token.balanceOf(roles.beneficiary) - before == AMOUNT
    finally:
        nodes[2].start()


def test_a_node_whose_evidence_differs_disputes_the_milestone_instead_of_paying(system, roles):
    nodes, token = system["nodes"], system["token"]
    mid = new_milestone(system, roles, "E2E-DISPUTE")
    before = token.balanceOf(roles.beneficiary)
    submit(nodes[0], mid, units=50)
    wait_for(lambda: len(events(system, "AttestationRecorded", mid)) == 1, what="first attestation")
    submit(nodes[1], mid, units=60)  # passes verification too, but it is other evidence
    wait_for(lambda: status(system, mid) == DISPUTED, what="dispute")
    pass_window()
    chain.sleep(5)
    assert status(system, mid) == DISPUTED
    assert token.balanceOf(roles.beneficiary) == before


def test_evidence_that_fails_verification_is_recorded_with_reasons_and_not_attested(system, roles):
    node = system["nodes"][0]
    mid = new_milestone(system, roles, "E2E-REJECT")
    accepted = submit(node, mid, units=10)
    wait_for(lambda: evidence_state(node, accepted["id"])["state"] == "rejected", what="rejection")
    shown = evidence_state(node, accepted["id"])
    assert any("units_delivered" in reason for reason in shown["reasons"])
    assert shown["attestation"] is None
    assert events(system, "AttestationRecorded", mid) == []


@pytest.mark.parametrize("step", ["received", "verified", "signed", "sending", "sent"])
def test_kill_9_at_each_journal_step_then_restart_gives_exactly_one_attestation(
    system, roles, step
):
    nodes = system["nodes"]
    victim = nodes[0]
    victim.stop()
    victim.start(fault=step)
    mid = new_milestone(system, roles, f"E2E-KILL-{step}")
    try:
        submit(victim, mid)
    except (httpx.HTTPError, AssertionError):
        pass  # killed while answering: the journal decides what happened
    assert victim.wait_exit(timeout=30) == -9, victim.logs()[-2000:]
    victim.start()
    oracle = Account.from_key(victim.private_key).address
    wait_for(
        lambda: system["escrow"].hasAttested(mid, oracle),
        what=f"attestation after restart at {step}",
    )
    submit(nodes[1], mid)
    wait_for(lambda: status(system, mid) == VERIFIED, what="quorum")
    mine = events(system, "AttestationRecorded", mid, oracle=oracle)
    assert len(mine) == 1, f"{len(mine)} attestations by the restarted node"


def test_nothing_secret_reaches_the_logs(system):
    texts = "\n".join(node.logs() for node in system["nodes"])
    assert "evidence verified" in texts  # the logs are there, and structured
    for node in system["nodes"]:
        key = node.private_key.removeprefix("0x").lower()
        assert key not in texts.lower()
        assert node.api_key not in texts
    from tests.oracle.nodes import PASSWORD

    assert PASSWORD not in texts


def test_a_wrong_keystore_password_stops_the_node_at_start(system):
    node = system["nodes"][2]
    node.stop()
    env = node.env()
    env["ORACLE_KEY_PASSWORD"] = "not the password"
    import subprocess

    from tests.oracle.nodes import ORACLE

    out = subprocess.run(
        [str(ORACLE), "run", "--config", str(node.config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "wrong password" in out.stderr
    assert "not the password" not in out.stderr + out.stdout
    node.start()


def test_health_reports_a_reachable_chain_and_a_current_cursor(system):
    import httpx as _httpx

    health = _httpx.get(system["nodes"][0].url + "/healthz", timeout=5).json()
    assert health["ok"] is True
    assert health["chain_reachable"] is True
    assert health["lag"] <= 10


def test_metrics_count_evidence_and_confirmed_attestations(system):
    import httpx as _httpx

    text = _httpx.get(system["nodes"][1].url + "/metrics", timeout=5).text
    confirmed = [
        line for line in text.splitlines() if line.startswith("oracle_attestations_confirmed_total")
    ]
    assert confirmed and float(confirmed[0].split()[-1]) >= 1
    assert "oracle_release_latency_seconds_bucket" in text


def test_the_cli_submits_evidence_through_the_same_api(system, roles, tmp_path):
    import subprocess

    from tests.oracle.nodes import ORACLE

    node = system["nodes"][1]
    mid = new_milestone(system, roles, "E2E-CLI")
    (tmp_path / "key").write_text(node.api_key)
    (tmp_path / "claims.yaml").write_text("units_delivered: 50\nacceptance_test_passed: true\n")
    (tmp_path / "delivery-note.pdf").write_bytes(DOCUMENTS["delivery-note.pdf"])
    (tmp_path / "approvals.json").write_text(json.dumps(approvals_for(mid, claims(50))))
    common = ["--node", node.url, "--api-key-file", str(tmp_path / "key")]
    out = subprocess.run(
        [
            str(ORACLE),
            "evidence",
            "submit",
            *common,
            "--milestone",
            "0x" + mid.hex(),
            "--claims",
            str(tmp_path / "claims.yaml"),
            "--document",
            str(tmp_path / "delivery-note.pdf"),
            "--approvals",
            str(tmp_path / "approvals.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    accepted = json.loads(out.stdout)
    wait_for(
        lambda: evidence_state(node, accepted["id"])["state"] == "confirmed",
        what="CLI evidence attested",
    )
    shown = subprocess.run(
        [str(ORACLE), "evidence", "show", str(accepted["id"]), *common],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(shown.stdout)["attestation"]["state"] == "confirmed"
    refused = subprocess.run(
        [
            str(ORACLE),
            "evidence",
            "submit",
            *common,
            "--milestone",
            "0x" + "00" * 32,
            "--claims",
            str(tmp_path / "claims.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "404" in refused.stderr and "not registered" in refused.stderr


def test_relayed_signatures_reach_the_chain_in_batches_sent_by_the_relaying_node(system, roles):
    nodes = system["nodes"]
    relayer, senders = nodes[2], nodes[:2]
    relay_key = relayer.home / "relay-key"
    relay_key.write_text(relayer.add_api_key("oracle-peers", role="oracle"))
    relayer.stop()
    relayer.write_config(relay=True, batch_delay_s=1.5, batch_size=50)
    relayer.start()
    for node in senders:
        node.stop()
        node.write_config(
            submission="relay", relayer_url=relayer.url, relayer_api_key_file=str(relay_key)
        )
        node.start()
    try:
        milestones = [new_milestone(system, roles, f"E2E-RELAY-{i}") for i in range(3)]
        for mid in milestones:
            for node in senders:
                submit(node, mid)
        for mid in milestones:
            wait_for(lambda m=mid: status(system, m) == VERIFIED, what="relayed quorum")
        recorded = [e for mid in milestones for e in events(system, "AttestationRecorded", mid)]
        assert len(recorded) == 6
        transactions = {e["transactionHash"] for e in recorded}
        assert len(transactions) <= 2, "the relayer batches milestones and oracles together"
        relayer_address = Account.from_key(relayer.private_key).address
        for tx in transactions:
            assert web3.eth.get_transaction(tx)["from"] == relayer_address
        for node in senders:  # the senders see their attestations confirmed from the chain
            with node.http() as http:
                rows = [http.get(f"/v1/evidence/{i}").json() for i in range(1, 60)]
            mine = [
                r for r in rows if r.get("milestone_id") in {"0x" + m.hex() for m in milestones}
            ]
            wait_for(
                lambda n=node, ids=[r["id"] for r in mine]: all(
                    evidence_state(n, i)["state"] == "confirmed" for i in ids
                ),
                what=f"{node.name} sees its relayed attestations",
            )
    finally:
        for node in (*senders, relayer):
            node.stop()
            node.write_config(
                submission="direct", relay=False, relayer_url=None, relayer_api_key_file=None
            )
            node.start()

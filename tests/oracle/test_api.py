"""The node's HTTP API in process (FastAPI's TestClient) against the real escrow on anvil: every
bad request gets a clear 4xx and stores nothing; generated malformed bodies never cause a 5xx."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from brownie import chain, web3
from eth_account import Account
from eth_utils import keccak
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.client import ChainClient
from disburse.chain.escrow import Escrow
from disburse.chain.profile import ChainProfile
from oracle.api import create_app
from oracle.intake import SpecStore
from oracle.journal import Journal
from oracle.metrics import Metrics
from oracle.node import Node
from oracle.store import DocumentStore
from tests.conftest import TOKEN_UNIT, evidence, milestone_input

MAX_DOC = 1024
SPEC = b"""version: 1
title: Acceptance of lot 3
required_documents:
  - {name: report.pdf}
claims:
  - {name: acceptance_test_passed, kind: boolean, value: true}
check_deadline: true
"""


@pytest.fixture
def api(tmp_path: Path, escrow: Any, oracles: list[Any]) -> dict[str, Any]:
    client = ChainClient(
        ChainProfile(name="test", rpc_url=web3.provider.endpoint_uri, chain_id=chain.id)
    )
    journal = Journal.open(tmp_path / "journal.sqlite3")
    node = Node(
        name="api-test",
        client=client,
        escrow=Escrow(client, escrow.address),
        account=Account.from_key(oracles[0].private_key),
        journal=journal,
        store=DocumentStore(tmp_path / "documents", max_bytes=MAX_DOC),
        specs=SpecStore(tmp_path / "specs"),
        metrics=Metrics(),
    )
    app = create_app(node, watcher=None, batcher=None, max_document_bytes=MAX_DOC)
    key = journal.add_api_key("inspector")
    http = TestClient(app)
    http.headers["X-API-Key"] = key
    return {"http": http, "node": node, "key": key, "root": tmp_path, "journal": journal}


def rows(api: dict[str, Any]) -> int:
    with sqlite3.connect(api["root"] / "journal.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM evidence").fetchone()[0])


def stored_files(api: dict[str, Any]) -> int:
    return sum(1 for p in (api["root"] / "documents").rglob("*") if p.is_file())


def register(
    escrow: Any, program_id: int, roles: Any, ref: str, spec: bytes = SPEC, **kw: Any
) -> bytes:
    escrow.registerMilestone(
        program_id,
        milestone_input(ref, roles.beneficiary, 10 * TOKEN_UNIT, spec=keccak(spec), **kw),
        {"from": roles.manager},
    )
    return milestone_id(program_id, external_ref(ref))


def body(milestone: bytes, document: bytes = b"report", **over: Any) -> dict[str, Any]:
    found = {
        "milestone_id": "0x" + milestone.hex(),
        "documents": [
            {
                "name": "report.pdf",
                "sha256": hashlib.sha256(document).hexdigest(),
                "size": len(document),
                "media_type": "application/pdf",
            }
        ],
        "claims": {"acceptance_test_passed": True},
        "approvals": [],
    }
    found.update(over)
    return found


@pytest.fixture
def ready(api: dict[str, Any], escrow: Any, program_id: int, roles: Any) -> bytes:
    http = api["http"]
    assert http.post("/v1/specs", content=SPEC).status_code == 201
    assert http.post("/v1/documents", content=b"report").status_code == 201
    return register(escrow, program_id, roles, "API-1")


def test_valid_evidence_is_accepted_and_journaled_once(api, ready):
    first = api["http"].post("/v1/evidence", json=body(ready))
    assert first.status_code == 202, first.text
    again = api["http"].post("/v1/evidence", json=body(ready))
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["state"] == "received"
    assert rows(api) == 1


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "ok_not-a-key"}, {"X-API-Key": ""}])
def test_requests_without_a_valid_api_key_are_refused_with_401(api, ready, headers):
    http = api["http"]
    response = http.post("/v1/evidence", json=body(ready), headers={"X-API-Key": "", **headers})
    assert response.status_code == 401
    assert rows(api) == 0


def test_a_revoked_key_is_refused(api, ready):
    api["journal"].revoke_api_key("inspector")
    assert api["http"].post("/v1/evidence", json=body(ready)).status_code == 401
    assert rows(api) == 0


def test_malformed_json_is_refused_with_422(api, ready):
    response = api["http"].post(
        "/v1/evidence", content=b'{"milestone_id": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert rows(api) == 0


def test_a_field_error_names_the_field(api, ready):
    response = api["http"].post("/v1/evidence", json=body(ready, milestone_id="0x1234"))
    assert response.status_code == 422
    assert "milestone_id" in json.dumps(response.json()["detail"])


def test_an_unknown_milestone_is_refused_with_404(api, ready):
    response = api["http"].post("/v1/evidence", json=body(keccak(text="no such milestone")))
    assert response.status_code == 404
    assert "not registered" in response.json()["detail"]
    assert rows(api) == 0


def test_an_oversized_document_is_refused_with_413_and_not_stored(api, ready):
    before = stored_files(api)
    response = api["http"].post("/v1/documents", content=b"x" * (MAX_DOC + 1))
    assert response.status_code == 413
    assert stored_files(api) == before


def test_a_document_hash_nobody_uploaded_is_refused_naming_the_document(api, ready):
    response = api["http"].post("/v1/evidence", json=body(ready, document=b"other bytes"))
    assert response.status_code == 422
    assert "report.pdf" in response.json()["detail"]
    assert rows(api) == 0


def test_a_document_size_that_differs_from_the_stored_one_is_refused(api, ready):
    wrong = body(ready)
    wrong["documents"][0]["size"] = 999
    response = api["http"].post("/v1/evidence", json=wrong)
    assert response.status_code == 422
    assert "size" in response.json()["detail"]


def test_a_specification_other_than_the_registered_one_is_never_used(
    api, escrow, program_id, roles
):
    registered = SPEC + b"# registered variant\n"
    mid = register(escrow, program_id, roles, "API-SPEC", spec=registered)
    api["http"].post("/v1/documents", content=b"report")
    api["http"].post("/v1/specs", content=SPEC)  # a different document than the one registered
    response = api["http"].post("/v1/evidence", json=body(mid))
    assert response.status_code == 422
    assert "0x" + keccak(registered).hex() in response.json()["detail"]
    assert rows(api) == 0


def test_evidence_for_an_expired_milestone_is_refused(api, escrow, program_id, roles):
    api["http"].post("/v1/specs", content=SPEC)
    api["http"].post("/v1/documents", content=b"report")
    mid = register(escrow, program_id, roles, "API-OLD", deadline=chain.time() + 3600)
    chain.sleep(7200)
    chain.mine()
    response = api["http"].post("/v1/evidence", json=body(mid))
    assert response.status_code == 422
    assert "deadline" in response.json()["detail"]
    assert rows(api) == 0


def test_evidence_for_a_milestone_already_verified_is_refused_with_409(api, ready, escrow, oracles):
    epoch = escrow.committee()[2]
    for oracle in oracles[:2]:
        escrow.attest(ready, evidence(), epoch, 0, {"from": oracle})
    response = api["http"].post("/v1/evidence", json=body(ready))
    assert response.status_code == 409
    assert "Verified" in response.json()["detail"]


def test_a_specification_that_does_not_parse_is_refused(api):
    response = api["http"].post("/v1/specs", content=b"version: 2\ntitle: x\n")
    assert response.status_code == 422
    assert list((api["root"] / "specs").iterdir()) == []


def test_unknown_evidence_id_is_404(api):
    assert api["http"].get("/v1/evidence/999").status_code == 404


def test_refusals_are_counted_in_metrics(api, ready):
    api["http"].post("/v1/evidence", json=body(ready), headers={"X-API-Key": "ok_wrong"})
    text = api["http"].get("/metrics").text
    assert 'oracle_requests_refused_total{status="401"} 1.0' in text


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
evidence_keys = st.sampled_from(["milestone_id", "documents", "claims", "approvals", "extra"])


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    payload=st.one_of(
        json_values,
        st.dictionaries(evidence_keys, json_values, max_size=5),
        st.binary(max_size=64),
        st.sampled_from(
            [
                b'{"milestone_id": NaN}',
                b'{"claims": {"units": Infinity}}',
                b'{"claims": {"units": -Infinity}, "documents": []}',
                b"[" * 2000,
                b'{"milestone_id": "0x' + b"0" * 64 + b'", "claims": {"a": 1e999}}',
            ]
        ),
    )
)
def test_generated_malformed_bodies_never_cause_a_5xx_or_a_journal_change(api, ready, payload):
    before = rows(api)
    if isinstance(payload, bytes):
        response = api["http"].post(
            "/v1/evidence", content=payload, headers={"content-type": "application/json"}
        )
    else:
        response = api["http"].post("/v1/evidence", json=payload)
    assert 400 <= response.status_code < 500, response.text
    assert rows(api) == before


# Batches: POST /v1/evidence/batch takes many submissions, all or none.


def test_a_batch_is_accepted_whole_in_order_and_again_changes_nothing(
    api, ready, escrow, program_id, roles
):
    others = [register(escrow, program_id, roles, f"API-B{i}") for i in range(2)]
    items = [body(m) for m in (ready, *others)]
    first = api["http"].post("/v1/evidence/batch", json={"items": items})
    assert first.status_code == 202, first.text
    found = first.json()["items"]
    assert [f["milestone_id"] for f in found] == [i["milestone_id"] for i in items]
    assert {f["state"] for f in found} == {"received"}
    assert rows(api) == 3
    again = api["http"].post("/v1/evidence/batch", json={"items": items})
    assert [f["id"] for f in again.json()["items"]] == [f["id"] for f in found]
    assert rows(api) == 3


def test_one_refused_item_refuses_the_batch_naming_it_and_stores_nothing(
    api, ready, escrow, program_id, roles
):
    other = register(escrow, program_id, roles, "API-B9")
    unknown = b"\x77" * 32
    response = api["http"].post(
        "/v1/evidence/batch", json={"items": [body(ready), body(other), body(unknown)]}
    )
    assert response.status_code == 404
    assert response.json()["detail"].startswith("item 2: milestone 0x7777")
    missing_doc = body(other, document=b"never uploaded")
    response = api["http"].post("/v1/evidence/batch", json={"items": [body(ready), missing_doc]})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("item 1: document 'report.pdf'")
    assert rows(api) == 0


@pytest.mark.parametrize("count", [0, 1001])
def test_a_batch_must_hold_between_one_and_a_thousand_items(api, ready, count):
    response = api["http"].post("/v1/evidence/batch", json={"items": [body(ready)] * count})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "items"]
    assert rows(api) == 0


def test_a_batch_needs_an_api_key(api, ready):
    response = api["http"].post(
        "/v1/evidence/batch", json={"items": [body(ready)]}, headers={"X-API-Key": ""}
    )
    assert response.status_code == 401
    assert rows(api) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(item=st.one_of(json_values, st.dictionaries(evidence_keys, json_values, max_size=5)))
def test_generated_malformed_batch_items_never_cause_a_5xx_or_a_journal_change(api, ready, item):
    before = rows(api)
    response = api["http"].post("/v1/evidence/batch", json={"items": [body(ready), item]})
    assert 400 <= response.status_code < 500, response.text
    assert rows(api) == before


# Hostile inputs (issue 11 item 14): each a clear 4xx (or 503), nothing stored.

DEEP_YAML = b"version: 1\ntitle: deep\nclaims: " + b"[" * 1000 + b"]" * 1000 + b"\n"
DEEP_JSON = b'{"version": 1, "title": "deep", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
LONG_INT = SPEC + b"  - {name: units, kind: number, op: '>=', value: " + b"9" * 5000 + b"}\n"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (SPEC.replace(b"lot 3", b"lot\x003"), "U+0000"),
        (b'{"version": 1, "title": "lot\\u00003", "claims": []}', "control characters"),
        (DEEP_YAML, "nested too deep"),
        (DEEP_JSON, "nested too deep"),
        (LONG_INT, "5000 digits"),
        (b'{"version": 1, "title": "t", "x": ' + b"9" * 5000 + b"}", "5000 digits"),
    ],
    ids=["nul-byte", "json-escaped-nul", "deep-yaml", "deep-json", "long-int", "long-int-json"],
)
def test_a_hostile_specification_is_refused_with_422_naming_the_problem(api, raw, words):
    response = api["http"].post("/v1/specs", content=raw)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert list((api["root"] / "specs").iterdir()) == []


@pytest.mark.parametrize("evidence_id", [2**63, 2**64, -(2**63) - 1, 0, 10**30])
def test_an_evidence_id_outside_the_journal_s_range_is_refused_with_422(api, evidence_id):
    response = api["http"].get(f"/v1/evidence/{evidence_id}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "evidence_id"]


def test_a_body_declared_over_the_limit_is_refused_with_413_before_it_is_read(api, ready):
    from oracle.api import MAX_JSON_BYTES

    sent: list[int] = []

    def chunks():  # an endless body: the node must stop reading it, not buffer it
        while True:
            sent.append(1)
            yield b" " * 65536

    response = api["http"].post(
        "/v1/evidence",
        content=chunks(),
        headers={"content-type": "application/json", "content-length": str(256 << 20)},
    )
    assert response.status_code == 413
    assert f"at most {MAX_JSON_BYTES}" in response.json()["detail"]
    assert len(sent) < 64, "the body was read far past the limit"
    assert rows(api) == 0


def test_a_streamed_body_over_the_limit_is_refused_with_413_once_it_passes_it(api, ready):
    from oracle.api import MAX_JSON_BYTES

    def chunks():
        for _ in range(64):  # 4 MiB in all, over the 1 MiB limit, without a Content-Length
            yield b" " * 65536

    response = api["http"].post(
        "/v1/evidence", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert str(MAX_JSON_BYTES) in response.json()["detail"]
    assert rows(api) == 0


def test_a_specification_over_the_limit_is_refused_with_413(api):
    response = api["http"].post("/v1/specs", content=SPEC + b"#" * (1 << 20))
    assert response.status_code == 413
    assert list((api["root"] / "specs").iterdir()) == []


@pytest.mark.parametrize(
    "template",
    [
        '{{"milestone_id": "0x{m}", "milestone_id": "0x{other}", "claims": {{}}}}',
        '{{"milestone_id": "0x{m}", "claims": {{"acceptance_test_passed": false,'
        ' "acceptance_test_passed": true}}}}',
    ],
    ids=["top-level", "nested"],
)
def test_duplicate_json_keys_are_refused_naming_the_key(api, ready, template):
    raw = template.format(m=ready.hex(), other="77" * 32).encode()
    response = api["http"].post(
        "/v1/evidence", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert "repeats the key" in response.json()["detail"]
    assert rows(api) == 0


def test_deeply_nested_or_huge_integer_evidence_is_refused_with_422(api, ready):
    for raw in (b'{"claims": ' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"claims": ' + b"9" * 5000):
        response = api["http"].post(
            "/v1/evidence", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
    assert rows(api) == 0


def test_evidence_during_a_chain_outage_is_answered_503_at_once_storing_nothing(
    tmp_path: Path, oracles: list[Any]
):
    import time

    dead = ChainClient(
        ChainProfile(name="dead", rpc_url="http://127.0.0.1:9", chain_id=chain.id, retries=5)
    )
    journal = Journal.open(tmp_path / "journal.sqlite3")
    node = Node(
        name="outage",
        client=dead,
        escrow=Escrow(dead, "0x" + "11" * 20),
        account=Account.from_key(oracles[0].private_key),
        journal=journal,
        store=DocumentStore(tmp_path / "documents", max_bytes=MAX_DOC),
        specs=SpecStore(tmp_path / "specs"),
        metrics=Metrics(),
    )
    http = TestClient(create_app(node, watcher=None, batcher=None, max_document_bytes=MAX_DOC))
    http.headers["X-API-Key"] = journal.add_api_key("inspector")
    http.post("/v1/documents", content=b"report")
    started = time.monotonic()
    response = http.post("/v1/evidence", json=body(b"\x01" * 32))
    assert response.status_code == 503, response.text
    assert time.monotonic() - started < 2.0, "answered after the client's retries"
    assert "nothing was stored" in response.json()["detail"]
    assert response.headers["retry-after"] == "5"
    assert journal.evidence_in_states(["received"]) == []


# Scoped API keys (issue 11 item 15): a key submits and reads only what its scope and the
# specification's `submitters:` allow.

SCOPED_SPEC = SPEC + b"submitters: [inspector]\n"


def scoped_node(tmp_path: Path, escrow: Any, oracle: Any, program_id: int) -> dict[str, Any]:
    client = ChainClient(
        ChainProfile(name="test", rpc_url=web3.provider.endpoint_uri, chain_id=chain.id)
    )
    journal = Journal.open(tmp_path / "journal.sqlite3")
    node = Node(
        name=tmp_path.name,
        client=client,
        escrow=Escrow(client, escrow.address),
        account=Account.from_key(oracle.private_key),
        journal=journal,
        store=DocumentStore(tmp_path / "documents", max_bytes=MAX_DOC),
        specs=SpecStore(tmp_path / "specs"),
        metrics=Metrics(),
    )
    http = TestClient(create_app(node, watcher=None, batcher=None, max_document_bytes=MAX_DOC))
    keys = {
        "ministry": journal.add_api_key("ministry", role="inspector", programs=[program_id]),
        "shipyard": journal.add_api_key("shipyard", role="contractor", programs=[program_id]),
        "elsewhere": journal.add_api_key("elsewhere", role="inspector", programs=[program_id + 99]),
    }
    http.headers["X-API-Key"] = keys["ministry"]
    assert http.post("/v1/specs", content=SCOPED_SPEC).status_code == 201
    assert http.post("/v1/documents", content=b"report").status_code == 201
    assert http.post("/v1/documents", content=b"our own report").status_code == 201
    return {"http": http, "node": node, "keys": keys, "journal": journal}


def as_key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_the_contractor_first_attack_cannot_dispute_the_milestone(
    tmp_path, escrow, program_id, roles, oracles
):
    nodes = [scoped_node(tmp_path / f"n{i}", escrow, oracles[i], program_id) for i in range(2)]
    mid = register(escrow, program_id, roles, "SCOPE-ATTACK", spec=SCOPED_SPEC)
    # The contractor sends its own passing evidence first, to every node.
    for n in nodes:
        response = n["http"].post(
            "/v1/evidence",
            json=body(mid, document=b"our own report"),
            headers=as_key(n["keys"]["shipyard"]),
        )
        assert response.status_code == 403, response.text
        assert "lets only inspector submit evidence" in response.json()["detail"]
        assert "role contractor" in response.json()["detail"]
        assert n["journal"].evidence_for_milestone(mid) == []
    # The ministry's inspector sends the real evidence; both nodes attest it.
    for n in nodes:
        accepted = n["http"].post("/v1/evidence", json=body(mid))
        assert accepted.status_code == 202, accepted.text
        n["node"].process_many([accepted.json()["id"]])
    assert int(escrow.statusOf(mid)) == 2, "Verified, not Disputed"
    (ministry,) = nodes[0]["journal"].evidence_for_milestone(mid)
    assert (
        "0x" + nodes[0]["node"].escrow.milestone(mid).evidence_hash.hex() == ministry.evidence_hash
    )


def test_a_key_scoped_to_other_programs_can_neither_submit_nor_read(
    tmp_path, escrow, program_id, roles, oracles
):
    n = scoped_node(tmp_path, escrow, oracles[0], program_id)
    mid = register(escrow, program_id, roles, "SCOPE-PROGRAM", spec=SCOPED_SPEC)
    refused = n["http"].post("/v1/evidence", json=body(mid), headers=as_key(n["keys"]["elsewhere"]))
    assert refused.status_code == 403
    assert f"not program {program_id}" in refused.json()["detail"]
    batch = n["http"].post(
        "/v1/evidence/batch",
        json={"items": [body(mid)]},
        headers=as_key(n["keys"]["elsewhere"]),
    )
    assert batch.status_code == 403
    assert n["journal"].evidence_for_milestone(mid) == []
    accepted = n["http"].post("/v1/evidence", json=body(mid))
    assert accepted.status_code == 202
    evidence_id = accepted.json()["id"]
    assert n["http"].get(f"/v1/evidence/{evidence_id}").status_code == 200
    for other in ("elsewhere", "shipyard"):  # another program; a role the spec does not take
        hidden = n["http"].get(f"/v1/evidence/{evidence_id}", headers=as_key(n["keys"][other]))
        assert hidden.status_code == 404, other


def test_a_key_scoped_to_milestones_submits_only_for_those(
    tmp_path, escrow, program_id, roles, oracles
):
    n = scoped_node(tmp_path, escrow, oracles[0], program_id)
    mine = register(escrow, program_id, roles, "SCOPE-M1", spec=SCOPED_SPEC)
    other = register(escrow, program_id, roles, "SCOPE-M2", spec=SCOPED_SPEC)
    key = n["journal"].add_api_key("site-inspector", role="inspector", milestones=[mine])
    assert n["http"].post("/v1/evidence", json=body(mine), headers=as_key(key)).status_code == 202
    refused = n["http"].post("/v1/evidence", json=body(other), headers=as_key(key))
    assert refused.status_code == 403
    assert "not for milestone" in refused.json()["detail"]
    assert n["journal"].evidence_for_milestone(other) == []


def test_only_an_oracle_key_may_hand_signatures_to_a_relayer(tmp_path, escrow, oracles):
    from oracle.relay import RelayBatcher

    client = ChainClient(
        ChainProfile(name="test", rpc_url=web3.provider.endpoint_uri, chain_id=chain.id)
    )
    reader = Escrow(client, escrow.address)
    journal = Journal.open(tmp_path / "journal.sqlite3")
    node = Node(
        name="relayer",
        client=client,
        escrow=reader,
        account=Account.from_key(oracles[2].private_key),
        journal=journal,
        store=DocumentStore(tmp_path / "documents", max_bytes=MAX_DOC),
        specs=SpecStore(tmp_path / "specs"),
        metrics=Metrics(),
    )
    batcher = RelayBatcher(
        client=client,
        escrow=reader,
        account=node.account,
        metrics=Metrics(),
        batch_size=10,
        batch_delay_s=0,
    )
    http = TestClient(create_app(node, watcher=None, batcher=batcher, max_document_bytes=MAX_DOC))
    item = {
        "milestone_id": "0x" + "01" * 32,
        "evidence_hash": "0x" + "02" * 32,
        "epoch": 1,
        "signature": "0x" + "03" * 64,
    }
    inspector = journal.add_api_key("inspector", role="inspector", programs=[1])
    refused = http.post("/v1/relay", json=item, headers=as_key(inspector))
    assert refused.status_code == 403
    assert "role oracle" in refused.json()["detail"]
    peer = journal.add_api_key("peers", role="oracle", programs=[1])
    # The peer's key passes the role check; this signature then fails its own check (422).
    assert http.post("/v1/relay", json=item, headers=as_key(peer)).status_code == 422
    assert batcher.queued() == 0

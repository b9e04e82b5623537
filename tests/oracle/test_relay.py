"""The relaying node's queue keeps every signature when the chain cannot be reached."""

from __future__ import annotations

import pytest
from eth_account import Account

from disburse.chain.attestations import CompactSignature
from disburse.chain.client import ChainClient
from disburse.chain.errors import ChainUnavailableError
from disburse.chain.escrow import Escrow
from disburse.chain.profile import ChainProfile
from oracle.metrics import Metrics
from oracle.relay import RelayBatcher


def test_a_batch_that_cannot_reach_the_chain_goes_back_into_the_queue():
    dead = ChainClient(
        ChainProfile(name="dead", rpc_url="http://127.0.0.1:9", chain_id=1, retries=0)
    )
    escrow = Escrow(dead, "0x" + "11" * 20)
    batcher = RelayBatcher(
        client=dead,
        escrow=escrow,
        account=Account.create(),
        metrics=Metrics(),
        batch_size=10,
        batch_delay_s=0,
    )
    signature = CompactSignature(b"\x01" * 32, b"\x02" * 32)
    for i in range(3):
        batcher.add(
            milestone_id=bytes([i]) * 32,
            evidence_hash=b"\x05" * 32,
            epoch=1,
            oracle=f"0x{i:040x}",
            signature=signature,
        )
    assert batcher.queued() == 3
    with pytest.raises(ChainUnavailableError):
        batcher.flush()
    assert batcher.queued() == 3


# The relaying node's API and batcher, in process, against the escrow on anvil.


@pytest.fixture
def relaying(tmp_path, escrow, oracles):
    from brownie import chain, web3
    from fastapi.testclient import TestClient

    from oracle.api import create_app
    from oracle.intake import SpecStore
    from oracle.journal import Journal
    from oracle.node import Node
    from oracle.store import DocumentStore

    client = ChainClient(
        ChainProfile(name="test", rpc_url=web3.provider.endpoint_uri, chain_id=chain.id)
    )
    reader = Escrow(client, escrow.address)
    account = Account.from_key(oracles[2].private_key)
    journal = Journal.open(tmp_path / "journal.sqlite3")
    batcher = RelayBatcher(
        client=client,
        escrow=reader,
        account=account,
        metrics=Metrics(),
        batch_size=50,
        batch_delay_s=0,
        journal=journal,
    )
    node = Node(
        name="relayer",
        client=client,
        escrow=reader,
        account=account,
        journal=journal,
        store=DocumentStore(tmp_path / "documents", max_bytes=1024),
        specs=SpecStore(tmp_path / "specs"),
        metrics=Metrics(),
    )
    http = TestClient(create_app(node, watcher=None, batcher=batcher, max_document_bytes=1024))
    http.headers["X-API-Key"] = journal.add_api_key("oracle-peers")
    return {"http": http, "batcher": batcher, "node": node}


def relay_item(sign, oracle, milestone, digest=b"\x0e" * 32, epoch=None):
    r, vs = sign(oracle, milestone, digest, epoch)
    return {
        "milestone_id": "0x" + bytes(milestone).hex(),
        "evidence_hash": "0x" + digest.hex(),
        "epoch": epoch if epoch is not None else 1,
        "signature": "0x" + (r + vs).hex(),
    }


def test_signatures_handed_over_in_one_request_reach_the_chain_in_one_transaction(
    relaying, escrow, register, sign, oracles
):
    ids = [register(f"RB-{i}") for i in range(3)]
    items = [relay_item(sign, o, m) for m in ids for o in oracles[:2]]
    response = relaying["http"].post("/v1/relay/batch", json={"items": items})
    assert response.status_code == 202, response.text
    assert response.json() == {"queued": 6}
    assert relaying["batcher"].queued() == 3
    assert relaying["batcher"].flush() == 3
    assert [int(escrow.statusOf(m)) for m in ids] == [2, 2, 2]  # Verified, by one quorum each
    verified = escrow.events.get_sequence(
        from_block=web3_block() - 1, event_type="MilestoneVerified"
    )
    assert len({e.transactionHash for e in verified}) == 1


def web3_block():
    from brownie import web3

    return web3.eth.block_number


def test_one_bad_signature_refuses_the_whole_hand_over_naming_it(relaying, register, sign, oracles):
    mid = register("RB-X")
    outsider = oracles[4]  # not in the committee (oracles 0-2)
    items = [relay_item(sign, oracles[0], mid), relay_item(sign, outsider, mid)]
    response = relaying["http"].post("/v1/relay/batch", json={"items": items})
    assert response.status_code == 403
    assert response.json()["detail"].startswith(f"item 1: signer {outsider.address}")
    assert relaying["batcher"].queued() == 0


def test_a_hand_over_of_another_epoch_is_refused_with_409(relaying, register, sign, oracles):
    mid = register("RB-E")
    items = [relay_item(sign, oracles[0], mid), relay_item(sign, oracles[1], mid, epoch=7)]
    response = relaying["http"].post("/v1/relay/batch", json={"items": items})
    assert response.status_code == 409
    assert response.json()["detail"] == "item 1: epoch 7 is not the current 1"
    assert relaying["batcher"].queued() == 0


@pytest.mark.parametrize("r, vs", [(1, 0), (0, 1)], ids=["s-zero", "r-zero"])
def test_a_signature_that_is_not_one_is_refused_with_422(relaying, register, sign, oracles, r, vs):
    item = relay_item(sign, oracles[0], register("RB-S"))
    item["signature"] = "0x" + r.to_bytes(32, "big").hex() + vs.to_bytes(32, "big").hex()
    response = relaying["http"].post("/v1/relay", json=item)
    assert response.status_code == 422, response.text
    assert relaying["batcher"].queued() == 0


def test_a_node_that_does_not_relay_answers_404(relaying, register, sign, oracles, tmp_path):
    from fastapi.testclient import TestClient

    from oracle.api import create_app

    node = relaying["node"]
    http = TestClient(create_app(node, watcher=None, batcher=None, max_document_bytes=1024))
    http.headers["X-API-Key"] = node.journal.add_api_key("another-peer")
    item = relay_item(sign, oracles[0], register("RB-N"))
    assert http.post("/v1/relay/batch", json={"items": [item]}).status_code == 404


@pytest.mark.parametrize("count", [0, 1001])
def test_a_hand_over_holds_between_one_and_a_thousand_signatures(relaying, count):
    item = {
        "milestone_id": "0x" + "11" * 32,
        "evidence_hash": "0x" + "22" * 32,
        "epoch": 1,
        "signature": "0x" + "33" * 64,
    }
    response = relaying["http"].post("/v1/relay/batch", json={"items": [item] * count})
    assert response.status_code == 422
    assert relaying["batcher"].queued() == 0


def test_a_relayer_down_leaves_the_signature_journaled_and_it_is_handed_over_later(
    relaying, escrow, program_id, roles
):
    from oracle.evidence import EvidenceCreate
    from oracle.journal import Journal
    from oracle.relay import LocalRelay, RelayClient, RelayError
    from tests.oracle.test_api import SPEC, body, register

    node = relaying["node"]
    node.specs.put(SPEC)
    node.store.put(b"report")
    mid = register(escrow, program_id, roles, "RB-DOWN")
    (accepted,) = node.accept_many(
        submitter="inspector", items=[EvidenceCreate.model_validate(body(mid))]
    )
    node.relayer = RelayClient("http://127.0.0.1:9", "ok_unused")  # nothing listens there
    with pytest.raises(RelayError, match="relayer unreachable"):
        node.process_many([accepted.evidence.id])
    journal: Journal = node.journal
    (attestation,) = journal.attestations_for_evidence(accepted.evidence.id)
    assert attestation.state == "sending", "journaled before the hand-over"
    assert relaying["batcher"].queued() == 0
    node.relayer = LocalRelay(relaying["batcher"], node.address)  # the relayer is back
    node.process(accepted.evidence.id)
    assert journal.attestation(attestation.id).state == "sent"
    assert journal.evidence(accepted.evidence.id).state == "submitted"
    assert relaying["batcher"].queued() == 1


def test_signatures_acknowledged_by_a_relayer_survive_its_death_in_its_journal(
    relaying, escrow, register, sign, oracles
):
    ids = [register(f"RB-J{i}") for i in range(2)]
    items = [relay_item(sign, o, m) for m in ids for o in oracles[:2]]
    response = relaying["http"].post("/v1/relay/batch", json={"items": items})
    assert response.status_code == 202
    journal = relaying["node"].journal
    assert len(journal.relayed_queue()) == 4, "journaled before the 202"
    # The relayer dies with them queued in memory; its next start reads them back.
    old = relaying["batcher"]
    again = RelayBatcher(
        client=old.client,
        escrow=old.escrow,
        account=old.account,
        metrics=Metrics(),
        batch_size=50,
        batch_delay_s=0,
        journal=journal,
    )
    assert again.restore() == 4
    assert again.queued() == 2
    assert again.flush() == 2
    assert [int(escrow.statusOf(m)) for m in ids] == [2, 2]
    assert journal.relayed_queue() == [], "forgotten once on chain"
    # Handed over again (a sender re-offering): nothing to send, nothing left journaled.
    relaying["http"].post("/v1/relay/batch", json={"items": items[:1]})
    assert relaying["batcher"].flush() == 0
    assert journal.relayed_queue() == []

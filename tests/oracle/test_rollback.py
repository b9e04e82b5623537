"""The rollback re-check chooses attestations by the block that confirmed each (issue 11 item
16), in process against the escrow on anvil: a chain that lost blocks while the node was down
(restarted from an older state) is noticed at the node's next start, and exactly the
attestations confirmed in the lost blocks are checked and sent again.

chain_rolled_back(ancestor)
├── attestations confirmed in blocks above the ancestor: checked again, sent again if lost
└── attestations confirmed at or below it: left alone (whatever the wall clock says)
start after a rollback (nothing in memory): the journaled blocks are compared with the chain
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brownie import chain, web3
from eth_account import Account

from disburse.chain.client import ChainClient
from disburse.chain.escrow import Escrow
from disburse.chain.profile import ChainProfile
from oracle.evidence import EvidenceCreate
from oracle.intake import SpecStore
from oracle.journal import Journal
from oracle.metrics import Metrics
from oracle.node import Node
from oracle.store import DocumentStore
from oracle.watcher import Watcher
from tests.oracle.test_api import SPEC, body, register


def start(tmp_path: Path, escrow: Any, oracle: Any) -> tuple[Node, Watcher]:
    """A node and its watcher on the journal in `tmp_path`, as `oracle run` builds them."""
    client = ChainClient(
        ChainProfile(name="test", rpc_url=web3.provider.endpoint_uri, chain_id=chain.id)
    )
    reader = Escrow(client, escrow.address)
    account = Account.from_key(oracle.private_key)
    journal = Journal.open(tmp_path / "journal.sqlite3")
    node = Node(
        name="rollback",
        client=client,
        escrow=reader,
        account=account,
        journal=journal,
        store=DocumentStore(tmp_path / "documents", max_bytes=1024),
        specs=SpecStore(tmp_path / "specs"),
        metrics=Metrics(),
    )
    watcher = Watcher(
        client=client,
        escrow=reader,
        journal=journal,
        metrics=node.metrics,
        address=account.address,
        start_block=web3.eth.block_number,
        poll_interval_s=0.1,
        release=False,
        account=account,
        on_rollback=node.chain_rolled_back,
    )
    return node, watcher


def attest(node: Node, milestone: bytes) -> int:
    (accepted,) = node.accept_many(
        submitter="inspector", items=[EvidenceCreate.model_validate(body(milestone))]
    )
    node.process_many([accepted.evidence.id])
    assert node.journal.evidence(accepted.evidence.id).state == "confirmed"
    return accepted.evidence.id


def test_after_a_restart_exactly_the_attestations_confirmed_in_lost_blocks_are_sent_again(
    tmp_path, escrow, program_id, roles, oracles
):
    node, watcher = start(tmp_path, escrow, oracles[0])
    node.specs.put(SPEC)
    node.store.put(b"report")
    kept_milestone = register(escrow, program_id, roles, "RB-KEPT")
    kept = attest(node, kept_milestone)
    watcher.poll_once()
    lost_milestone = register(escrow, program_id, roles, "RB-LOST")
    snapshot = web3.provider.make_request("evm_snapshot", [])["result"]
    lost = attest(node, lost_milestone)
    (row,) = node.journal.attestations_for_evidence(lost)
    assert row.confirmed_block is not None and row.confirmed_block_hash is not None
    assert escrow.hasAttested(lost_milestone, oracles[0])
    node.journal.close()  # the node stops ...
    web3.provider.make_request("evm_revert", [snapshot])  # ... the chain loses its last blocks
    chain.mine(4)  # and mines others at their heights
    assert not escrow.hasAttested(lost_milestone, oracles[0])
    restarted, watcher = start(tmp_path, escrow, oracles[0])
    watcher.poll_once()
    assert restarted._suspects == {lost}, "only the attestation confirmed in a lost block"
    restarted.process(lost)
    assert escrow.hasAttested(lost_milestone, oracles[0]), "sent again"
    assert escrow.hasAttested(kept_milestone, oracles[0])
    assert restarted.journal.evidence(kept).state == "confirmed"


def test_the_re_check_is_chosen_by_block_not_by_when_it_was_confirmed(
    tmp_path, escrow, program_id, roles, oracles
):
    node, _ = start(tmp_path, escrow, oracles[0])
    node.specs.put(SPEC)
    node.store.put(b"report")
    first = attest(node, register(escrow, program_id, roles, "RB-OLD"))
    second = attest(node, register(escrow, program_id, roles, "RB-NEW"))
    (a,) = node.journal.attestations_for_evidence(first)
    (b,) = node.journal.attestations_for_evidence(second)
    assert a.confirmed_block is not None and b.confirmed_block is not None
    assert a.confirmed_block < b.confirmed_block
    # Both were confirmed seconds ago; only the one above the surviving block is suspect.
    assert node.chain_rolled_back(a.confirmed_block) == 1
    assert node._suspects == {second}
    assert node.chain_rolled_back(b.confirmed_block) == 0

"""The oracle end to end on anvil started like a free-gas permissioned chain: its own chain id
(1337, as the example Besu QBFT profile), gas price 0, base fee 0, legacy transactions, and
oracle accounts that hold no ether at all.

Branches:
- three nodes with `tx_type: legacy`, `gas_price_wei: 0`: evidence to two of them, attestations
  and the release mined as legacy transactions at gas price 0, paid by nobody;
- a node whose chain id differs from the chain's eth_chainId: refuses to start, exit status 2,
  a message naming both chain ids.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from disburse.chain.localchain import LocalChain
from tests.faults._system import (
    RELEASED,
    System,
    assert_each_paid_once_by_a_quorum,
    deploy_system,
    start_nodes,
    submit,
    wait_released,
    write_deployment,
)
from tests.oracle.nodes import ORACLE, NodeProcess, free_port, make_node

CHAIN_ID = 1337
FREE_GAS = {"tx_type": "legacy", "gas_price_wei": 0}


@pytest.fixture(scope="module")
def free_chain() -> Iterator[LocalChain]:
    chain = LocalChain(state_file=None, port=free_port(), chain_id=CHAIN_ID, free_gas=True)
    chain.start()
    yield chain
    chain.stop()


@pytest.fixture(scope="module")
def system(free_chain: LocalChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    deployed = deploy_system(free_chain, label="free-gas", profile=FREE_GAS, fund_oracles=False)
    start_nodes(deployed, tmp_path_factory.mktemp("free-gas-nodes"), **FREE_GAS)
    yield deployed
    for node in deployed.nodes:
        node.stop()


def test_attestations_and_release_are_legacy_transactions_at_gas_price_zero(system):
    milestones = system.register(2, "FREE")
    attesting = {milestones[0]: (0, 1), milestones[1]: (1, 2)}
    for milestone, which in attesting.items():
        for i in which:
            submit(system.nodes[i], milestone)
    wait_released(system, milestones, timeout=60)
    assert_each_paid_once_by_a_quorum(system, milestones, attesting)

    w3 = system.client.w3
    sent = [
        e["transactionHash"]
        for m in milestones
        for name in ("AttestationRecorded", "MilestoneReleased")
        for e in system.events(name, m)
    ]
    assert len(sent) == 6
    oracles = {o.address for o in system.oracles}
    for tx_hash in sent:
        tx = w3.eth.get_transaction(tx_hash)
        assert tx["from"] in oracles
        assert tx["type"] == 0, f"{tx_hash.hex()} is of type {tx['type']}, not legacy"
        assert tx["gasPrice"] == 0
        assert "maxFeePerGas" not in tx
        assert w3.eth.get_block(tx["blockNumber"])["baseFeePerGas"] == 0
    # Free gas indeed: the oracles never held any ether, and still hold none.
    assert all(w3.eth.get_balance(address) == 0 for address in oracles)
    assert all(system.status(m) == RELEASED for m in milestones)


def test_a_node_set_for_another_chain_id_refuses_to_start(system, tmp_path: Path):
    other = 999
    deployment = write_deployment(system, tmp_path / "deployment-999.json", chain_id=other)
    node: NodeProcess = make_node(
        name="wrong-chain",
        root=tmp_path,
        private_key="0x" + bytes(system.oracles[0].key).hex(),
        rpc_url=system.chain.url,
        chain_id=other,
        deployment_file=deployment,
        **FREE_GAS,
    )
    out = subprocess.run(
        [str(ORACLE), "run", "--config", str(node.config)],
        env=node.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert f"serves chain {CHAIN_ID}" in out.stderr
    assert f"expects chain {other}: refusing to run" in out.stderr
    assert "Traceback" not in out.stderr

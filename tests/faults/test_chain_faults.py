"""Three oracle nodes (quorum two) as real processes against a LocalChain of their own, with a
state file, while the chain fails under them; once with the default profile (EIP-1559, funded
oracles) and once with the free-gas one (chain 1337, legacy transactions at gas price 0, oracles
without ether).

Branches:
- a transaction dropped from the pool before it is mined (automine off, anvil_dropAllTransactions,
  automine on): the node sees no receipt within its timeout, finds the transaction unknown and
  sends it again with the same nonce; each attestation counts once;
- the RPC endpoint unreachable for longer than the client's retries (the chain stopped for
  eight seconds): /healthz answers 503 with chain_reachable false, then everything completes;
- the chain killed with `kill -9` while attestations are in flight and restarted from its state
  file: the nodes finish every milestone, no attestation lost or doubled;
- the chain restarted from an older state file (what `kill -9` does to the last second of blocks,
  here made certain): attestations and releases the nodes had confirmed are gone from the chain;
  the nodes notice the lost blocks, attest and release again, each exactly once.

Each milestone takes evidence at two of the three nodes, so losing any attestation would leave it
unverified, and each release is checked to happen exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_utils import to_checksum_address

from disburse.chain.client import ChainClient
from disburse.chain.localchain import LocalChain
from tests.faults._system import (
    REGISTERED,
    System,
    anvil_account,
    assert_each_paid_once_after_a_crash,
    assert_each_paid_once_by_a_quorum,
    deploy_system,
    rpc,
    saved_state,
    start_nodes,
    submit,
    wait_released,
)
from tests.oracle.nodes import free_port, wait_for

PAIRS = ((0, 1), (1, 2), (0, 2))
NODE_SETTINGS = {"receipt_timeout_s": 3, "poll_interval_s": 0.2}
# Profile name → (LocalChain arguments, chain profile of the nodes and the test's client).
PROFILES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "default": ({}, {}),
    "free-gas": (
        {"free_gas": True, "chain_id": 1337},
        {"tx_type": "legacy", "gas_price_wei": 0},
    ),
}


@pytest.fixture(scope="module", params=sorted(PROFILES))
def profile_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def state_chain(
    profile_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalChain]:
    state = tmp_path_factory.mktemp("chain") / "state.json"
    chain = LocalChain(state_file=state, port=free_port(), **PROFILES[profile_name][0])
    chain.start()
    yield chain
    chain.stop()


@pytest.fixture(scope="module")
def system(
    profile_name: str, state_chain: LocalChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    profile = PROFILES[profile_name][1]
    deployed = deploy_system(
        state_chain, label=f"faults-{profile_name}", profile=profile, fund_oracles=not profile
    )
    start_nodes(deployed, tmp_path_factory.mktemp("fault-nodes"), **NODE_SETTINGS, **profile)
    yield deployed
    for node in deployed.nodes:
        node.stop()


def submit_to_pairs(system: System, milestones: list[bytes]) -> dict[bytes, tuple[int, int]]:
    attesting = {m: PAIRS[i % len(PAIRS)] for i, m in enumerate(milestones)}
    for milestone, pair in attesting.items():
        for i in pair:
            submit(system.nodes[i], milestone)
    return attesting


def restarted(system: System) -> None:
    """The test's own client starts afresh after a restart (its counted nonces may be gone)."""
    system.client = ChainClient(system.client.profile)


def health(system: System, index: int) -> tuple[int, dict[str, Any]]:
    r = httpx.get(system.nodes[index].url + "/healthz", timeout=5)
    return r.status_code, r.json()


def logs_of(system: System) -> str:
    return "\n".join(node.logs() for node in system.nodes)


def test_a_dropped_attestation_is_detected_by_timeout_and_sent_again_with_its_nonce(system):
    chain = system.chain
    milestones = system.register(2, "DROP")
    dropped: dict[tuple[str, int], dict[str, Any]] = {}
    rpc(chain, "evm_setAutomine", [False])
    try:
        attesting = submit_to_pairs(system, milestones)  # nodes 0+1, then 1+2

        def _waiting_in_the_pool() -> bool:
            dropped.clear()
            for sender, by_nonce in rpc(chain, "txpool_content")["pending"].items():
                for nonce, tx in by_nonce.items():
                    dropped[(to_checksum_address(sender), int(nonce, 0))] = tx
            return len(dropped) >= 3  # node 1 sends its second once the first is mined

        wait_for(_waiting_in_the_pool, timeout=20, what="three attestations in the pool")
        rpc(chain, "anvil_dropAllTransactions")
        assert rpc(chain, "txpool_content")["pending"] == {}
        assert all(
            rpc(chain, "eth_getTransactionByHash", [tx["hash"]]) is None for tx in dropped.values()
        )
    finally:
        rpc(chain, "evm_setAutomine", [True])

    wait_released(system, milestones, timeout=60)
    assert_each_paid_once_by_a_quorum(system, milestones, attesting)
    w3 = system.client.w3
    for (sender, nonce), tx in dropped.items():
        milestone = bytes(system.escrow.decode_function_input(tx["input"])[1]["milestoneId"])
        mined = [
            e["transactionHash"]
            for e in system.events("AttestationRecorded", milestone)
            if e["args"]["oracle"] == sender
        ]
        assert len(mined) == 1
        assert w3.eth.get_transaction(mined[0])["nonce"] == nonce, "sent again with its nonce"
    logs = logs_of(system)
    assert "attestation not mined in time" in logs
    assert "attestation transaction unknown to the chain: sending it again" in logs


def test_an_unreachable_endpoint_is_reported_by_healthz_then_everything_completes(system):
    milestones = system.register(3, "OUTAGE")
    attesting = submit_to_pairs(system, milestones)
    system.chain.stop()  # in the middle of verifying and attesting
    started = time.monotonic()
    try:

        def _outage_reported() -> bool:
            return all(
                code == 503 and body["chain_reachable"] is False
                for code, body in (health(system, i) for i in range(3))
            )

        wait_for(_outage_reported, timeout=5, what="/healthz reporting the outage")
        _, body = health(system, 0)
        assert body["ok"] is False and "did not answer" in body["error"]
        # Longer than the whole retry budget of the client (0.2 + 0.4 + … + 3.2 s).
        time.sleep(max(0.0, 8.0 - (time.monotonic() - started)))
        assert any(health(system, i)[0] == 503 for i in range(3))
    finally:
        system.chain.start()
    restarted(system)
    wait_released(system, milestones, timeout=60)
    assert_each_paid_once_by_a_quorum(system, milestones, attesting)
    wait_for(
        lambda: all(health(system, i)[1]["chain_reachable"] for i in range(3)),
        timeout=15,
        what="/healthz back to a reachable chain",
    )
    assert all(health(system, i)[0] == 200 for i in range(3))
    assert "did not answer after 6 attempts" in logs_of(system)  # retries ran out, nodes lived


def test_kill_9_of_the_chain_with_attestations_in_flight_loses_and_doubles_nothing(system):
    milestones = system.register(3, "KILL9")
    saved_state(system.chain, at_least=system.client.block_number())  # the milestones exist
    beneficiary = anvil_account(5).address
    balance_before = int(system.client.call(system.token.functions.balanceOf(beneficiary)))
    attesting = submit_to_pairs(system, milestones)
    wait_for(
        lambda: any(system.attesters(m) for m in milestones),
        timeout=20,
        what="the first attestation mined",
    )
    system.chain.kill()
    time.sleep(1.0)
    system.chain.start()
    restarted(system)
    wait_released(system, milestones, timeout=90)
    assert_each_paid_once_after_a_crash(
        system, milestones, attesting, balance_before=balance_before
    )


def test_a_chain_restarted_from_an_older_state_gets_lost_attestations_and_releases_again(
    system,
):
    chain = system.chain
    assert chain.state_file is not None
    milestones = system.register(3, "ROLLBACK")
    older = saved_state(chain, at_least=system.client.block_number())
    attesting = submit_to_pairs(system, milestones)
    wait_released(system, milestones, timeout=60)  # attested, confirmed, released, journaled
    height = system.client.block_number()
    chain.kill()
    chain.state_file.write_bytes(older)  # the file as anvil had written it before the evidence
    chain.start()
    restarted(system)
    assert system.client.block_number() < height
    assert all(system.status(m) == REGISTERED for m in milestones), "the chain lost them all"
    wait_released(system, milestones, timeout=90)
    assert_each_paid_once_by_a_quorum(system, milestones, attesting)
    logs = logs_of(system)
    assert "the chain lost blocks" in logs
    assert "attestation lost with the chain's blocks: sending it again" in logs

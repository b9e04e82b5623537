"""Batches on a chain whose block gas limit is below the profile's `max_batch_gas` (issue 11 item
13): a LocalChain of the test's own started with `gas_limit=12_000_000` (brownie's development
chain on a fresh machine), the profile left at its 15,000,000 default.

Branches:
- the client reads the block gas limit from the chain and caps every batch under it
  (`batch_gas_cap`), reading it again when the node refuses a transaction for size;
- a relayed batch of 200 milestones (two signatures each, 12.9 M gas in one transaction) goes
  in pieces under the limit, and every milestone is verified;
- a releaseBatch of 200 (12.1 M gas) likewise, every milestone paid once; and one whose block
  gas limit was read when it was higher (stale) is refused by the node, split, and paid;
- the node's refusal (`intrinsic gas too high`) is a BlockGasLimitError, never retried as is;
- a relaying node whose batches keep failing backs off, and shows it in /healthz and metrics.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from disburse.chain.attestations import sign_attestation
from disburse.chain.client import ChainClient
from disburse.chain.errors import BlockGasLimitError
from disburse.chain.escrow import Escrow, release_batch_gas
from disburse.chain.localchain import LocalChain
from disburse.chain.profile import ChainProfile
from oracle.api import create_app
from oracle.intake import SpecStore
from oracle.journal import Journal
from oracle.metrics import Metrics
from oracle.node import Node
from oracle.relay import RelayBatcher, Relayed
from oracle.store import DocumentStore
from oracle.watcher import Watcher
from tests.faults._system import RELEASED, VERIFIED, System, anvil_account, deploy_system
from tests.oracle.nodes import free_port

BLOCK_GAS_LIMIT = 12_000_000
COUNT = 200


@pytest.fixture(scope="module")
def small_blocks() -> Iterator[LocalChain]:
    chain = LocalChain(state_file=None, port=free_port(), gas_limit=BLOCK_GAS_LIMIT)
    chain.start()
    yield chain
    chain.stop()


@pytest.fixture(scope="module")
def system(small_blocks: LocalChain) -> System:
    return deploy_system(small_blocks, label="gas-limit", profile={}, fund_oracles=True)


def node_client(system: System) -> ChainClient:
    """A node's client with the profile's defaults: max_batch_gas 15,000,000."""
    return ChainClient(
        ChainProfile(name="node", rpc_url=system.chain.url, chain_id=system.chain.chain_id)
    )


def test_the_batch_gas_cap_is_read_from_the_chain_under_its_block_gas_limit(system):
    client = node_client(system)
    assert client.profile.max_batch_gas == 15_000_000
    assert client.block_gas_limit() == BLOCK_GAS_LIMIT
    assert client.batch_gas_cap() == int(BLOCK_GAS_LIMIT * 0.9)


def test_a_transaction_over_the_block_gas_limit_is_refused_as_such_and_not_retried(system):
    client = node_client(system)
    escrow = Escrow(client, system.escrow.address)
    sender = anvil_account(6)
    with pytest.raises(BlockGasLimitError, match="block gas limit"):
        client.transact(sender, escrow.release_batch([b"\x01" * 32]), gas=BLOCK_GAS_LIMIT + 1)
    # The nonce was not spent: the next transaction goes through.
    client.transact(sender, escrow.release_batch([b"\x01" * 32]), gas=200_000)


def verified_by_relay(system: System, batcher: RelayBatcher, label: str) -> list[bytes]:
    """COUNT new milestones, each with two signatures handed to `batcher` and flushed."""
    milestones = system.register(COUNT // 2, label) + system.register(COUNT // 2, label)
    epoch = batcher.escrow.committee().epoch
    digest = b"\x0a" * 32
    batcher.add_many(
        [
            (
                Relayed(
                    m,
                    digest,
                    epoch,
                    sign_attestation(
                        oracle.key,
                        chain_id=system.chain.chain_id,
                        escrow=batcher.escrow.address,
                        milestone=m,
                        evidence_hash=digest,
                        epoch=epoch,
                        terms_version=0,
                    ),
                ),
                oracle.address,
            )
            for m in milestones
            for oracle in system.oracles[:2]
        ]
    )
    assert batcher.flush() == COUNT
    assert {system.status(m) for m in milestones} == {VERIFIED}
    return milestones


def test_relayed_and_release_batches_larger_than_a_block_are_split_under_it(
    system, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    client = node_client(system)
    escrow = Escrow(client, system.escrow.address)
    relayer = Account.from_key(anvil_account(7).key)
    metrics = Metrics()
    batcher = RelayBatcher(
        client=client,
        escrow=escrow,
        account=relayer,
        metrics=metrics,
        batch_size=COUNT,
        batch_delay_s=0,
    )
    watcher = Watcher(
        client=client,
        escrow=escrow,
        journal=Journal.open(tmp_path / "journal.sqlite3"),
        metrics=metrics,
        address=relayer.address,
        start_block=system.deployment_block,
        poll_interval_s=0.1,
        release=True,
        account=relayer,
        release_batch_size=500,
    )
    assert release_batch_gas(COUNT) > BLOCK_GAS_LIMIT

    # Capped from the chain's block gas limit: nothing is refused.
    with caplog.at_level("WARNING"):
        first = verified_by_relay(system, batcher, "GAS")
        assert metrics.relayed_batches._value.get() == 2, "two pieces under the limit"
        watcher.poll_once()
        assert metrics.block_gas_limit._value.get() == BLOCK_GAS_LIMIT
        assert metrics.batch_gas_cap._value.get() == int(BLOCK_GAS_LIMIT * 0.9)
        assert watcher.release_due() == COUNT
    assert "too large for a block" not in caplog.text

    # A block gas limit read when it was higher (stale): the node refuses, the batch is split.
    second = verified_by_relay(system, batcher, "GAS-STALE")
    watcher.poll_once()
    client._gas_limit = (30_000_000, time.monotonic())
    with caplog.at_level("WARNING"):
        assert watcher.release_due() == COUNT
    assert "release batch too large for a block; splitting it" in caplog.text
    assert client.block_gas_limit() == BLOCK_GAS_LIMIT, "read again after the refusal"

    for m in first + second:
        assert system.status(m) == RELEASED
        assert len(system.events("MilestoneReleased", m)) == 1


def test_a_relaying_node_whose_batches_keep_failing_backs_off_and_shows_it(tmp_path: Path):
    dead = ChainClient(
        ChainProfile(name="dead", rpc_url="http://127.0.0.1:9", chain_id=1, retries=0)
    )
    escrow = Escrow(dead, "0x" + "11" * 20)
    metrics = Metrics()
    account = Account.create()
    batcher = RelayBatcher(
        client=dead,
        escrow=escrow,
        account=account,
        metrics=metrics,
        batch_size=10,
        batch_delay_s=0,
    )
    signature = sign_attestation(
        account.key,
        chain_id=1,
        escrow=escrow.address,
        milestone=b"\x01" * 32,
        evidence_hash=b"\x02" * 32,
        epoch=1,
        terms_version=0,
    )
    batcher.add_many([(Relayed(b"\x01" * 32, b"\x02" * 32, 1, signature), account.address)])
    stop = threading.Event()
    thread = threading.Thread(target=batcher.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(2.2)  # tries at 0, 0.5, 1.5 s; the next only at 3.5 s
    stop.set()
    thread.join(timeout=5)
    assert batcher.health.failures == 3
    assert batcher.health.retry_in_s == 2.0
    assert "did not answer" in batcher.health.error
    assert metrics.relay_batch_failures._value.get() == 3
    assert batcher.queued() == 1, "nothing dropped meanwhile"
    node = Node(
        name="relayer",
        client=dead,
        escrow=escrow,
        account=account,
        journal=Journal.open(tmp_path / "journal.sqlite3"),
        store=DocumentStore(tmp_path / "documents", max_bytes=1024),
        specs=SpecStore(tmp_path / "specs"),
        metrics=metrics,
    )
    http = TestClient(create_app(node, watcher=None, batcher=batcher, max_document_bytes=1024))
    response = http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["relay_batches"]["failures"] == 3
    assert "oracle_relay_batch_failures 3.0" in http.get("/metrics").text

"""The shared chain client against a real anvil: chain check, local signing, nonces, receipts,
custom errors decoded into words, retries of an unreachable endpoint, ranged event reads, and
the mapping of permissioned-node (Besu) JSON-RPC errors."""

from __future__ import annotations

import time

import pytest
from brownie import chain, web3
from eth_account import Account
from web3.exceptions import Web3RPCError

from disburse.chain.client import ChainClient, rpc_error_of
from disburse.chain.errors import (
    ChainIdMismatchError,
    ChainUnavailableError,
    ContractRevertError,
    GasPriceTooLowError,
    LogRangeTooLargeError,
    NonceError,
    SenderNotAuthorisedError,
)
from disburse.chain.profile import ChainProfile
from tests.conftest import evidence


def profile(**overrides) -> ChainProfile:
    settings = {
        "name": "anvil",
        "rpc_url": web3.provider.endpoint_uri,
        "chain_id": chain.id,
        "retries": 1,
        "backoff_s": 0.01,
    }
    settings.update(overrides)
    return ChainProfile(**settings)


@pytest.fixture
def client() -> ChainClient:
    return ChainClient(profile())


@pytest.fixture
def oracle_key(oracles):
    return Account.from_key(oracles[0].private_key)


def test_check_chain_accepts_the_profiles_chain(client):
    assert client.check_chain() == chain.id


def test_check_chain_refuses_another_chain_id():
    with pytest.raises(ChainIdMismatchError, match=f"serves chain {chain.id}"):
        ChainClient(profile(chain_id=chain.id + 1)).check_chain()


def test_transact_signs_locally_and_returns_the_mined_receipt(client, escrow, register, oracle_key):
    mid = register("CL-1")
    fn = client.contract("MilestoneEscrow", escrow.address).functions.attest(
        mid, evidence(), escrow.committee()[2], 0
    )
    receipt = client.transact(oracle_key, fn)
    assert receipt["status"] == 1
    assert escrow.hasAttested(mid, oracle_key.address)


def test_a_revert_is_decoded_into_the_custom_error_with_its_values(
    client, escrow, register, oracle_key
):
    mid = register("CL-2")
    c = client.contract("MilestoneEscrow", escrow.address)
    client.transact(oracle_key, c.functions.attest(mid, evidence(), escrow.committee()[2], 0))
    with pytest.raises(ContractRevertError) as caught:
        client.transact(oracle_key, c.functions.attest(mid, evidence(), escrow.committee()[2], 0))
    assert caught.value.name == "Escrow_AlreadyAttested"
    assert f"oracle {oracle_key.address}" in str(caught.value)


def test_an_enum_argument_is_shown_by_name(client, escrow, register, oracle_key):
    mid = register("CL-3")
    c = client.contract("MilestoneEscrow", escrow.address)
    with pytest.raises(ContractRevertError, match=r"status Registered\)"):
        client.transact(oracle_key, c.functions.release(mid))


def test_a_reverted_receipt_is_decoded_too(client, escrow, register, oracle_key):
    mid = register("CL-4")
    c = client.contract("MilestoneEscrow", escrow.address)
    # Sent with a fixed gas limit, the transaction is mined and fails on chain.
    with pytest.raises(ContractRevertError) as caught:
        client.transact(oracle_key, c.functions.release(mid), gas=200_000)
    assert caught.value.name == "Escrow_UnexpectedMilestoneStatus"


def test_call_reads_a_contract_value(client, escrow):
    c = client.contract("MilestoneEscrow", escrow.address)
    assert client.call(c.functions.programCount()) >= 1


def test_an_unreachable_endpoint_is_retried_with_backoff_then_reported():
    dead = ChainClient(profile(rpc_url="http://127.0.0.1:9", retries=3, backoff_s=0.05))
    started = time.monotonic()
    with pytest.raises(ChainUnavailableError, match="after 4 attempts"):
        dead.block_number()
    assert time.monotonic() - started >= 0.05 + 0.1 + 0.2


def test_a_nonce_asked_of_an_unreachable_node_is_an_error_not_a_hang():
    """Found by the fault suite: asking the nonce held the nonce lock, and the unreachable
    node's handling takes the same lock, so the node's worker and watcher hung for good."""
    import threading

    dead = ChainClient(profile(rpc_url="http://127.0.0.1:9", retries=1, backoff_s=0.01))
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            dead.next_nonce("0x" + "11" * 20)
        except BaseException as exc:
            outcome.append(exc)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    asking.join(timeout=10)
    assert not asking.is_alive(), "next_nonce hung on an unreachable node"
    assert isinstance(outcome[0], ChainUnavailableError)
    dead.resync_nonce("0x" + "11" * 20)  # the lock is free again


def test_threads_asking_a_fresh_nonce_together_get_different_ones(client, oracle_key):
    import threading

    client.resync_nonce(oracle_key.address)
    found: list[int] = []
    threads = [
        threading.Thread(target=lambda: found.append(client.next_nonce(oracle_key.address)))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 6 and max(found) - min(found) == 5


def test_a_nonce_counted_wrong_is_resynchronised(client, escrow, register, oracle_key):
    mid = register("CL-5")
    c = client.contract("MilestoneEscrow", escrow.address)
    client._nonces[oracle_key.address] = 0  # far behind the account's real nonce
    receipt = client.transact(
        oracle_key, c.functions.attest(mid, evidence(), escrow.committee()[2], 0)
    )
    assert receipt["status"] == 1


def test_logs_read_in_small_ranges_equal_one_large_read(client, escrow, register):
    for i in range(4):
        register(f"CL-LOG-{i}")
        chain.mine()
    c = client.contract("MilestoneEscrow", escrow.address)
    head = client.block_number()
    wide = client.get_logs(c.events.MilestoneRegistered, from_block=0, to_block=head)
    narrow = ChainClient(profile(log_range_cap=2)).get_logs(
        c.events.MilestoneRegistered, from_block=0, to_block=head
    )
    assert len(wide) >= 4
    assert [e["transactionHash"] for e in narrow] == [e["transactionHash"] for e in wide]


def test_poa_middleware_reads_blocks(escrow):
    poa = ChainClient(profile(poa=True))
    assert poa.timestamp() > 0


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (-32007, "Sender account not authorized to send transactions", SenderNotAuthorisedError),
        (-32009, "Gas price below configured minimum gas price", GasPriceTooLowError),
        (-32005, "Exceeds limit of 5000 blocks", LogRangeTooLargeError),
        (-32001, "Nonce too low", NonceError),
        (-32006, "Nonce too high", NonceError),
    ],
)
def test_besu_json_rpc_errors_map_to_typed_exceptions(code, message, kind):
    recorded = {"jsonrpc": "2.0", "id": 7, "error": {"code": code, "message": message}}
    mapped = rpc_error_of(Web3RPCError(message, rpc_response=recorded))
    assert isinstance(mapped, kind)
    assert str(code) in str(mapped)


def test_an_unremarkable_rpc_error_is_not_mapped():
    recorded = {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32000, "message": "execution reverted"},
    }
    assert rpc_error_of(Web3RPCError("x", rpc_response=recorded)) is None


def test_a_block_replaced_under_a_receipt_is_reported_once_as_lost(client):
    client._remember_block(41, b"\x01" * 32)
    client._remember_block(42, b"\x02" * 32)
    assert client.take_lost_block() is None
    client._remember_block(42, b"\x03" * 32)  # another block mined at height 42
    client._remember_block(41, b"\x04" * 32)
    assert client.take_lost_block() == 41
    assert client.take_lost_block() is None

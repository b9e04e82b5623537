"""The embedded chain: the native anvil in its own process group, with a state file that
survives `kill -9` and a restart."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest
import requests
from eth_account import Account

from disburse.chain.client import ChainClient
from disburse.chain.localchain import LocalChain
from disburse.chain.profile import ChainProfile
from tests.oracle.nodes import free_port

# anvil's first default account (its well-known test mnemonic), funded at genesis.
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def client_for(chain: LocalChain) -> ChainClient:
    return ChainClient(
        ChainProfile(name="local", rpc_url=chain.url, chain_id=chain.chain_id, retries=0)
    )


def test_state_survives_kill_9_and_restart(tmp_path: Path):
    chain = LocalChain(state_file=tmp_path / "state.json", port=free_port(), chain_id=4242)
    chain.start()
    try:
        client = client_for(chain)
        sender = Account.from_key(ANVIL_KEY)
        receiver = Account.create().address
        tx = {
            "to": receiver,
            "value": 12345,
            "gas": 21000,
            "nonce": client.next_nonce(sender.address),
            "chainId": 4242,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 0,
        }
        signed = sender.sign_transaction(tx)
        client.send_raw(bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex())
        client.wait("0x" + bytes(signed.hash).hex())
        height = client.block_number()
        time.sleep(2.5)  # the state interval is one second
        chain.kill()
        assert not chain.ready()
        chain.start()
        again = client_for(chain)
        assert again.block_number() >= height
        assert again.w3.eth.get_balance(receiver) == 12345
    finally:
        chain.stop()


def _send_until(url: str, sender: str, done: threading.Event) -> None:
    """Transactions as fast as the node takes them (a raw request each, no estimate)."""
    tx = {"from": sender, "to": sender, "value": "0x1", "gas": "0x5208"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [tx]}
    while not done.is_set():
        with contextlib.suppress(requests.RequestException):
            requests.post(url, json=body, timeout=2)


def test_a_stop_under_load_keeps_no_state_that_its_blocks_do_not_explain(tmp_path: Path):
    """Transactions mined while the chain is stopped: after each restart, the sender's nonce is
    the number of its transactions in the kept blocks (anvil's dump at SIGTERM alone kept
    account state of blocks it lost, 21 stops of 25)."""
    chain = LocalChain(state_file=tmp_path / "state.json", port=free_port(), chain_id=4242)
    sender = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first, unlocked account
    for _ in range(4):
        chain.start()
        done = threading.Event()
        thread = threading.Thread(target=_send_until, args=(chain.url, sender, done))
        thread.start()
        time.sleep(1.5)
        chain.stop()
        done.set()
        thread.join()
        chain.start()
        client = client_for(chain)
        head = client.block_number()
        mined = sum(len(client.w3.eth.get_block(n)["transactions"]) for n in range(1, head + 1))
        assert client.w3.eth.get_transaction_count(sender) == mined
        chain.stop()


def test_stop_frees_the_port_for_a_new_chain(tmp_path: Path):
    port = free_port()
    first = LocalChain(state_file=None, port=port)
    first.start()
    first.stop()
    assert not first.ready()
    with LocalChain(state_file=None, port=port) as second:
        assert second.ready()


def test_a_port_in_use_is_reported(tmp_path: Path):
    port = free_port()
    with LocalChain(state_file=None, port=port):
        with pytest.raises(Exception, match="already answers"):
            LocalChain(state_file=None, port=port).start(timeout=5)

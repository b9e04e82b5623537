"""A transaction stuck in the pool of a chain that charges fees is replaced at its nonce with the
fee bump the pool requires (issue 11 item 16), on a LocalChain of the test's own.

ChainClient.transact, the receipt not there within the timeout
├── still pending, fees charged: replaced at the same nonce, fees raised by fee_bump_percent
│   (at least), until mined or max_fee_bumps replacements were sent
└── free gas (price 0): a higher fee cannot help; it times out as before
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from disburse.chain.errors import TransactionTimeoutError
from disburse.chain.escrow import Escrow
from disburse.chain.localchain import LocalChain
from tests.faults._system import anvil_account, client_for, deploy_system, rpc
from tests.oracle.nodes import free_port


@pytest.fixture(scope="module")
def fee_chain() -> Iterator[LocalChain]:
    chain = LocalChain(state_file=None, port=free_port())
    chain.start()
    yield chain
    chain.stop()


def test_a_stuck_transaction_is_replaced_at_its_nonce_with_bumped_fees(fee_chain):
    system = deploy_system(fee_chain, label="stuck", profile={}, fund_oracles=True)
    client = client_for(fee_chain, receipt_timeout_s=1.0, fee_bump_percent=10)
    escrow = Escrow(client, system.escrow.address)
    sender = anvil_account(8)
    call = escrow.release_batch([b"\x01" * 32])  # pays nothing, any account may send it
    found: dict[str, Any] = {}
    rpc(fee_chain, "evm_setAutomine", [False])  # nothing is mined: the first send gets stuck

    def send() -> None:
        try:
            found["receipt"] = client.transact(sender, call, gas=200_000)
        except Exception as exc:
            found["error"] = exc

    thread = threading.Thread(target=send)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        seen: list[dict[str, Any]] = []  # the sender's pending transaction, as it changes
        while time.monotonic() < deadline and len(seen) < 2:
            pending = rpc(fee_chain, "txpool_content")["pending"]
            mine = next(
                (by for who, by in pending.items() if who.lower() == sender.address.lower()), {}
            )
            for tx in mine.values():
                if not seen or seen[-1]["hash"] != tx["hash"]:
                    seen.append(tx)
            time.sleep(0.05)
        found["first"], found["replacement"] = [*seen, {}, {}][:2]
    finally:
        rpc(fee_chain, "evm_setAutomine", [True])
        rpc(fee_chain, "evm_mine")
        thread.join(timeout=20)
    assert "error" not in found, found.get("error")
    first, replacement = found["first"], found["replacement"]
    assert replacement["nonce"] == first["nonce"], "replaced at the same nonce"
    assert int(replacement["maxFeePerGas"], 16) >= int(first["maxFeePerGas"], 16) * 110 // 100
    assert int(replacement["maxPriorityFeePerGas"], 16) >= (
        int(first["maxPriorityFeePerGas"], 16) * 110 // 100
    )
    receipt = found["receipt"]
    assert receipt["status"] == 1
    assert "0x" + bytes(receipt["transactionHash"]).hex() == replacement["hash"]


def test_on_a_free_gas_chain_a_stuck_transaction_is_not_replaced(tmp_path):
    chain = LocalChain(state_file=None, port=free_port(), free_gas=True, chain_id=1337)
    chain.start()
    try:
        client = client_for(
            chain, receipt_timeout_s=0.5, tx_type="legacy", gas_price_wei=0, chain_id=1337
        )
        sender = anvil_account(8)
        rpc(chain, "evm_setAutomine", [False])
        raw, tx_hash = client.sign(
            sender,
            Escrow(client, "0x" + "22" * 20).release_batch([b"\x01" * 32]),
            nonce=client.next_nonce(sender.address),
            gas=100_000,
        )
        client.send_raw(raw, tx_hash)
        assert client.bumped_fees(tx_hash) is None
        with pytest.raises(TransactionTimeoutError):
            client.wait(tx_hash)
    finally:
        chain.stop()

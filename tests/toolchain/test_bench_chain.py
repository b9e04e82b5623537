"""The benchmarks' chain driver (scripts.bench_common.Chain) sends through the chain client: a
transaction from an unlocked account is mined and its receipt returned as the node sent it, a
revert stops the benchmark with the client's decoded error, and the clock moves."""

from __future__ import annotations

import pytest
from brownie import accounts, chain, web3
from eth_utils.crypto import keccak

from scripts.bench_common import BenchError, Chain, _calldata, bench_client


def _chain(escrow) -> Chain:
    return Chain(
        client=bench_client(web3.provider.endpoint_uri, chain_id=chain.id),
        escrow=escrow.address,
        council="0x" + "00" * 20,
        token="0x" + "00" * 20,
        manager=str(accounts[1]),
        relayer=str(accounts[2]),
        members=(),
        oracle_keys=(),
        beneficiaries=(),
    )


def test_a_transaction_is_mined_and_counted_and_a_call_is_answered(escrow, token):
    c = _chain(escrow)
    data = _calldata("approve(address,uint256)", ["address", "uint256"], [escrow.address, 7])
    receipt = c.send(c.manager, token.address, data)
    assert receipt["status"] == "0x1" and c.sent == 1
    assert token.allowance(c.manager, escrow.address) == 7
    selector = "0x" + keccak(text="programCount()")[:4].hex()
    assert int.from_bytes(c.call(escrow.address, selector), "big") == escrow.programCount()
    before = c.now()
    c.advance(100)
    assert c.now() >= before + 100
    assert c.block_number() == web3.eth.block_number


def test_a_reverted_transaction_stops_the_benchmark_with_the_decoded_error(escrow):
    c = _chain(escrow)
    data = _calldata("release(bytes32)", ["bytes32"], [b"\x42" * 32])
    with pytest.raises(BenchError, match=r"reverted: .*Escrow_UnknownMilestone.*\(gas used \d+\)"):
        c.send(c.relayer, escrow.address, data)
    assert c.sent == 0

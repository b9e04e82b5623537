"""Batched reads: many `eth_call`s in JSON-RPC batches give what one call each gives, in order,
in batches no larger than the profile allows; a revert inside a batch is decoded into words."""

from __future__ import annotations

import math
from typing import Any

import pytest
from brownie import chain, web3

from disburse.chain.client import ChainClient
from disburse.chain.errors import ChainError, ContractRevertError
from disburse.chain.escrow import Escrow
from disburse.chain.profile import ChainProfile
from tests.chain.proxy import counting_proxy
from tests.conftest import evidence


def client(**overrides: Any) -> ChainClient:
    settings: dict[str, Any] = {
        "name": "anvil",
        "rpc_url": web3.provider.endpoint_uri,
        "chain_id": chain.id,
        "retries": 0,
    }
    settings.update(overrides)
    return ChainClient(ChainProfile(**settings))


def test_batched_milestones_equal_single_reads_in_order_across_several_batches(
    escrow, register, oracles
):
    ids = [register(f"CM-{i}") for i in range(7)]
    escrow.attest(ids[3], evidence(), 1, 0, {"from": oracles[0]})
    unknown = b"\x42" * 32
    batched = client(rpc_batch_cap=3)  # 8 reads: batches of 3, 3 and 2
    reader = Escrow(batched, escrow.address)
    single = [reader.milestone(m) for m in [*ids, unknown]]
    assert reader.milestones([*ids, unknown]) == single
    assert [m.status for m in single] == ["Registered"] * 7 + ["None"]
    assert single[3].attestations == 1


def test_batched_has_attested_and_releasable_at_match_the_chain(escrow, register, oracles):
    first, second = register("CM-A"), register("CM-B")
    escrow.attest(second, evidence(), 1, 0, {"from": oracles[1]})
    reader = Escrow(client(), escrow.address)
    pairs = [
        (first, oracles[1].address),
        (second, oracles[1].address),
        (second, oracles[0].address),
    ]
    assert reader.attested(pairs) == [False, True, False]
    assert reader.releasable_at_each([first, second]) == [
        int(escrow.releasableAt(first)),
        int(escrow.releasableAt(second)),
    ]


def test_a_revert_inside_a_batch_is_raised_decoded(escrow, register):
    known = register("CM-R")
    c = client()
    contract = c.contract("MilestoneEscrow", escrow.address)
    unknown = b"\x42" * 32
    read = contract.functions.milestone(known)
    assert c.call_many([read, contract.functions.programCount()])[1] >= 1
    # Any function can be read with eth_call; attesting an unknown milestone reverts.
    failing = contract.functions.attest(unknown, evidence(), 1, 0)
    with pytest.raises(ContractRevertError, match=r"Escrow_UnknownMilestone.*0x4242"):
        c.call_many([read, failing, read])


def test_an_empty_list_makes_no_request():
    assert client(rpc_url="http://127.0.0.1:9").call_many([]) == []


def test_the_codec_names_the_function_a_selector_calls():
    from disburse.chain.client import FunctionCodec
    from disburse.chain.contracts import load_abi

    codec = FunctionCodec("0x" + "11" * 20, load_abi("MilestoneEscrow"))
    call = codec.call("releaseBatch", [b"\x01" * 32])
    assert codec.name_of(call.data[:4]) == "releaseBatch"
    assert codec.name_of(b"\x00\x00\x00\x00") is None


def test_raw_batches_honour_the_cap_and_keep_the_order(escrow, register):
    ids = [register(f"CM-RAW-{i}") for i in range(5)]
    batched = client(rpc_batch_cap=2)
    sizes: list[int] = []
    provider: Any = batched.w3.provider
    original = provider.make_batch_request

    def counting(requests_: Any) -> Any:
        sizes.append(len(requests_))
        return original(requests_)

    provider.make_batch_request = counting
    requests_ = [("eth_getBlockByNumber", [hex(n), False]) for n in range(5)]
    results = batched.batch(requests_, what="blocks")
    assert sizes == [2, 2, 1]
    assert [int(r["number"], 16) for r in results] == list(range(5))
    assert ids  # the milestones exist so the chain has blocks past 4


def test_a_raw_request_the_node_refuses_names_what_was_asked():
    with pytest.raises(ChainError, match="sender lookup: the node refused"):
        client().batch([("eth_getTransactionByHash", ["not a hash"])], what="sender lookup")


def test_struct_results_are_read_by_the_abi_field_names(escrow, program_id):
    from disburse.chain.client import FunctionCodec
    from disburse.chain.contracts import load_abi

    reader = client()
    codec = FunctionCodec(escrow.address, load_abi("MilestoneEscrow"))
    (raw,) = reader.batch(
        [
            (
                "eth_call",
                [
                    {
                        "to": escrow.address,
                        "data": "0x" + codec.call("program", program_id).data.hex(),
                    },
                    "latest",
                ],
            )
        ],
        what="program",
    )
    view = codec.named("program", codec.decode("program", raw))
    on_chain = escrow.program(program_id)
    assert view["manager"] == on_chain[0]
    assert view["balance"] == on_chain[5] and view["committed"] == on_chain[6]
    assert codec.decode("program", "0x") is None
    with pytest.raises(ChainError, match="expected 8 values"):
        codec.named("program", [1, 2])


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_n_calls_at_a_cap_of_two_take_half_as_many_http_requests_rounded_up(escrow, register, n):
    ids = [register(f"CM-HTTP-{n}-{i}") for i in range(n)]
    with counting_proxy(web3.provider.endpoint_uri) as proxy:
        reader = Escrow(client(rpc_url=proxy.url, rpc_batch_cap=2), escrow.address)
        found = reader.milestones(ids)
        assert proxy.posts == math.ceil(n / 2)
    assert [m.status for m in found] == ["Registered"] * n


def test_calls_to_a_node_that_refuses_batches_are_sent_one_at_a_time(escrow, register):
    ids = [register(f"CM-ONE-{i}") for i in range(3)]
    single = Escrow(client(), escrow.address).milestones(ids)
    with counting_proxy(web3.provider.endpoint_uri, refuse_batches=True) as proxy:
        reader = Escrow(client(rpc_url=proxy.url, rpc_batch_cap=2), escrow.address)
        assert reader.milestones(ids) == single
        assert proxy.posts == 2 + 3  # each refused batch, then its calls one by one


def test_a_revert_from_a_node_that_refuses_batches_is_raised_decoded(escrow, register):
    known = register("CM-ONE-R")
    with counting_proxy(web3.provider.endpoint_uri, refuse_batches=True) as proxy:
        c = client(rpc_url=proxy.url)
        contract = c.contract("MilestoneEscrow", escrow.address)
        failing = contract.functions.attest(b"\x42" * 32, evidence(), 1, 0)
        with pytest.raises(ContractRevertError, match=r"Escrow_UnknownMilestone.*0x4242"):
            c.call_many([contract.functions.milestone(known), failing])


def test_one_raw_request_gives_its_result_and_a_refusal_names_what_was_asked():
    c = client()
    assert int(c.request("eth_blockNumber", [], what="head"), 16) == web3.eth.block_number
    with pytest.raises(ChainError, match="sender lookup: the node refused"):
        c.request("eth_getTransactionByHash", ["not a hash"], what="sender lookup")

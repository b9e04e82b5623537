"""The one ranged log reader (`disburse.chain.logs.read_ranged`): windows capped by the profile,
halved while the node refuses them, steered toward a target density, and every block read once."""

from __future__ import annotations

import pytest

from disburse.chain.errors import LogRangeTooLargeError
from disburse.chain.logs import read_ranged


class Node:
    """A node that refuses windows wider than `limit` blocks and holds `density` logs a block."""

    def __init__(self, limit: int, density: int = 1) -> None:
        self.limit = limit
        self.density = density
        self.asked: list[tuple[int, int]] = []
        self.served: list[tuple[int, int]] = []

    def read(self, first: int, last: int) -> int:
        self.asked.append((first, last))
        if last - first + 1 > self.limit:
            raise LogRangeTooLargeError(f"range {first}-{last} too large")
        self.served.append((first, last))
        return (last - first + 1) * self.density


def _blocks(windows: list[tuple[int, int]]) -> list[int]:
    return [b for first, last in windows for b in range(first, last + 1)]


def test_windows_never_exceed_the_cap_and_cover_every_block_once() -> None:
    node = Node(limit=10_000)
    read_ranged(node.read, 5, 1_234, cap=100)
    assert max(last - first + 1 for first, last in node.asked) == 100
    assert _blocks(node.served) == list(range(5, 1_235))


def test_a_refused_window_is_halved_until_the_node_accepts_it() -> None:
    node = Node(limit=30)
    read_ranged(node.read, 0, 199, cap=128)
    assert node.asked[:3] == [(0, 127), (0, 63), (0, 31)]
    assert all(last - first + 1 <= 30 for first, last in node.served)
    assert _blocks(node.served) == list(range(200))


def test_a_node_that_refuses_even_one_block_raises() -> None:
    node = Node(limit=0)
    with pytest.raises(LogRangeTooLargeError):
        read_ranged(node.read, 0, 10, cap=8)
    assert node.asked[-1][1] - node.asked[-1][0] == 0


def test_target_density_shrinks_dense_windows_and_grows_sparse_ones() -> None:
    dense = Node(limit=10_000, density=1_000)
    read_ranged(dense.read, 0, 999, cap=1_000, first_span=100, target=10_000)
    assert dense.served[0] == (0, 99)
    assert dense.served[1] == (100, 109)  # 100,000 logs in 100 blocks -> 10 blocks for 10,000

    sparse = Node(limit=10_000, density=1)
    read_ranged(sparse.read, 0, 999, cap=64, first_span=4, target=10_000)
    spans = [last - first + 1 for first, last in sparse.served]
    assert spans[:5] == [4, 8, 16, 32, 64]
    assert max(spans) == 64
    assert _blocks(sparse.served) == list(range(1_000))


def test_progress_reports_the_last_block_of_each_window() -> None:
    seen: list[int] = []
    read_ranged(Node(limit=100).read, 0, 249, cap=100, progress=seen.append)
    assert seen == [99, 199, 249]


def test_an_empty_range_reads_nothing() -> None:
    node = Node(limit=10)
    read_ranged(node.read, 10, 9, cap=5)
    assert node.asked == []


def test_the_raw_decoder_agrees_with_web3_on_real_logs(escrow, register, oracles) -> None:
    """The one raw-log decoder (word slicing) gives what web3's typed decoding gives, for the
    events of a registration and an attestation read back through the ranged reader."""
    from brownie import chain, web3
    from web3 import Web3

    from disburse.chain.client import ChainClient
    from disburse.chain.contracts import load_abi
    from disburse.chain.events import EventDecoder
    from disburse.chain.profile import ChainProfile
    from tests.conftest import evidence

    start = web3.eth.block_number + 1
    milestone = register("LOGS-1")
    escrow.attest(milestone, evidence(), 1, 0, {"from": oracles[0]})
    client = ChainClient(
        ChainProfile(name="anvil", rpc_url=web3.provider.endpoint_uri, chain_id=chain.id)
    )
    contract = client.w3.eth.contract(address=escrow.address, abi=load_abi("MilestoneEscrow"))
    decoder = EventDecoder([contract])
    raw = client.raw_logs(escrow.address, from_block=start, to_block=web3.eth.block_number)
    typed = client.contract_logs(escrow.address, from_block=start, to_block=web3.eth.block_number)
    assert len(raw) == len(typed) >= 2
    for raw_log, typed_log in zip(raw, typed, strict=True):
        fast, slow = decoder.decode_raw(raw_log), decoder.decode(typed_log)
        assert fast is not None and slow is not None
        assert fast.name == slow["event"]
        expected = {
            k: (v.lower() if isinstance(v, str) and Web3.is_address(v) else v)
            for k, v in slow["args"].items()
        }
        assert fast.args == expected
        assert fast.block_number == slow["blockNumber"]
    assert {e.name for e in map(decoder.decode_raw, raw) if e} >= {
        "MilestoneRegistered",
        "AttestationRecorded",
    }


def test_successive_raw_log_reads_reuse_the_clients_one_session_and_connection(
    escrow, register
) -> None:
    """`raw_logs` (the oracle's watcher polls it) streams through the client's one HTTP
    session: two reads are two requests on one connection, not a connection each."""
    from brownie import chain, web3

    from disburse.chain.client import ChainClient
    from disburse.chain.logs import LogStream
    from disburse.chain.profile import ChainProfile
    from tests.chain.proxy import counting_proxy

    start = web3.eth.block_number + 1
    register("LOGS-SESSION")
    end = web3.eth.block_number
    with counting_proxy(web3.provider.endpoint_uri) as proxy:
        client = ChainClient(ChainProfile(name="anvil", rpc_url=proxy.url, chain_id=chain.id))
        session = client.http_session
        first = client.raw_logs(escrow.address, from_block=start, to_block=end)
        second = client.raw_logs(escrow.address, from_block=start, to_block=end)
        assert first == second and first
        assert client.http_session is session
        assert LogStream(client, [escrow.address]).session is session
        assert (proxy.posts, proxy.connections) == (2, 1)
        client.close()
        assert client.http_session is not session  # closed; a later read makes a new one
        assert client.raw_logs(escrow.address, from_block=start, to_block=end) == first
        client.close()


def test_raw_logs_with_topics_give_only_the_logs_the_filter_matches(
    escrow, register, oracles
) -> None:
    from brownie import chain, web3
    from eth_utils import keccak

    from disburse.chain.client import ChainClient
    from disburse.chain.profile import ChainProfile
    from tests.conftest import evidence

    start = web3.eth.block_number + 1
    register("LOGS-TOPIC-1")
    second = register("LOGS-TOPIC-2")
    escrow.attest(second, evidence(), 1, 0, {"from": oracles[0]})
    end = web3.eth.block_number
    client = ChainClient(
        ChainProfile(name="anvil", rpc_url=web3.provider.endpoint_uri, chain_id=chain.id)
    )
    every = client.raw_logs(escrow.address, from_block=start, to_block=end)
    registered = (
        "0x"
        + keccak(
            text="MilestoneRegistered(bytes32,uint256,address,uint256,uint40,bytes32,bytes32)"
        ).hex()
    )
    assert {e["topics"][0] for e in every} > {registered}  # the attestation's events too
    only_second = client.raw_logs(
        escrow.address,
        from_block=start,
        to_block=end,
        topics=[[registered], "0x" + bytes(second).hex()],
    )
    assert [e["topics"][:2] for e in only_second] == [[registered, "0x" + bytes(second).hex()]]
    assert len([e for e in every if e["topics"][0] == registered]) == 2  # first's too
    client.close()

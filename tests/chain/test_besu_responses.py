"""The client against recorded answers of a Hyperledger Besu node, served over real HTTP by a
small JSON-RPC endpoint on 127.0.0.1 that also counts what it is asked.

Branches:
- eth_sendRawTransaction refused with -32007 (sender not on the allowlist): one request, never
  retried, SenderNotAuthorisedError that says what to do;
- … with -32009 (gas price below the node's minimum): one request, GasPriceTooLowError;
- … with -32001 / -32006 (nonce too low / too high): the nonce is read again from the node and
  the transaction is sent once more with it;
- … with -32005 about the block gas limit: not taken for a log range;
- … with Besu's "Known transaction": the transaction is there, not an error;
- accepted but never mined: TransactionTimeoutError; sent once more only when the node no
  longer knows it;
- eth_getLogs refused with -32005: get_logs and contract_logs halve the range and still return
  every log, in order;
- a QBFT block with 97 bytes of extraData: read with poa=True, refused by web3 without it;
- the example Besu QBFT profile: a valid profile for that network.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import rlp
import yaml
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from web3.exceptions import ExtraDataLengthError

from disburse.chain.client import ChainClient
from disburse.chain.errors import (
    BlockGasLimitError,
    GasPriceTooLowError,
    LogRangeTooLargeError,
    SenderNotAuthorisedError,
    TransactionTimeoutError,
)
from disburse.chain.profile import ChainProfile

CHAIN_ID = 1337
ESCROW = "0x" + "42" * 20
SENDER = Account.from_key(keccak(text="besu-allowlisted-sender"))
EXAMPLE_PROFILE = Path(__file__).resolve().parents[2] / "examples" / "besu-qbft-profile.yaml"

Answer = Callable[[str, list[Any]], dict[str, Any] | None]


def besu_error(code: int, message: str) -> dict[str, Any]:
    """A JSON-RPC error object exactly as Besu sends it (RpcErrorType: code and message)."""
    return {"error": {"code": code, "message": message}}


class RecordedNode:
    """A JSON-RPC endpoint answering from recorded responses; `answer` decides per request
    (None falls back to plain answers of an idle chain), and every request is kept."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[str, list[Any]]] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                node.requests.append((body["method"], body.get("params", [])))
                reply = node.answer(body["method"], body.get("params", []))
                if reply is None:
                    reply = {"result": idle_chain(body["method"], body.get("params", []))}
                data = json.dumps({"jsonrpc": "2.0", "id": body["id"], **reply}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def asked(self, method: str) -> list[list[Any]]:
        return [params for m, params in self.requests if m == method]


def idle_chain(method: str, params: list[Any]) -> Any:
    return {
        "eth_chainId": hex(CHAIN_ID),
        "eth_blockNumber": "0x40",
        "eth_getTransactionCount": "0x3",
        "eth_estimateGas": "0x186a0",
        "eth_gasPrice": "0x0",
    }.get(method)


@pytest.fixture
def besu() -> Iterator[Callable[[Answer], RecordedNode]]:
    started: list[RecordedNode] = []

    def _start(answer: Answer) -> RecordedNode:
        node = RecordedNode(answer)
        node.thread.start()
        started.append(node)
        return node

    yield _start
    for node in started:
        node.server.shutdown()
        node.server.server_close()


def client_for(node: RecordedNode, **overrides: Any) -> ChainClient:
    settings: dict[str, Any] = {
        "name": "besu",
        "rpc_url": node.url,
        "chain_id": CHAIN_ID,
        "tx_type": "legacy",
        "gas_price_wei": 0,
        "retries": 2,
        "backoff_s": 0.01,
        "receipt_timeout_s": 0.3,
        "poll_interval_s": 0.02,
    }
    settings.update(overrides)
    return ChainClient(ChainProfile(**settings))


def release_call(client: ChainClient) -> Any:
    return client.contract("MilestoneEscrow", ESCROW).functions.release(b"\x01" * 32)


def nonce_of(raw_hex: str) -> int:
    fields = rlp.decode(bytes.fromhex(raw_hex[2:]))  # a legacy transaction: nonce comes first
    return int.from_bytes(fields[0], "big")


def gas_price_of(raw_hex: str) -> int:
    return int.from_bytes(rlp.decode(bytes.fromhex(raw_hex[2:]))[1], "big")


def mined_receipt(tx_hash: str) -> dict[str, Any]:
    return {
        "transactionHash": tx_hash,
        "transactionIndex": "0x0",
        "blockHash": "0x" + "ab" * 32,
        "blockNumber": "0x41",
        "from": SENDER.address,
        "to": ESCROW,
        "cumulativeGasUsed": "0xc350",
        "gasUsed": "0xc350",
        "effectiveGasPrice": "0x0",
        "contractAddress": None,
        "logs": [],
        "logsBloom": "0x" + "00" * 256,
        "status": "0x1",
        "type": "0x0",
    }


def tx_hash_of(raw_hex: str) -> str:
    return "0x" + keccak(bytes.fromhex(raw_hex[2:])).hex()


# ---------------------------------------------------------------- transactions


def test_sender_not_authorised_is_raised_at_once_and_never_retried(besu):
    node = besu(
        lambda method, _params: (
            besu_error(-32007, "Sender account not authorized to send transactions")
            if method == "eth_sendRawTransaction"
            else None
        )
    )
    client = client_for(node, retries=5)
    with pytest.raises(SenderNotAuthorisedError, match="allowlist") as caught:
        client.transact(SENDER, release_call(client))
    assert "-32007" in str(caught.value)
    assert len(node.asked("eth_sendRawTransaction")) == 1


def test_gas_price_below_the_node_minimum_is_raised_with_the_setting_to_change(besu):
    node = besu(
        lambda method, _params: (
            besu_error(-32009, "Gas price below configured minimum gas price")
            if method == "eth_sendRawTransaction"
            else None
        )
    )
    client = client_for(node)
    with pytest.raises(GasPriceTooLowError, match="gas_price_wei"):
        client.transact(SENDER, release_call(client))
    sent = node.asked("eth_sendRawTransaction")
    assert len(sent) == 1
    assert gas_price_of(sent[0][0]) == 0  # the profile's price, not one asked from the node
    assert node.asked("eth_gasPrice") == []


def test_nonce_too_low_reads_the_nonce_again_and_sends_with_it(besu):
    counts = iter(["0x3", "0x7"])
    sends: list[str] = []

    def answer(method: str, params: list[Any]) -> dict[str, Any] | None:
        if method == "eth_getTransactionCount":
            return {"result": next(counts)}
        if method == "eth_sendRawTransaction":
            sends.append(params[0])
            if len(sends) == 1:
                return besu_error(-32001, "Nonce too low")
            return {"result": tx_hash_of(params[0])}
        if method == "eth_getTransactionReceipt" and len(sends) == 2:
            return {"result": mined_receipt(params[0])}
        return None

    node = besu(answer)
    client = client_for(node)
    receipt = client.transact(SENDER, release_call(client))
    assert receipt["status"] == 1
    assert [nonce_of(raw) for raw in sends] == [3, 7]
    assert len(node.asked("eth_getTransactionCount")) == 2


def test_nonce_too_high_forgets_the_counted_nonce(besu):
    sends: list[str] = []

    def answer(method: str, params: list[Any]) -> dict[str, Any] | None:
        if method == "eth_getTransactionCount":
            return {"result": "0x4"}
        if method == "eth_sendRawTransaction":
            sends.append(params[0])
            if nonce_of(params[0]) != 4:
                return besu_error(-32006, "Nonce too high")
            return {"result": tx_hash_of(params[0])}
        if method == "eth_getTransactionReceipt":
            return {"result": mined_receipt(params[0])}
        return None

    node = besu(answer)
    client = client_for(node)
    client._nonces[SENDER.address] = 99  # counted far ahead, e.g. before the node restarted
    client.transact(SENDER, release_call(client))
    assert [nonce_of(raw) for raw in sends] == [99, 4]


def test_a_block_gas_limit_refusal_is_not_taken_for_a_log_range(besu):
    node = besu(
        lambda method, _params: (
            besu_error(-32005, "Transaction gas limit exceeds block gas limit")
            if method == "eth_sendRawTransaction"
            else None
        )
    )
    client = client_for(node)
    # Issue 11 item 13: the refusal is now typed, so a batch can be split on it.
    with pytest.raises(BlockGasLimitError, match="exceeds block gas limit") as caught:
        client.transact(SENDER, release_call(client))
    assert not isinstance(caught.value, LogRangeTooLargeError)


def test_besus_known_transaction_answer_means_it_is_already_there(besu):
    def answer(method: str, params: list[Any]) -> dict[str, Any] | None:
        if method == "eth_sendRawTransaction":
            return besu_error(-32000, "Known transaction")
        if method == "eth_getTransactionReceipt":
            return {"result": mined_receipt(params[0])}
        return None

    node = besu(answer)
    client = client_for(node)
    assert client.transact(SENDER, release_call(client))["status"] == 1
    assert len(node.asked("eth_sendRawTransaction")) == 1


def test_a_transaction_accepted_but_never_mined_times_out(besu):
    def answer(method: str, params: list[Any]) -> dict[str, Any] | None:
        if method == "eth_sendRawTransaction":
            return {"result": tx_hash_of(params[0])}
        if method == "eth_getTransactionByHash":  # still in the pool: known, not mined
            return {"result": pending_transaction(params[0])}
        return None

    node = besu(answer)
    client = client_for(node)
    with pytest.raises(TransactionTimeoutError, match=r"not mined within 0\.3 s"):
        client.transact(SENDER, release_call(client))
    assert len(node.asked("eth_sendRawTransaction")) == 1  # it may still be mined: not resent


def test_a_transaction_the_node_forgot_is_sent_once_more_with_a_fresh_nonce(besu):
    sends: list[str] = []

    def answer(method: str, params: list[Any]) -> dict[str, Any] | None:
        if method == "eth_sendRawTransaction":
            sends.append(params[0])
            return {"result": tx_hash_of(params[0])}
        if method == "eth_getTransactionReceipt" and params[0] == tx_hash_of(sends[-1]):
            return {"result": mined_receipt(params[0])} if len(sends) == 2 else None
        return None  # eth_getTransactionByHash: null, dropped from the pool

    node = besu(answer)
    client = client_for(node)
    assert client.transact(SENDER, release_call(client))["status"] == 1
    assert [nonce_of(raw) for raw in sends] == [3, 3]  # the node's count, read again
    assert len(node.asked("eth_getTransactionCount")) == 2


def pending_transaction(tx_hash: str) -> dict[str, Any]:
    return {
        "hash": tx_hash,
        "blockHash": None,
        "blockNumber": None,
        "transactionIndex": None,
        "from": SENDER.address,
        "to": ESCROW,
        "gas": "0x186a0",
        "gasPrice": "0x0",
        "input": "0x",
        "nonce": "0x3",
        "value": "0x0",
        "type": "0x0",
        "chainId": hex(CHAIN_ID),
        "v": "0xa95",
        "r": "0x" + "11" * 32,
        "s": "0x" + "22" * 32,
    }


# ---------------------------------------------------------------- logs

LOG_BLOCKS = [2, 3, 9, 10, 11, 17, 24, 25, 31]
BESU_RANGE_LIMIT = 5  # blocks per eth_getLogs this node accepts (--rpc-max-logs-range)


def attestation_log(block: int) -> dict[str, Any]:
    milestone = keccak(text=f"milestone-{block}")
    return {
        "address": ESCROW,
        "topics": [
            "0x" + keccak(text="AttestationRecorded(bytes32,address,bytes32,uint16)").hex(),
            "0x" + milestone.hex(),
            "0x" + encode(["address"], [SENDER.address]).hex(),
        ],
        "data": "0x" + encode(["bytes32", "uint16"], [keccak(text=f"evidence-{block}"), 1]).hex(),
        "blockNumber": hex(block),
        "blockHash": "0x" + block.to_bytes(32, "big").hex(),
        "transactionHash": "0x" + keccak(text=f"tx-{block}").hex(),
        "transactionIndex": "0x0",
        "logIndex": "0x0",
        "removed": False,
    }


def range_limited(method: str, params: list[Any]) -> dict[str, Any] | None:
    if method != "eth_getLogs":
        return None
    start, end = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
    if end - start + 1 > BESU_RANGE_LIMIT:
        return besu_error(-32005, "Requested range exceeds maximum RPC range limit")
    return {"result": [attestation_log(b) for b in LOG_BLOCKS if start <= b <= end]}


def asked_ranges(node: RecordedNode) -> list[int]:
    return [
        int(p[0]["toBlock"], 16) - int(p[0]["fromBlock"], 16) + 1 for p in node.asked("eth_getLogs")
    ]


def test_get_logs_halves_a_refused_range_and_returns_every_log(besu):
    node = besu(range_limited)
    client = client_for(node, log_range_cap=16)
    event = client.contract("MilestoneEscrow", ESCROW).events.AttestationRecorded
    found = client.get_logs(event, from_block=0, to_block=33)
    assert [e["blockNumber"] for e in found] == LOG_BLOCKS
    assert found[0]["args"]["evidenceHash"] == keccak(text="evidence-2")
    ranges = asked_ranges(node)
    assert ranges[:3] == [16, 8, 4]  # refused twice, then halved to what the node accepts
    assert all(size <= BESU_RANGE_LIMIT for size in ranges[3:])


def test_contract_logs_halve_a_refused_range_and_return_every_log(besu):
    node = besu(range_limited)
    client = client_for(node, log_range_cap=16)
    found = client.contract_logs(ESCROW, from_block=0, to_block=33)
    assert [log["blockNumber"] for log in found] == LOG_BLOCKS
    assert len({log["transactionHash"] for log in found}) == len(LOG_BLOCKS)  # none twice


# ---------------------------------------------------------------- proof of authority


def qbft_block() -> dict[str, Any]:
    """A proof-of-authority header: 32 bytes of vanity and a 65-byte seal make 97 bytes of
    extraData (QBFT's RLP of vanity, validators, round and seals is longer still), where
    Ethereum's yellow paper allows 32."""
    return {
        "number": "0x40",
        "hash": "0x" + "cd" * 32,
        "parentHash": "0x" + "ce" * 32,
        "mixHash": "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365",
        "nonce": "0x0000000000000000",
        "sha3Uncles": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
        "logsBloom": "0x" + "00" * 256,
        "transactionsRoot": "0x" + "56" * 32,
        "stateRoot": "0x" + "57" * 32,
        "receiptsRoot": "0x" + "58" * 32,
        "miner": "0x" + "aa" * 20,
        "difficulty": "0x1",
        "totalDifficulty": "0x41",
        "extraData": "0x" + "00" * 32 + "5e" * 65,
        "size": "0x260",
        "gasLimit": "0x1fffffffffffff",
        "gasUsed": "0x0",
        "timestamp": "0x6650a1b0",
        "uncles": [],
        "transactions": [],
    }


def test_a_block_with_97_bytes_of_extra_data_is_read_with_poa(besu):
    block = qbft_block()
    assert len(bytes.fromhex(block["extraData"][2:])) == 97
    node = besu(lambda method, _p: {"result": block} if method == "eth_getBlockByNumber" else None)
    assert client_for(node, poa=True).timestamp() == 0x6650A1B0


def test_without_poa_web3_refuses_the_long_extra_data(besu):
    block = qbft_block()
    node = besu(lambda method, _p: {"result": block} if method == "eth_getBlockByNumber" else None)
    with pytest.raises(ExtraDataLengthError, match="97 bytes"):
        client_for(node, poa=False).timestamp()


def test_the_example_besu_profile_is_a_valid_qbft_profile(besu):
    values = yaml.safe_load(EXAMPLE_PROFILE.read_text())
    profile = ChainProfile.model_validate(values)
    assert (profile.tx_type, profile.gas_price_wei, profile.poa) == ("legacy", 0, True)
    assert profile.log_range_cap == 5000
    block = qbft_block()
    node = besu(lambda method, _p: {"result": block} if method == "eth_getBlockByNumber" else None)
    client = ChainClient(profile.model_copy(update={"rpc_url": node.url}))
    assert client.check_chain() == profile.chain_id == CHAIN_ID
    assert client.timestamp() == 0x6650A1B0

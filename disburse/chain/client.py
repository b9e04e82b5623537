"""The typed chain client every tool uses: connection and chain check, reads, transactions signed
locally (permissioned chains have no eth_sendTransaction), nonces, retries with backoff, receipt
waits, revert decoding, and event reads in ranges the node accepts.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.abi import collapse_if_tuple
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractEvent, ContractFunction
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    ProviderConnectionError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import (
    BlockIdentifier,
    EventData,
    LogReceipt,
    RPCEndpoint,
    RPCResponse,
    TxParams,
    TxReceipt,
    Wei,
)

from disburse.chain.contracts import CONTRACTS, load_abi
from disburse.chain.errors import (
    ArtifactError,
    BlockGasLimitError,
    ChainError,
    ChainIdMismatchError,
    ChainUnavailableError,
    ContractRevertError,
    ErrorDecoder,
    GasPriceTooLowError,
    LogRangeTooLargeError,
    NonceError,
    SenderNotAuthorisedError,
    TransactionTimeoutError,
)
from disburse.chain.logs import LogStream, read_ranged
from disburse.chain.profile import ChainProfile

T = TypeVar("T")

_UNREACHABLE = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,  # the node died in the middle of its answer
    requests.exceptions.Timeout,
    ProviderConnectionError,
    ConnectionError,
    TimeoutError,
)

# JSON-RPC error codes of permissioned nodes (Hyperledger Besu) and what they mean for us, with
# what to do about them. Besu also answers -32005 for "Transaction gas limit exceeds block gas
# limit" and for an oversized batch: only a message about a range means the log range.
_RPC_ERRORS: dict[int, tuple[type[ChainError], str]] = {
    -32007: (
        SenderNotAuthorisedError,
        "the network's account allowlist does not admit this account; ask its operators to add "
        "it (not retried)",
    ),
    -32009: (
        GasPriceTooLowError,
        "raise gas_price_wei in the chain profile to at least the node's minimum gas price",
    ),
    -32005: (
        LogRangeTooLargeError,
        "query smaller block ranges (log_range_cap in the chain profile)",
    ),
    -32001: (NonceError, "the nonce is read again from the node"),
    -32006: (NonceError, "the nonce is read again from the node"),
}
_RANGE_WORDS = ("range", "blocks")
_NONCE_WORDS = ("nonce too low", "nonce too high", "replacement transaction underpriced")
_KNOWN_WORDS = ("already known", "known transaction")
# What nodes answer for a transaction whose gas limit the block cannot hold (anvil/revm, geth,
# Besu).
_BLOCK_GAS_WORDS = (
    "intrinsic gas too high",
    "gas_limit > env.block.gas_limit",
    "exceeds block gas limit",
    "exceeds the block gas limit",
    "gas limit reached",
)
_GAS_LIMIT_TTL_S = 30.0
"""How long a block gas limit read from the chain is trusted before it is read again."""
BLOCK_GAS_SHARE = 0.9
"""The share of the block gas limit one transaction may take at most: a block holds more than
one transaction, and the limit may shrink a little from one block to the next."""
_REMEMBERED_BLOCKS = 256


def rpc_error_of(exc: Web3RPCError) -> ChainError | None:
    """Maps a node's JSON-RPC error to our exception, or None when it means nothing special."""
    response = exc.rpc_response or {}
    error = response.get("error") if isinstance(response, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    message = str(error.get("message", "")) if isinstance(error, Mapping) else str(exc)
    found = _RPC_ERRORS.get(code) if isinstance(code, int) else None
    if found is not None and found[0] is LogRangeTooLargeError:
        if not any(w in message.lower() for w in _RANGE_WORDS):
            found = None
    if found is None and any(w in message.lower() for w in _NONCE_WORDS):
        found = (NonceError, "the nonce is read again from the node")
    if found is None and any(w in message.lower() for w in _BLOCK_GAS_WORDS):
        found = (
            BlockGasLimitError,
            "the transaction's gas limit is above the chain's block gas limit; the batch is "
            "split (max_batch_gas is capped by the block gas limit read from the chain)",
        )
    if found is None:
        return None
    kind, hint = found
    return kind(f"the node refused: {message} (JSON-RPC {code}): {hint}")


def _result_of(reply: Mapping[str, Any], *, what: str) -> Any:
    """The result of one raw JSON-RPC reply; an error reply raises ChainError naming `what`."""
    if "error" in reply:
        error = reply["error"]
        message = error.get("message", error) if isinstance(error, Mapping) else error
        raise ChainError(f"{what}: the node refused: {message}")
    return reply.get("result")


def revert_data(exc: Exception) -> bytes:
    """The revert data a web3 contract error carries (empty when it carries none)."""
    return _revert_bytes(getattr(exc, "data", None))


def _revert_bytes(data: object) -> bytes:
    """Revert data from an error's `data` member: hex, or a mapping holding it under `data`."""
    if isinstance(data, Mapping):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


@dataclass(frozen=True)
class Call:
    """One encoded contract call: what eth_call and a transaction carry, and how to decode the
    answer. Built by a `FunctionCodec` (eth_abi directly) for the hot paths, where web3's
    per-call machinery (normalisers, checksums, formatters) costs more than the call itself."""

    to: str
    data: bytes
    outputs: tuple[str, ...]
    name: str

    @classmethod
    def of(cls, fn: ContractFunction) -> Call:
        """The call a web3 ContractFunction makes (encoded by web3, once)."""
        outputs = tuple(collapse_if_tuple(dict(o)) for o in fn.abi.get("outputs", []))
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        return cls(str(fn.address), data, outputs, str(fn.fn_name))


class FunctionCodec:
    """Encodes calls to one contract's functions with eth_abi (no overloads expected: our
    contracts have none, and an overloaded name is refused rather than guessed)."""

    def __init__(self, address: str, abi: Sequence[Mapping[str, Any]]) -> None:
        self.address = Web3.to_checksum_address(address)
        self._fns: dict[str, tuple[bytes, list[str], tuple[str, ...]]] = {}
        self._names: dict[str, tuple[str, ...]] = {}
        overloaded: set[str] = set()
        for item in abi:
            if item.get("type") != "function":
                continue
            name = str(item["name"])
            if name in self._fns:
                overloaded.add(name)
            inputs = [collapse_if_tuple(dict(i)) for i in item.get("inputs", [])]
            outputs = tuple(collapse_if_tuple(dict(o)) for o in item.get("outputs", []))
            selector = keccak(text=f"{name}({','.join(inputs)})")[:4]
            self._fns[name] = (selector, inputs, outputs)
            raw_outputs = list(item.get("outputs", []))
            if len(raw_outputs) == 1 and raw_outputs[0].get("components"):
                raw_outputs = list(raw_outputs[0]["components"])  # one struct: its fields
            self._names[name] = tuple(str(o.get("name", "")) for o in raw_outputs)
        for name in overloaded:
            del self._fns[name]

    def name_of(self, selector: bytes) -> str | None:
        """The function a transaction's first four bytes of input call, if it is one of these."""
        for name, (known, _, _) in self._fns.items():
            if known == selector:
                return name
        return None

    def call(self, name: str, *args: Any) -> Call:
        try:
            selector, inputs, outputs = self._fns[name]
        except KeyError:
            raise ArtifactError(f"no (unambiguous) function {name!r} in the ABI") from None
        return Call(self.address, selector + abi_encode(inputs, list(args)), outputs, name)

    def decode(self, name: str, result: str | None) -> Any:
        """The answer of an eth_call of `name` (hex, as the node sent it) decoded as `call`
        decodes it; None when the node answered nothing ("0x": no contract there)."""
        if not result or result == "0x":
            return None
        outputs = self._fns[name][2]
        values = abi_decode(list(outputs), bytes.fromhex(result[2:]))
        return values[0] if len(values) == 1 else list(values)

    def named(self, name: str, result: Any) -> dict[str, Any]:
        """A decoded result of `name` (a struct, or several outputs) by the ABI's field names,
        so a reader never depends on the position of a field."""
        names = self._names.get(name)
        if not names or not all(names):
            raise ArtifactError(f"the outputs of {name!r} are not all named in the ABI")
        values = list(result) if isinstance(result, list | tuple) else [result]
        if len(values) != len(names):
            raise ChainError(f"{name}: expected {len(names)} values, the node gave {len(values)}")
        return dict(zip(names, values, strict=True))


@dataclass(frozen=True)
class SentTransaction:
    """A signed transaction handed to the node."""

    tx_hash: str
    nonce: int
    sender: ChecksumAddress


class ChainClient:
    """One chain, as its profile describes it."""

    def __init__(
        self, profile: ChainProfile, *, extra_abis: Sequence[Sequence[Mapping[str, Any]]] = ()
    ) -> None:
        self.profile = profile
        # web3's own retries are off: the profile's retries and backoff are the only ones, so
        # an outage is reported when the profile says and not several retry rounds later.
        provider = Web3.HTTPProvider(
            profile.rpc_url,
            request_kwargs={"timeout": profile.request_timeout_s},
            exception_retry_configuration=None,
        )
        self.w3 = Web3(provider)
        if profile.poa:
            self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        abis: list[Sequence[Mapping[str, Any]]] = list(extra_abis)
        for name in CONTRACTS:
            try:
                abis.append(load_abi(name))
            except ArtifactError:
                continue
        self.decoder = ErrorDecoder(abis)
        self._nonces: dict[str, int] = {}
        self._nonce_lock = threading.Lock()
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._lost_from: int | None = None
        self._blocks_lock = threading.Lock()
        self.unreachable_since: float | None = None
        """Monotonic time of the first failed attempt of the current outage; None when the
        last request was answered."""
        self.last_error = ""
        self._local = threading.local()
        self._gas_limit: tuple[int, float] | None = None  # (block gas limit, monotonic time read)
        self._http_session: requests.Session | None = None
        self._http_lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing

    @property
    def http_session(self) -> requests.Session:
        """The client's one HTTP session for the requests it sends itself (the log streams of
        `logs.LogStream`), made on first use and kept, so that successive reads reuse its
        connections instead of opening one each. Shared by the client's threads (its connection
        pool is thread-safe); `close` closes it."""
        with self._http_lock:
            if self._http_session is None:
                session = requests.Session()
                session.headers["Content-Type"] = "application/json"
                self._http_session = session
            return self._http_session

    def close(self) -> None:
        """Closes the client's HTTP session (a later request makes a new one)."""
        with self._http_lock:
            session, self._http_session = self._http_session, None
        if session is not None:
            session.close()

    @contextmanager
    def prompt(self) -> Iterator[None]:
        """Requests made by this thread inside it are tried once, without the profile's retries:
        for a caller that must answer promptly (an API request) rather than wait out an outage."""
        previous = getattr(self._local, "prompt", False)
        self._local.prompt = True
        try:
            yield
        finally:
            self._local.prompt = previous

    def rpc(self, fn: Callable[[], T], *, what: str) -> T:
        """Runs one request, retrying an unreachable endpoint with exponential backoff (once
        only inside `prompt`)."""
        delay = self.profile.backoff_s
        attempts = 1 if getattr(self._local, "prompt", False) else self.profile.retries + 1
        for attempt in range(attempts):
            try:
                result = fn()
            except _UNREACHABLE as exc:
                self._unreachable(f"{what}: {self.profile.rpc_url} did not answer ({exc})")
                if attempt == attempts - 1:
                    raise ChainUnavailableError(
                        f"{what}: {self.profile.rpc_url} did not answer "
                        f"after {attempts} attempts ({exc})"
                    ) from None
                time.sleep(delay)
                delay *= 2
                continue
            except Web3RPCError as exc:
                self.unreachable_since = None
                mapped = rpc_error_of(exc)
                if mapped is not None:
                    raise mapped from None
                raise
            self.unreachable_since = None
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _unreachable(self, error: str) -> None:
        """Notes an outage. A node that comes back may be a restarted one whose pool lost our
        pending transactions: counted nonces are forgotten and read again."""
        if self.unreachable_since is None:
            self.unreachable_since = time.monotonic()
        self.last_error = error
        with self._nonce_lock:
            self._nonces.clear()

    @property
    def reachable(self) -> bool:
        """False from the first unanswered attempt until a request is answered again."""
        return self.unreachable_since is None

    def check_chain(self) -> int:
        """Refuses to go on when the node serves another chain than the profile's."""
        found = self.rpc(lambda: self.w3.eth.chain_id, what="eth_chainId")
        if found != self.profile.chain_id:
            raise ChainIdMismatchError(
                f"{self.profile.rpc_url} serves chain {found}, but profile {self.profile.name!r} "
                f"expects chain {self.profile.chain_id}: refusing to run"
            )
        return found

    def block_number(self) -> int:
        return self.rpc(lambda: self.w3.eth.block_number, what="eth_blockNumber")

    def head(self) -> tuple[int, bytes]:
        """Number and hash of the latest block."""
        block = self.rpc(lambda: self.w3.eth.get_block("latest"), what="eth_getBlockByNumber")
        return int(block["number"]), bytes(block["hash"])

    def block_hash(self, number: int) -> bytes | None:
        """The hash of block `number`, or None when the chain is not that long."""
        try:
            block = self.rpc(lambda: self.w3.eth.get_block(number), what="eth_getBlockByNumber")
        except BlockNotFound:
            return None
        return bytes(block["hash"])

    def remembered_blocks(self) -> dict[int, bytes]:
        """Number → hash of the recent blocks whose receipts this client acted on; a watcher
        compares them with the chain to notice blocks lost by a restarted node."""
        with self._blocks_lock:
            return dict(self._blocks)

    def forget_blocks_above(self, number: int) -> None:
        with self._blocks_lock:
            for n in [n for n in self._blocks if n > number]:
                del self._blocks[n]

    def take_lost_block(self) -> int | None:
        """The lowest block number whose hash changed between two receipts this client acted
        on (the chain lost that block and mined another at its height), then forgets it."""
        with self._blocks_lock:
            found, self._lost_from = self._lost_from, None
            return found

    def _remember_block(self, number: int, block_hash: bytes) -> None:
        with self._blocks_lock:
            previous = self._blocks.get(number)
            if previous is not None and previous != block_hash:
                # A receipt in a block that replaced one we relied on: that block was lost, even
                # if the newest block we know of now looks intact.
                self._lost_from = (
                    number if self._lost_from is None else min(self._lost_from, number)
                )
            self._blocks[number] = block_hash
            self._blocks.move_to_end(number)
            while len(self._blocks) > _REMEMBERED_BLOCKS:
                self._blocks.popitem(last=False)

    def timestamp(self, block: BlockIdentifier = "latest") -> int:
        return int(
            self.rpc(lambda: self.w3.eth.get_block(block), what="eth_getBlockByNumber")["timestamp"]
        )

    def block_gas_limit(self, *, fresh: bool = False) -> int:
        """The gas limit of the latest block, read again every _GAS_LIMIT_TTL_S seconds (a
        permissioned network may change it) or at once with `fresh`."""
        cached = self._gas_limit
        if not fresh and cached is not None and time.monotonic() - cached[1] < _GAS_LIMIT_TTL_S:
            return cached[0]
        block = self.rpc(lambda: self.w3.eth.get_block("latest"), what="eth_getBlockByNumber")
        limit = int(block["gasLimit"])
        self._gas_limit = (limit, time.monotonic())
        return limit

    def batch_gas_cap(self) -> int:
        """The largest gas limit a batch transaction may have now: the profile's
        `max_batch_gas`, capped at BLOCK_GAS_SHARE of the chain's block gas limit."""
        return min(self.profile.max_batch_gas, int(self.block_gas_limit() * BLOCK_GAS_SHARE))

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_abi(name))

    # ------------------------------------------------------------------ reads

    def call(self, fn: ContractFunction, *, block: BlockIdentifier = "latest") -> Any:
        """A read; a revert becomes a decoded ContractRevertError."""
        try:
            return self.rpc(lambda: fn.call(block_identifier=block), what=f"call {fn.fn_name}")
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.decoder.revert_error(revert_data(exc), context=fn.fn_name) from None

    def call_many(
        self, calls: Sequence[Call | ContractFunction], *, block: BlockIdentifier = "latest"
    ) -> list[Any]:
        """Many reads in JSON-RPC batches of at most the profile's `rpc_batch_cap` (the batches
        `batch` sends), results in the order given, each decoded as `call` decodes it; the first
        revert is raised decoded. One round trip per batch instead of one per read: the node's
        hot paths read a field of hundreds of milestones at once."""
        tag = block if isinstance(block, str) else hex(int(block))
        payloads = [c if isinstance(c, Call) else Call.of(c) for c in calls]
        requests_ = [
            (RPCEndpoint("eth_call"), [{"to": c.to, "data": "0x" + c.data.hex()}, tag])
            for c in payloads
        ]
        found: list[Any] = []
        replies = self._replies(
            requests_, what=lambda first, last: f"{last - first} calls of {payloads[first].name}"
        )
        for first, chunk in replies:
            for offset, reply in enumerate(chunk):
                found.append(self._decoded_result(payloads[first + offset], reply))
        return found

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]], *, what: str) -> list[Any]:
        """The results of raw JSON-RPC requests, in order, sent in batches of at most the
        profile's `rpc_batch_cap` (one round trip each, retried as `rpc` retries); a node that
        refuses batching as a whole gets the requests one at a time. A request the node answers
        with an error raises ChainError naming `what`."""
        results: list[Any] = []
        for _first, chunk in self._replies(requests_, what=lambda _first, _last: what):
            results.extend(_result_of(reply, what=what) for reply in chunk)
        return results

    def request(self, method: str, params: Sequence[Any], *, what: str) -> Any:
        """The result of one raw JSON-RPC request (retried as `rpc` retries), for what has no
        typed method here (a development node's `evm_*` controls, an unlocked account's
        `eth_sendTransaction`); an error answer raises ChainError naming `what`, as in `batch`."""
        provider: Any = self.w3.provider
        reply = self.rpc(
            lambda: provider.make_request(RPCEndpoint(method), list(params)), what=what
        )
        return _result_of(reply, what=what)

    def _replies(
        self,
        requests_: Sequence[tuple[str, Sequence[Any]]],
        *,
        what: Callable[[int, int], str],
    ) -> Iterator[tuple[int, list[RPCResponse]]]:
        """The one chunker: the node's replies to `requests_`, a batch of at most the profile's
        `rpc_batch_cap` at a time, each batch as (index of its first request, its replies in
        the order of the requests). `what(first, end)` names the batch [first, end) in errors.
        Each batch is one round trip through `rpc` (its retries and error mapping), sent
        straight to the provider: web3's batching mode is per provider and would capture the
        requests other threads make meanwhile. A node that refuses a batch as a whole gets its
        requests one at a time."""
        provider: Any = self.w3.provider
        cap = self.profile.rpc_batch_cap
        for first in range(0, len(requests_), cap):
            chunk = [(RPCEndpoint(m), list(p)) for m, p in requests_[first : first + cap]]
            named = what(first, first + len(chunk))
            replies: Any = self.rpc(lambda c=chunk: provider.make_batch_request(c), what=named)  # type: ignore[misc]
            if not isinstance(replies, list):
                replies = [
                    self.rpc(lambda m=m, p=p: provider.make_request(m, p), what=named)  # type: ignore[misc]
                    for m, p in chunk
                ]
            if len(replies) != len(chunk):
                raise ChainError(
                    f"the node answered {len(replies)} of a batch of {len(chunk)} requests"
                )
            yield first, replies

    def _decoded_result(self, call: Call, response: RPCResponse) -> Any:
        error = response.get("error")
        if error is not None:
            data = error.get("data") if isinstance(error, Mapping) else None
            raw = _revert_bytes(data)
            if raw or "revert" in str(error).lower():
                raise self.decoder.revert_error(raw, context=call.name)
            raise Web3RPCError(str(error), rpc_response=response)
        values = abi_decode(list(call.outputs), bytes.fromhex(str(response["result"])[2:]))
        return values[0] if len(values) == 1 else list(values)

    def get_logs(
        self,
        event: type[ContractEvent] | ContractEvent,
        *,
        from_block: int,
        to_block: int,
        argument_filters: Mapping[str, Any] | None = None,
    ) -> list[EventData]:
        """Logs of one event in [from_block, to_block], in ranges of at most the profile's cap;
        a range the node still refuses is halved."""
        filters = dict(argument_filters or {})
        return self._ranged(
            lambda s, e: event.get_logs(from_block=s, to_block=e, argument_filters=filters),
            from_block,
            to_block,
        )

    def contract_logs(self, address: str, *, from_block: int, to_block: int) -> list[LogReceipt]:
        """Every log of one contract in [from_block, to_block], in ranges the node accepts."""
        target = Web3.to_checksum_address(address)
        return self._ranged(
            lambda s, e: self.w3.eth.get_logs({"address": target, "fromBlock": s, "toBlock": e}),
            from_block,
            to_block,
        )

    def raw_logs(
        self,
        address: str,
        *,
        from_block: int,
        to_block: int,
        topics: Sequence[str | Sequence[str] | None] | None = None,
    ) -> list[dict[str, Any]]:
        """As `contract_logs`, but as the node sent them (hex strings), streamed: web3's
        formatting of a log costs more than decoding it (see `EventDecoder.decode_raw`). With
        `topics`, only the logs eth_getLogs's topic filter of that form matches."""
        with LogStream(self, [address], topics=topics) as stream:
            return stream.collect(from_block, to_block)

    def _ranged(self, fetch: Callable[[int, int], Sequence[T]], start: int, end: int) -> list[T]:
        """Reads [start, end] in windows the node accepts (`logs.read_ranged`), each fetched
        through `rpc` (its retries)."""
        found: list[T] = []

        def window(first: int, last: int) -> int:
            chunk = self.rpc(lambda: fetch(first, last), what="eth_getLogs")
            found.extend(chunk)
            return len(chunk)

        read_ranged(window, start, end, cap=self.profile.log_range_cap)
        return found

    # ------------------------------------------------------------------ nonces

    def next_nonce(self, address: str) -> int:
        """The next nonce of a local account: from the node once, then counted here."""
        key = Web3.to_checksum_address(address)
        with self._nonce_lock:
            if key in self._nonces:
                nonce = self._nonces[key]
                self._nonces[key] = nonce + 1
                return nonce
        # Asked without the lock held: an unreachable node makes `rpc` forget every counted
        # nonce, under this same lock (holding it here once hung a node for good).
        fetched = self.rpc(lambda: self.w3.eth.get_transaction_count(key, "pending"), what="nonce")
        with self._nonce_lock:
            nonce = self._nonces.get(key, fetched)  # another thread may have counted meanwhile
            self._nonces[key] = nonce + 1
            return nonce

    def resync_nonce(self, address: str) -> None:
        """Forgets the counted nonce; the next transaction asks the node again."""
        with self._nonce_lock:
            self._nonces.pop(Web3.to_checksum_address(address), None)

    # ------------------------------------------------------------------ transactions

    def _fees(self) -> TxParams:
        p = self.profile
        if p.tx_type == "legacy":
            price = p.gas_price_wei
            if price is None:
                price = self.rpc(lambda: self.w3.eth.gas_price, what="eth_gasPrice")
            return {"gasPrice": Wei(price)}
        if p.gas_price_wei is not None:
            return {
                "maxFeePerGas": Wei(p.gas_price_wei),
                "maxPriorityFeePerGas": Wei(min(p.priority_fee_wei, p.gas_price_wei)),
            }
        block = self.rpc(lambda: self.w3.eth.get_block("latest"), what="eth_getBlockByNumber")
        base = int(block.get("baseFeePerGas", 0))
        return {
            "maxFeePerGas": Wei(2 * base + p.priority_fee_wei),
            "maxPriorityFeePerGas": Wei(p.priority_fee_wei),
        }

    def estimate_gas(self, account: LocalAccount, fn: ContractFunction | Call) -> int:
        """Estimated gas with the profile's margin; a revert is decoded and raised."""
        call = fn if isinstance(fn, Call) else Call.of(fn)
        params: TxParams = {
            "from": account.address,
            "to": Web3.to_checksum_address(call.to),
            "data": call.data,
        }
        try:
            estimate = self.rpc(
                lambda: self.w3.eth.estimate_gas(params), what=f"estimate {call.name}"
            )
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.decoder.revert_error(revert_data(exc), context=call.name) from None
        # The margin never takes a transaction over the block gas limit the estimate fits in
        # (a node that cannot say its latest block leaves the margin as it is).
        try:
            limit = self.block_gas_limit()
        except (BlockNotFound, KeyError, Web3RPCError):
            limit = None
        padded = int(estimate * self.profile.gas_multiplier)
        return padded if limit is None else min(padded, max(estimate, limit))

    def sign(
        self,
        account: LocalAccount,
        fn: ContractFunction | Call,
        *,
        nonce: int,
        gas: int,
        fees: TxParams | None = None,
    ) -> tuple[bytes, str]:
        """A signed transaction and its hash (at the profile's fees, or `fees`)."""
        call = fn if isinstance(fn, Call) else Call.of(fn)
        params: dict[str, Any] = {
            "to": Web3.to_checksum_address(call.to),
            "data": call.data,
            "value": 0,
            "nonce": nonce,
            "gas": gas,
            "chainId": self.profile.chain_id,
            **(fees if fees is not None else self._fees()),
        }
        signed = account.sign_transaction(params)
        return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()

    def bumped_fees(self, tx_hash: str) -> TxParams | None:
        """Fees to replace the pending transaction `tx_hash` at its nonce: its own raised by
        the profile's `fee_bump_percent` (what the node's pool requires of a replacement), and
        at least what a new transaction would pay now. None when it pays nothing (a free-gas
        chain: a higher fee cannot get it mined) or is not pending any more."""
        try:
            tx = self.rpc(
                lambda: self.w3.eth.get_transaction(tx_hash),  # type: ignore[arg-type]
                what="eth_getTransactionByHash",
            )
        except TransactionNotFound:
            return None
        bump = 100 + self.profile.fee_bump_percent
        current = self._fees()
        if "maxFeePerGas" in tx and tx.get("maxFeePerGas") is not None:
            old_max, old_tip = int(tx["maxFeePerGas"]), int(tx.get("maxPriorityFeePerGas", 0))
            if old_max == 0:
                return None
            new_tip = -(-old_tip * bump // 100)
            new_max = max(-(-old_max * bump // 100), int(current.get("maxFeePerGas", 0)))
            return {"maxFeePerGas": Wei(new_max), "maxPriorityFeePerGas": Wei(new_tip)}
        old_price = int(tx.get("gasPrice") or 0)
        if old_price == 0:
            return None
        price = max(-(-old_price * bump // 100), int(current.get("gasPrice", 0)))
        return {"gasPrice": Wei(price)}

    def replace(
        self,
        account: LocalAccount,
        fn: ContractFunction | Call,
        *,
        tx_hash: str,
        nonce: int,
        gas: int,
    ) -> str | None:
        """Replaces the stuck transaction `tx_hash` (the same call, the same `nonce`) with one
        paying bumped fees; returns the new hash, or None when it cannot be replaced (free gas,
        or no longer pending)."""
        fees = self.bumped_fees(tx_hash)
        if fees is None:
            return None
        raw, new_hash = self.sign(account, fn, nonce=nonce, gas=gas, fees=fees)
        try:
            self.send_raw(raw, new_hash)
        except NonceError:
            return None  # the stuck one was mined meanwhile: its nonce is spent
        return new_hash

    def send_raw(self, raw: bytes, tx_hash: str) -> str:
        """Hands a signed transaction to the node; one it already has is not an error."""
        try:
            self.rpc(lambda: self.w3.eth.send_raw_transaction(raw), what="eth_sendRawTransaction")
        except Web3RPCError as exc:
            if not any(w in str(exc).lower() for w in _KNOWN_WORDS):
                raise
        return tx_hash

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt, or None while the transaction is not mined (or unknown)."""
        try:
            return self.rpc(lambda: self.w3.eth.get_transaction_receipt(tx_hash), what="receipt")  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    def transaction_known(self, tx_hash: str) -> bool:
        """Whether the node knows the transaction (mined or pending in its pool)."""
        try:
            self.rpc(lambda: self.w3.eth.get_transaction(tx_hash), what="eth_getTransactionByHash")  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    def wait(self, tx_hash: str, *, timeout_s: float | None = None) -> TxReceipt:
        """Waits for the receipt (and the profile's confirmations); a revert is decoded."""
        found: TxReceipt = self._wait(tx_hash, timeout_s, raw=False)
        return found

    def wait_raw(self, tx_hash: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        """As `wait`, but the receipt as the node sent it (hex strings, logs undecoded): web3's
        formatting of a batch's hundreds of logs costs more than everything else about it."""
        found: dict[str, Any] = self._wait(tx_hash, timeout_s, raw=True)
        return found

    def _raw_receipt(self, tx_hash: str) -> dict[str, Any] | None:
        response = self.w3.provider.make_request(
            RPCEndpoint("eth_getTransactionReceipt"), [tx_hash]
        )
        if response.get("error") is not None:
            raise Web3RPCError(str(response["error"]), rpc_response=response)
        found: dict[str, Any] | None = response.get("result")
        return found

    def _wait(self, tx_hash: str, timeout_s: float | None, *, raw: bool) -> Any:
        limit = time.monotonic() + (
            timeout_s if timeout_s is not None else self.profile.receipt_timeout_s
        )
        pause = min(0.005, self.profile.poll_interval_s)
        while True:
            found: Any = (
                self.rpc(lambda: self._raw_receipt(tx_hash), what="receipt")
                if raw
                else self.receipt(tx_hash)
            )
            if found is not None:
                number = int(str(found["blockNumber"]), 16) if raw else int(found["blockNumber"])
                if (
                    self.profile.confirmations == 0
                    or self.block_number() >= number + self.profile.confirmations
                ):
                    break
            if time.monotonic() > limit:
                raise TransactionTimeoutError(tx_hash, timeout_s or self.profile.receipt_timeout_s)
            # A chain that mines on arrival (anvil) answers within milliseconds: start polling
            # fast, then slow down to the profile's interval for chains with block times.
            time.sleep(pause)
            pause = min(pause * 2, self.profile.poll_interval_s)
        block_hash = bytes.fromhex(found["blockHash"][2:]) if raw else bytes(found["blockHash"])
        self._remember_block(number, block_hash)
        status = int(str(found["status"]), 16) if raw else found["status"]
        if status != 1:
            formatted = self.receipt(tx_hash) if raw else found
            if formatted is None:  # lost with the chain since: it did not revert on it either
                raise TransactionTimeoutError(tx_hash, 0)
            raise self._revert_of(formatted)
        return found

    def _revert_of(self, receipt: TxReceipt) -> ContractRevertError:
        """Replays a failed transaction at its block to learn the revert data."""
        tx = self.rpc(
            lambda: self.w3.eth.get_transaction(receipt["transactionHash"]),
            what="eth_getTransaction",
        )
        call: TxParams = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        try:
            self.rpc(
                lambda: self.w3.eth.call(call, block_identifier=receipt["blockNumber"] - 1),
                what="replay",
            )
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            return self.decoder.revert_error(revert_data(exc), context="transaction reverted")
        return ContractRevertError(f"transaction {receipt['transactionHash'].hex()} reverted")

    def transact(
        self, account: LocalAccount, fn: ContractFunction | Call, *, gas: int | None = None
    ) -> TxReceipt:
        """Estimate, sign, send and wait. A nonce the node refuses is resynchronised once; a
        transaction that times out and that the node no longer knows (dropped from its pool, or
        lost with a restarted node) is sent once more with a resynchronised nonce."""
        found: TxReceipt = self._transact(account, fn, gas, raw=False)
        return found

    def transact_raw(
        self, account: LocalAccount, fn: ContractFunction | Call, *, gas: int | None = None
    ) -> dict[str, Any]:
        """As `transact`, with the receipt as `wait_raw` returns it."""
        found: dict[str, Any] = self._transact(account, fn, gas, raw=True)
        return found

    def _transact(
        self, account: LocalAccount, fn: ContractFunction | Call, gas: int | None, *, raw: bool
    ) -> Any:
        fn = fn if isinstance(fn, Call) else Call.of(fn)  # encoded once for every attempt
        limit = gas if gas is not None else self.estimate_gas(account, fn)
        nonce_retried = dropped = False
        while True:
            nonce = self.next_nonce(account.address)
            raw_tx, tx_hash = self.sign(account, fn, nonce=nonce, gas=limit)
            sent = [tx_hash]
            try:
                self.send_raw(raw_tx, tx_hash)
            except BlockGasLimitError:
                # The nonce was not used; the block gas limit is read again for the caller's
                # next split.
                self.resync_nonce(account.address)
                self._gas_limit = None
                raise
            except NonceError:
                self.resync_nonce(account.address)
                if nonce_retried:
                    raise
                nonce_retried = True
                continue
            bumps = 0
            while True:
                try:
                    return self._wait(tx_hash, None, raw=raw)
                except TransactionTimeoutError:
                    if not self.transaction_known(tx_hash):
                        break
                    # Pending but not mined: on a chain that charges fees, the fees it offers
                    # may be too low now. It is replaced at its nonce with the bump the pool
                    # requires (an earlier version mined meanwhile leaves the new one unknown).
                    mined = next((h for h in sent[:-1] if self.receipt(h) is not None), None)
                    if mined is not None:
                        return self._wait(mined, None, raw=raw)
                    replaced = (
                        self.replace(account, fn, tx_hash=tx_hash, nonce=nonce, gas=limit)
                        if bumps < self.profile.max_fee_bumps
                        else None
                    )
                    if replaced is None:
                        raise
                    bumps += 1
                    tx_hash = replaced
                    sent.append(tx_hash)
            mined = next((h for h in sent if self.receipt(h) is not None), None)
            if mined is not None:
                return self._wait(mined, None, raw=raw)
            if dropped:
                raise TransactionTimeoutError(tx_hash, self.profile.receipt_timeout_s)
            dropped = True
            self.resync_nonce(account.address)


def checksum_all(addresses: Iterable[str]) -> list[ChecksumAddress]:
    return [Web3.to_checksum_address(a) for a in addresses]

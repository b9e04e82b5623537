"""Decoding the contracts' logs by their topic: the one raw-log decoder (`EventLayout`, from the
ABI, slicing 32-byte words where it can) for every tool that reads logs as the node sent them
(the audit, the oracle's watcher), and web3's typed decoding for `disburse watch`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception
from web3.types import EventData, LogReceipt


@dataclass(frozen=True)
class RawEvent:
    """An event decoded from a log as the node sent it (see `EventDecoder.decode_raw`):
    bytesN as bytes, integers as int, addresses as lowercase 0x hex."""

    name: str
    args: dict[str, Any]
    block_number: int
    tx_hash: str


def _is_word(kind: str) -> bool:
    """Static ABI types that occupy exactly one 32-byte word."""
    if "[" in kind or kind.startswith("tuple"):
        return False
    return (
        kind in ("address", "bool")
        or kind.startswith(("uint", "int"))
        or (kind.startswith("bytes") and kind != "bytes")
    )


class AddressBook:
    """Addresses in one form, computed once per address: checksummed (checksumming costs a
    keccak), or lowercase 0x hex with `checksummed=False` (the oracle's watcher compares
    those)."""

    def __init__(self, *, checksummed: bool = True) -> None:
        self._by_raw: dict[bytes, str] = {}
        self._by_topic: dict[str, str] = {}
        self._form: Callable[[bytes], str] = (
            to_checksum_address if checksummed else (lambda raw: "0x" + raw.hex())
        )

    def of20(self, raw: bytes) -> str:
        found = self._by_raw.get(raw)
        if found is None:
            found = self._form(raw)
            self._by_raw[raw] = found
        return found

    def of_word(self, word: bytes) -> str:
        return self.of20(bytes(word[12:]))

    def of_text(self, text: str) -> str:
        return self.of20(bytes.fromhex(text[2:])[-20:])

    def of_topic(self, topic: str) -> str:
        found = self._by_topic.get(topic)
        if found is None:
            found = self.of_text(topic)
            self._by_topic[topic] = found
        return found


def _word_converter(kind: str, addresses: AddressBook) -> Callable[[bytes], Any]:
    """Decodes one 32-byte word of log data."""
    if kind == "address":
        return addresses.of_word
    if kind == "bool":
        return lambda w: w[-1] != 0
    if kind.startswith("uint"):
        return lambda w: int.from_bytes(w, "big")
    if kind.startswith("int"):
        return lambda w: int.from_bytes(w, "big", signed=True)
    size = int(kind[5:])
    return lambda w: bytes(w[:size])


def _topic_converter(kind: str, addresses: AddressBook) -> Callable[[str], Any]:
    """Decodes one topic, as the node sends it (0x and 64 hex digits)."""
    if kind == "address":
        return addresses.of_topic
    if kind == "bool":
        return lambda t: int(t, 16) != 0
    if kind.startswith("uint"):
        return lambda t: int(t, 16)
    if kind.startswith("int"):
        return lambda t: int.from_bytes(bytes.fromhex(t[2:]), "big", signed=True)
    if _is_word(kind):
        size = int(kind[5:])
        return lambda t: bytes.fromhex(t[2 : 2 + 2 * size])
    # An indexed dynamic value (string, bytes, array) is only its hash in the topic.
    return lambda t: bytes.fromhex(t[2:])


@dataclass(frozen=True)
class EventLayout:
    """One event of an ABI, with a decoder that slices words when every data field is static
    (every event of our contracts but two) and uses eth_abi otherwise: the one raw-log decoder,
    used by the audit directly and by `EventDecoder.decode_raw` (the watchers)."""

    name: str
    names: tuple[str, ...]
    indexed: tuple[Callable[[str], Any] | None, ...]
    words: tuple[Callable[[bytes], Any] | None, ...]
    data_types: tuple[str, ...]
    post: tuple[Callable[[Any], Any], ...]
    fast: bool

    @property
    def topic_count(self) -> int:
        """Indexed arguments: the topics after the event's own."""
        return sum(1 for convert in self.indexed if convert is not None)

    def decode(self, topics: Sequence[str], data: bytes) -> tuple[Any, ...]:
        out: list[Any] = []
        t = 1
        if self.fast:
            d = 0
            for topic_conv, word_conv in zip(self.indexed, self.words, strict=True):
                if topic_conv is not None:
                    out.append(topic_conv(topics[t]))
                    t += 1
                elif word_conv is not None:
                    out.append(word_conv(data[d : d + 32]))
                    d += 32
            return tuple(out)
        values = iter(abi_decode(list(self.data_types), data))
        posts = iter(self.post)
        for topic_conv in self.indexed:
            if topic_conv is not None:
                out.append(topic_conv(topics[t]))
                t += 1
            else:
                out.append(next(posts)(next(values)))
        return tuple(out)


def event_layouts(
    abi: Sequence[Mapping[str, Any]], addresses: AddressBook
) -> dict[bytes, EventLayout]:
    specs: dict[bytes, EventLayout] = {}
    for item in abi:
        if item.get("type") != "event" or item.get("anonymous"):
            continue
        inputs = item.get("inputs", [])
        types = [str(p["type"]) for p in inputs]
        signature = f"{item['name']}({','.join(types)})"
        indexed: list[Callable[[str], Any] | None] = []
        words: list[Callable[[bytes], Any] | None] = []
        data_types: list[str] = []
        post: list[Callable[[Any], Any]] = []
        for p, kind in zip(inputs, types, strict=True):
            if p.get("indexed"):
                indexed.append(_topic_converter(kind, addresses))
                words.append(None)
            else:
                indexed.append(None)
                words.append(_word_converter(kind, addresses) if _is_word(kind) else None)
                # A string is read as bytes and decoded here: whoever emits it chooses its
                # bytes, and text that is not UTF-8 must not stop a reader (see _text).
                data_types.append("bytes" if kind == "string" else kind)
                post.append(_post_converter(kind, addresses))
        specs[keccak(text=signature)] = EventLayout(
            name=str(item["name"]),
            names=tuple(str(p.get("name", "")) for p in inputs),
            indexed=tuple(indexed),
            words=tuple(words),
            data_types=tuple(data_types),
            post=tuple(post),
            fast=all(_is_word(k) for k in data_types),
        )
    return specs


def _text(raw: bytes) -> str:
    """An event's string as text: bytes that are not UTF-8 become U+FFFD, and so does NUL
    (PostgreSQL's text refuses it), so that a program manager's title cannot stop the index,
    the audit or a watcher."""
    return bytes(raw).decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _post_converter(kind: str, addresses: AddressBook) -> Callable[[Any], Any]:
    """Converts what eth_abi returns into the audit's types (checksummed addresses, bytes)."""
    if kind == "address":
        return addresses.of_text
    if kind == "address[]":
        return lambda values: tuple(addresses.of_text(v) for v in values)
    if kind == "string":
        return _text
    if kind.startswith("bytes") and "[" not in kind:
        return bytes
    return lambda v: v


class EventDecoder:
    """Knows every (non-anonymous) event of the given contracts, keyed by address and topic."""

    def __init__(self, contracts: Sequence[Contract]) -> None:
        self._events: dict[tuple[str, bytes], Any] = {}
        self._layouts: dict[tuple[str, str], EventLayout] = {}
        addresses = AddressBook(checksummed=False)
        for contract in contracts:
            for item in contract.abi:
                entry: dict[str, Any] = dict(item)
                if entry.get("type") == "event" and not entry.get("anonymous", False):
                    topic = bytes(event_abi_to_log_topic(cast(ABIEvent, entry)))
                    event = getattr(contract.events, str(entry["name"]))()
                    self._events[(contract.address, topic)] = event
            for topic, layout in event_layouts(contract.abi, addresses).items():
                self._layouts[(contract.address.lower(), "0x" + topic.hex())] = layout

    def decode_raw(self, log: Mapping[str, Any]) -> RawEvent | None:
        """Decodes a log as `ChainClient.raw_logs` returns it, with eth_abi alone: the
        watcher's hot path (web3's log formatting and event processing cost ten times more).
        None for a log of no known event, or one that does not decode."""
        topics = log.get("topics") or []
        if not topics:
            return None
        layout = self._layouts.get((str(log["address"]).lower(), str(topics[0]).lower()))
        if layout is None or len(topics) != layout.topic_count + 1:
            return None
        data = bytes.fromhex(str(log["data"])[2:])
        if layout.fast and len(data) != 32 * len(layout.data_types):
            return None
        try:
            values = layout.decode([str(t).lower() for t in topics], data)
        except (DecodingError, ValueError, IndexError):
            return None
        return RawEvent(
            layout.name,
            dict(zip(layout.names, values, strict=True)),
            int(str(log["blockNumber"]), 16),
            str(log["transactionHash"]),
        )

    def decode(self, log: LogReceipt) -> EventData | None:
        """The decoded event, or None for a log of no known event."""
        topics = log.get("topics") or []
        if not topics:
            return None
        event = self._events.get((Web3.to_checksum_address(log["address"]), bytes(topics[0])))
        if event is None:
            return None
        try:
            decoded: EventData = event.process_log(log)
        except (Web3Exception, ValueError):
            return None
        return decoded

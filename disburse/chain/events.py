"""Decoding the contracts' logs by their topic, for every tool that follows events (the oracle's
watcher, `disburse watch`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_typing import ABIEvent
from eth_utils.abi import collapse_if_tuple, event_abi_to_log_topic
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


@dataclass(frozen=True)
class _Layout:
    name: str
    indexed: tuple[tuple[str, str], ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]


class EventDecoder:
    """Knows every (non-anonymous) event of the given contracts, keyed by address and topic."""

    def __init__(self, contracts: Sequence[Contract]) -> None:
        self._events: dict[tuple[str, bytes], Any] = {}
        self._layouts: dict[tuple[str, str], _Layout] = {}
        for contract in contracts:
            for item in contract.abi:
                entry: dict[str, Any] = dict(item)
                if entry.get("type") == "event" and not entry.get("anonymous", False):
                    topic = bytes(event_abi_to_log_topic(cast(ABIEvent, entry)))
                    event = getattr(contract.events, str(entry["name"]))()
                    self._events[(contract.address, topic)] = event
                    inputs = entry.get("inputs", [])
                    self._layouts[(contract.address.lower(), "0x" + topic.hex())] = _Layout(
                        name=str(entry["name"]),
                        indexed=tuple(
                            (str(i["name"]), collapse_if_tuple(i)) for i in inputs if i["indexed"]
                        ),
                        data_names=tuple(str(i["name"]) for i in inputs if not i["indexed"]),
                        data_types=tuple(collapse_if_tuple(i) for i in inputs if not i["indexed"]),
                    )

    def decode_raw(self, log: Mapping[str, Any]) -> RawEvent | None:
        """Decodes a log as `ChainClient.raw_logs` returns it, with eth_abi alone: the
        watcher's hot path (web3's log formatting and event processing cost ten times more).
        None for a log of no known event, or one that does not decode."""
        topics = log.get("topics") or []
        if not topics:
            return None
        layout = self._layouts.get((str(log["address"]).lower(), str(topics[0]).lower()))
        if layout is None or len(topics) != len(layout.indexed) + 1:
            return None
        try:
            args: dict[str, Any] = {
                name: abi_decode([kind], bytes.fromhex(topic[2:]))[0]
                for (name, kind), topic in zip(layout.indexed, topics[1:], strict=True)
            }
            data = abi_decode(list(layout.data_types), bytes.fromhex(str(log["data"])[2:]))
        except (DecodingError, ValueError):
            return None
        args.update(zip(layout.data_names, data, strict=True))
        return RawEvent(
            layout.name, args, int(str(log["blockNumber"]), 16), str(log["transactionHash"])
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

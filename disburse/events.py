"""Decoding the contracts' logs by their topic, for every tool that follows events (the oracle's
watcher, `disburse watch`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception
from web3.types import EventData, LogReceipt, TxReceipt


class EventDecoder:
    """Knows every (non-anonymous) event of the given contracts, keyed by address and topic."""

    def __init__(self, contracts: Sequence[Contract]) -> None:
        self._events: dict[tuple[str, bytes], Any] = {}
        for contract in contracts:
            for item in contract.abi:
                entry: dict[str, Any] = dict(item)
                if entry.get("type") == "event" and not entry.get("anonymous", False):
                    topic = bytes(event_abi_to_log_topic(cast(ABIEvent, entry)))
                    event = getattr(contract.events, str(entry["name"]))()
                    self._events[(contract.address, topic)] = event

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

    def decode_receipt(self, receipt: TxReceipt, name: str | None = None) -> list[EventData]:
        """The known events a transaction emitted (only those called `name`, if given)."""
        found = [self.decode(log) for log in receipt["logs"]]
        return [e for e in found if e is not None and (name is None or e["event"] == name)]

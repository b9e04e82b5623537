"""What the detail pages need beside the index reader, made once per reader: the event decoder
(the ABIs of the deployment the index describes) and the proposal describer."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Protocol

from disburse.chain.deployment import Deployment
from disburse.console.views._events import EventDecoding
from disburse.console.views.council import Describer
from disburse.index.ingest import Decoder
from disburse.report.facts import TokenFacts


class Reader(Protocol):
    """What the views read of `disburse.console.data.IndexReader`."""

    deployment: Deployment

    def token(self, address: str) -> TokenFacts: ...


@dataclass(frozen=True)
class Views:
    decoding: EventDecoding
    describer: Describer


_made: weakref.WeakKeyDictionary[object, Views] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def views_of(reader: Reader) -> Views:
    """The decoder and describer of this reader's deployment (built on first use: loading the
    ABIs takes tens of milliseconds)."""
    with _lock:
        found = _made.get(reader)
        if found is None:
            deployment = reader.deployment
            found = Views(
                EventDecoding(Decoder(deployment), reader.token),
                Describer(deployment.escrow, deployment.council, reader.token),
            )
            _made[reader] = found
        return found

"""The index as the audit's history: its stored events decoded again with the build artifacts'
ABIs, in chain order, ending at the index's cursor (`disburse audit --db`)."""

from __future__ import annotations

from collections.abc import Iterator

from disburse.audit import DecodedEvent
from disburse.audit.model import AuditError
from disburse.chain.deployment import Deployment
from disburse.index.ingest import Decoder
from disburse.index.store import IndexStore


class IndexedHistory:
    """What `disburse.audit.run_audit(history=…)` reads from an index."""

    def __init__(self, store: IndexStore, deployment: Deployment) -> None:
        cursor = store.cursor()
        if cursor is None:
            raise AuditError(
                f"the index at {store.url} has read no block yet: run `disburse index`"
            )
        self.store = store
        self.cursor = cursor
        self.decoder = Decoder(deployment)

    @property
    def to_block(self) -> int:
        return self.cursor.number

    def events(self) -> Iterator[DecodedEvent]:
        of_text = self.decoder.addresses.of_text
        for row in self.store.iter_events():
            if row.block > self.cursor.number:
                return
            decoded = self.decoder.values(row)
            if decoded is None:
                continue
            layout, values = decoded
            yield DecodedEvent(
                name=layout.name,
                args=values,
                block=row.block,
                timestamp=row.timestamp,
                tx_hash=bytes.fromhex(row.tx_hash[2:]),
                log_index=row.log_index,
                address=of_text(row.address),
                sender=row.sender,
            )

"""The relaying node's queue keeps every signature when the chain cannot be reached."""

from __future__ import annotations

import pytest
from eth_account import Account

from disburse.attestations import CompactSignature
from disburse.client import ChainClient
from disburse.errors import ChainUnavailableError
from disburse.escrow import Escrow
from disburse.profile import ChainProfile
from oracle.metrics import Metrics
from oracle.relay import RelayBatcher


def test_a_batch_that_cannot_reach_the_chain_goes_back_into_the_queue():
    dead = ChainClient(
        ChainProfile(name="dead", rpc_url="http://127.0.0.1:9", chain_id=1, retries=0)
    )
    escrow = Escrow(dead, "0x" + "11" * 20)
    batcher = RelayBatcher(
        client=dead,
        escrow=escrow,
        account=Account.create(),
        metrics=Metrics(),
        batch_size=10,
        batch_delay_s=0,
    )
    signature = CompactSignature(b"\x01" * 32, b"\x02" * 32)
    for i in range(3):
        batcher.add(
            milestone_id=bytes([i]) * 32,
            evidence_hash=b"\x05" * 32,
            epoch=1,
            oracle=f"0x{i:040x}",
            signature=signature,
        )
    assert batcher.queued() == 3
    with pytest.raises(ChainUnavailableError):
        batcher.flush()
    assert batcher.queued() == 3

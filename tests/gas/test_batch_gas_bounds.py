"""The gas limits the node gives its batches (from their size, instead of an eth_estimateGas
that executes a batch many times over) cover the costliest batches: first attestations, each
milestone verified by the batch, and first payments to beneficiaries who never held the token.
A bound too low would make every batch fail and fall back to one transaction per item."""

from __future__ import annotations

import pytest
from brownie import accounts
from eth_account import Account

from disburse.chain.attestations import CompactSignature
from disburse.chain.escrow import (
    RelayedAttestation,
    relayed_chunks,
    relayed_gas,
    release_batch_capacity,
    release_batch_gas,
)
from tests.conftest import TOKEN_UNIT, evidence

COUNT = 20


@pytest.mark.parametrize("signers", [1, 2, 3])
def test_a_relayed_batch_of_first_attestations_stays_within_its_bound(
    escrow, register, sign, oracles, signers
):
    ids = [register(f"GB-{signers}-{i}") for i in range(COUNT)]
    items = [(m, evidence(), [sign(o, m, evidence()) for o in oracles[:signers]]) for m in ids]
    tx = escrow.attestWithSignatures(1, items, {"from": accounts[5]})
    assert tx.status == 1
    batch = [
        RelayedAttestation(m, d, tuple(CompactSignature(*s) for s in sigs)) for m, d, sigs in items
    ]
    bound = relayed_gas(batch)
    print(f"relayed batch of {COUNT}, {signers} signatures each: {tx.gas_used:,} of {bound:,}")
    assert tx.gas_used < bound, f"{tx.gas_used:,} used, bound {bound:,}"


def test_a_release_batch_of_first_payments_stays_within_its_bound(
    escrow, register, oracles, instant_program
):
    fresh = [Account.create().address for _ in range(COUNT)]  # never held the token
    ids = [
        register(f"GR-{i}", 10 * TOKEN_UNIT, beneficiary=who, program=instant_program)
        for i, who in enumerate(fresh)
    ]
    for mid in ids:
        for oracle in oracles[:2]:
            escrow.attest(mid, evidence(), 1, 0, {"from": oracle})
    tx = escrow.releaseBatch(ids, {"from": accounts[5]})
    assert tx.return_value == COUNT
    bound = release_batch_gas(COUNT)
    print(f"releaseBatch of {COUNT} first payments: {tx.gas_used:,} of {bound:,}")
    assert tx.gas_used < bound, f"{tx.gas_used:,} used, bound {bound:,}"


def test_batches_are_split_to_stay_under_the_profiles_batch_gas():
    signature = CompactSignature(b"\x01" * 32, b"\x02" * 32)
    items = [
        RelayedAttestation(bytes([i]) * 32, b"\x00" * 32, (signature,) * 3) for i in range(200)
    ]
    chunks = relayed_chunks(items, 5_000_000)
    assert [i for c in chunks for i in c] == items, "every item once, in order"
    assert len(chunks) > 1 and all(relayed_gas(c) <= 5_000_000 for c in chunks)
    assert relayed_chunks(items[:3], 5_000_000) == [items[:3]]
    per_tx = release_batch_capacity(5_000_000)
    assert release_batch_gas(per_tx) <= 5_000_000 < release_batch_gas(per_tx + 1)
    assert release_batch_capacity(1_000) == 1, "never less than one"

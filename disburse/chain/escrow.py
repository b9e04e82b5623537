"""The escrow as the tools see it: typed reads and the calls they make, over the ChainClient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from disburse.chain.attestations import CompactSignature
from disburse.chain.client import Call, ChainClient, FunctionCodec
from disburse.chain.contracts import enum_labels


def milestone_statuses() -> tuple[str, ...]:
    """The MilestoneStatus labels as compiled; a status's ABI value is its index."""
    return enum_labels("MilestoneStatus")


# Gas limits of batches, from their size rather than from eth_estimateGas: a node executes an
# estimate of a batch many times over (a binary search), which cost the chain more than mining
# it. Each bound is above what tests/gas measures for the costliest case (first attestations,
# 1.38x; first payments to new beneficiaries, 1.59x); a batch that still ran out would revert and
# be sent again item by item, each item estimated. Batches are split to stay under the chain
# profile's `max_batch_gas`.
_TX_BOUND = 60_000
_RELAYED_MILESTONE_BOUND = 40_000
_RELAYED_SIGNATURE_BOUND = 12_000
_RELEASE_BOUND = 60_000


MAX_TITLE_BYTES = 120
MAX_LABEL_BYTES = 32
"""The escrow's MAX_TITLE_LENGTH and MAX_LABEL_LENGTH (tests/escrow asserts they agree)."""
FISCAL_YEARS = range(2000, 2101)
_UINT128 = 2**128


@dataclass(frozen=True)
class ProgramFacts:
    """What a program says it is (the escrow's ProgramFacts): budgets roll up by organisation,
    category and fiscal year, and milestones never oblige it beyond its baseline."""

    title: str
    organisation: str
    category: str
    fiscal_year: int
    baseline: int
    """In the token's smallest unit."""

    def problems(self) -> list[str]:
        """What the escrow would refuse, in words, so that nothing is sent to be refused."""
        found = []
        for field, text, limit in (
            ("title", self.title, MAX_TITLE_BYTES),
            ("organisation", self.organisation, MAX_LABEL_BYTES),
            ("category", self.category, MAX_LABEL_BYTES),
        ):
            size = len(text.encode())
            if not text.strip() or size > limit:
                found.append(f"{field} must be 1 to {limit} bytes of text (given {size} bytes)")
        if self.fiscal_year not in FISCAL_YEARS:
            found.append(
                f"fiscal year {self.fiscal_year} is outside {FISCAL_YEARS[0]}..{FISCAL_YEARS[-1]}"
            )
        if not 0 < self.baseline < _UINT128:
            found.append(f"baseline must be above zero and below 2**128 (given {self.baseline})")
        return found

    def as_arg(self) -> tuple[str, str, str, int, int]:
        """The struct as a call argument."""
        return (self.title, self.organisation, self.category, self.fiscal_year, self.baseline)


@dataclass(frozen=True)
class MilestoneState:
    """A milestone as `MilestoneEscrow.milestone` returns it, status by name."""

    milestone_id: bytes
    program_id: int
    beneficiary: ChecksumAddress
    amount: int
    deadline: int
    evidence_spec_hash: bytes
    status: str
    attestations: int
    attestation_epoch: int
    evidence_hash: bytes
    verified_at: int
    terms_version: int = 0
    """Counts the changes of the milestone's terms; every attestation signs it."""
    beneficiary_locked: bool = False
    """True once the council chose the beneficiary: the manager can no longer amend it."""

    @property
    def exists(self) -> bool:
        return self.status != "None"


@dataclass(frozen=True)
class Committee:
    oracles: tuple[ChecksumAddress, ...]
    quorum: int
    epoch: int


@dataclass(frozen=True)
class RelayedAttestation:
    """One milestone's evidence hash with the committee signatures gathered for it."""

    milestone_id: bytes
    evidence_hash: bytes
    signatures: tuple[CompactSignature, ...]


class Escrow:
    """Typed access to one deployed MilestoneEscrow."""

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = client.contract("MilestoneEscrow", self.address)
        self.codec = FunctionCodec(self.address, self.contract.abi)

    def milestone(self, milestone_id: bytes) -> MilestoneState:
        raw = self.client.call(self.contract.functions.milestone(milestone_id))
        return _state(milestone_id, raw)

    def milestones(self, milestone_ids: Sequence[bytes]) -> list[MilestoneState]:
        """Many milestones in JSON-RPC batches, in the order given."""
        found = self.client.call_many([self.codec.call("milestone", m) for m in milestone_ids])
        return [_state(m, raw) for m, raw in zip(milestone_ids, found, strict=True)]

    def committee(self) -> Committee:
        oracles, quorum, epoch = self.client.call(self.contract.functions.committee())
        return Committee(
            tuple(Web3.to_checksum_address(o) for o in oracles), int(quorum), int(epoch)
        )

    def has_attested(self, milestone_id: bytes, oracle: str) -> bool:
        fn = self.contract.functions.hasAttested(milestone_id, Web3.to_checksum_address(oracle))
        return bool(self.client.call(fn))

    def attested(self, pairs: Sequence[tuple[bytes, str]]) -> list[bool]:
        """`has_attested` of many (milestone, oracle) pairs, in JSON-RPC batches."""
        calls = [self.codec.call("hasAttested", m, bytes.fromhex(o[2:])) for m, o in pairs]
        return [bool(found) for found in self.client.call_many(calls)]

    def releasable_at(self, milestone_id: bytes) -> int:
        return int(self.client.call(self.contract.functions.releasableAt(milestone_id)))

    def releasable_at_each(self, milestone_ids: Sequence[bytes]) -> list[int]:
        """`releasable_at` of many milestones, in JSON-RPC batches."""
        calls = [self.codec.call("releasableAt", m) for m in milestone_ids]
        return [int(found) for found in self.client.call_many(calls)]

    def paused(self) -> bool:
        return bool(self.client.call(self.contract.functions.paused()))

    # Calls, for ChainClient.transact / sign (encoded with eth_abi: see FunctionCodec).

    def attest(
        self, milestone_id: bytes, evidence_hash: bytes, epoch: int, terms_version: int
    ) -> Call:
        """The oracle's own attestation, bound to the terms version it verified against."""
        return self.codec.call("attest", milestone_id, evidence_hash, epoch, terms_version)

    def attest_with_signatures(self, epoch: int, batch: Sequence[RelayedAttestation]) -> Call:
        items = [
            (a.milestone_id, a.evidence_hash, [s.as_tuple() for s in a.signatures]) for a in batch
        ]
        return self.codec.call("attestWithSignatures", epoch, items)

    def create_program(
        self, token: str, treasury: str, challenge_window: int, facts: ProgramFacts
    ) -> Call:
        return self.codec.call(
            "createProgram",
            bytes.fromhex(token[2:]),
            bytes.fromhex(treasury[2:]),
            challenge_window,
            facts.as_arg(),
        )

    def release(self, milestone_id: bytes) -> Call:
        return self.codec.call("release", milestone_id)

    def release_batch(self, milestone_ids: Sequence[bytes]) -> Call:
        """Pays every given milestone that is due; the others are skipped, not reverted."""
        return self.codec.call("releaseBatch", list(milestone_ids))


def relayed_gas(batch: Sequence[RelayedAttestation]) -> int:
    """A gas limit for `attestWithSignatures(batch)`."""
    return _TX_BOUND + sum(_relayed_item_gas(a) for a in batch)


def _relayed_item_gas(item: RelayedAttestation) -> int:
    return _RELAYED_MILESTONE_BOUND + _RELAYED_SIGNATURE_BOUND * len(item.signatures)


def relayed_chunks(
    batch: Sequence[RelayedAttestation], max_gas: int
) -> list[list[RelayedAttestation]]:
    """The batch in consecutive pieces whose gas limit stays under `max_gas`."""
    chunks: list[list[RelayedAttestation]] = []
    gas = _TX_BOUND
    for item in batch:
        cost = _relayed_item_gas(item)
        if not chunks or gas + cost > max_gas:
            chunks.append([])
            gas = _TX_BOUND
        chunks[-1].append(item)
        gas += cost
    return chunks


def release_batch_gas(count: int) -> int:
    """A gas limit for `releaseBatch` of `count` milestones."""
    return _TX_BOUND + _RELEASE_BOUND * count


def release_batch_capacity(max_gas: int) -> int:
    """The most milestones one `releaseBatch` may carry under `max_gas`."""
    return max(1, (max_gas - _TX_BOUND) // _RELEASE_BOUND)


@lru_cache(maxsize=4096)
def _checksum(address: str) -> ChecksumAddress:
    """Checksummed once per address: a program pays the same contractors again and again, and
    each checksum is a keccak."""
    return Web3.to_checksum_address(address)


def _state(milestone_id: bytes, raw: Sequence[Any]) -> MilestoneState:
    """A `milestone(id)` answer as a MilestoneState."""
    return MilestoneState(
        milestone_id=milestone_id,
        program_id=int(raw[0]),
        beneficiary=_checksum(str(raw[1])),
        amount=int(raw[2]),
        deadline=int(raw[3]),
        evidence_spec_hash=bytes(raw[4]),
        status=milestone_statuses()[int(raw[5])],
        attestations=int(raw[6]),
        attestation_epoch=int(raw[7]),
        evidence_hash=bytes(raw[8]),
        verified_at=int(raw[9]),
        terms_version=int(raw[10]),
        beneficiary_locked=bool(raw[11]),
    )

"""The audit's seam, without a history on chain: synthetic decoded events go into the rebuild and
a ledger comes out; flags are computed from a synthetic ledger alone.

The rebuild is given a client (the conftest's anvil) only for what it reads besides the events:
a token's metadata (the token address here is not a contract, so it reads as units)."""

from __future__ import annotations

import pytest
from brownie import chain, web3
from eth_utils.address import to_checksum_address

from disburse.audit import (
    EXPIRED,
    REGISTERED,
    RELEASED,
    VERIFIED,
    Ledger,
    MilestoneRecord,
    ProgramRecord,
    model,
    status_at,
)
from disburse.audit.analysis import _flags, _schedules
from disburse.audit.rebuild import DecodedEvent, _Rebuild
from disburse.chain.client import ChainClient
from disburse.chain.deployment import Deployment
from disburse.chain.errors import ArtifactError
from disburse.chain.escrow import milestone_statuses
from disburse.chain.profile import ChainProfile

ESCROW = to_checksum_address("0x" + "e5" * 20)
COUNCIL = to_checksum_address("0x" + "c0" * 20)
TOKEN = to_checksum_address("0x" + "70" * 20)
MANAGER = to_checksum_address("0x" + "11" * 20)
TREASURY = to_checksum_address("0x" + "22" * 20)
FUNDER = to_checksum_address("0x" + "33" * 20)
ALICE = to_checksum_address("0x" + "44" * 20)
ORACLE = to_checksum_address("0x" + "55" * 20)
MEMBER = to_checksum_address("0x" + "66" * 20)
MID = b"\x01" * 32
EVIDENCE = b"\x02" * 32
DAY = 86_400


def _rebuild() -> _Rebuild:
    client = ChainClient(
        ChainProfile(name="test", rpc_url=str(web3.provider.endpoint_uri), chain_id=chain.id)
    )
    deployment = Deployment(
        network="development",
        chain_id=chain.id,
        escrow=ESCROW,
        council=COUNCIL,
        deployment_block=0,
        evm_version="cancun",
    )
    return _Rebuild(client, deployment, to_block=100, partial=False)


def _events(*rows: tuple[str, str, tuple[object, ...], int]) -> list[DecodedEvent]:
    return [
        DecodedEvent(name, args, block, 1_000 + block, bytes([block]) * 32, 0, address, MANAGER)
        for block, (address, name, args, _time) in enumerate(rows, start=1)
    ]


def test_a_program_funded_committed_and_paid_is_rebuilt_from_decoded_events():
    ledger = _rebuild().apply_events(
        _events(
            (ESCROW, "ProgramCreated", (1, MANAGER, TOKEN, TREASURY, DAY), 0),
            (ESCROW, "ProgramFunded", (1, FUNDER, 1_000), 0),
            (ESCROW, "MilestoneRegistered", (MID, 1, ALICE, 400, 10**9, b"\0" * 32, b"m-1"), 0),
            (ESCROW, "AttestationRecorded", (MID, ORACLE, EVIDENCE, 1), 0),
            (ESCROW, "MilestoneVerified", (MID, EVIDENCE, 2), 0),
            (ESCROW, "MilestoneReleased", (MID, 1, ALICE, 400), 0),
        )
    )
    program = ledger.programs[1]
    assert (program.funded, program.fundings, program.committed, program.paid) == (1_000, 1, 0, 400)
    assert program.balance == 600 and program.milestones == 1
    m = ledger.milestones[MID]
    assert m.status == RELEASED and m.evidence_hash == EVIDENCE and m.verified_time == 1_005
    assert [e[0] for e in m.timeline] == ["registered", "attested", "verified", "released"]
    assert ledger.events == 6 and ledger.unknown_events == 0 and ledger.anomalies == []


def test_milestone_status_moves_with_its_events():
    state = _rebuild()
    state.apply_events(
        _events(
            (ESCROW, "ProgramCreated", (1, MANAGER, TOKEN, TREASURY, DAY), 0),
            (ESCROW, "MilestoneRegistered", (MID, 1, ALICE, 400, 2_000, b"\0" * 32, b"m-1"), 0),
        )
    )
    m = state.milestones[MID]
    assert m.status == REGISTERED
    assert status_at(m, 1_999) == REGISTERED and status_at(m, 2_001) == EXPIRED
    state.apply_events(
        [DecodedEvent("MilestoneVerified", (MID, EVIDENCE, 2), 3, 1_003, b"\3" * 32, 0, ESCROW)]
    )
    assert m.status == VERIFIED and status_at(m, 5_000) == VERIFIED


def test_a_proposal_is_created_approved_and_executed():
    ledger = _rebuild().apply_events(
        _events(
            (
                COUNCIL,
                "ProposalCreated",
                (7, MEMBER, COUNCIL, b"\x12\x34\x56\x78", "why", 5_000),
                0,
            ),
            (COUNCIL, "ProposalApproved", (7, MEMBER, 1), 0),
            (COUNCIL, "ProposalExecuted", (7, MEMBER), 0),
        )
    )
    proposal = ledger.proposals[7]
    assert proposal.status(4_000) == "executed"
    assert [a[0] for a in proposal.approvals] == [MEMBER]
    assert proposal.executed is not None and proposal.executed[0] == MEMBER


def test_an_open_proposal_expires_with_time():
    ledger = _rebuild().apply_events(
        _events((COUNCIL, "ProposalCreated", (3, MEMBER, COUNCIL, b"\0" * 4, "", 5_000), 0))
    )
    assert ledger.proposals[3].status(4_999) == "open"
    assert ledger.proposals[3].status(5_001) == "expired"


def test_an_impossible_sequence_is_an_anomaly_not_a_crash():
    ledger = _rebuild().apply_events(_events((COUNCIL, "ProposalApproved", (9, MEMBER, 1), 0)))
    assert ledger.proposals == {}
    assert ledger.anomalies == ["block 1: event for proposal 9, whose creation was not read"]


def test_an_event_of_an_unknown_contract_is_counted_not_applied():
    ledger = _rebuild().apply_events(_events((TOKEN, "ProgramFunded", (1, FUNDER, 5), 0)))
    assert (ledger.events, ledger.unknown_events, ledger.programs) == (1, 1, {})


def _ledger(*milestones: MilestoneRecord) -> Ledger:
    program = ProgramRecord(1, MANAGER, TOKEN, TREASURY, DAY, 1, 1_000)
    program.committed = sum(m.amount for m in milestones)
    return Ledger(
        escrow=ESCROW,
        council=COUNCIL,
        to_block=100,
        programs={1: program},
        milestones={m.milestone_id: m for m in milestones},
    )


def test_flags_come_from_a_synthetic_ledger_alone():
    overdue = MilestoneRecord(MID, 1, b"late", ALICE, 400, 2_000, b"\0" * 32, REGISTERED)
    on_time = MilestoneRecord(b"\3" * 32, 1, b"", ALICE, 100, 9_000, b"\0" * 32, REGISTERED)
    ledger = _ledger(overdue, on_time)
    now = 3_000
    schedules = _schedules(ledger, now)
    flags = _flags(ledger, now, schedules, 0.25, None)
    assert [(f.kind, f.milestone_id) for f in flags if f.kind == "overdue"] == [("overdue", MID)]
    # 400 of 500 due, nothing paid: 80 points behind, beyond the 25-point tolerance.
    assert [f.kind for f in flags if f.milestone_id is None] == ["schedule-behind"]
    assert not [f for f in flags if f.milestone_id == on_time.milestone_id]


def test_the_audit_statuses_are_the_compiled_enum_read_by_label(monkeypatch: pytest.MonkeyPatch):
    labels = milestone_statuses()
    assert [REGISTERED, VERIFIED, RELEASED, EXPIRED] == [
        labels.index(label) for label in ("Registered", "Verified", "Released", "Expired")
    ]
    # A reordered enum moves the values with it; a missing label stops the audit by name.
    reordered = ("None", "Verified", "Registered", *labels[3:])
    monkeypatch.setattr(model, "milestone_statuses", lambda: reordered)
    model.status_values.cache_clear()
    try:
        assert (model.status_values()["REGISTERED"], model.status_values()["VERIFIED"]) == (2, 1)
        monkeypatch.setattr(model, "milestone_statuses", lambda: labels[:-1])
        model.status_values.cache_clear()
        with pytest.raises(ArtifactError, match="has no Expired"):
            model.status_values()
    finally:
        monkeypatch.undo()
        model.status_values.cache_clear()
    assert model.status_values()["EXPIRED"] == EXPIRED

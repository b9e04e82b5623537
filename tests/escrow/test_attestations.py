"""Attestations: `attest` from an oracle's own account and `attestWithSignatures` relayed by anyone.

Branch tree (a test per leaf):

attest(milestoneId, evidenceHash, epoch)
├── when paused → EnforcedPause
├── when epoch is not the current one → Escrow_WrongEpoch(given, current)
├── when the caller is not in the current committee
│   ├── never a member → Escrow_NotOracle(caller)
│   └── removed by a committee change → Escrow_NotOracle(caller)
└── when the caller is a current member → record (below)

attestWithSignatures(epoch, batch)
├── when paused → EnforcedPause
├── when epoch is not the current one → Escrow_WrongEpoch(given, current)
├── when the batch is empty → Escrow_EmptyBatch
├── when an item has no signatures → Escrow_EmptyBatch
├── when a signature is not a current member's signature of exactly this attestation
│   ├── signed by a non-member → Escrow_NotOracle(signer)
│   ├── signed by a member the committee change removed → Escrow_NotOracle(signer)
│   ├── signed for another milestone → Escrow_NotOracle(some other address)
│   ├── signed for another chain id → Escrow_NotOracle(some other address)
│   ├── signed for another verifying contract → Escrow_NotOracle(some other address)
│   ├── signed under an earlier epoch
│   │   ├── relayed with the old epoch → Escrow_WrongEpoch(old, current)
│   │   └── relayed with the current epoch → Escrow_NotOracle(some other address)
│   ├── high-s twin (s' = n - s, parity flipped) in compact form: s' sets the top bit, so ECDSA
│   │   reads s' - 2**255 with parity 1 → Escrow_NotOracle(some other address)
│   ├── s above half the curve order → ECDSAInvalidSignatureS(s)
│   └── r zero (ecrecover finds no signer) → ECDSAInvalidSignature
├── when one item of a batch fails → whole batch reverts, nothing recorded
└── when every signature is valid, relayed by anyone → record each (below)
    ├── a hash other than the epoch's first → Disputed, the signer named
    └── several milestones in one batch → each one verified

record (both entry points)
├── unknown milestone → Escrow_UnknownMilestone(id)
├── stored status is not Registered → Escrow_UnexpectedMilestoneStatus(id, status)
│   ├── Verified (2)
│   ├── Disputed (3)
│   ├── Released (5)
│   └── Expired by expire() (7)
├── deadline passed → Escrow_MilestonePastDeadline(id, deadline)
│   └── at exactly the deadline → still counted
├── oracle already counted in this epoch → Escrow_AlreadyAttested(id, oracle)
│   ├── own account twice
│   ├── own account, then relayed
│   └── the same signature twice in one list
└── counted → AttestationRecorded(id, oracle, hash, epoch)
    ├── the tally belongs to an earlier epoch → restarts; old attestations do not count
    │   ├── their oracles may attest again
    │   └── old evidence hash → forgotten (no dispute)
    ├── hash differs from the epoch's first → Disputed, MilestoneDisputed(id, oracle, first, other)
    ├── count reaches the quorum → Verified, MilestoneVerified(id, hash, count)
    │   ├── quorum 1 → verified by the first attestation
    │   └── more signatures than the quorum in one list → all counted, verified once
    └── count below the quorum → stays Registered

hasAttested(milestoneId, oracle)
├── counted in the current epoch → true
├── not attested, or not a member → false
└── counted in an earlier epoch → false
"""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from brownie import MilestoneEscrow, chain, web3
from eth_keys import keys

from disburse.chain.attestations import external_ref
from tests.conftest import DAY, PROGRAM_FUNDS, evidence
from tests.programs import FACTS

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2
LOW_255_BITS = (1 << 255) - 1

REGISTERED, VERIFIED, DISPUTED, RELEASED, EXPIRED = 1, 2, 3, 5, 7


# brownie's own chain.sleep / chain.mine go through its deprecated rpc API.
pytestmark = pytest.mark.filterwarnings(
    "ignore:rpc.(sleep|mine) should not be called directly:FutureWarning"
)


# How brownie renders the arguments of a decoded custom error.
def _b32(value: bytes) -> str:
    return repr(bytes(value))


def _addr(account: Any) -> str:
    return str(account).lower()


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _escrow_recover(digest: Any, signature: tuple[bytes, bytes]) -> str:
    """The address OpenZeppelin's ECDSA.recover(digest, r, vs) finds, computed off-chain."""
    r = int.from_bytes(signature[0], "big")
    vs = int.from_bytes(signature[1], "big")
    sig = keys.Signature(vrs=(vs >> 255, r, vs & LOW_255_BITS))
    return sig.recover_public_key_from_msg_hash(bytes(digest)).to_checksum_address()


def _at_next_block(timestamp: int) -> None:
    """Gives the next mined block exactly this timestamp."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


@pytest.fixture
def epoch(escrow: Any) -> int:
    return int(escrow.committee()[2])


@pytest.fixture
def mid(register: Any) -> bytes:
    return register("PO-7/M1")


def _new_epoch(escrow: Any, roles: Any, members: list[Any], quorum: int = 2) -> int:
    escrow.setCommittee(members, quorum, {"from": roles.admin})
    return int(escrow.committee()[2])


# --------------------------------------------------------------------------- attest: refusals


def test_attest_by_a_non_member_is_refused(escrow, mid, epoch, roles):
    with brownie.reverts(f"Escrow_NotOracle: {_addr(roles.outsider)}"):
        escrow.attest(mid, evidence(), epoch, 0, {"from": roles.outsider})


def test_attest_by_an_oracle_removed_from_the_committee_is_refused(escrow, mid, roles, oracles):
    new_epoch = _new_epoch(escrow, roles, oracles[1:4])
    with brownie.reverts(f"Escrow_NotOracle: {_addr(oracles[0])}"):
        escrow.attest(mid, evidence(), new_epoch, 0, {"from": oracles[0]})


def test_attest_with_a_wrong_epoch_is_refused(escrow, mid, epoch, oracles):
    with brownie.reverts(f"Escrow_WrongEpoch: {epoch + 1}, {epoch}"):
        escrow.attest(mid, evidence(), epoch + 1, 0, {"from": oracles[0]})


def test_attest_with_the_previous_epoch_after_a_committee_change_is_refused(
    escrow, mid, epoch, roles, oracles
):
    new_epoch = _new_epoch(escrow, roles, oracles[:3])
    with brownie.reverts(f"Escrow_WrongEpoch: {epoch}, {new_epoch}"):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})


def test_attest_while_paused_is_refused(escrow, mid, epoch, roles, oracles):
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})


def test_attest_on_an_unknown_milestone_is_refused(escrow, epoch, oracles):
    unknown = b"\x42" * 32
    with brownie.reverts(f"Escrow_UnknownMilestone: {_b32(unknown)}"):
        escrow.attest(unknown, evidence(), epoch, 0, {"from": oracles[0]})


def test_attest_twice_from_the_same_account_is_refused(escrow, mid, epoch, oracles):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    with brownie.reverts(f"Escrow_AlreadyAttested: {_b32(mid)}, {_addr(oracles[0])}"):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})


def test_attest_after_the_deadline_is_refused(escrow, register, epoch, oracles):
    deadline = chain.time() + 3600
    mid = register("PO-7/late", deadline=deadline)
    chain.sleep(2 * 3600)
    chain.mine()
    with brownie.reverts(f"Escrow_MilestonePastDeadline: {_b32(mid)}, {deadline}"):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})


def test_attest_one_second_after_the_deadline_is_refused(escrow, register, epoch, oracles):
    deadline = chain.time() + 3600
    mid = register("PO-7/edge", deadline=deadline)
    _at_next_block(deadline + 1)
    with brownie.reverts(f"Escrow_MilestonePastDeadline: {_b32(mid)}, {deadline}"):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})


def test_attest_at_exactly_the_deadline_is_counted(escrow, register, epoch, oracles):
    deadline = chain.time() + 3600
    mid = register("PO-7/edge", deadline=deadline)
    _at_next_block(deadline)
    tx = escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    assert tx.timestamp == deadline
    assert escrow.milestone(mid)["attestations"] == 1


def test_attest_on_a_verified_milestone_is_refused_with_status_verified(
    escrow, mid, epoch, oracles
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(mid)}, {VERIFIED}"):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[2]})


def test_attest_on_a_disputed_milestone_is_refused_with_status_disputed(
    escrow, mid, epoch, oracles
):
    escrow.attest(mid, evidence("a"), epoch, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence("b"), epoch, 0, {"from": oracles[1]})
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(mid)}, {DISPUTED}"):
        escrow.attest(mid, evidence("a"), epoch, 0, {"from": oracles[2]})


def test_attest_on_a_released_milestone_is_refused_with_status_released(
    escrow, mid, epoch, roles, oracles
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
    chain.sleep(DAY + 1)
    chain.mine()
    escrow.release(mid, {"from": roles.outsider})
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(mid)}, {RELEASED}"):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[2]})


def test_attest_on_a_milestone_expired_by_expire_is_refused_with_status_expired(
    escrow, register, epoch, roles, oracles
):
    mid = register("PO-7/expired", deadline=chain.time() + 3600)
    chain.sleep(2 * 3600)
    chain.mine()
    escrow.expire(mid, {"from": roles.outsider})
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(mid)}, {EXPIRED}"):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})


# --------------------------------------------------------------------------- attest: counted


def test_attest_by_a_member_emits_attestation_recorded(escrow, mid, epoch, oracles):
    tx = escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    event = tx.events["AttestationRecorded"]
    assert event["milestoneId"] == _hex(mid)
    assert event["oracle"] == oracles[0]
    assert event["evidenceHash"] == _hex(evidence())
    assert event["epoch"] == epoch


def test_attest_below_quorum_leaves_the_milestone_registered(escrow, mid, epoch, oracles):
    tx = escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    view = escrow.milestone(mid)
    assert view["status"] == REGISTERED
    assert view["attestations"] == 1
    assert view["evidenceHash"] == _hex(evidence())
    assert "MilestoneVerified" not in tx.events


def test_attestation_reaching_quorum_verifies_and_emits_milestone_verified(
    escrow, mid, epoch, oracles
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    tx = escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
    event = tx.events["MilestoneVerified"]
    assert event["milestoneId"] == _hex(mid)
    assert event["evidenceHash"] == _hex(evidence())
    assert event["attestations"] == 2
    view = escrow.milestone(mid)
    assert view["status"] == VERIFIED
    assert view["verifiedAt"] == tx.timestamp


def test_quorum_of_one_verifies_on_the_first_attestation(escrow, mid, roles, oracles):
    new_epoch = _new_epoch(escrow, roles, oracles[:3], quorum=1)
    tx = escrow.attest(mid, evidence(), new_epoch, 0, {"from": oracles[2]})
    assert tx.events["MilestoneVerified"]["attestations"] == 1
    assert escrow.statusOf(mid) == VERIFIED


def test_two_different_evidence_hashes_dispute_the_milestone(escrow, mid, epoch, oracles):
    escrow.attest(mid, evidence("a"), epoch, 0, {"from": oracles[0]})
    tx = escrow.attest(mid, evidence("b"), epoch, 0, {"from": oracles[1]})
    event = tx.events["MilestoneDisputed"]
    assert event["milestoneId"] == _hex(mid)
    assert event["oracle"] == oracles[1]
    assert event["evidenceHash"] == _hex(evidence("a"))
    assert event["conflictingHash"] == _hex(evidence("b"))
    assert "MilestoneVerified" not in tx.events
    assert escrow.statusOf(mid) == DISPUTED


def test_attestation_from_an_earlier_epoch_does_not_count_toward_a_new_quorum(
    escrow, mid, epoch, roles, oracles
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    new_epoch = _new_epoch(escrow, roles, oracles[:3])
    tx = escrow.attest(mid, evidence(), new_epoch, 0, {"from": oracles[1]})
    view = escrow.milestone(mid)
    assert view["status"] == REGISTERED
    assert view["attestations"] == 1
    assert view["attestationEpoch"] == new_epoch
    assert "MilestoneVerified" not in tx.events


def test_oracle_counted_in_an_earlier_epoch_may_attest_again_after_a_committee_change(
    escrow, mid, epoch, roles, oracles
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    new_epoch = _new_epoch(escrow, roles, oracles[:3])
    escrow.attest(mid, evidence(), new_epoch, 0, {"from": oracles[1]})
    tx = escrow.attest(mid, evidence(), new_epoch, 0, {"from": oracles[0]})
    assert tx.events["MilestoneVerified"]["attestations"] == 2
    assert escrow.statusOf(mid) == VERIFIED


def test_evidence_hash_of_an_earlier_epoch_does_not_dispute_the_new_tally(
    escrow, mid, epoch, roles, oracles
):
    escrow.attest(mid, evidence("old"), epoch, 0, {"from": oracles[0]})
    new_epoch = _new_epoch(escrow, roles, oracles[:3])
    tx = escrow.attest(mid, evidence("new"), new_epoch, 0, {"from": oracles[1]})
    assert "MilestoneDisputed" not in tx.events
    view = escrow.milestone(mid)
    assert view["status"] == REGISTERED
    assert view["evidenceHash"] == _hex(evidence("new"))


# --------------------------------------------------------------------------- relayed: refusals


def test_relayed_batch_with_a_wrong_epoch_is_refused(escrow, mid, epoch, roles, oracles, sign):
    sig = sign(oracles[0], mid, evidence())
    with brownie.reverts(f"Escrow_WrongEpoch: {epoch + 1}, {epoch}"):
        escrow.attestWithSignatures(epoch + 1, [(mid, evidence(), [sig])], {"from": roles.outsider})


def test_relayed_empty_batch_is_refused(escrow, epoch, roles):
    with brownie.reverts("Escrow_EmptyBatch: "):
        escrow.attestWithSignatures(epoch, [], {"from": roles.outsider})


def test_relayed_item_without_signatures_is_refused(escrow, mid, epoch, roles):
    with brownie.reverts("Escrow_EmptyBatch: "):
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [])], {"from": roles.outsider})


def test_relayed_batch_while_paused_is_refused(escrow, mid, epoch, roles, oracles, sign):
    sig = sign(oracles[0], mid, evidence())
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})


def test_relayed_signature_of_a_non_member_is_refused(escrow, mid, epoch, roles, oracles, sign):
    sig = sign(oracles[3], mid, evidence())
    with brownie.reverts(f"Escrow_NotOracle: {_addr(oracles[3])}"):
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})


def test_relayed_signature_of_an_oracle_removed_from_the_committee_is_refused(
    escrow, mid, roles, oracles, sign
):
    new_epoch = _new_epoch(escrow, roles, oracles[1:4])
    sig = sign(oracles[0], mid, evidence(), new_epoch)
    with brownie.reverts(f"Escrow_NotOracle: {_addr(oracles[0])}"):
        escrow.attestWithSignatures(new_epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})


def test_relayed_signature_on_an_unknown_milestone_is_refused(escrow, epoch, roles, oracles, sign):
    unknown = b"\x42" * 32
    sig = sign(oracles[0], unknown, evidence())
    with brownie.reverts(f"Escrow_UnknownMilestone: {_b32(unknown)}"):
        escrow.attestWithSignatures(epoch, [(unknown, evidence(), [sig])], {"from": roles.outsider})


def test_relayed_signature_after_own_attestation_of_the_same_oracle_is_skipped(
    escrow, mid, epoch, roles, oracles, sign
):
    # Issue 11 item 5 changed this from a refusal: what the chain already recorded is skipped.
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    before = escrow.milestone(mid)
    sig = sign(oracles[0], mid, evidence())
    tx = escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})
    assert "AttestationRecorded" not in tx.events
    assert escrow.milestone(mid) == before


def test_two_copies_of_one_signature_in_a_list_are_refused(
    escrow, mid, epoch, roles, oracles, sign
):
    sig = sign(oracles[0], mid, evidence())
    with brownie.reverts(f"Escrow_AlreadyAttested: {_b32(mid)}, {_addr(oracles[0])}"):
        escrow.attestWithSignatures(
            epoch, [(mid, evidence(), [sig, sig])], {"from": roles.outsider}
        )
    assert escrow.milestone(mid)["attestations"] == 0


def test_relayed_signature_after_the_deadline_is_refused(
    escrow, register, epoch, roles, oracles, sign
):
    deadline = chain.time() + 3600
    mid = register("PO-7/late", deadline=deadline)
    sig = sign(oracles[0], mid, evidence())
    chain.sleep(2 * 3600)
    chain.mine()
    with brownie.reverts(f"Escrow_MilestonePastDeadline: {_b32(mid)}, {deadline}"):
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})


def test_relayed_signature_on_a_verified_milestone_is_refused_with_status_verified(
    escrow, mid, epoch, roles, oracles, sign
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
    # Another evidence hash than the one verified (the same one is a lost race, skipped: see
    # test_relay_batch.py).
    sig = sign(oracles[2], mid, evidence("other"))
    with brownie.reverts(f"Escrow_UnexpectedMilestoneStatus: {_b32(mid)}, {VERIFIED}"):
        escrow.attestWithSignatures(
            epoch, [(mid, evidence("other"), [sig])], {"from": roles.outsider}
        )


def test_signatures_beyond_the_quorum_in_one_list_are_all_counted(
    escrow, mid, epoch, roles, oracles, sign
):
    sigs = [sign(oracle, mid, evidence()) for oracle in oracles[:3]]
    tx = escrow.attestWithSignatures(epoch, [(mid, evidence(), sigs)], {"from": roles.outsider})
    assert [e["oracle"] for e in tx.events["AttestationRecorded"]] == oracles[:3]
    assert tx.events["MilestoneVerified"]["attestations"] == 3
    assert escrow.milestone(mid)["attestations"] == 3


# --------------------------------------------------------------------------- relayed: replay


def test_signature_for_one_milestone_does_not_count_for_another(
    escrow, register, epoch, roles, oracles, sign
):
    milestone_a = register("PO-7/A")
    milestone_b = register("PO-7/B")
    sig = sign(oracles[0], milestone_a, evidence())
    seen = _escrow_recover(escrow.attestationDigest(milestone_b, evidence(), epoch, 0), sig)
    assert seen not in [str(o) for o in oracles]
    with brownie.reverts(f"Escrow_NotOracle: {_addr(seen)}"):
        escrow.attestWithSignatures(
            epoch, [(milestone_b, evidence(), [sig])], {"from": roles.outsider}
        )
    # ...while it does count for the milestone it was made for.
    tx = escrow.attestWithSignatures(
        epoch, [(milestone_a, evidence(), [sig])], {"from": roles.outsider}
    )
    assert tx.events["AttestationRecorded"]["oracle"] == oracles[0]


def test_signature_for_another_evidence_hash_does_not_count(
    escrow, mid, epoch, roles, oracles, sign
):
    sig = sign(oracles[0], mid, evidence("a"))
    seen = _escrow_recover(escrow.attestationDigest(mid, evidence("b"), epoch, 0), sig)
    assert seen != oracles[0]
    with brownie.reverts(f"Escrow_NotOracle: {_addr(seen)}"):
        escrow.attestWithSignatures(epoch, [(mid, evidence("b"), [sig])], {"from": roles.outsider})


def test_signature_for_another_chain_id_does_not_count(escrow, mid, epoch, roles, oracles, sign):
    sig = sign(oracles[0], mid, evidence(), chain_id=chain.id + 1)
    seen = _escrow_recover(escrow.attestationDigest(mid, evidence(), epoch, 0), sig)
    assert seen not in [str(o) for o in oracles]
    with brownie.reverts(f"Escrow_NotOracle: {_addr(seen)}"):
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})


def _same_terms(escrow: Any, mid: bytes, ref: str) -> tuple[Any, ...]:
    """The MilestoneInput of an existing milestone, to register its twin on another escrow."""
    view = escrow.milestone(mid)
    return (
        external_ref(ref),
        view["beneficiary"],
        view["amount"],
        view["deadline"],
        view["evidenceSpecHash"],
    )


def test_signature_for_another_escrow_contract_does_not_count(
    escrow, mid, epoch, roles, oracles, token, sign
):
    other = MilestoneEscrow.deploy(roles.admin, {"from": roles.admin})
    other.grantRole(other.PROGRAM_MANAGER_ROLE(), roles.manager, {"from": roles.admin})
    other.setCommittee(oracles[:3], 2, {"from": roles.admin})
    pid = other.createProgram(
        token, roles.treasury, DAY, FACTS, {"from": roles.manager}
    ).return_value
    token.approve(other, PROGRAM_FUNDS, {"from": roles.manager})
    other.fund(pid, PROGRAM_FUNDS, {"from": roles.manager})
    other.registerMilestone(pid, _same_terms(escrow, mid, "PO-7/M1"), {"from": roles.manager})
    assert other.committee()[2] == epoch
    assert other.statusOf(mid) == REGISTERED  # the same milestone id on both escrows
    sig = sign(oracles[0], mid, evidence(), verifying_contract=other.address)
    # The signature is good on the contract it was made for...
    tx = other.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})
    assert tx.events["AttestationRecorded"]["oracle"] == oracles[0]
    # ...and recovers to someone else on this one.
    seen = _escrow_recover(escrow.attestationDigest(mid, evidence(), epoch, 0), sig)
    assert seen not in [str(o) for o in oracles]
    with brownie.reverts(f"Escrow_NotOracle: {_addr(seen)}"):
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})


def test_signature_of_an_earlier_epoch_relayed_with_that_epoch_is_refused(
    escrow, mid, epoch, roles, oracles, sign
):
    sig = sign(oracles[0], mid, evidence(), epoch)
    new_epoch = _new_epoch(escrow, roles, oracles[:3])
    with brownie.reverts(f"Escrow_WrongEpoch: {epoch}, {new_epoch}"):
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})


def test_signature_of_an_earlier_epoch_relayed_with_the_current_epoch_does_not_count(
    escrow, mid, epoch, roles, oracles, sign
):
    sig = sign(oracles[0], mid, evidence(), epoch)
    new_epoch = _new_epoch(escrow, roles, oracles[:3])
    seen = _escrow_recover(escrow.attestationDigest(mid, evidence(), new_epoch, 0), sig)
    assert seen not in [str(o) for o in oracles]
    with brownie.reverts(f"Escrow_NotOracle: {_addr(seen)}"):
        escrow.attestWithSignatures(new_epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})


def test_high_s_twin_of_a_valid_signature_is_refused(escrow, mid, epoch, roles, oracles, sign):
    r, vs = sign(oracles[0], mid, evidence())
    vs_int = int.from_bytes(vs, "big")
    s, parity = vs_int & LOW_255_BITS, vs_int >> 255
    high_s, flipped = SECP256K1_N - s, 1 - parity
    digest = bytes(escrow.attestationDigest(mid, evidence(), epoch, 0))
    # The twin is a valid ECDSA signature by the same key in the 65-byte form...
    twin = keys.Signature(vrs=(flipped, int.from_bytes(r, "big"), high_s))
    assert twin.recover_public_key_from_msg_hash(digest).to_checksum_address() == oracles[0]
    # ...but s' is above 2**255, so in compact form its top bit lands on the parity bit: ECDSA reads
    # s' - 2**255 with parity 1 and recovers some unrelated address.
    assert high_s > LOW_255_BITS
    compact_twin = (r, ((flipped << 255) | high_s).to_bytes(32, "big"))
    seen = _escrow_recover(digest, compact_twin)
    assert seen not in [str(o) for o in oracles]
    with brownie.reverts(f"Escrow_NotOracle: {_addr(seen)}"):
        escrow.attestWithSignatures(
            epoch, [(mid, evidence(), [compact_twin])], {"from": roles.outsider}
        )


def test_signature_with_s_above_half_the_curve_order_is_refused(
    escrow, mid, epoch, roles, oracles, sign
):
    r, _ = sign(oracles[0], mid, evidence())
    s = (HALF_N + 1).to_bytes(32, "big")
    with brownie.reverts(f"ECDSAInvalidSignatureS: {_b32(s)}"):
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [(r, s)])], {"from": roles.outsider})


def test_signature_from_which_no_signer_recovers_is_refused(
    escrow, mid, epoch, roles, oracles, sign
):
    _, vs = sign(oracles[0], mid, evidence())
    with brownie.reverts("ECDSAInvalidSignature: "):
        escrow.attestWithSignatures(
            epoch, [(mid, evidence(), [(b"\x00" * 32, vs)])], {"from": roles.outsider}
        )


# --------------------------------------------------------------------------- relayed: counted


def test_anyone_may_relay_signatures_and_the_signer_is_recorded(
    escrow, mid, epoch, roles, oracles, sign
):
    sig = sign(oracles[2], mid, evidence())
    tx = escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})
    event = tx.events["AttestationRecorded"]
    assert event["milestoneId"] == _hex(mid)
    assert event["oracle"] == oracles[2]
    assert event["evidenceHash"] == _hex(evidence())
    assert event["epoch"] == epoch
    assert escrow.hasAttested(mid, oracles[2])


def test_relayed_quorum_in_one_list_verifies_the_milestone(
    escrow, mid, epoch, roles, oracles, sign
):
    sigs = [sign(oracles[0], mid, evidence()), sign(oracles[2], mid, evidence())]
    tx = escrow.attestWithSignatures(epoch, [(mid, evidence(), sigs)], {"from": roles.outsider})
    assert len(tx.events["AttestationRecorded"]) == 2
    assert tx.events["MilestoneVerified"]["attestations"] == 2
    assert escrow.statusOf(mid) == VERIFIED


def test_relayed_signature_with_another_evidence_hash_disputes_the_milestone(
    escrow, mid, epoch, roles, oracles, sign
):
    escrow.attest(mid, evidence("a"), epoch, 0, {"from": oracles[0]})
    sig = sign(oracles[2], mid, evidence("b"))
    tx = escrow.attestWithSignatures(epoch, [(mid, evidence("b"), [sig])], {"from": roles.outsider})
    event = tx.events["MilestoneDisputed"]
    assert event["oracle"] == oracles[2]
    assert event["evidenceHash"] == _hex(evidence("a"))
    assert event["conflictingHash"] == _hex(evidence("b"))
    assert escrow.statusOf(mid) == DISPUTED


def test_relayed_batch_over_several_milestones_verifies_each(
    escrow, register, epoch, roles, oracles, sign
):
    mids = [register(f"PO-7/batch-{i}") for i in range(3)]
    batch = [
        (m, evidence(f"b{i}"), [sign(o, m, evidence(f"b{i}")) for o in oracles[:2]])
        for i, m in enumerate(mids)
    ]
    tx = escrow.attestWithSignatures(epoch, batch, {"from": roles.outsider})
    verified = tx.events["MilestoneVerified"]
    assert [e["milestoneId"] for e in verified] == [_hex(m) for m in mids]
    assert [e["evidenceHash"] for e in verified] == [_hex(evidence(f"b{i}")) for i in range(3)]
    assert [escrow.statusOf(m) for m in mids] == [VERIFIED] * 3


def test_relayed_batch_with_one_bad_item_records_nothing(
    escrow, register, epoch, roles, oracles, sign
):
    good, bad = register("PO-7/good"), register("PO-7/bad")
    batch = [
        (good, evidence(), [sign(o, good, evidence()) for o in oracles[:2]]),
        (bad, evidence(), [sign(oracles[4], bad, evidence())]),
    ]
    with brownie.reverts(f"Escrow_NotOracle: {_addr(oracles[4])}"):
        escrow.attestWithSignatures(epoch, batch, {"from": roles.outsider})
    view = escrow.milestone(good)
    assert view["status"] == REGISTERED
    assert view["attestations"] == 0
    assert not escrow.hasAttested(good, oracles[0])


# --------------------------------------------------------------------------- hasAttested


def test_has_attested_is_true_for_an_oracle_counted_in_the_current_epoch(
    escrow, mid, epoch, oracles
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
    assert escrow.hasAttested(mid, oracles[1]) is True


def test_has_attested_is_false_for_members_who_did_not_attest_and_for_outsiders(
    escrow, mid, epoch, roles, oracles
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
    assert escrow.hasAttested(mid, oracles[0]) is False
    assert escrow.hasAttested(mid, oracles[2]) is False
    assert escrow.hasAttested(mid, roles.outsider) is False


def test_has_attested_is_false_after_a_committee_change(escrow, mid, epoch, roles, oracles):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
    _new_epoch(escrow, roles, oracles[:3])
    assert escrow.hasAttested(mid, oracles[1]) is False

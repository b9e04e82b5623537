"""Attestations bind the terms they were given for, and a relay batch survives a front-run
(issue 11 items 2, 5 and 9: old-epoch attestations do not block an amendment).

attestWithSignatures
├── a signature for the milestone's current terms version → counted
├── a signature made before an amendment → recovers to a non-oracle: refused (nothing changes)
├── a signature made before the council replaced the beneficiary → refused likewise
├── a signature of an oracle already recorded (front-run) → skipped, the item's others count
├── every signature of the item already recorded → the item changes nothing, the batch goes on
├── an item whose milestone a front-run already verified on the same hash → skipped
└── the same signature twice in one item → still refused (a relayer's bug, not a race)
attest (own account)
├── for the milestone's current terms version → counted, also after an amendment
├── for the terms before an amendment → Escrow_TermsChanged, nothing changes
└── for the terms before the council replaced the beneficiary → refused likewise
amendMilestone
└── attestations of an earlier epoch → no longer block it; the tally is cleared
"""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from brownie import chain

from disburse.chain.attestations import attestation_digest
from tests.conftest import error, evidence, milestone_input

REGISTERED, VERIFIED = 1, 2


@pytest.fixture
def epoch(escrow: Any) -> int:
    return int(escrow.committee()[2])


@pytest.fixture
def mid(register: Any) -> bytes:
    return register("PO-11/M1")


def _amend(escrow: Any, roles: Any, mid: bytes, **changes: Any) -> Any:
    view = escrow.milestone(mid).dict()
    return escrow.amendMilestone(
        mid,
        changes.get("beneficiary", view["beneficiary"]),
        changes.get("amount", view["amount"]),
        changes.get("deadline", view["deadline"]),
        changes.get("spec", view["evidenceSpecHash"]),
        {"from": roles.manager},
    )


def test_a_new_milestone_has_terms_version_zero_and_the_view_shows_it(escrow, mid):
    view = escrow.milestone(mid).dict()
    assert view["termsVersion"] == 0
    assert view["beneficiaryLocked"] is False


def test_every_amendment_bumps_the_terms_version(escrow, roles, mid):
    _amend(escrow, roles, mid, amount=2)
    _amend(escrow, roles, mid, amount=3)
    assert escrow.milestone(mid).dict()["termsVersion"] == 2


def test_the_escrow_digest_equals_the_client_digest_for_a_terms_version(escrow, mid, epoch):
    for version in (0, 1, 255):
        ours = attestation_digest(
            chain_id=chain.id,
            escrow=escrow.address,
            milestone=bytes(mid),
            evidence_hash=evidence(),
            epoch=epoch,
            terms_version=version,
        )
        assert bytes(escrow.attestationDigest(mid, evidence(), epoch, version)) == ours


def test_a_signature_made_before_an_amendment_does_not_count_for_the_amended_terms(
    escrow, roles, oracles, mid, epoch, sign
):
    # The oracles sign the terms they checked; the manager then redirects the milestone.
    sigs = [sign(o, mid, evidence()) for o in oracles[:2]]
    _amend(escrow, roles, mid, beneficiary=roles.outsider)
    before = escrow.milestone(mid)
    with brownie.reverts():
        escrow.attestWithSignatures(epoch, [(mid, evidence(), sigs)], {"from": roles.outsider})
    assert escrow.milestone(mid) == before
    assert escrow.statusOf(mid) == REGISTERED


def test_a_signature_for_the_amended_terms_counts(escrow, roles, oracles, mid, epoch, sign):
    _amend(escrow, roles, mid, amount=7)
    sigs = [sign(o, mid, evidence(), terms_version=1) for o in oracles[:2]]
    tx = escrow.attestWithSignatures(epoch, [(mid, evidence(), sigs)], {"from": roles.outsider})
    assert "MilestoneVerified" in tx.events
    assert escrow.milestone(mid).dict()["amount"] == 7


def test_a_signature_made_before_the_council_replaced_the_beneficiary_does_not_count(
    escrow, roles, oracles, mid, epoch, sign
):
    sig = sign(oracles[0], mid, evidence())
    escrow.replaceBeneficiary(mid, roles.beneficiary2, {"from": roles.admin})
    assert escrow.milestone(mid).dict()["termsVersion"] == 1
    with brownie.reverts():
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})
    assert escrow.milestone(mid).dict()["attestations"] == 0


# --------------------------------------------------------------------------- front-running


def test_a_front_run_signature_is_skipped_and_the_rest_of_the_item_counts(
    escrow, roles, oracles, mid, epoch, sign
):
    sigs = [sign(o, mid, evidence()) for o in oracles[:2]]
    # Someone submits the first of the batch's public signatures first.
    escrow.attestWithSignatures(epoch, [(mid, evidence(), sigs[:1])], {"from": roles.outsider})
    tx = escrow.attestWithSignatures(epoch, [(mid, evidence(), sigs)], {"from": roles.admin})
    assert [e["oracle"] for e in tx.events["AttestationRecorded"]] == [oracles[1]]
    assert tx.events["MilestoneVerified"]["attestations"] == 2
    assert escrow.statusOf(mid) == VERIFIED


def test_an_item_wholly_front_run_changes_nothing_and_the_batch_goes_on(
    escrow, register, roles, oracles, mid, epoch, sign
):
    other = register("PO-11/M2")
    first = (mid, evidence(), [sign(oracles[0], mid, evidence())])
    second = (other, evidence(), [sign(o, other, evidence()) for o in oracles[:2]])
    escrow.attestWithSignatures(epoch, [first], {"from": roles.outsider})
    before = escrow.milestone(mid)
    tx = escrow.attestWithSignatures(epoch, [first, second], {"from": roles.admin})
    assert escrow.milestone(mid) == before
    assert [bytes(e["milestoneId"]) for e in tx.events["AttestationRecorded"]] == [other, other]
    assert escrow.statusOf(other) == VERIFIED


def test_an_item_whose_milestone_a_front_run_verified_on_the_same_hash_is_skipped(
    escrow, register, roles, oracles, mid, epoch, sign
):
    other = register("PO-11/M2")
    item = (mid, evidence(), [sign(o, mid, evidence()) for o in oracles[:3]])
    tail = (other, evidence(), [sign(o, other, evidence()) for o in oracles[:2]])
    # The front-runner verifies `mid` with two of the three signatures.
    escrow.attestWithSignatures(epoch, [(mid, evidence(), item[2][:2])], {"from": roles.outsider})
    before = escrow.milestone(mid)
    tx = escrow.attestWithSignatures(epoch, [item, tail], {"from": roles.admin})
    assert escrow.milestone(mid) == before
    assert escrow.statusOf(other) == VERIFIED
    assert all(bytes(e["milestoneId"]) == other for e in tx.events["AttestationRecorded"])


def test_the_same_signature_twice_in_one_item_is_still_refused(
    escrow, roles, oracles, mid, epoch, sign
):
    sig = sign(oracles[0], mid, evidence())
    with brownie.reverts(error("Escrow_AlreadyAttested", mid, oracles[0])):
        escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig, sig])], {"from": roles.admin})


def test_an_own_account_attestation_for_the_current_terms_counts(escrow, oracles, mid, epoch):
    tx = escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    assert tx.events["AttestationRecorded"]["oracle"] == oracles[0]
    assert escrow.hasAttested(mid, oracles[0])
    assert escrow.milestone(mid).dict()["attestations"] == 1


def test_an_own_account_attestation_after_an_amendment_counts_for_the_new_version(
    escrow, roles, oracles, mid, epoch
):
    _amend(escrow, roles, mid, amount=2)
    version = escrow.milestone(mid).dict()["termsVersion"]
    assert version == 1
    tx = escrow.attest(mid, evidence(), epoch, version, {"from": oracles[0]})
    assert tx.events["AttestationRecorded"]["oracle"] == oracles[0]
    assert escrow.milestone(mid).dict()["attestations"] == 1


def test_an_own_account_attestation_for_terms_before_an_amendment_is_refused(
    escrow, roles, oracles, mid, epoch
):
    # The oracle verified version 0; the manager amended before its transaction was mined.
    _amend(escrow, roles, mid, amount=2)
    before = escrow.milestone(mid).dict()
    with brownie.reverts(error("Escrow_TermsChanged", mid, 0, 1)):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    assert escrow.milestone(mid).dict() == before
    assert not escrow.hasAttested(mid, oracles[0])


def test_an_own_account_attestation_for_a_future_version_is_refused(escrow, oracles, mid, epoch):
    with brownie.reverts(error("Escrow_TermsChanged", mid, 1, 0)):
        escrow.attest(mid, evidence(), epoch, 1, {"from": oracles[0]})
    assert not escrow.hasAttested(mid, oracles[0])


def test_an_own_account_attestation_from_before_a_beneficiary_replacement_is_refused(
    escrow, roles, oracles, mid, epoch
):
    escrow.replaceBeneficiary(mid, roles.beneficiary2, {"from": roles.admin})
    before = escrow.milestone(mid).dict()
    with brownie.reverts(error("Escrow_TermsChanged", mid, 0, 1)):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    assert escrow.milestone(mid).dict() == before
    escrow.attest(mid, evidence(), epoch, 1, {"from": oracles[0]})
    assert escrow.hasAttested(mid, oracles[0])


def test_an_own_account_attestation_twice_is_still_refused(escrow, oracles, mid, epoch):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    with brownie.reverts(error("Escrow_AlreadyAttested", mid, oracles[0])):
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})


# --------------------------------------------------------------------------- old epochs


def test_attestations_of_an_earlier_epoch_do_not_block_an_amendment(
    escrow, roles, oracles, mid, epoch
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    escrow.setCommittee(oracles[:3], 2, {"from": roles.admin})
    tx = _amend(escrow, roles, mid, amount=5)
    assert tx.events["MilestoneAmended"]["amount"] == 5
    view = escrow.milestone(mid).dict()
    assert (view["amount"], view["attestations"], view["termsVersion"]) == (5, 0, 1)


def test_attestations_of_the_current_epoch_still_block_an_amendment(
    escrow, roles, oracles, mid, epoch
):
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    with brownie.reverts(error("Escrow_MilestoneAlreadyAttested", mid, 1)):
        _amend(escrow, roles, mid, amount=5)


def test_the_terms_version_stops_at_255_with_a_clear_error(escrow, roles, program_id):
    # 255 amendments are allowed; a wrapped counter would revive signatures for old terms.
    ref = "PO-11/many"
    escrow.registerMilestone(
        program_id, milestone_input(ref, roles.beneficiary, 1), {"from": roles.manager}
    )
    mid = escrow.milestoneIdOf(program_id, milestone_input(ref, roles.beneficiary, 1)[0])
    for amount in range(2, 257):
        _amend(escrow, roles, mid, amount=amount)
    assert escrow.milestone(mid).dict()["termsVersion"] == 255
    with brownie.reverts(error("Escrow_TermsVersionExhausted", mid)):
        _amend(escrow, roles, mid, amount=1)
    assert escrow.milestone(mid).dict()["amount"] == 256

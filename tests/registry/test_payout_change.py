"""Changing a payout address: the contractor asks (a transaction from its payout address, or a
signature of it relayed by anyone), the council approves by proposal, a cooling-off period runs
during which the contractor or any single member may cancel, then anyone finalizes. The council
alone may force a change, after a longer delay, with a reason, and only members can cancel that.

Branch tree (a test per leaf):

requestPayoutChange(id, new)
├── from the current payout; Active, Lapsed or Suspended .. Requested, PayoutChangeRequested(id,
│                                                          payout, new, nonce); nonce + 1
├── Debarred .............................................. Registry_UnexpectedStatus(id, 4)
├── from anyone else, in every status ..................... Registry_NotPayout(id, caller);
│                                                          nothing changes
├── a change already pending .............................. Registry_UnexpectedChangeState(id, s)
├── new: zero / current / another's / registry / council .. refused
├── new: one of its own former addresses .................. accepted
└── unknown contractor .................................... Registry_UnknownContractor(id)
requestPayoutChangeWithSignature(request, signature)
├── signed by the current payout, relayed by anyone ....... Requested; nonce + 1
├── the digest ............................................ equals payoutChangeDigest(request)
├── replayed after a cancel ............................... Registry_InvalidNonce(id, 0, 1)
├── a direct request used the nonce first ................. Registry_InvalidNonce
├── at its expiry / one second after ...................... accepted / Registry_RequestExpired
├── signed by another key (contractor, member) ........... Registry_NotPayout(id, signer)
├── signed for another chain, registry or new address ..... Registry_NotPayout(id, someone else)
└── signed by a former payout key ......................... Registry_NotPayout(id, former)
approvePayoutChange(id, new), by proposal
├── Requested, same address ............................... CoolingOff until execution + 72 h;
│                                                          PayoutChangeApproved(id, new, at)
├── another address than requested ........................ Registry_ChangeMismatch
└── nothing requested / already approved .................. Registry_UnexpectedChangeState
cancelPayoutChange(id)
├── the contractor: Requested, CoolingOff, Ready .......... None; PayoutChangeCancelled(id, new,
│                                                          by); the payout stays
├── each single member, directly, no proposal ............. cancelled
├── the council by proposal ............................... cancelled
├── manager, oracle, outsider, the deployer, the new address,
│   another contractor; Active, Lapsed or Suspended;
│   requested, approved or forced ......................... Registry_NotAllowedToCancel; unchanged
├── the contractor, on a forced change .................... Registry_NotAllowedToCancel
└── nothing pending ....................................... Registry_UnexpectedChangeState(id, 0)
finalizePayoutChange(id), by anyone (manager, oracle, member, contractor, the new address)
├── one second before the cooling-off ends ................ Registry_UnexpectedChangeState(id, 2)
├── at its end ............................................ PayoutChanged(id, old, new, false);
│                                                          isPayable(new), not old; contractorOf
│                                                          of both is the contractor
├── not approved .......................................... Registry_UnexpectedChangeState(id, 1)
└── the address was registered to another meanwhile ....... Registry_AddressTaken; cancel frees it
forcePayoutChange(id, new, reason), by proposal
├── PayoutChangeForced(id, payout, new, reason, at + 14 d); a pending request replaced
├── one second before / at the end of the delay ........... refused / PayoutChanged(.., true)
├── the contractor cannot request meanwhile ............... Registry_UnexpectedChangeState(id, 2)
└── zero reason / Debarred ................................ refused
"""

from __future__ import annotations

import brownie
import pytest
from brownie import chain

from tests.registry.conftest import (
    ACTIVE,
    COOLING_OFF,
    COOLING_OFF_STATE,
    COUNCIL_DELAY,
    DAY,
    DEBARRED,
    LAPSED,
    NO_CHANGE,
    READY,
    REASON,
    REQUESTED,
    STATUS_NAMES,
    SUSPENDED,
    VETTING,
    ZERO,
    addr,
    change_of,
    facts,
    latest_time,
    next_block_at,
    request_digest,
    snapshot,
)

ZERO_HASH = "0x" + "00" * 32


@pytest.fixture
def contractor(payout_keys):
    return payout_keys[0]


@pytest.fixture
def new_address(payout_keys):
    return payout_keys[1]


@pytest.fixture
def cid(enroll, contractor):
    return enroll(contractor)


@pytest.fixture
def approved(registry, cid, contractor, new_address, by_council):
    """The contractor asked for `new_address` and the council approved: returns effectiveAt."""
    registry.requestPayoutChange(cid, new_address, {"from": contractor})
    run = by_council("approvePayoutChange", cid, new_address)
    return int(run.executed.events["PayoutChangeApproved"]["effectiveAt"])


# --------------------------------------------------------------------------- request


@pytest.mark.parametrize("status", [ACTIVE, LAPSED, SUSPENDED], ids=STATUS_NAMES.get)
def test_request_from_the_payout_address_is_recorded(
    registry, in_status, contractor, new_address, status
):
    cid = in_status(status, contractor)
    tx = registry.requestPayoutChange(cid, new_address, {"from": contractor})
    assert dict(tx.events["PayoutChangeRequested"]) == {
        "contractorId": cid,
        "payout": contractor,
        "newPayout": new_address,
        "nonce": 0,
    }
    assert change_of(registry, cid) == (str(new_address), REQUESTED, 0, False, ZERO_HASH)
    assert facts(registry, cid)[4] == 1
    assert facts(registry, cid)[0] == str(contractor)  # nothing moved yet


def test_request_of_a_debarred_contractor_is_refused(registry, in_status, contractor, new_address):
    cid = in_status(DEBARRED, contractor)
    with brownie.reverts(f"Registry_UnexpectedStatus: {cid}, {DEBARRED}"):
        registry.requestPayoutChange(cid, new_address, {"from": contractor})


@pytest.mark.parametrize("status", sorted(STATUS_NAMES), ids=STATUS_NAMES.get)
def test_request_from_anyone_but_the_payout_address_is_refused_and_changes_nothing(
    registry,
    council,
    in_status,
    payout_keys,
    members,
    roles,
    oracles,
    contractor,
    new_address,
    status,
):
    cid = in_status(status, contractor)
    before = snapshot(registry, cid, contractor, new_address)
    for caller in [
        *members,
        roles.manager,
        oracles[0],
        roles.outsider,
        roles.admin,
        new_address,
        payout_keys[2],
    ]:
        with brownie.reverts(f"Registry_NotPayout: {cid}, {addr(caller)}"):
            registry.requestPayoutChange(cid, new_address, {"from": caller})
    assert snapshot(registry, cid, contractor, new_address) == before


def test_a_second_request_while_one_is_pending_is_refused(
    registry, cid, contractor, new_address, payout_keys
):
    registry.requestPayoutChange(cid, new_address, {"from": contractor})
    with brownie.reverts(f"Registry_UnexpectedChangeState: {cid}, {REQUESTED}"):
        registry.requestPayoutChange(cid, payout_keys[2], {"from": contractor})
    assert change_of(registry, cid)[0] == str(new_address)


def test_request_refuses_bad_new_addresses(registry, council, enroll, cid, contractor, payout_keys):
    other = enroll(payout_keys[2])
    cases = [
        (ZERO, "Registry_ZeroAddress: "),
        (contractor, f"Registry_AddressTaken: {addr(contractor)}, {cid}"),
        (payout_keys[2], f"Registry_AddressTaken: {addr(payout_keys[2])}, {other}"),
        (registry.address, f"Registry_AddressTaken: {addr(registry)}, 0"),
        (council.address, f"Registry_AddressTaken: {addr(council)}, 0"),
    ]
    for target, message in cases:
        with brownie.reverts(message):
            registry.requestPayoutChange(cid, target, {"from": contractor})
    assert change_of(registry, cid)[1] == NO_CHANGE
    assert facts(registry, cid)[4] == 0


def test_a_contractor_may_return_to_one_of_its_former_addresses(
    registry, cid, contractor, new_address, approved
):
    chain.sleep(COOLING_OFF)
    registry.finalizePayoutChange(cid, {"from": contractor})
    registry.requestPayoutChange(cid, contractor, {"from": new_address})
    assert change_of(registry, cid)[:2] == (str(contractor), REQUESTED)


def test_request_for_an_unknown_contractor_is_refused(registry, contractor, new_address):
    with brownie.reverts("Registry_UnknownContractor: 7"):
        registry.requestPayoutChange(7, new_address, {"from": contractor})


# --------------------------------------------------------------------------- signed requests


def test_a_signed_request_is_relayed_by_anyone(
    registry, cid, contractor, new_address, roles, signed_request
):
    request, sig = signed_request(contractor, cid, new_address)
    tx = registry.requestPayoutChangeWithSignature(request, sig, {"from": roles.outsider})
    assert dict(tx.events["PayoutChangeRequested"]) == {
        "contractorId": cid,
        "payout": contractor,
        "newPayout": new_address,
        "nonce": 0,
    }
    assert change_of(registry, cid)[:2] == (str(new_address), REQUESTED)
    assert facts(registry, cid)[4] == 1


def test_the_signed_digest_is_the_registrys(registry, cid, new_address):
    request = (cid, str(new_address), 3, 1_900_000_000)
    ours = request_digest(
        chain_id=chain.id,
        registry=registry.address,
        contractor_id=cid,
        new_payout=str(new_address),
        nonce=3,
        expiry=1_900_000_000,
    )
    assert bytes(registry.payoutChangeDigest(request)) == ours


def test_a_signed_request_cannot_be_replayed(
    registry, cid, contractor, new_address, roles, signed_request
):
    request, sig = signed_request(contractor, cid, new_address)
    registry.requestPayoutChangeWithSignature(request, sig, {"from": roles.outsider})
    registry.cancelPayoutChange(cid, {"from": contractor})
    with brownie.reverts(f"Registry_InvalidNonce: {cid}, 0, 1"):
        registry.requestPayoutChangeWithSignature(request, sig, {"from": roles.outsider})
    assert change_of(registry, cid)[1] == NO_CHANGE


def test_a_direct_request_spends_the_nonce_of_an_earlier_signature(
    registry, cid, contractor, new_address, roles, signed_request
):
    request, sig = signed_request(contractor, cid, new_address)
    registry.requestPayoutChange(cid, new_address, {"from": contractor})
    registry.cancelPayoutChange(cid, {"from": contractor})
    with brownie.reverts(f"Registry_InvalidNonce: {cid}, 0, 1"):
        registry.requestPayoutChangeWithSignature(request, sig, {"from": roles.outsider})


def test_a_signed_request_counts_at_its_expiry_and_not_a_second_later(
    registry, cid, contractor, new_address, roles, signed_request
):
    expiry = latest_time() + 600
    request, sig = signed_request(contractor, cid, new_address, expiry=expiry)
    next_block_at(expiry + 1)
    with brownie.reverts(f"Registry_RequestExpired: {expiry}, {expiry + 1}"):
        registry.requestPayoutChangeWithSignature(request, sig, {"from": roles.outsider})
    chain.undo()
    expiry = latest_time() + 600
    request, sig = signed_request(contractor, cid, new_address, expiry=expiry)
    next_block_at(expiry)
    registry.requestPayoutChangeWithSignature(request, sig, {"from": roles.outsider})
    assert change_of(registry, cid)[1] == REQUESTED


@pytest.mark.parametrize("signer_kind", ["other-contractor", "new-address", "unrelated-key"])
def test_a_request_signed_by_another_key_is_refused(
    registry, cid, new_address, payout_keys, roles, signed_request, enroll, signer_kind
):
    enroll(payout_keys[3])
    signer = {
        "other-contractor": payout_keys[3],
        "new-address": new_address,
        "unrelated-key": payout_keys[4],
    }[signer_kind]
    request, sig = signed_request(signer, cid, new_address)
    with brownie.reverts(f"Registry_NotPayout: {cid}, {addr(signer)}"):
        registry.requestPayoutChangeWithSignature(request, sig, {"from": roles.outsider})
    assert change_of(registry, cid)[1] == NO_CHANGE


@pytest.mark.parametrize("tamper", ["chain-id", "registry", "new-address"])
def test_a_request_signed_for_something_else_is_refused(
    registry, escrow, cid, contractor, new_address, payout_keys, roles, signed_request, tamper
):
    if tamper == "chain-id":
        request, sig = signed_request(contractor, cid, new_address, chain_id=chain.id + 1)
    elif tamper == "registry":
        request, sig = signed_request(
            contractor, cid, new_address, verifying_contract=escrow.address
        )
    else:
        signed, sig = signed_request(contractor, cid, new_address)
        request = (signed[0], str(payout_keys[5]), signed[2], signed[3])
    with brownie.reverts(revert_pattern=rf"Registry_NotPayout: {cid}, 0x[0-9a-f]{{40}}"):
        registry.requestPayoutChangeWithSignature(request, sig, {"from": roles.outsider})
    assert change_of(registry, cid)[1] == NO_CHANGE


def test_a_former_payout_key_can_no_longer_sign(
    registry, cid, contractor, new_address, approved, payout_keys, roles, signed_request
):
    chain.sleep(COOLING_OFF)
    registry.finalizePayoutChange(cid, {"from": roles.outsider})
    request, sig = signed_request(contractor, cid, payout_keys[5])
    with brownie.reverts(f"Registry_NotPayout: {cid}, {addr(contractor)}"):
        registry.requestPayoutChangeWithSignature(request, sig, {"from": roles.outsider})
    with brownie.reverts(f"Registry_NotPayout: {cid}, {addr(contractor)}"):
        registry.requestPayoutChange(cid, payout_keys[5], {"from": contractor})


# --------------------------------------------------------------------------- approve


def test_approval_starts_the_cooling_off_period(registry, cid, contractor, new_address, by_council):
    registry.requestPayoutChange(cid, new_address, {"from": contractor})
    run = by_council("approvePayoutChange", cid, new_address)
    at = run.executed.timestamp + COOLING_OFF
    assert dict(run.executed.events["PayoutChangeApproved"]) == {
        "contractorId": cid,
        "newPayout": new_address,
        "effectiveAt": at,
    }
    assert change_of(registry, cid) == (str(new_address), COOLING_OFF_STATE, at, False, ZERO_HASH)


def test_approval_of_another_address_than_requested_is_refused(
    registry, cid, contractor, new_address, payout_keys, by_council
):
    registry.requestPayoutChange(cid, new_address, {"from": contractor})
    with brownie.reverts(
        f"Registry_ChangeMismatch: {cid}, {addr(new_address)}, {addr(payout_keys[5])}"
    ):
        by_council("approvePayoutChange", cid, payout_keys[5])
    assert change_of(registry, cid)[1] == REQUESTED


def test_approval_without_a_request_or_twice_is_refused(
    registry, cid, contractor, new_address, by_council
):
    with brownie.reverts(f"Registry_UnexpectedChangeState: {cid}, {NO_CHANGE}"):
        by_council("approvePayoutChange", cid, new_address)
    registry.requestPayoutChange(cid, new_address, {"from": contractor})
    by_council("approvePayoutChange", cid, new_address)
    with brownie.reverts(f"Registry_UnexpectedChangeState: {cid}, {COOLING_OFF_STATE}"):
        by_council("approvePayoutChange", cid, new_address)


# --------------------------------------------------------------------------- cancel


@pytest.mark.parametrize("stage", ["requested", "cooling-off", "ready"])
def test_the_contractor_can_cancel_its_change_until_it_is_finalized(
    registry, cid, contractor, new_address, by_council, stage
):
    registry.requestPayoutChange(cid, new_address, {"from": contractor})
    if stage != "requested":
        by_council("approvePayoutChange", cid, new_address)
    if stage == "ready":
        chain.sleep(COOLING_OFF + 1)
        chain.mine()
        assert change_of(registry, cid)[1] == READY
    tx = registry.cancelPayoutChange(cid, {"from": contractor})
    assert dict(tx.events["PayoutChangeCancelled"]) == {
        "contractorId": cid,
        "newPayout": new_address,
        "by": contractor,
    }
    assert change_of(registry, cid) == (ZERO, NO_CHANGE, 0, False, ZERO_HASH)
    with brownie.reverts(f"Registry_UnexpectedChangeState: {cid}, {NO_CHANGE}"):
        registry.finalizePayoutChange(cid, {"from": contractor})
    assert facts(registry, cid)[0] == str(contractor)


@pytest.mark.parametrize("seat", [0, 1, 2])
def test_any_single_member_can_cancel_without_a_proposal(
    registry, council, cid, new_address, approved, members, seat
):
    proposals = council.proposalCount()
    tx = registry.cancelPayoutChange(cid, {"from": members[seat]})
    assert tx.events["PayoutChangeCancelled"]["by"] == members[seat]
    assert change_of(registry, cid)[1] == NO_CHANGE
    assert council.proposalCount() == proposals


def test_the_council_can_cancel_by_proposal(registry, council, cid, approved, by_council):
    run = by_council("cancelPayoutChange", cid)
    assert run.executed.events["PayoutChangeCancelled"]["by"] == council
    assert change_of(registry, cid)[1] == NO_CHANGE


@pytest.mark.parametrize("stage", ["requested", "cooling-off", "forced"])
@pytest.mark.parametrize("status", [ACTIVE, LAPSED, SUSPENDED], ids=STATUS_NAMES.get)
def test_cancel_by_anyone_else_is_refused_and_changes_nothing(
    registry,
    in_status,
    contractor,
    new_address,
    payout_keys,
    roles,
    oracles,
    enroll,
    by_council,
    status,
    stage,
):
    cid = in_status(status, contractor)
    enroll(payout_keys[2])
    if stage == "forced":
        by_council("forcePayoutChange", cid, new_address, REASON)
    else:
        registry.requestPayoutChange(cid, new_address, {"from": contractor})
        if stage == "cooling-off":
            by_council("approvePayoutChange", cid, new_address)
    before = snapshot(registry, cid, contractor, new_address)
    for caller in (
        roles.manager,
        oracles[0],
        roles.outsider,
        roles.admin,
        new_address,
        payout_keys[2],
    ):
        with brownie.reverts(f"Registry_NotAllowedToCancel: {cid}, {addr(caller)}"):
            registry.cancelPayoutChange(cid, {"from": caller})
    assert snapshot(registry, cid, contractor, new_address) == before


def test_cancel_with_nothing_pending_is_refused(registry, cid, members):
    with brownie.reverts(f"Registry_UnexpectedChangeState: {cid}, {NO_CHANGE}"):
        registry.cancelPayoutChange(cid, {"from": members[0]})


# --------------------------------------------------------------------------- finalize


def test_finalize_is_refused_a_second_before_the_cooling_off_ends_and_works_at_its_end(
    registry, cid, contractor, new_address, approved, roles
):
    next_block_at(approved - 1)
    with brownie.reverts(f"Registry_UnexpectedChangeState: {cid}, {COOLING_OFF_STATE}"):
        registry.finalizePayoutChange(cid, {"from": roles.outsider})
    assert facts(registry, cid)[0] == str(contractor)
    next_block_at(approved)
    tx = registry.finalizePayoutChange(cid, {"from": roles.outsider})
    assert tx.timestamp == approved
    assert dict(tx.events["PayoutChanged"]) == {
        "contractorId": cid,
        "previous": contractor,
        "payout": new_address,
        "forced": False,
    }
    assert facts(registry, cid)[0] == str(new_address)
    assert registry.isPayable(new_address) and not registry.isPayable(contractor)
    assert registry.payableAddressOf(cid) == new_address
    assert registry.contractorOf(new_address) == cid == registry.contractorOf(contractor)
    assert change_of(registry, cid)[1] == NO_CHANGE


@pytest.mark.parametrize("who", ["manager", "oracle", "member", "contractor", "new-address"])
def test_anyone_may_finalize_once_the_delay_is_over(
    registry, cid, contractor, new_address, approved, roles, oracles, members, who
):
    caller = {
        "manager": roles.manager,
        "oracle": oracles[0],
        "member": members[0],
        "contractor": contractor,
        "new-address": new_address,
    }[who]
    chain.sleep(COOLING_OFF)
    registry.finalizePayoutChange(cid, {"from": caller})
    assert facts(registry, cid)[0] == str(new_address)


def test_finalize_of_an_unapproved_request_is_refused_however_long_it_waits(
    registry, cid, contractor, new_address, roles
):
    registry.requestPayoutChange(cid, new_address, {"from": contractor})
    chain.sleep(COUNCIL_DELAY * 2)
    with brownie.reverts(f"Registry_UnexpectedChangeState: {cid}, {REQUESTED}"):
        registry.finalizePayoutChange(cid, {"from": contractor})


def test_finalize_refuses_an_address_registered_to_another_meanwhile(
    registry, cid, contractor, new_address, approved, by_council, members
):
    by_council("register", new_address, VETTING, chain.time() + DAY)
    other = registry.contractorOf(new_address)
    chain.sleep(COOLING_OFF)
    with brownie.reverts(f"Registry_AddressTaken: {addr(new_address)}, {other}"):
        registry.finalizePayoutChange(cid, {"from": contractor})
    registry.cancelPayoutChange(cid, {"from": members[2]})
    assert facts(registry, cid)[0] == str(contractor)


# --------------------------------------------------------------------------- force


def test_a_forced_change_is_loud_and_waits_the_longer_delay(
    registry, council, cid, contractor, new_address, by_council, roles, payout_keys
):
    registry.requestPayoutChange(cid, new_address, {"from": contractor})  # e.g. a stolen key's
    rescue = payout_keys[6]
    run = by_council("forcePayoutChange", cid, rescue, REASON)
    at = run.executed.timestamp + COUNCIL_DELAY
    assert dict(run.executed.events["PayoutChangeCancelled"]) == {
        "contractorId": cid,
        "newPayout": new_address,
        "by": council,
    }
    assert dict(run.executed.events["PayoutChangeForced"]) == {
        "contractorId": cid,
        "payout": contractor,
        "newPayout": rescue,
        "reasonHash": "0x" + REASON.hex(),
        "effectiveAt": at,
    }
    assert change_of(registry, cid)[1:] == (COOLING_OFF_STATE, at, True, "0x" + REASON.hex())
    with brownie.reverts(f"Registry_UnexpectedChangeState: {cid}, {COOLING_OFF_STATE}"):
        registry.requestPayoutChange(cid, new_address, {"from": contractor})
    with brownie.reverts(f"Registry_NotAllowedToCancel: {cid}, {addr(contractor)}"):
        registry.cancelPayoutChange(cid, {"from": contractor})
    next_block_at(at - 1)
    with brownie.reverts(f"Registry_UnexpectedChangeState: {cid}, {COOLING_OFF_STATE}"):
        registry.finalizePayoutChange(cid, {"from": roles.outsider})
    next_block_at(at)
    tx = registry.finalizePayoutChange(cid, {"from": roles.outsider})
    assert tx.events["PayoutChanged"]["forced"] is True
    assert facts(registry, cid)[0] == str(rescue)
    assert registry.isPayable(rescue) and not registry.isPayable(contractor)


def test_a_forced_change_needs_a_reason_and_a_contractor_not_debarred(
    registry, cid, in_status, payout_keys, by_council
):
    with brownie.reverts("Registry_ZeroHash: "):
        by_council("forcePayoutChange", cid, payout_keys[5], b"\x00" * 32)
    debarred = in_status(DEBARRED, payout_keys[3])
    with brownie.reverts(f"Registry_UnexpectedStatus: {debarred}, {DEBARRED}"):
        by_council("forcePayoutChange", debarred, payout_keys[5], REASON)
    assert change_of(registry, cid)[1] == NO_CHANGE

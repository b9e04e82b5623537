"""The council's powers over the registry: register, renew, suspend, reinstate, debar, setCouncil,
each through an executed proposal and each an event; refused from anyone but the council, in every
status, leaving the registry as it was.

Branch tree (a test per leaf):

any council function called directly, not by the council ... Registry_NotCouncil(caller); nothing
                                                             changes (7 functions x 4 statuses x
                                                             7 callers: a member, the manager, an
                                                             oracle, the contractor, another
                                                             contractor, an outsider, the deployer)
register(payout, vettingHash, vettedUntil)
├── fresh address ..................................... Active, id 1, 2, ...; ContractorRegistered;
│                                                       isPayable(payout), contractorOf(payout)
├── zero address ...................................... Registry_ZeroAddress
├── another contractor's payout (current or former) ... Registry_AddressTaken(payout, holder)
├── the registry or the council ....................... Registry_AddressTaken(account, 0)
├── zero vetting hash ................................. Registry_ZeroHash
└── vetted-until not in the future .................... Registry_VettingInPast
renew(id, hash, until)
├── Active, Lapsed ..................................... VettingRenewed; Active, payable
├── Suspended .......................................... renewed, still Suspended
├── Debarred ........................................... Registry_UnexpectedStatus(id, 4)
├── unknown ............................................ Registry_UnknownContractor(id)
└── in the past ........................................ Registry_VettingInPast
Lapsed (computed) ......................................... Active until vettedUntil inclusive,
                                                            Lapsed after; not payable
suspend(id, reason) ....................................... Active/Lapsed -> Suspended, not payable;
                                                            Suspended/Debarred refused; zero reason
reinstate(id) ............................................. Suspended -> Active (or Lapsed);
                                                            Active/Lapsed/Debarred refused
debar(id, reason) ......................................... Active/Lapsed/Suspended -> Debarred, a
                                                            pending change dropped
                                                            (PayoutChangeCancelled); Debarred
                                                            refused; zero reason refused
setCouncil(newCouncil) .................................... CouncilChanged; the old council is
                                                            refused afterwards; an EOA refused
constructor ............................................... delays out of bounds or the council
                                                            not a contract: refused
"""

from __future__ import annotations

import brownie
import pytest
from brownie import ContractorRegistry, OversightCouncil, chain

from tests.registry.conftest import (
    ACTIVE,
    COOLING_OFF,
    COUNCIL_DELAY,
    DAY,
    DEBARRED,
    LAPSED,
    REASON,
    RENEWED,
    STATUS_NAMES,
    SUSPENDED,
    VETTING,
    ZERO,
    addr,
    facts,
    latest_time,
    next_block_at,
    not_council,
    snapshot,
)

COUNCIL_CALLS = {
    "register": lambda cid, fresh: (fresh, VETTING, chain.time() + 30 * DAY),
    "renew": lambda cid, fresh: (cid, RENEWED, chain.time() + 30 * DAY),
    "suspend": lambda cid, fresh: (cid, REASON),
    "reinstate": lambda cid, fresh: (cid,),
    "debar": lambda cid, fresh: (cid, REASON),
    "approvePayoutChange": lambda cid, fresh: (cid, fresh),
    "forcePayoutChange": lambda cid, fresh: (cid, fresh, REASON),
    "setCouncil": lambda cid, fresh: (fresh,),
}


@pytest.mark.parametrize("status", sorted(STATUS_NAMES), ids=STATUS_NAMES.get)
@pytest.mark.parametrize("function", sorted(COUNCIL_CALLS))
def test_council_function_called_by_anyone_but_the_council_is_refused_and_changes_nothing(
    registry, in_status, payout_keys, members, roles, oracles, function, status
):
    contractor, other, fresh = payout_keys[0], payout_keys[1], payout_keys[2]
    cid = in_status(status, contractor)
    if function == "approvePayoutChange" and status != DEBARRED:
        registry.requestPayoutChange(cid, fresh, {"from": contractor})
    callers = [
        members[0],
        roles.manager,
        oracles[0],
        contractor,
        other,
        roles.outsider,
        roles.admin,
    ]
    before = snapshot(registry, cid, contractor, fresh)
    for caller in callers:
        args = COUNCIL_CALLS[function](cid, fresh)
        with brownie.reverts(not_council(caller)):
            getattr(registry, function)(*args, {"from": caller})
    assert snapshot(registry, cid, contractor, fresh) == before


# --------------------------------------------------------------------------- register


def test_register_makes_an_active_payable_contractor_with_sequential_ids(
    registry, by_council, payout_keys
):
    until = chain.time() + 365 * DAY
    run = by_council("register", payout_keys[0], VETTING, until)
    event = run.executed.events["ContractorRegistered"]
    assert dict(event) == {
        "contractorId": 1,
        "payout": payout_keys[0],
        "vettingHash": "0x" + VETTING.hex(),
        "vettedUntil": until,
    }
    assert facts(registry, 1) == (str(payout_keys[0]), ACTIVE, until, "0x" + VETTING.hex(), 0)
    assert registry.isPayable(payout_keys[0])
    assert registry.contractorOf(payout_keys[0]) == 1
    by_council("register", payout_keys[1], VETTING, until)
    assert registry.contractorCount() == 2
    assert registry.contractorOf(payout_keys[1]) == 2


def test_register_refuses_the_zero_address(registry, by_council):
    with brownie.reverts("Registry_ZeroAddress: "):
        by_council("register", "0x" + "00" * 20, VETTING, chain.time() + DAY)
    assert registry.contractorCount() == 0


def test_register_refuses_another_contractors_current_payout(
    registry, by_council, enroll, payout_keys
):
    cid = enroll(payout_keys[0])
    with brownie.reverts(f"Registry_AddressTaken: {addr(payout_keys[0])}, {cid}"):
        by_council("register", payout_keys[0], VETTING, chain.time() + DAY)
    assert registry.contractorCount() == 1


def test_register_refuses_another_contractors_former_payout(
    registry, by_council, enroll, payout_keys
):
    cid = enroll(payout_keys[0])
    registry.requestPayoutChange(cid, payout_keys[1], {"from": payout_keys[0]})
    by_council("approvePayoutChange", cid, payout_keys[1])
    chain.sleep(COOLING_OFF)
    registry.finalizePayoutChange(cid, {"from": payout_keys[5]})
    assert registry.contractorOf(payout_keys[0]) == cid  # still its own, for good
    with brownie.reverts(f"Registry_AddressTaken: {addr(payout_keys[0])}, {cid}"):
        by_council("register", payout_keys[0], VETTING, chain.time() + DAY)


@pytest.mark.parametrize("which", ["registry", "council"])
def test_register_refuses_the_registry_or_the_council_as_payout(
    registry, council, by_council, which
):
    account = registry if which == "registry" else council
    with brownie.reverts(f"Registry_AddressTaken: {addr(account)}, 0"):
        by_council("register", account, VETTING, chain.time() + DAY)


def test_register_refuses_a_zero_vetting_hash(by_council, payout_keys):
    with brownie.reverts("Registry_ZeroHash: "):
        by_council("register", payout_keys[0], b"\x00" * 32, chain.time() + DAY)


def test_register_refuses_a_vetting_date_not_in_the_future(by_council, payout_keys):
    now = latest_time() + 100
    next_block_at(now)
    # The proposal's execution is the fourth transaction from here: its block is 3 seconds later
    # at least, so a date of `now` is past by then.
    with brownie.reverts():
        by_council("register", payout_keys[0], VETTING, now)


# --------------------------------------------------------------------------- lapse and renew


def test_vetting_holds_until_its_date_inclusive_then_lapses(registry, enroll, payout_keys, roles):
    cid = enroll(payout_keys[0], vetted_for=DAY)
    until = registry.contractor(cid)[2]
    next_block_at(until)
    roles.outsider.transfer(roles.outsider, 0)
    assert registry.statusOf(cid) == ACTIVE and registry.isPayable(payout_keys[0])
    next_block_at(until + 1)
    roles.outsider.transfer(roles.outsider, 0)
    assert registry.statusOf(cid) == LAPSED
    assert not registry.isPayable(payout_keys[0])


@pytest.mark.parametrize("status", [ACTIVE, LAPSED], ids=STATUS_NAMES.get)
def test_renew_makes_an_active_or_lapsed_contractor_active_and_payable(
    registry, by_council, in_status, payout_keys, status
):
    cid = in_status(status, payout_keys[0])
    until = chain.time() + 400 * DAY
    run = by_council("renew", cid, RENEWED, until)
    assert dict(run.executed.events["VettingRenewed"]) == {
        "contractorId": cid,
        "vettingHash": "0x" + RENEWED.hex(),
        "vettedUntil": until,
    }
    assert facts(registry, cid)[1:4] == (ACTIVE, until, "0x" + RENEWED.hex())
    assert registry.isPayable(payout_keys[0])


def test_renew_of_a_suspended_contractor_keeps_it_suspended(
    registry, by_council, in_status, payout_keys
):
    cid = in_status(SUSPENDED, payout_keys[0])
    by_council("renew", cid, RENEWED, chain.time() + 400 * DAY)
    assert registry.statusOf(cid) == SUSPENDED
    assert not registry.isPayable(payout_keys[0])


def test_renew_of_a_debarred_contractor_is_refused(registry, by_council, in_status, payout_keys):
    cid = in_status(DEBARRED, payout_keys[0])
    with brownie.reverts(f"Registry_UnexpectedStatus: {cid}, {DEBARRED}"):
        by_council("renew", cid, RENEWED, chain.time() + 400 * DAY)


def test_renew_of_an_unknown_contractor_is_refused(by_council):
    with brownie.reverts("Registry_UnknownContractor: 9"):
        by_council("renew", 9, RENEWED, chain.time() + DAY)


def test_renew_to_a_date_in_the_past_is_refused(registry, by_council, enroll, payout_keys):
    cid = enroll(payout_keys[0])
    with brownie.reverts():
        by_council("renew", cid, RENEWED, chain.time() - DAY)
    assert registry.contractor(cid)[3] == "0x" + VETTING.hex()


# --------------------------------------------------------------------------- suspend, reinstate


@pytest.mark.parametrize("status", [ACTIVE, LAPSED], ids=STATUS_NAMES.get)
def test_suspend_stops_payment(registry, by_council, in_status, payout_keys, status):
    cid = in_status(status, payout_keys[0])
    run = by_council("suspend", cid, REASON)
    assert dict(run.executed.events["ContractorSuspended"]) == {
        "contractorId": cid,
        "reasonHash": "0x" + REASON.hex(),
    }
    assert registry.statusOf(cid) == SUSPENDED
    assert not registry.isPayable(payout_keys[0])


@pytest.mark.parametrize("status", [SUSPENDED, DEBARRED], ids=STATUS_NAMES.get)
def test_suspend_refused_unless_active_or_lapsed(by_council, in_status, payout_keys, status):
    cid = in_status(status, payout_keys[0])
    with brownie.reverts(f"Registry_UnexpectedStatus: {cid}, {status}"):
        by_council("suspend", cid, REASON)


def test_suspend_without_a_reason_is_refused(registry, by_council, enroll, payout_keys):
    cid = enroll(payout_keys[0])
    with brownie.reverts("Registry_ZeroHash: "):
        by_council("suspend", cid, b"\x00" * 32)
    assert registry.statusOf(cid) == ACTIVE


def test_reinstate_makes_a_suspended_contractor_payable_again(
    registry, by_council, in_status, payout_keys
):
    cid = in_status(SUSPENDED, payout_keys[0])
    run = by_council("reinstate", cid)
    assert dict(run.executed.events["ContractorReinstated"]) == {"contractorId": cid}
    assert registry.statusOf(cid) == ACTIVE
    assert registry.isPayable(payout_keys[0])


def test_reinstated_after_the_vetting_ran_out_reads_lapsed(
    registry, by_council, enroll, payout_keys
):
    cid = enroll(payout_keys[0], vetted_for=DAY)
    by_council("suspend", cid, REASON)
    chain.sleep(2 * DAY)
    by_council("reinstate", cid)
    assert registry.statusOf(cid) == LAPSED
    assert not registry.isPayable(payout_keys[0])


@pytest.mark.parametrize("status", [ACTIVE, LAPSED, DEBARRED], ids=STATUS_NAMES.get)
def test_reinstate_refused_unless_suspended(by_council, in_status, payout_keys, status):
    cid = in_status(status, payout_keys[0])
    with brownie.reverts(f"Registry_UnexpectedStatus: {cid}, {status}"):
        by_council("reinstate", cid)


# --------------------------------------------------------------------------- debar


@pytest.mark.parametrize("status", [ACTIVE, LAPSED, SUSPENDED], ids=STATUS_NAMES.get)
def test_debar_is_final(registry, by_council, in_status, payout_keys, status):
    cid = in_status(status, payout_keys[0])
    run = by_council("debar", cid, REASON)
    assert dict(run.executed.events["ContractorDebarred"]) == {
        "contractorId": cid,
        "reasonHash": "0x" + REASON.hex(),
    }
    assert registry.statusOf(cid) == DEBARRED
    assert not registry.isPayable(payout_keys[0])
    for function, args in (("reinstate", (cid,)), ("renew", (cid, RENEWED, chain.time() + DAY))):
        with brownie.reverts(f"Registry_UnexpectedStatus: {cid}, {DEBARRED}"):
            by_council(function, *args)


def test_debar_drops_a_pending_change(registry, council, by_council, enroll, payout_keys):
    cid = enroll(payout_keys[0])
    registry.requestPayoutChange(cid, payout_keys[1], {"from": payout_keys[0]})
    by_council("approvePayoutChange", cid, payout_keys[1])
    run = by_council("debar", cid, REASON)
    assert dict(run.executed.events["PayoutChangeCancelled"]) == {
        "contractorId": cid,
        "newPayout": payout_keys[1],
        "by": council,
    }
    assert registry.payoutChangeOf(cid)[0] == "0x" + "00" * 20
    chain.sleep(COOLING_OFF)
    with brownie.reverts(f"Registry_UnexpectedStatus: {cid}, {DEBARRED}"):
        registry.finalizePayoutChange(cid, {"from": payout_keys[0]})
    assert registry.contractor(cid)[0] == payout_keys[0]


def test_debar_twice_or_without_a_reason_is_refused(by_council, in_status, enroll, payout_keys):
    cid = enroll(payout_keys[0])
    with brownie.reverts("Registry_ZeroHash: "):
        by_council("debar", cid, b"\x00" * 32)
    by_council("debar", cid, REASON)
    with brownie.reverts(f"Registry_UnexpectedStatus: {cid}, {DEBARRED}"):
        by_council("debar", cid, REASON)


# --------------------------------------------------------------------------- setCouncil


def test_set_council_hands_the_registry_over(
    registry, council, escrow, by_council, members, roles, payout_keys
):
    successor = OversightCouncil.deploy(escrow, list(members), 2, {"from": roles.admin})
    run = by_council("setCouncil", successor)
    assert dict(run.executed.events["CouncilChanged"]) == {
        "previous": council,
        "council": successor,
    }
    assert registry.council() == successor
    with brownie.reverts(not_council(council)):
        by_council("register", payout_keys[0], VETTING, chain.time() + DAY)


def test_set_council_to_an_account_without_code_is_refused(registry, council, by_council, roles):
    with brownie.reverts(f"Registry_InvalidCouncil: {addr(roles.outsider)}"):
        by_council("setCouncil", roles.outsider)
    assert registry.council() == council


# --------------------------------------------------------------------------- constructor


@pytest.mark.parametrize(
    ("cooling_off", "council_delay"),
    [
        (DAY - 1, 14 * DAY),
        (30 * DAY + 1, 60 * DAY),
        (3 * DAY, 3 * DAY),
        (3 * DAY, 90 * DAY + 1),
    ],
    ids=["cooling-off-too-short", "cooling-off-too-long", "delay-not-longer", "delay-too-long"],
)
def test_constructor_refuses_delays_out_of_bounds(council, roles, cooling_off, council_delay):
    with brownie.reverts(f"Registry_InvalidDelays: {cooling_off}, {council_delay}"):
        ContractorRegistry.deploy(council, cooling_off, council_delay, {"from": roles.admin})


def test_constructor_refuses_a_council_without_code(roles):
    with brownie.reverts(f"Registry_InvalidCouncil: {addr(roles.outsider)}"):
        ContractorRegistry.deploy(roles.outsider, 3 * DAY, 14 * DAY, {"from": roles.admin})


def test_the_deployed_registry_reads_its_council_and_delays(registry, council):
    assert registry.council() == council
    assert (registry.coolingOff(), registry.councilDelay()) == (COOLING_OFF, COUNCIL_DELAY)
    assert registry.contractorCount() == 0


def test_nobody_is_payable_before_registration_and_the_zero_address_never(registry, payout_keys):
    for account in (payout_keys[0], ZERO):
        assert not registry.isPayable(account)
        assert registry.contractorOf(account) == 0
    assert registry.statusOf(1) == 0  # None


@pytest.mark.parametrize("status", sorted(STATUS_NAMES), ids=STATUS_NAMES.get)
def test_payable_address_of_is_the_payout_only_while_payable(
    registry, in_status, payout_keys, status
):
    cid = in_status(status, payout_keys[0])
    expected = str(payout_keys[0]) if status == ACTIVE else ZERO
    assert registry.payableAddressOf(cid) == expected
    assert registry.isPayable(payout_keys[0]) == (status == ACTIVE)
    assert registry.payableAddressOf(cid + 1) == ZERO  # unknown

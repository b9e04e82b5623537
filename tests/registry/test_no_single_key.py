"""No single key redirects a payout, and no pair that should not be enough does.

A contractor is registered at its payout address; an attacker wants it paid at `attacker`. Each
key alone tries every way it has (a request, a signed request, a direct approval or forced change,
a council proposal with only its own approval, finalizing, waiting out every delay), and each pair
that must not suffice tries together; afterwards the payout address is the contractor's own,
`isPayable(attacker)` is false and `attacker` belongs to no contractor. Then the two ways that do
work are shown, with the veto that still stands in each: the contractor with the council (72 h,
any single member or the contractor can stop it) and the council alone (14 days, loud, any single
member can stop it).

Keys: the program manager (escrow role), one council member, one oracle, the contractor's payout
key. The council's threshold is 2 of 3.
"""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from brownie import chain

from tests.registry.conftest import (
    COOLING_OFF,
    COUNCIL_DELAY,
    REASON,
    REQUESTED,
    addr,
    change_of,
    facts,
)


@pytest.fixture
def attacker(payout_keys):
    return payout_keys[7]


@pytest.fixture
def victim(payout_keys):
    return payout_keys[0]


@pytest.fixture
def cid(enroll, victim):
    return enroll(victim)


def assert_not_redirected(registry: Any, cid: int, victim: Any, attacker: Any) -> None:
    chain.sleep(COUNCIL_DELAY + 1)
    chain.mine()
    for anyone in (victim, attacker):
        try:
            registry.finalizePayoutChange(cid, {"from": anyone})
        except brownie.exceptions.VirtualMachineError:
            pass
    assert facts(registry, cid)[0] == str(victim)
    assert registry.isPayable(victim)
    assert not registry.isPayable(attacker)
    assert registry.contractorOf(attacker) == 0


def try_everything_alone(registry: Any, council: Any, cid: int, key: Any, attacker: Any) -> None:
    """Every move one key has, none of which may succeed in moving the payout."""
    for call in (
        lambda: registry.requestPayoutChange(cid, attacker, {"from": key}),
        lambda: registry.approvePayoutChange(cid, attacker, {"from": key}),
        lambda: registry.forcePayoutChange(cid, attacker, REASON, {"from": key}),
        lambda: registry.register(attacker, REASON, chain.time() + 99, {"from": key}),
        lambda: registry.setCouncil(attacker, {"from": key}),
    ):
        with brownie.reverts():
            call()
    # Through the council, with its own approval only (if it is a member at all).
    data = registry.forcePayoutChange.encode_input(cid, attacker, REASON)
    with brownie.reverts():
        pid = council.propose(
            registry, data, "force", chain.time() + 86400, {"from": key}
        ).return_value
        council.approveAndExecute(pid, data, {"from": key})


def test_the_program_managers_key_alone_cannot_redirect(
    registry, council, cid, victim, attacker, roles
):
    try_everything_alone(registry, council, cid, roles.manager, attacker)
    assert_not_redirected(registry, cid, victim, attacker)


@pytest.mark.parametrize("seat", [0, 1, 2])
def test_one_council_members_key_alone_cannot_redirect(
    registry, council, cid, victim, attacker, members, seat
):
    member = members[seat]
    try_everything_alone(registry, council, cid, member, attacker)
    data = registry.forcePayoutChange.encode_input(cid, attacker, REASON)
    pid = council.propose(
        registry, data, "force", chain.time() + 86400, {"from": member}
    ).return_value
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 1, 2"):
        council.approveAndExecute(pid, data, {"from": member})
    assert_not_redirected(registry, cid, victim, attacker)


def test_one_oracles_key_alone_cannot_redirect(registry, council, cid, victim, attacker, oracles):
    try_everything_alone(registry, council, cid, oracles[0], attacker)
    assert_not_redirected(registry, cid, victim, attacker)


def test_the_contractors_own_key_alone_cannot_redirect(
    registry, council, cid, victim, attacker, roles
):
    # It can ask (that is its half), but nothing it does alone makes the request take effect.
    registry.requestPayoutChange(cid, attacker, {"from": victim})
    for call in (
        lambda: registry.approvePayoutChange(cid, attacker, {"from": victim}),
        lambda: registry.forcePayoutChange(cid, attacker, REASON, {"from": victim}),
    ):
        with brownie.reverts():
            call()
    assert change_of(registry, cid)[1] == REQUESTED
    assert_not_redirected(registry, cid, victim, attacker)


def test_contractor_and_manager_together_cannot_redirect(
    registry, council, cid, victim, attacker, roles
):
    registry.requestPayoutChange(cid, attacker, {"from": victim})
    try_everything_alone(registry, council, cid, roles.manager, attacker)
    assert_not_redirected(registry, cid, victim, attacker)


def test_contractor_and_oracle_together_cannot_redirect(
    registry, council, cid, victim, attacker, oracles
):
    registry.requestPayoutChange(cid, attacker, {"from": victim})
    try_everything_alone(registry, council, cid, oracles[0], attacker)
    assert_not_redirected(registry, cid, victim, attacker)


def test_contractor_and_one_member_together_cannot_redirect(
    registry, council, cid, victim, attacker, members
):
    registry.requestPayoutChange(cid, attacker, {"from": victim})
    data = registry.approvePayoutChange.encode_input(cid, attacker)
    pid = council.propose(
        registry, data, "approve", chain.time() + 86400, {"from": members[0]}
    ).return_value
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 1, 2"):
        council.approveAndExecute(pid, data, {"from": members[0]})
    assert_not_redirected(registry, cid, victim, attacker)


@pytest.mark.parametrize("outsider_kind", ["manager", "oracle"])
def test_one_member_and_a_manager_or_oracle_together_cannot_redirect(
    registry, council, cid, victim, attacker, members, roles, oracles, outsider_kind
):
    helper = roles.manager if outsider_kind == "manager" else oracles[0]
    data = registry.forcePayoutChange.encode_input(cid, attacker, REASON)
    pid = council.propose(
        registry, data, "force", chain.time() + 86400, {"from": members[0]}
    ).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(f"Council_NotMember: {addr(helper)}"):
        council.approve(pid, {"from": helper})
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 1, 2"):
        council.execute(pid, data, {"from": members[0]})
    assert_not_redirected(registry, cid, victim, attacker)


def test_a_stolen_contractor_key_with_the_councils_approval_is_stopped_by_any_single_member(
    registry, cid, victim, attacker, members, by_council
):
    # The thief asks, the council is fooled into approving: the third member, who did not approve,
    # cancels during the cooling-off period on its own.
    registry.requestPayoutChange(cid, attacker, {"from": victim})
    by_council("approvePayoutChange", cid, attacker, approvers=members[:2])
    registry.cancelPayoutChange(cid, {"from": members[2]})
    assert_not_redirected(registry, cid, victim, attacker)


def test_the_council_alone_is_stopped_by_any_single_member_during_its_delay(
    registry, cid, victim, attacker, members, by_council
):
    by_council("forcePayoutChange", cid, attacker, REASON, approvers=members[:2])
    chain.sleep(COUNCIL_DELAY - 3600)
    registry.cancelPayoutChange(cid, {"from": members[2]})
    assert_not_redirected(registry, cid, victim, attacker)


def test_the_contractor_with_the_council_moves_the_payout_after_the_cooling_off(
    registry, cid, victim, payout_keys, by_council, roles
):
    new = payout_keys[1]
    registry.requestPayoutChange(cid, new, {"from": victim})
    by_council("approvePayoutChange", cid, new)
    chain.sleep(COOLING_OFF)
    registry.finalizePayoutChange(cid, {"from": roles.outsider})
    assert facts(registry, cid)[0] == str(new)
    assert registry.isPayable(new) and not registry.isPayable(victim)


def test_the_council_alone_moves_the_payout_only_after_its_longer_delay(
    registry, cid, victim, payout_keys, by_council, roles
):
    new = payout_keys[1]
    by_council("forcePayoutChange", cid, new, REASON)
    chain.sleep(COOLING_OFF + 3600)
    with brownie.reverts():
        registry.finalizePayoutChange(cid, {"from": roles.outsider})
    chain.sleep(COUNCIL_DELAY)
    registry.finalizePayoutChange(cid, {"from": roles.outsider})
    assert facts(registry, cid)[0] == str(new)

"""Council membership and threshold: set at construction, changed only by the council's own
executed proposals, never to a state in which the council cannot act.

Branch tree (a test per leaf):

constructor(escrow, members, threshold)
├── escrow without code ................................ Council_InvalidTarget(escrow)
├── a zero address among the members ................... Council_ZeroAddress
├── a member listed twice .............................. Council_AlreadyMember(member)
├── more than MAX_MEMBERS .............................. Council_TooManyMembers(32)
├── threshold zero, above the count, or no members ..... Council_InvalidThreshold(threshold,
│                                                         count)
└── valid .............................................. MemberAdded per member,
                                                          ThresholdChanged(0, M)

addMember / removeMember / changeThreshold called directly
└── by a member, an outsider or the former deployer .... Council_OnlySelf(caller)

addMember(member, threshold) through a proposal
├── a new account, threshold kept ...................... MemberAdded(member); no ThresholdChanged
│   └── the new member's approval counts at once
├── a new account, threshold raised .................... MemberAdded, ThresholdChanged(2, 3)
├── a current member ................................... Council_AlreadyMember(member); unchanged
├── the zero address ................................... Council_ZeroAddress; unchanged
├── threshold above the new count ...................... Council_InvalidThreshold(5, 4); unchanged
├── threshold zero ..................................... Council_InvalidThreshold(0, 4); unchanged
├── the council full (MAX_MEMBERS) ..................... Council_TooManyMembers(32); unchanged
└── every seat ever assignable used (MAX_SEATS) ........ Council_SeatsExhausted; unchanged

removeMember(member, threshold) through a proposal
├── a member, threshold kept ........................... MemberRemoved(member); it can no longer
│                                                         propose (Council_NotMember)
├── a member, threshold lowered ........................ MemberRemoved, ThresholdChanged(3, 2)
├── not a member ....................................... Council_NotMember(account); unchanged
├── below the threshold without lowering it ............ Council_InvalidThreshold(2, 1); unchanged
├── the last member .................................... Council_InvalidThreshold(1, 0) and (0, 0)
└── its earlier approvals
    ├── stop counting .................................. approval count drops, hasApproved
    │                                                     false; the proposal cannot execute
    │                                                     without another approval
    └── a re-added member does not inherit them ........ new seat: hasApproved false, count
                                                          unchanged

changeThreshold(threshold) through a proposal
├── zero ............................................... Council_InvalidThreshold(0, 3); unchanged
├── above the member count ............................. Council_InvalidThreshold(4, 3); unchanged
├── valid .............................................. ThresholdChanged(2, 3)
├── unchanged value .................................... no ThresholdChanged event
├── raised above a pending proposal's approvals ........ Council_ThresholdNotReached(id, 2, 3)
└── lowered ............................................ a proposal with one approval executes
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import brownie
import pytest
from brownie import OversightCouncil, chain

from tests.council.conftest import FROZEN, VERIFIED, addr, assert_council_trail

ZERO = "0x" + "00" * 20
MAX_MEMBERS = 32
MAX_SEATS = 128


def _address(i: int) -> str:
    """A made-up account address (members only need addresses to be counted)."""
    return "0x" + f"{0xC0FFEE00 + i:040x}"


def _state(council: Any) -> tuple[Any, ...]:
    return (tuple(council.members()), int(council.threshold()))


@pytest.fixture
def approved(council: Any, members: Any) -> Callable[..., tuple[int, Any]]:
    """Proposes a call to the council itself and approves it by `approvers` (the first two
    members by default); returns the proposal id and the calldata, not executed."""

    def _approved(data: Any, approvers: Any = None) -> tuple[int, Any]:
        who = list(approvers) if approvers is not None else list(members[:2])
        pid = council.propose(
            council, data, "membership", chain.time() + 3600, {"from": who[0]}
        ).return_value
        for member in who:
            council.approve(pid, {"from": member})
        return int(pid), data

    return _approved


@pytest.fixture
def govern(council: Any, run_proposal: Any) -> Callable[..., Any]:
    """Runs a call to the council itself through a proposal and checks the trail."""

    def _govern(data: Any, **kwargs: Any) -> Any:
        run = run_proposal(data, target=council, **kwargs)
        assert_council_trail(run, council)
        return run

    return _govern


@pytest.fixture
def freeze_proposal(escrow: Any, council: Any, members: Any, verified: Any, propose: Any):
    """A proposal to freeze a verified milestone, approved by members 0 and 1."""
    mid = verified()
    data = escrow.freeze.encode_input(mid)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    council.approve(pid, {"from": members[1]})
    return mid, int(pid), data


def _refused(council: Any, pid: int, data: Any, executor: Any, message: str) -> None:
    """Execution of a membership proposal reverts with `message` and changes nothing."""
    before = _state(council)
    with brownie.reverts(message):
        council.execute(pid, data, {"from": executor})
    assert _state(council) == before
    assert council.proposal(pid)[2] is False


# --------------------------------------------------------------------------- constructor


def test_the_constructor_emits_member_added_and_threshold_changed(council, members):
    events = council.tx.events
    assert [e["member"] for e in events["MemberAdded"]] == [m.address for m in members]
    changed = events["ThresholdChanged"]
    assert (changed["previous"], changed["threshold"]) == (0, 2)


def test_the_constructor_refuses_an_escrow_without_code(roles, members):
    with brownie.reverts(f"Council_InvalidTarget: {addr(roles.outsider)}"):
        OversightCouncil.deploy(roles.outsider, list(members), 2, {"from": roles.admin})


def test_the_constructor_refuses_a_zero_member(escrow, roles, members):
    with brownie.reverts("Council_ZeroAddress: "):
        OversightCouncil.deploy(escrow, [members[0], ZERO], 1, {"from": roles.admin})


def test_the_constructor_refuses_a_member_listed_twice(escrow, roles, members):
    with brownie.reverts(f"Council_AlreadyMember: {addr(members[0])}"):
        OversightCouncil.deploy(escrow, [members[0], members[0]], 1, {"from": roles.admin})


def test_the_constructor_refuses_more_than_max_members(escrow, roles):
    too_many = [_address(i) for i in range(MAX_MEMBERS + 1)]
    with brownie.reverts(f"Council_TooManyMembers: {MAX_MEMBERS}"):
        OversightCouncil.deploy(escrow, too_many, 2, {"from": roles.admin})


@pytest.mark.parametrize(
    ("count", "threshold"), [(3, 0), (3, 4), (0, 1)], ids=["zero", "above", "no-members"]
)
def test_the_constructor_refuses_a_threshold_the_members_cannot_meet(
    escrow, roles, members, count, threshold
):
    with brownie.reverts(f"Council_InvalidThreshold: {threshold}, {count}"):
        OversightCouncil.deploy(escrow, list(members)[:count], threshold, {"from": roles.admin})


# --------------------------------------------------------------------------- only self


@pytest.mark.parametrize("who", ["member", "outsider", "former_deployer"])
@pytest.mark.parametrize("function", ["addMember", "removeMember", "changeThreshold"])
def test_membership_calls_made_directly_are_refused(
    council, members, roles, governed, function, who
):
    account = {
        "member": members[0],
        "outsider": roles.outsider,
        "former_deployer": governed.deployer,
    }[who]
    before = _state(council)
    with brownie.reverts(f"Council_OnlySelf: {addr(account)}"):
        if function == "addMember":
            council.addMember(roles.outsider, 1, {"from": account})
        elif function == "removeMember":
            council.removeMember(members[2], 1, {"from": account})
        else:
            council.changeThreshold(1, {"from": account})
    assert _state(council) == before


# --------------------------------------------------------------------------- addMember


def test_add_member_through_a_proposal_adds_it_and_keeps_the_threshold(
    council, members, roles, govern
):
    run = govern(council.addMember.encode_input(roles.outsider, 2))
    assert run.executed.events["MemberAdded"]["member"] == roles.outsider.address
    assert "ThresholdChanged" not in run.executed.events
    assert council.isMember(roles.outsider)
    assert council.members() == [*members, roles.outsider]
    assert council.threshold() == 2


def test_a_new_members_approval_counts_at_once(
    escrow, council, members, roles, verified, govern, run_proposal
):
    govern(council.addMember.encode_input(roles.outsider, 2))
    mid = verified()
    run = run_proposal(escrow.freeze.encode_input(mid), approvers=[members[0], roles.outsider])
    assert run.approvals[1].events["ProposalApproved"]["approvals"] == 2
    assert escrow.statusOf(mid) == FROZEN


def test_add_member_with_a_higher_threshold_emits_threshold_changed(council, roles, govern):
    run = govern(council.addMember.encode_input(roles.outsider, 3))
    changed = run.executed.events["ThresholdChanged"]
    assert (changed["previous"], changed["threshold"]) == (2, 3)
    assert council.threshold() == 3


def test_add_member_of_a_current_member_is_refused(council, members, approved):
    pid, data = approved(council.addMember.encode_input(members[2], 2))
    _refused(council, pid, data, members[0], f"Council_AlreadyMember: {addr(members[2])}")


def test_add_member_of_the_zero_address_is_refused(council, members, approved):
    pid, data = approved(council.addMember.encode_input(ZERO, 2))
    _refused(council, pid, data, members[0], "Council_ZeroAddress: ")


def test_add_member_with_a_threshold_above_the_new_count_is_refused(
    council, members, roles, approved
):
    pid, data = approved(council.addMember.encode_input(roles.outsider, 5))
    _refused(council, pid, data, members[0], "Council_InvalidThreshold: 5, 4")
    assert not council.isMember(roles.outsider)


def test_add_member_with_a_zero_threshold_is_refused(council, members, roles, approved):
    pid, data = approved(council.addMember.encode_input(roles.outsider, 0))
    _refused(council, pid, data, members[0], "Council_InvalidThreshold: 0, 4")
    assert not council.isMember(roles.outsider)


def test_add_member_to_a_full_council_is_refused(council, members, govern):
    govern(council.changeThreshold.encode_input(1))
    for i in range(MAX_MEMBERS - len(members)):
        data = council.addMember.encode_input(_address(i), 1)
        pid = council.propose(council, data, "add", chain.time() + 3600, {"from": members[0]})
        council.approveAndExecute(pid.return_value, data, {"from": members[0]})
    assert len(council.members()) == MAX_MEMBERS
    data = council.addMember.encode_input(_address(99), 1)
    pid = council.propose(council, data, "add", chain.time() + 3600, {"from": members[0]})
    council.approve(pid.return_value, {"from": members[0]})
    _refused(council, pid.return_value, data, members[0], f"Council_TooManyMembers: {MAX_MEMBERS}")


def test_add_member_after_every_seat_was_assigned_is_refused(council, members, govern):
    """Seats are never reused (so approvals of removed members can never revive): over its whole
    life the council can seat MAX_SEATS members, removals included."""
    govern(council.changeThreshold.encode_input(1))
    chair = members[0]

    def decide(data: Any) -> None:
        pid = council.propose(council, data, "rotate", chain.time() + 3600, {"from": chair})
        council.approveAndExecute(pid.return_value, data, {"from": chair})

    seats, extra = len(members), []
    while seats < MAX_SEATS:
        if len(extra) == MAX_MEMBERS - len(members):
            for account in extra:
                decide(council.removeMember.encode_input(account, 1))
            extra = []
        account = _address(seats)
        decide(council.addMember.encode_input(account, 1))
        extra.append(account)
        seats += 1
    data = council.addMember.encode_input(_address(seats), 1)
    pid = council.propose(council, data, "add", chain.time() + 3600, {"from": chair})
    council.approve(pid.return_value, {"from": chair})
    assert len(council.members()) < MAX_MEMBERS
    _refused(council, pid.return_value, data, chair, "Council_SeatsExhausted: ")


# --------------------------------------------------------------------------- removeMember


def test_remove_member_through_a_proposal_removes_it(council, members, govern):
    run = govern(council.removeMember.encode_input(members[2], 2))
    assert run.executed.events["MemberRemoved"]["member"] == members[2].address
    assert "ThresholdChanged" not in run.executed.events
    assert not council.isMember(members[2])
    assert council.members() == list(members[:2])


def test_a_removed_member_can_no_longer_propose_or_approve(
    escrow, council, members, verified, govern
):
    govern(council.removeMember.encode_input(members[2], 2))
    data = escrow.freeze.encode_input(verified())
    with brownie.reverts(f"Council_NotMember: {addr(members[2])}"):
        council.propose(escrow, data, "x", chain.time() + 3600, {"from": members[2]})
    pid = council.propose(escrow, data, "x", chain.time() + 3600, {"from": members[0]})
    with brownie.reverts(f"Council_NotMember: {addr(members[2])}"):
        council.approve(pid.return_value, {"from": members[2]})


def test_remove_member_with_a_lower_threshold_emits_threshold_changed(
    council, members, govern, run_proposal
):
    govern(council.changeThreshold.encode_input(3))
    run = run_proposal(
        council.removeMember.encode_input(members[2], 2), target=council, approvers=members
    )
    assert_council_trail(run, council)
    changed = run.executed.events["ThresholdChanged"]
    assert (changed["previous"], changed["threshold"]) == (3, 2)
    assert _state(council) == (tuple(m.address for m in members[:2]), 2)


def test_remove_member_of_a_non_member_is_refused(council, members, roles, approved):
    pid, data = approved(council.removeMember.encode_input(roles.outsider, 2))
    _refused(council, pid, data, members[0], f"Council_NotMember: {addr(roles.outsider)}")


def test_removing_members_below_the_threshold_without_lowering_it_is_refused(
    council, members, govern, approved
):
    govern(council.removeMember.encode_input(members[2], 2))
    assert _state(council) == (tuple(m.address for m in members[:2]), 2)
    pid, data = approved(council.removeMember.encode_input(members[1], 2))
    _refused(council, pid, data, members[0], "Council_InvalidThreshold: 2, 1")
    assert council.isMember(members[1])


@pytest.mark.parametrize("threshold", [1, 0])
def test_removing_the_last_member_is_refused(council, members, govern, approved, threshold):
    govern(council.removeMember.encode_input(members[2], 1))
    govern(council.removeMember.encode_input(members[1], 1), approvers=[members[0]])
    assert _state(council) == ((members[0].address,), 1)
    pid, data = approved(council.removeMember.encode_input(members[0], threshold), [members[0]])
    _refused(council, pid, data, members[0], f"Council_InvalidThreshold: {threshold}, 0")
    assert council.isMember(members[0])


def test_a_removed_members_approval_no_longer_counts(
    escrow, council, members, freeze_proposal, govern
):
    mid, pid, data = freeze_proposal
    assert council.proposal(pid)[4] == 2
    govern(council.removeMember.encode_input(members[1], 2), approvers=[members[0], members[2]])
    assert council.proposal(pid)[4] == 1
    assert not council.hasApproved(pid, members[1])
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 1, 2"):
        council.execute(pid, data, {"from": members[0]})
    assert escrow.statusOf(mid) == VERIFIED


def test_after_a_removal_another_members_approval_completes_the_proposal(
    escrow, council, members, freeze_proposal, govern
):
    mid, pid, data = freeze_proposal
    govern(council.removeMember.encode_input(members[1], 2), approvers=[members[0], members[2]])
    tx = council.approveAndExecute(pid, data, {"from": members[2]})
    assert tx.events["ProposalApproved"]["approvals"] == 2
    assert escrow.statusOf(mid) == FROZEN


def test_a_re_added_member_does_not_inherit_its_old_approval(
    escrow, council, members, freeze_proposal, govern
):
    mid, pid, data = freeze_proposal
    others = [members[0], members[2]]
    govern(council.removeMember.encode_input(members[1], 2), approvers=others)
    govern(council.addMember.encode_input(members[1], 2), approvers=others)
    assert council.members() == [members[0], members[2], members[1]]
    assert not council.hasApproved(pid, members[1])
    assert council.proposal(pid)[4] == 1
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 1, 2"):
        council.execute(pid, data, {"from": members[1]})
    tx = council.approveAndExecute(pid, data, {"from": members[1]})
    assert tx.events["ProposalApproved"]["approvals"] == 2
    assert escrow.statusOf(mid) == FROZEN


# --------------------------------------------------------------------------- changeThreshold


@pytest.mark.parametrize("threshold", [0, 4], ids=["zero", "above-count"])
def test_change_threshold_to_one_the_council_cannot_meet_is_refused(
    council, members, approved, threshold
):
    pid, data = approved(council.changeThreshold.encode_input(threshold))
    _refused(council, pid, data, members[0], f"Council_InvalidThreshold: {threshold}, 3")


def test_change_threshold_through_a_proposal_emits_threshold_changed(council, govern):
    run = govern(council.changeThreshold.encode_input(3))
    changed = run.executed.events["ThresholdChanged"]
    assert (changed["previous"], changed["threshold"]) == (2, 3)
    assert council.threshold() == 3


def test_change_threshold_to_the_same_value_emits_nothing(council, govern):
    run = govern(council.changeThreshold.encode_input(2))
    assert "ThresholdChanged" not in run.executed.events
    assert council.threshold() == 2


def test_a_raised_threshold_holds_back_a_pending_proposal(
    escrow, council, members, freeze_proposal, govern
):
    mid, pid, data = freeze_proposal
    govern(council.changeThreshold.encode_input(3))
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 2, 3"):
        council.execute(pid, data, {"from": members[0]})
    assert escrow.statusOf(mid) == VERIFIED


def test_a_lowered_threshold_lets_a_proposal_with_one_approval_execute(
    escrow, council, members, verified, propose, govern
):
    mid = verified()
    data = escrow.freeze.encode_input(mid)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    govern(council.changeThreshold.encode_input(1))
    council.execute(pid, data, {"from": members[0]})
    assert escrow.statusOf(mid) == FROZEN

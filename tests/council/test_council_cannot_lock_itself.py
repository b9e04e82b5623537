"""The council can never lock itself, and an executed proposal's record stays as it was
(issue 11 items 8 and 9).

addMember
├── the council itself → Council_InvalidMember, nothing changes
└── the escrow → Council_InvalidMember, nothing changes
constructor with the council's future address or the escrow as a member → refused
proposal(id) of an executed proposal → approvals as they counted at execution, whatever
membership does later
proposalState(id) → Unknown, Open, Executable (approvals reach the threshold), Expired, Executed
"""

from __future__ import annotations

from typing import Any

import brownie
from brownie import OversightCouncil, accounts, chain

from tests.council.conftest import PROGRAM_MANAGER_ROLE


def _state(council: Any) -> tuple[Any, ...]:
    return (tuple(council.members()), council.threshold())


def _refused_through_a_proposal(council: Any, members: Any, propose: Any, data: Any, message: str):
    before = _state(council)
    pid = propose(data, target=council).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(message):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert _state(council) == before
    assert council.proposal(pid)[2] is False


def test_the_council_cannot_add_itself_as_a_member(council, members, propose):
    # With threshold = member count, a council seat would leave every human approval one short.
    data = council.addMember.encode_input(council, len(members) + 1)
    _refused_through_a_proposal(
        council, members, propose, data, f"Council_InvalidMember: {str(council).lower()}"
    )


def test_the_council_cannot_add_the_escrow_as_a_member(council, escrow, members, propose):
    data = council.addMember.encode_input(escrow, 2)
    _refused_through_a_proposal(
        council, members, propose, data, f"Council_InvalidMember: {str(escrow).lower()}"
    )


def test_a_council_cannot_be_deployed_with_the_escrow_as_a_member(escrow, roles):
    with brownie.reverts(f"Council_InvalidMember: {str(escrow).lower()}"):
        OversightCouncil.deploy(escrow, [roles.outsider, escrow], 2, {"from": roles.admin})


def test_a_council_cannot_be_deployed_with_its_own_address_as_a_member(escrow, roles):
    deployer = accounts[0]
    own = deployer.get_deployment_address()
    with brownie.reverts(f"Council_InvalidMember: {own.lower()}"):
        OversightCouncil.deploy(escrow, [roles.outsider, own], 2, {"from": deployer})


def test_an_executed_proposal_keeps_its_approvals_when_a_member_leaves(
    council, escrow, members, run_proposal, roles
):
    run = run_proposal(escrow.grantRole.encode_input(PROGRAM_MANAGER_ROLE, roles.funder))
    assert council.proposal(run.proposal_id)[4] == 2
    run_proposal(council.removeMember.encode_input(members[0], 2), target=council)
    _target, _expiry, executed, _data, approvals = council.proposal(run.proposal_id)
    assert (executed, approvals) == (True, 2)


# --------------------------------------------------------------------------- proposalState

UNKNOWN, OPEN, EXECUTABLE, EXPIRED, EXECUTED = range(5)


def test_proposal_state_follows_a_proposal_from_open_to_executed(
    council, escrow, members, propose, roles
):
    data = escrow.grantRole.encode_input(PROGRAM_MANAGER_ROLE, roles.funder)
    pid = propose(data).return_value
    assert council.proposalState(pid + 1) == UNKNOWN
    assert council.proposalState(pid) == OPEN
    council.approve(pid, {"from": members[0]})
    assert council.proposalState(pid) == OPEN
    council.approve(pid, {"from": members[1]})
    assert council.proposalState(pid) == EXECUTABLE
    council.revoke(pid, {"from": members[1]})
    assert council.proposalState(pid) == OPEN
    council.approveAndExecute(pid, data, {"from": members[1]})
    assert council.proposalState(pid) == EXECUTED


def test_proposal_state_reads_expired_after_the_expiry(council, escrow, members, propose, roles):
    data = escrow.grantRole.encode_input(PROGRAM_MANAGER_ROLE, roles.funder)
    pid = propose(data, expiry=chain.time() + 3600).return_value
    council.approve(pid, {"from": members[0]})
    council.approve(pid, {"from": members[1]})
    chain.sleep(7200)
    chain.mine()
    assert council.proposalState(pid) == EXPIRED

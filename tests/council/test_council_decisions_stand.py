"""A council decision cannot be undone by one key, and the council reaches what it must
(issue 11 items 1, 3, 4 and 9).

amendMilestone after replaceBeneficiary
├── to another beneficiary (back, or anywhere) → Escrow_BeneficiarySetByCouncil, nothing changes
└── other terms, same beneficiary → allowed
closeProgram / withdrawRemainder
├── by the council → done (the manager's role may be revoked)
└── by anyone else → Escrow_NotProgramManager
setProgramManager / setProgramTreasury
├── by the council → changed, event with previous and new
├── new manager without PROGRAM_MANAGER_ROLE → Escrow_ManagerLacksRole
└── by anyone else, the manager included → AccessControlUnauthorizedAccount
forceRelease / cancel after someone called expire
├── funds still uncommitted → paid (force) / cancelled, invariants hold
└── the program no longer has them → Escrow_InsufficientFunds, nothing changes
resolveDispute
├── a hash an oracle of the dispute attested (either) → Verified
└── any other hash → Escrow_HashNotDisputed
setChallengeWindow shorter while a veto window runs → that window keeps running
refusals name the computed status (Expired for a lapsed milestone)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import brownie
import pytest
from brownie import chain
from eth_utils import keccak

from tests.conftest import error
from tests.council.conftest import (
    AMOUNT,
    CANCELLED,
    CHALLENGE_WINDOW,
    DAY,
    DISPUTED,
    EXPIRED,
    PROGRAM_FUNDS,
    PROGRAM_MANAGER_ROLE,
    RELEASED,
    VERIFIED,
    evidence,
    unauthorized,
)

REASON = keccak(text="reason: oracles down; council minutes 11")


@pytest.fixture
def decide(run_proposal: Any) -> Callable[..., Any]:
    return lambda data: run_proposal(data)


def _view(escrow: Any, mid: bytes) -> dict[str, Any]:
    return dict(escrow.milestone(mid).dict())


def _sleep(seconds: int) -> None:
    chain.sleep(seconds)
    chain.mine()


# --------------------------------------------------------------------------- item 1


def test_the_manager_cannot_amend_back_a_beneficiary_the_council_replaced(
    escrow, roles, register, decide
):
    mid = register("PO-11/C1")
    decide(escrow.replaceBeneficiary.encode_input(mid, roles.beneficiary2))
    view = _view(escrow, mid)
    assert view["beneficiaryLocked"] is True
    for target in (roles.beneficiary, roles.manager):
        with brownie.reverts(error("Escrow_BeneficiarySetByCouncil", mid, roles.beneficiary2)):
            escrow.amendMilestone(
                mid,
                target,
                view["amount"],
                view["deadline"],
                view["evidenceSpecHash"],
                {"from": roles.manager},
            )
    assert _view(escrow, mid) == view


def test_the_manager_may_still_amend_other_terms_of_a_milestone_the_council_redirected(
    escrow, roles, register, decide
):
    mid = register("PO-11/C1")
    decide(escrow.replaceBeneficiary.encode_input(mid, roles.beneficiary2))
    view = _view(escrow, mid)
    escrow.amendMilestone(
        mid,
        roles.beneficiary2,
        5,
        view["deadline"],
        view["evidenceSpecHash"],
        {"from": roles.manager},
    )
    after = _view(escrow, mid)
    assert (after["beneficiary"], after["amount"], after["termsVersion"]) == (
        roles.beneficiary2,
        5,
        2,
    )


# --------------------------------------------------------------------------- item 3


def test_the_council_closes_and_withdraws_a_program_whose_manager_was_revoked(
    escrow, token, roles, program_id, decide
):
    decide(escrow.revokeRole.encode_input(PROGRAM_MANAGER_ROLE, roles.manager))
    decide(escrow.closeProgram.encode_input(program_id))
    assert escrow.program(program_id).dict()["closed"] is True
    run = decide(escrow.withdrawRemainder.encode_input(program_id))
    assert run.executed.events["RemainderWithdrawn"]["amount"] == PROGRAM_FUNDS
    assert token.balanceOf(roles.treasury) == PROGRAM_FUNDS
    assert escrow.program(program_id).dict()["balance"] == 0


def test_the_council_hands_a_program_to_another_manager(
    escrow, roles, program_id, register, decide
):
    decide(escrow.grantRole.encode_input(PROGRAM_MANAGER_ROLE, roles.funder))
    run = decide(escrow.setProgramManager.encode_input(program_id, roles.funder))
    event = run.executed.events["ProgramManagerChanged"]
    assert (event["programId"], event["previousManager"], event["newManager"]) == (
        program_id,
        roles.manager,
        roles.funder,
    )
    assert escrow.program(program_id).dict()["manager"] == roles.funder
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, roles.manager)):
        escrow.closeProgram(program_id, {"from": roles.manager})
    escrow.closeProgram(program_id, {"from": roles.funder})


def test_a_new_manager_without_the_manager_role_is_refused(
    escrow, council, members, roles, program_id, propose
):
    data = escrow.setProgramManager.encode_input(program_id, roles.outsider)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(error("Escrow_ManagerLacksRole", roles.outsider)):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert escrow.program(program_id).dict()["manager"] == roles.manager


def test_the_council_changes_a_program_treasury(escrow, token, roles, program_id, decide):
    run = decide(escrow.setProgramTreasury.encode_input(program_id, roles.funder))
    event = run.executed.events["ProgramTreasuryChanged"]
    assert (event["programId"], event["previousTreasury"], event["newTreasury"]) == (
        program_id,
        roles.treasury,
        roles.funder,
    )
    escrow.closeProgram(program_id, {"from": roles.manager})
    before = token.balanceOf(roles.funder)
    escrow.withdrawRemainder(program_id, {"from": roles.manager})
    assert token.balanceOf(roles.funder) - before == PROGRAM_FUNDS


@pytest.mark.parametrize("who", ["manager", "outsider", "member"])
def test_program_powers_of_the_council_are_refused_to_anyone_else(
    escrow, roles, members, program_id, who
):
    caller = {"manager": roles.manager, "outsider": roles.outsider, "member": members[0]}[who]
    before = escrow.program(program_id)
    with brownie.reverts(unauthorized(caller)):
        escrow.setProgramManager(program_id, roles.manager, {"from": caller})
    with brownie.reverts(unauthorized(caller)):
        escrow.setProgramTreasury(program_id, roles.funder, {"from": caller})
    assert escrow.program(program_id) == before


@pytest.mark.parametrize("who", ["outsider", "member"])
def test_close_and_withdraw_are_refused_to_anyone_but_manager_and_council(
    escrow, roles, members, program_id, who
):
    caller = roles.outsider if who == "outsider" else members[0]
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, caller)):
        escrow.closeProgram(program_id, {"from": caller})
    escrow.closeProgram(program_id, {"from": roles.manager})
    with brownie.reverts(error("Escrow_NotProgramManager", program_id, caller)):
        escrow.withdrawRemainder(program_id, {"from": caller})
    assert escrow.program(program_id).dict()["balance"] == PROGRAM_FUNDS


# --------------------------------------------------------------------------- item 4


@pytest.fixture
def lapsed(escrow: Any, register: Any) -> bytes:
    """A milestone whose deadline passed without a quorum (statusOf: Expired)."""
    mid = register("PO-11/L1", deadline=chain.time() + DAY)
    _sleep(2 * DAY)
    assert escrow.statusOf(mid) == EXPIRED
    return mid


def test_expire_does_not_defeat_an_approved_force_release(
    escrow, council, token, members, roles, program_id, lapsed, propose
):
    data = escrow.forceRelease.encode_input(lapsed, REASON)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    escrow.expire(lapsed, {"from": roles.outsider})  # anyone, before the council executes
    tx = council.approveAndExecute(pid, data, {"from": members[1]})
    assert tx.events["MilestoneReleased"]["amount"] == AMOUNT
    assert token.balanceOf(roles.beneficiary) == AMOUNT
    assert escrow.statusOf(lapsed) == RELEASED
    program = escrow.program(program_id).dict()
    assert program["balance"] == PROGRAM_FUNDS - AMOUNT
    assert program["committed"] == 0
    assert token.balanceOf(escrow) == program["balance"]


def test_force_release_of_an_expired_milestone_is_refused_when_its_funds_were_withdrawn(
    escrow, token, members, roles, program_id, lapsed, decide
):
    escrow.expire(lapsed, {"from": roles.outsider})
    escrow.closeProgram(program_id, {"from": roles.manager})
    escrow.withdrawRemainder(program_id, {"from": roles.manager})
    before = _view(escrow, lapsed)
    with brownie.reverts(error("Escrow_InsufficientFunds", program_id, AMOUNT, 0)):
        decide(escrow.forceRelease.encode_input(lapsed, REASON))
    assert _view(escrow, lapsed) == before
    assert token.balanceOf(roles.beneficiary) == 0


def test_expire_does_not_defeat_an_approved_cancel(
    escrow, council, members, roles, program_id, lapsed, propose
):
    data = escrow.cancel.encode_input(lapsed)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    escrow.expire(lapsed, {"from": roles.outsider})
    tx = council.approveAndExecute(pid, data, {"from": members[1]})
    # The amount returned at expire already: the cancellation returns nothing more.
    assert tx.events["MilestoneCancelled"]["amount"] == 0
    assert escrow.statusOf(lapsed) == CANCELLED
    assert escrow.program(program_id).dict()["committed"] == 0


def test_the_council_may_redirect_an_expired_milestone_before_force_releasing_it(
    escrow, token, roles, lapsed, decide
):
    escrow.expire(lapsed, {"from": roles.outsider})
    decide(escrow.replaceBeneficiary.encode_input(lapsed, roles.beneficiary2))
    decide(escrow.forceRelease.encode_input(lapsed, REASON))
    assert token.balanceOf(roles.beneficiary2) == AMOUNT


# --------------------------------------------------------------------------- item 9


def test_refusals_name_the_computed_status_of_a_lapsed_milestone(
    escrow, council, members, propose, lapsed
):
    data = escrow.freeze.encode_input(lapsed)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(error("Escrow_UnexpectedMilestoneStatus", lapsed, EXPIRED)):
        council.approveAndExecute(pid, data, {"from": members[1]})


@pytest.mark.parametrize("which", ["first", "second"])
def test_resolve_dispute_accepts_either_hash_an_oracle_of_the_dispute_attested(
    escrow, disputed, decide, which
):
    mid = disputed()
    decide(escrow.resolveDispute.encode_input(mid, evidence(which)))
    view = _view(escrow, mid)
    assert (view["status"], bytes(view["evidenceHash"])) == (VERIFIED, evidence(which))


def test_resolve_dispute_refuses_a_hash_no_oracle_of_the_dispute_attested(
    escrow, council, members, disputed, propose
):
    mid = disputed()
    data = escrow.resolveDispute.encode_input(mid, evidence("made-up"))
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(error("Escrow_HashNotDisputed", mid, evidence("made-up"))):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert escrow.statusOf(mid) == DISPUTED


def test_a_shorter_window_does_not_end_a_running_veto_window(
    escrow, roles, program_id, verified, decide
):
    mid = verified()
    due = escrow.releasableAt(mid)
    decide(escrow.setChallengeWindow.encode_input(program_id, 0))
    assert escrow.releasableAt(mid) == due
    with brownie.reverts(error("Escrow_ChallengeWindowOpen", mid, due)):
        escrow.release(mid, {"from": roles.outsider})
    # Two changes in a row keep it too.
    decide(escrow.setChallengeWindow.encode_input(program_id, 60))
    assert escrow.releasableAt(mid) == due


def test_a_longer_window_applies_to_a_milestone_already_verified(
    escrow, program_id, verified, decide
):
    mid = verified()
    verified_at = _view(escrow, mid)["verifiedAt"]
    decide(escrow.setChallengeWindow.encode_input(program_id, 3 * DAY))
    assert escrow.releasableAt(mid) == verified_at + 3 * DAY


def test_a_shorter_window_applies_to_milestones_verified_after_the_change(
    escrow, roles, program_id, verified, decide
):
    decide(escrow.setChallengeWindow.encode_input(program_id, 60))
    _sleep(CHALLENGE_WINDOW + 1)
    mid = verified("PO-11/after")
    assert escrow.releasableAt(mid) == _view(escrow, mid)["verifiedAt"] + 60

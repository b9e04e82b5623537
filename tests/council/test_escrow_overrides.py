"""The escrow's council overrides, end to end through proposals, and the emergency brake.

Every override runs the full trail (ProposalCreated, ProposalApproved with the running count,
ProposalExecuted, then the escrow's own event); every override called directly by anyone but
the council (a member's own account, the manager, an oracle, an outsider, the former deployer)
reverts with AccessControlUnauthorizedAccount(caller, DEFAULT_ADMIN_ROLE) and changes nothing.

Branch tree (a test per leaf):

any override called directly, not by the council ........ AccessControlUnauthorizedAccount;
                                                          nothing changes (12 overrides x 5
                                                          callers)
freeze(milestoneId)
├── Verified, in its window ............................. Frozen, MilestoneFrozen(id); not
│   │                                                     releasable
│   ├── after the window, release by anyone ............. Escrow_UnexpectedMilestoneStatus(id, 4)
│   └── a council proposal calling release .............. the same error; the proposal stays open
├── Verified, window over but not yet released .......... Frozen (the veto is still possible)
├── Released (5) ........................................ Escrow_UnexpectedMilestoneStatus(id, 5)
└── unknown ............................................. Escrow_UnknownMilestone(id)
unfreeze(milestoneId)
├── Frozen .............................................. Verified, MilestoneUnfrozen(id)
│   ├── release after the window pays the beneficiary
│   └── the window is not restarted ..................... releasableAt = first verification + window
└── not Frozen (Verified) ............................... Escrow_UnexpectedMilestoneStatus(id, 2)
cancel(milestoneId)
├── Registered .......................................... Cancelled, committed drops, balance stays,
│   │                                                     MilestoneCancelled(id, program, amount)
│   └── the freed amount can be committed again
├── Frozen (a veto settled) ............................. Cancelled; never releasable
├── Disputed (the dispute settled against) .............. Cancelled, committed drops
├── while paused ........................................ Cancelled
└── Released (5) ........................................ Escrow_UnexpectedMilestoneStatus(id, 5)
forceRelease(milestoneId, reasonHash)
├── Registered, Verified, Frozen or Disputed ............ pays the beneficiary exactly the amount
├── events .............................................. MilestoneForceReleased(id, reason), then
│                                                         MilestoneReleased(id, program, to, amount)
├── accounting .......................................... program balance, committed and escrow
│                                                         token balance drop by the amount
├── while paused ........................................ pays
└── Released already .................................... Escrow_UnexpectedMilestoneStatus(id, 5)
replaceBeneficiary(milestoneId, beneficiary)
├── unpaid .............................................. BeneficiaryReplaced(id, previous, new);
│                                                         release pays the new address only
├── paid (5) ............................................ Escrow_UnexpectedMilestoneStatus(id, 5)
└── zero address ........................................ Escrow_ZeroAddress("beneficiary")
resolveDispute(milestoneId, evidenceHash)
├── Disputed ............................................ Verified with the chosen hash,
│   │                                                     DisputeResolved(id, hash)
│   ├── the challenge window starts at the decision ..... Escrow_ChallengeWindowOpen before,
│   │                                                     pays after
│   └── before the decision, release by anyone .......... Escrow_UnexpectedMilestoneStatus(id, 3)
└── not Disputed (Verified) ............................. Escrow_UnexpectedMilestoneStatus(id, 2)
setCommittee(oracles, quorum)
├── valid ............................................... epoch + 1, CommitteeUpdated(epoch,
│   │                                                     oracles, quorum)
│   └── a removed oracle can no longer attest ........... Escrow_NotOracle(oracle)
└── quorum above the committee size ..................... Escrow_InvalidQuorum(4, 3); epoch
                                                          unchanged
grantRole / revokeRole(PROGRAM_MANAGER_ROLE, account)
├── grant ............................................... RoleGranted(role, account, council);
│                                                         the account creates a program
└── revoke .............................................. RoleRevoked(role, account, council); the
                                                          manager can neither create nor register
setChallengeWindow(programId, window)
├── valid ............................................... ChallengeWindowSet(program, window);
│                                                         releasableAt moves with it
├── zero ................................................ a verified milestone releases at once
├── above MAX_CHALLENGE_WINDOW .......................... Escrow_ChallengeWindowTooLong(w, max)
└── unknown program ..................................... Escrow_UnknownProgram(id)
pause() / unpause() through proposals
├── pause ............................................... Paused(council)
├── unpause ............................................. Unpaused(council); funding works again
└── one approval only ................................... Council_ThresholdNotReached; still paused
emergencyPause()
├── any single member ................................... EmergencyPause(member),
│                                                         Paused(council), no proposal; fund,
│                                                         release and attest: EnforcedPause
├── a non-member ........................................ Council_NotMember(caller); not paused
├── already paused ...................................... EnforcedPause
└── a member calling escrow.pause/unpause directly ...... AccessControlUnauthorizedAccount
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import brownie
import pytest
from brownie import chain
from eth_utils import keccak

from tests.council.conftest import (
    AMOUNT,
    CANCELLED,
    CHALLENGE_WINDOW,
    DAY,
    DISPUTED,
    FROZEN,
    PROGRAM_FUNDS,
    PROGRAM_MANAGER_ROLE,
    REGISTERED,
    RELEASED,
    TOKEN_UNIT,
    VERIFIED,
    addr,
    assert_council_trail,
    b32,
    evidence,
    milestone_input,
    unauthorized,
)
from tests.programs import FACTS

REASON = keccak(text="reason: oracle outage, see council minutes 2025-14")
MAX_CHALLENGE_WINDOW = 90 * DAY


def _sleep(seconds: int) -> None:
    chain.sleep(seconds)
    chain.mine()


def _plain(value: Any) -> Any:
    """A contract return value as plain Python values, comparable across calls."""
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, bytes):
        return bytes(value)
    return str(value)


def _status_error(mid: bytes, status: int) -> str:
    return f"Escrow_UnexpectedMilestoneStatus: {b32(mid)}, {status}"


@pytest.fixture
def decide(run_proposal: Any, council: Any) -> Callable[..., Any]:
    """Runs an escrow call through the council and checks the council's trail of events."""

    def _decide(data: Any, **kwargs: Any) -> Any:
        run = run_proposal(data, **kwargs)
        assert_council_trail(run, council)
        return run

    return _decide


@pytest.fixture
def frozen(escrow: Any, verified: Any, decide: Any) -> Callable[..., bytes]:
    def _frozen(ref: str = "PO-1/F1") -> bytes:
        mid = verified(ref)
        decide(escrow.freeze.encode_input(mid))
        assert escrow.statusOf(mid) == FROZEN
        return mid

    return _frozen


@pytest.fixture
def released(escrow: Any, verified: Any, roles: Any) -> Callable[..., bytes]:
    def _released(ref: str = "PO-1/R1") -> bytes:
        mid = verified(ref)
        _sleep(CHALLENGE_WINDOW + 1)
        escrow.release(mid, {"from": roles.outsider})
        assert escrow.statusOf(mid) == RELEASED
        return mid

    return _released


# --------------------------------------------------------------------------- direct calls refused

OVERRIDES = [
    "freeze",
    "unfreeze",
    "cancel",
    "forceRelease",
    "replaceBeneficiary",
    "resolveDispute",
    "setCommittee",
    "grantRole",
    "revokeRole",
    "setChallengeWindow",
    "pause",
    "unpause",
]
CALLERS = ["member", "manager", "oracle", "outsider", "former_deployer"]


@pytest.fixture
def caller_of(members: Any, roles: Any, oracles: Any, governed: Any) -> dict[str, Any]:
    return {
        "member": members[0],
        "manager": roles.manager,
        "oracle": oracles[0],
        "outsider": roles.outsider,
        "former_deployer": governed.deployer,
    }


@pytest.fixture
def prepared(
    escrow: Any,
    council: Any,
    members: Any,
    roles: Any,
    oracles: Any,
    program_id: int,
    register: Any,
    verified: Any,
    disputed: Any,
    frozen: Any,
) -> Callable[[str], tuple[Any, tuple[Any, ...]]]:
    """Puts the escrow in a state where the override would succeed for the council; returns the
    escrow function and its arguments."""

    def _prepare(name: str) -> tuple[Any, tuple[Any, ...]]:
        if name == "freeze":
            return escrow.freeze, (verified(),)
        if name == "unfreeze":
            return escrow.unfreeze, (frozen(),)
        if name == "cancel":
            return escrow.cancel, (register(),)
        if name == "forceRelease":
            return escrow.forceRelease, (register(), REASON)
        if name == "replaceBeneficiary":
            return escrow.replaceBeneficiary, (register(), roles.beneficiary2)
        if name == "resolveDispute":
            return escrow.resolveDispute, (disputed(), evidence("second"))
        if name == "setCommittee":
            return escrow.setCommittee, (oracles[2:5], 2)
        if name == "grantRole":
            return escrow.grantRole, (PROGRAM_MANAGER_ROLE, roles.outsider)
        if name == "revokeRole":
            return escrow.revokeRole, (PROGRAM_MANAGER_ROLE, roles.manager)
        if name == "setChallengeWindow":
            return escrow.setChallengeWindow, (program_id, 0)
        if name == "pause":
            return escrow.pause, ()
        assert name == "unpause"
        council.emergencyPause({"from": members[0]})
        return escrow.unpause, ()

    return _prepare


def _escrow_state(escrow: Any, token: Any, program_id: int, args: tuple[Any, ...], roles: Any):
    mids = [a for a in args if isinstance(a, bytes) and escrow.statusOf(a) != 0]
    return _plain(
        (
            [escrow.milestone(m) for m in mids],
            escrow.program(program_id),
            escrow.committee(),
            escrow.paused(),
            [escrow.hasRole(PROGRAM_MANAGER_ROLE, a) for a in (roles.manager, roles.outsider)],
            token.balanceOf(escrow),
        )
    )


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("override", OVERRIDES)
def test_an_override_called_directly_by_anyone_but_the_council_is_refused(
    escrow, token, program_id, roles, prepared, caller_of, override, caller
):
    function, args = prepared(override)
    account = caller_of[caller]
    before = _escrow_state(escrow, token, program_id, args, roles)
    with brownie.reverts(unauthorized(account)):
        function(*args, {"from": account})
    assert _escrow_state(escrow, token, program_id, args, roles) == before


# --------------------------------------------------------------------------- freeze


def test_freeze_through_the_council_holds_a_verified_milestone_in_its_window(
    escrow, verified, decide
):
    mid = verified()
    assert chain.time() < escrow.releasableAt(mid)
    run = decide(escrow.freeze.encode_input(mid), description="freeze M1: evidence contested")
    assert escrow.statusOf(mid) == FROZEN
    assert escrow.releasableAt(mid) == 0
    assert bytes(run.executed.events["MilestoneFrozen"]["milestoneId"]) == bytes(mid)
    assert [e.name for e in run.executed.events] == ["ProposalExecuted", "MilestoneFrozen"]


@pytest.mark.parametrize(
    "who", ["beneficiary", "outsider", "manager", "oracle", "member", "former_deployer"]
)
def test_a_frozen_milestone_cannot_be_released_by_anyone(
    escrow, token, roles, frozen, caller_of, who
):
    mid = frozen()
    _sleep(CHALLENGE_WINDOW + 1)
    account = roles.beneficiary if who == "beneficiary" else caller_of[who]
    with brownie.reverts(_status_error(mid, FROZEN)):
        escrow.release(mid, {"from": account})
    assert escrow.statusOf(mid) == FROZEN
    assert token.balanceOf(roles.beneficiary) == 0


def test_a_frozen_milestone_cannot_be_released_by_a_council_proposal_calling_release(
    escrow, council, members, frozen, propose
):
    mid = frozen()
    _sleep(CHALLENGE_WINDOW + 1)
    data = escrow.release.encode_input(mid)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(_status_error(mid, FROZEN)):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert council.proposal(pid)[2] is False
    assert escrow.statusOf(mid) == FROZEN


def test_freeze_after_the_window_but_before_release_still_holds_the_milestone(
    escrow, token, roles, verified, decide
):
    mid = verified()
    _sleep(CHALLENGE_WINDOW + 1)
    decide(escrow.freeze.encode_input(mid))
    with brownie.reverts(_status_error(mid, FROZEN)):
        escrow.release(mid, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) == 0


def test_freeze_of_a_released_milestone_is_refused(escrow, council, members, released, propose):
    mid = released()
    data = escrow.freeze.encode_input(mid)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(_status_error(mid, RELEASED)):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert escrow.statusOf(mid) == RELEASED


def test_freeze_of_an_unknown_milestone_is_refused(escrow, council, members, propose):
    unknown = b"\x42" * 32
    data = escrow.freeze.encode_input(unknown)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(f"Escrow_UnknownMilestone: {b32(unknown)}"):
        council.approveAndExecute(pid, data, {"from": members[1]})


# --------------------------------------------------------------------------- unfreeze


def test_unfreeze_through_the_council_makes_the_milestone_verified_again(escrow, frozen, decide):
    mid = frozen()
    run = decide(escrow.unfreeze.encode_input(mid))
    assert escrow.statusOf(mid) == VERIFIED
    assert bytes(run.executed.events["MilestoneUnfrozen"]["milestoneId"]) == bytes(mid)


def test_after_unfreeze_release_pays_the_beneficiary(escrow, token, roles, frozen, decide):
    mid = frozen()
    decide(escrow.unfreeze.encode_input(mid))
    _sleep(CHALLENGE_WINDOW + 1)
    escrow.release(mid, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) == AMOUNT
    assert escrow.statusOf(mid) == RELEASED


def test_unfreeze_does_not_restart_the_challenge_window(escrow, frozen, decide):
    mid = frozen()
    verified_at = escrow.milestone(mid).dict()["verifiedAt"]
    _sleep(CHALLENGE_WINDOW // 2)
    decide(escrow.unfreeze.encode_input(mid))
    assert escrow.releasableAt(mid) == verified_at + CHALLENGE_WINDOW


def test_unfreeze_of_a_milestone_that_is_not_frozen_is_refused(
    escrow, council, members, verified, propose
):
    mid = verified()
    data = escrow.unfreeze.encode_input(mid)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(_status_error(mid, VERIFIED)):
        council.approveAndExecute(pid, data, {"from": members[1]})


# --------------------------------------------------------------------------- cancel


def test_cancel_through_the_council_returns_the_amount_to_the_program(
    escrow, token, register, program_id, decide
):
    mid = register()
    before = escrow.program(program_id).dict()
    run = decide(escrow.cancel.encode_input(mid))
    after = escrow.program(program_id).dict()
    assert escrow.statusOf(mid) == CANCELLED
    assert after["committed"] == before["committed"] - AMOUNT
    assert after["balance"] == before["balance"]
    assert token.balanceOf(escrow) == PROGRAM_FUNDS
    event = run.executed.events["MilestoneCancelled"]
    assert (bytes(event["milestoneId"]), event["programId"], event["amount"]) == (
        bytes(mid),
        program_id,
        AMOUNT,
    )


def test_a_cancelled_amount_can_be_committed_again(escrow, register, program_id, roles, decide):
    mid = register()
    register("PO-1/filler", PROGRAM_FUNDS - AMOUNT)
    extra = milestone_input("PO-1/extra", roles.beneficiary, AMOUNT)
    with brownie.reverts(
        f"Escrow_InsufficientFunds: {program_id}, {PROGRAM_FUNDS + AMOUNT}, {PROGRAM_FUNDS}"
    ):
        escrow.registerMilestone(program_id, extra, {"from": roles.manager})
    decide(escrow.cancel.encode_input(mid))
    escrow.registerMilestone(program_id, extra, {"from": roles.manager})
    assert escrow.program(program_id).dict()["committed"] == PROGRAM_FUNDS


def test_cancel_of_a_frozen_milestone_settles_the_veto(escrow, token, roles, frozen, decide):
    mid = frozen()
    decide(escrow.cancel.encode_input(mid))
    assert escrow.statusOf(mid) == CANCELLED
    _sleep(CHALLENGE_WINDOW + 1)
    with brownie.reverts(_status_error(mid, CANCELLED)):
        escrow.release(mid, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) == 0


def test_a_dispute_can_be_settled_against_by_cancelling(escrow, disputed, program_id, decide):
    mid = disputed()
    committed = escrow.program(program_id).dict()["committed"]
    decide(escrow.cancel.encode_input(mid))
    assert escrow.statusOf(mid) == CANCELLED
    assert escrow.program(program_id).dict()["committed"] == committed - AMOUNT


def test_cancel_works_while_the_escrow_is_paused(escrow, council, members, register, decide):
    mid = register()
    council.emergencyPause({"from": members[0]})
    decide(escrow.cancel.encode_input(mid))
    assert escrow.statusOf(mid) == CANCELLED
    assert escrow.paused()


def test_cancel_of_a_released_milestone_is_refused(
    escrow, council, members, released, propose, program_id
):
    mid = released()
    data = escrow.cancel.encode_input(mid)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    before = escrow.program(program_id)
    with brownie.reverts(_status_error(mid, RELEASED)):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert _plain(escrow.program(program_id)) == _plain(before)


# --------------------------------------------------------------------------- forceRelease


def test_force_release_pays_the_beneficiary_exactly_the_amount_without_quorum(
    escrow, token, roles, register, program_id, decide
):
    mid = register()
    assert escrow.milestone(mid).dict()["attestations"] == 0
    program_before = escrow.program(program_id).dict()
    escrow_before = token.balanceOf(escrow)
    decide(escrow.forceRelease.encode_input(mid, REASON))
    program_after = escrow.program(program_id).dict()
    assert escrow.statusOf(mid) == RELEASED
    assert token.balanceOf(roles.beneficiary) == AMOUNT
    assert token.balanceOf(escrow) == escrow_before - AMOUNT
    assert program_after["balance"] == program_before["balance"] - AMOUNT
    assert program_after["committed"] == program_before["committed"] - AMOUNT


def test_force_release_records_the_reason_hash_then_the_release(
    escrow, roles, register, program_id, decide
):
    mid = register()
    run = decide(escrow.forceRelease.encode_input(mid, REASON))
    events = run.executed.events
    forced = events["MilestoneForceReleased"]
    assert (bytes(forced["milestoneId"]), bytes(forced["reasonHash"])) == (bytes(mid), REASON)
    paid = events["MilestoneReleased"]
    assert (bytes(paid["milestoneId"]), paid["programId"], paid["beneficiary"], paid["amount"]) == (
        bytes(mid),
        program_id,
        roles.beneficiary.address,
        AMOUNT,
    )
    assert [e.name for e in events] == [
        "ProposalExecuted",
        "MilestoneForceReleased",
        "MilestoneReleased",
        "Transfer",
    ]


@pytest.mark.parametrize("state", ["registered", "verified", "frozen", "disputed"])
def test_force_release_pays_an_unpaid_milestone_in_any_open_state(
    escrow, token, roles, register, verified, frozen, disputed, decide, state
):
    make = {"registered": register, "verified": verified, "frozen": frozen, "disputed": disputed}
    mid = make[state]()
    decide(escrow.forceRelease.encode_input(mid, REASON))
    assert escrow.statusOf(mid) == RELEASED
    assert token.balanceOf(roles.beneficiary) == AMOUNT


def test_force_release_works_while_the_escrow_is_paused(
    escrow, token, council, members, roles, register, decide
):
    mid = register()
    council.emergencyPause({"from": members[0]})
    decide(escrow.forceRelease.encode_input(mid, REASON))
    assert escrow.paused()
    assert token.balanceOf(roles.beneficiary) == AMOUNT


def test_force_release_pays_only_once(escrow, token, council, members, roles, register, propose):
    mid = register()
    data = escrow.forceRelease.encode_input(mid, REASON)
    first = propose(data).return_value
    second = propose(data).return_value
    for pid in (first, second):
        council.approve(pid, {"from": members[0]})
    council.approveAndExecute(first, data, {"from": members[1]})
    with brownie.reverts(_status_error(mid, RELEASED)):
        council.approveAndExecute(second, data, {"from": members[1]})
    assert token.balanceOf(roles.beneficiary) == AMOUNT


# --------------------------------------------------------------------------- replaceBeneficiary


def test_replace_beneficiary_through_the_council_redirects_the_release(
    escrow, token, roles, verified, decide
):
    mid = verified()
    run = decide(escrow.replaceBeneficiary.encode_input(mid, roles.beneficiary2))
    event = run.executed.events["BeneficiaryReplaced"]
    assert (bytes(event["milestoneId"]), event["previous"], event["beneficiary"]) == (
        bytes(mid),
        roles.beneficiary.address,
        roles.beneficiary2.address,
    )
    assert escrow.milestone(mid).dict()["beneficiary"] == roles.beneficiary2
    _sleep(CHALLENGE_WINDOW + 1)
    tx = escrow.release(mid, {"from": roles.outsider})
    assert tx.events["MilestoneReleased"]["beneficiary"] == roles.beneficiary2
    assert token.balanceOf(roles.beneficiary2) == AMOUNT
    assert token.balanceOf(roles.beneficiary) == 0


def test_replace_beneficiary_of_a_paid_milestone_is_refused(
    escrow, council, members, roles, released, propose
):
    mid = released()
    data = escrow.replaceBeneficiary.encode_input(mid, roles.beneficiary2)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(_status_error(mid, RELEASED)):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert escrow.milestone(mid).dict()["beneficiary"] == roles.beneficiary


def test_replace_beneficiary_with_the_zero_address_is_refused(
    escrow, council, members, roles, register, propose
):
    mid = register()
    data = escrow.replaceBeneficiary.encode_input(mid, "0x" + "00" * 20)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts("Escrow_ZeroAddress: beneficiary"):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert escrow.milestone(mid).dict()["beneficiary"] == roles.beneficiary


# --------------------------------------------------------------------------- resolveDispute


def test_resolve_dispute_through_the_council_verifies_the_chosen_hash(escrow, disputed, decide):
    mid = disputed()
    chosen = evidence("second")
    run = decide(escrow.resolveDispute.encode_input(mid, chosen))
    view = escrow.milestone(mid).dict()
    assert view["status"] == VERIFIED
    assert bytes(view["evidenceHash"]) == chosen
    assert view["verifiedAt"] == run.executed.timestamp
    event = run.executed.events["DisputeResolved"]
    assert (bytes(event["milestoneId"]), bytes(event["evidenceHash"])) == (bytes(mid), chosen)


def test_after_resolve_dispute_the_challenge_window_starts_from_the_decision(
    escrow, token, roles, disputed, decide
):
    mid = disputed()
    _sleep(2 * CHALLENGE_WINDOW)
    run = decide(escrow.resolveDispute.encode_input(mid, evidence("first")))
    due = run.executed.timestamp + CHALLENGE_WINDOW
    assert escrow.releasableAt(mid) == due
    with brownie.reverts(f"Escrow_ChallengeWindowOpen: {b32(mid)}, {due}"):
        escrow.release(mid, {"from": roles.outsider})
    _sleep(CHALLENGE_WINDOW + 1)
    escrow.release(mid, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) == AMOUNT


def test_resolve_dispute_of_a_milestone_that_is_not_disputed_is_refused(
    escrow, council, members, verified, propose
):
    mid = verified()
    data = escrow.resolveDispute.encode_input(mid, evidence("other"))
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(_status_error(mid, VERIFIED)):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert bytes(escrow.milestone(mid).dict()["evidenceHash"]) == evidence("bundle-1")


def test_a_disputed_milestone_stays_disputed_until_the_council_decides(escrow, roles, disputed):
    mid = disputed()
    _sleep(CHALLENGE_WINDOW + 1)
    with brownie.reverts(_status_error(mid, DISPUTED)):
        escrow.release(mid, {"from": roles.outsider})


# --------------------------------------------------------------------------- setCommittee


def test_set_committee_through_the_council_starts_a_new_epoch(escrow, oracles, decide):
    new = [o.address for o in oracles[2:5]]
    run = decide(escrow.setCommittee.encode_input(new, 3))
    committee, quorum, epoch = escrow.committee()
    assert (list(committee), int(quorum), int(epoch)) == (new, 3, 2)
    event = run.executed.events["CommitteeUpdated"]
    assert (event["epoch"], list(event["oracles"]), event["quorum"]) == (2, new, 3)


def test_after_a_committee_change_a_removed_oracle_can_no_longer_attest(
    escrow, oracles, register, decide
):
    mid = register()
    decide(escrow.setCommittee.encode_input(oracles[2:5], 2))
    with brownie.reverts(f"Escrow_NotOracle: {addr(oracles[0])}"):
        escrow.attest(mid, evidence(), 2, 0, {"from": oracles[0]})
    escrow.attest(mid, evidence(), 2, 0, {"from": oracles[4]})
    assert escrow.hasAttested(mid, oracles[4])


def test_set_committee_with_a_quorum_above_its_size_is_refused(
    escrow, council, members, oracles, propose
):
    data = escrow.setCommittee.encode_input(oracles[2:5], 4)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts("Escrow_InvalidQuorum: 4, 3"):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert escrow.committee()[2] == 1


# --------------------------------------------------------------------------- roles


def test_grant_program_manager_role_through_the_council_lets_the_account_create_programs(
    escrow, council, token, roles, decide
):
    run = decide(escrow.grantRole.encode_input(PROGRAM_MANAGER_ROLE, roles.outsider))
    event = run.executed.events["RoleGranted"]
    assert (bytes(event["role"]), event["account"], event["sender"]) == (
        PROGRAM_MANAGER_ROLE,
        roles.outsider.address,
        council.address,
    )
    assert escrow.hasRole(PROGRAM_MANAGER_ROLE, roles.outsider)
    tx = escrow.createProgram(token, roles.treasury, DAY, FACTS, {"from": roles.outsider})
    assert escrow.program(tx.return_value).dict()["manager"] == roles.outsider


def test_revoke_program_manager_role_through_the_council_cuts_the_manager_off(
    escrow, council, token, roles, program_id, decide
):
    run = decide(escrow.revokeRole.encode_input(PROGRAM_MANAGER_ROLE, roles.manager))
    event = run.executed.events["RoleRevoked"]
    assert (bytes(event["role"]), event["account"], event["sender"]) == (
        PROGRAM_MANAGER_ROLE,
        roles.manager.address,
        council.address,
    )
    assert not escrow.hasRole(PROGRAM_MANAGER_ROLE, roles.manager)
    with brownie.reverts(unauthorized(roles.manager, PROGRAM_MANAGER_ROLE)):
        escrow.createProgram(token, roles.treasury, DAY, FACTS, {"from": roles.manager})
    extra = milestone_input("PO-1/after-revoke", roles.beneficiary, AMOUNT)
    with brownie.reverts(f"Escrow_NotProgramManager: {program_id}, {addr(roles.manager)}"):
        escrow.registerMilestone(program_id, extra, {"from": roles.manager})


# --------------------------------------------------------------------------- setChallengeWindow


def test_set_challenge_window_through_the_council_moves_the_release_time(
    escrow, roles, verified, program_id, decide
):
    mid = verified()
    verified_at = escrow.milestone(mid).dict()["verifiedAt"]
    window = 3 * DAY
    run = decide(escrow.setChallengeWindow.encode_input(program_id, window))
    event = run.executed.events["ChallengeWindowSet"]
    assert (event["programId"], event["challengeWindow"]) == (program_id, window)
    assert escrow.program(program_id).dict()["challengeWindow"] == window
    assert escrow.releasableAt(mid) == verified_at + window
    _sleep(CHALLENGE_WINDOW + 1)
    with brownie.reverts(f"Escrow_ChallengeWindowOpen: {b32(mid)}, {verified_at + window}"):
        escrow.release(mid, {"from": roles.outsider})


def test_a_challenge_window_of_zero_makes_a_milestone_verified_afterwards_releasable_at_once(
    escrow, token, roles, verified, program_id, decide
):
    # Issue 11 item 9: a shorter window applies to milestones verified after the change (one
    # verified before keeps its running window: see test_challenge_window_changes.py).
    decide(escrow.setChallengeWindow.encode_input(program_id, 0))
    chain.sleep(1)
    mid = verified()
    escrow.release(mid, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) == AMOUNT


def test_a_challenge_window_above_the_maximum_is_refused(
    escrow, council, members, program_id, propose
):
    data = escrow.setChallengeWindow.encode_input(program_id, MAX_CHALLENGE_WINDOW + 1)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(
        f"Escrow_ChallengeWindowTooLong: {MAX_CHALLENGE_WINDOW + 1}, {MAX_CHALLENGE_WINDOW}"
    ):
        council.approveAndExecute(pid, data, {"from": members[1]})
    assert escrow.program(program_id).dict()["challengeWindow"] == CHALLENGE_WINDOW


def test_a_challenge_window_for_an_unknown_program_is_refused(escrow, council, members, propose):
    data = escrow.setChallengeWindow.encode_input(99, DAY)
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts("Escrow_UnknownProgram: 99"):
        council.approveAndExecute(pid, data, {"from": members[1]})


# --------------------------------------------------------------------------- pause and unpause


def test_pause_through_a_proposal_pauses_the_escrow(escrow, council, decide):
    run = decide(escrow.pause.encode_input())
    assert escrow.paused()
    assert run.executed.events["Paused"]["account"] == council.address


def test_unpause_through_a_proposal_resumes_the_escrow(
    escrow, council, members, token, roles, program_id, decide
):
    council.emergencyPause({"from": members[0]})
    run = decide(escrow.unpause.encode_input())
    assert not escrow.paused()
    assert run.executed.events["Unpaused"]["account"] == council.address
    token.approve(escrow, TOKEN_UNIT, {"from": roles.funder})
    escrow.fund(program_id, TOKEN_UNIT, {"from": roles.funder})
    assert escrow.program(program_id).dict()["balance"] == PROGRAM_FUNDS + TOKEN_UNIT


def test_one_approval_does_not_unpause_the_escrow(escrow, council, members, propose):
    council.emergencyPause({"from": members[0]})
    data = escrow.unpause.encode_input()
    pid = propose(data).return_value
    council.approve(pid, {"from": members[0]})
    with brownie.reverts(f"Council_ThresholdNotReached: {pid}, 1, 2"):
        council.execute(pid, data, {"from": members[0]})
    assert escrow.paused()


# --------------------------------------------------------------------------- emergency brake


@pytest.mark.parametrize("index", [0, 1, 2])
def test_any_single_member_pauses_the_escrow_at_once(escrow, council, members, index):
    member = members[index]
    tx = council.emergencyPause({"from": member})
    assert escrow.paused()
    assert tx.events["EmergencyPause"]["member"] == member.address
    assert tx.events["Paused"]["account"] == council.address
    assert council.proposalCount() == 0


def test_while_paused_funding_is_refused(escrow, council, members, token, roles, program_id):
    council.emergencyPause({"from": members[2]})
    token.approve(escrow, TOKEN_UNIT, {"from": roles.funder})
    with brownie.reverts("EnforcedPause: "):
        escrow.fund(program_id, TOKEN_UNIT, {"from": roles.funder})
    assert escrow.program(program_id).dict()["balance"] == PROGRAM_FUNDS


def test_while_paused_release_is_refused(escrow, council, members, token, roles, verified):
    mid = verified()
    _sleep(CHALLENGE_WINDOW + 1)
    council.emergencyPause({"from": members[1]})
    with brownie.reverts("EnforcedPause: "):
        escrow.release(mid, {"from": roles.outsider})
    assert escrow.statusOf(mid) == VERIFIED
    assert token.balanceOf(roles.beneficiary) == 0


@pytest.mark.parametrize("who", ["manager", "oracle", "outsider", "former_deployer"])
def test_a_non_member_cannot_pull_the_emergency_brake(escrow, council, caller_of, who):
    account = caller_of[who]
    with brownie.reverts(f"Council_NotMember: {addr(account)}"):
        council.emergencyPause({"from": account})
    assert not escrow.paused()


def test_the_emergency_brake_on_a_paused_escrow_is_refused(escrow, council, members):
    council.emergencyPause({"from": members[0]})
    with brownie.reverts("EnforcedPause: "):
        council.emergencyPause({"from": members[1]})
    assert escrow.paused()


def test_a_member_cannot_unpause_the_escrow_directly(escrow, council, members):
    council.emergencyPause({"from": members[0]})
    for member in members:
        with brownie.reverts(unauthorized(member)):
            escrow.unpause({"from": member})
    assert escrow.paused()


def test_a_member_cannot_pause_the_escrow_directly_only_through_the_council(escrow, members):
    with brownie.reverts(unauthorized(members[0])):
        escrow.pause({"from": members[0]})
    assert not escrow.paused()


def test_an_attestation_while_paused_is_refused(escrow, council, members, oracles, register):
    mid = register()
    council.emergencyPause({"from": members[0]})
    with brownie.reverts("EnforcedPause: "):
        escrow.attest(mid, evidence(), 1, 0, {"from": oracles[0]})
    assert escrow.statusOf(mid) == REGISTERED

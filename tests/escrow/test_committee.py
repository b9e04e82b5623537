"""Administration: setCommittee, committee(), pause/unpause, and grantRole/revokeRole of
PROGRAM_MANAGER_ROLE.

setCommittee
├── when the caller lacks DEFAULT_ADMIN_ROLE (manager, outsider, oracle, beneficiary): refused
│   (AccessControlUnauthorizedAccount), committee unchanged
└── when the caller is the admin
    ├── when the committee is empty or above MAX_COMMITTEE_SIZE: refused
    │   (Escrow_InvalidCommitteeSize)
    ├── when the committee has exactly MAX_COMMITTEE_SIZE members: set
    ├── when the quorum is zero or above the size: refused (Escrow_InvalidQuorum)
    ├── when the quorum equals the size: set
    ├── when an oracle appears twice: refused (Escrow_DuplicateOracle), committee unchanged
    ├── when an oracle is the zero address: refused (Escrow_ZeroAddress "oracle")
    ├── when the epoch is at its maximum: refused (Escrow_EpochOverflow)
    ├── when paused: set (rotation is an emergency tool)
    └── otherwise: committee and quorum replaced, epoch + 1 every time, CommitteeUpdated;
        ├── current members may take new seats
        ├── a removed oracle's seat is cleared: its attestations are refused (Escrow_NotOracle),
        │   directly and when relayed
        ├── a new member can attest
        └── attestations naming the old epoch are refused (Escrow_WrongEpoch)
committee
└── returns the deployed committee (three oracles, quorum 2, epoch 1)
pause
├── when the caller lacks DEFAULT_ADMIN_ROLE: refused (AccessControlUnauthorizedAccount)
├── when already paused: refused (EnforcedPause)
└── otherwise: paused, Paused; every operation (createProgram, fund, closeProgram,
    withdrawRemainder, registerMilestone(s), amendMilestone, attest, attestWithSignatures, release,
    expire) refused with EnforcedPause
unpause
├── when the caller lacks DEFAULT_ADMIN_ROLE: refused (AccessControlUnauthorizedAccount)
├── when not paused: refused (ExpectedPause)
└── otherwise: unpaused, Unpaused; every operation above succeeds again
grantRole / revokeRole (PROGRAM_MANAGER_ROLE)
├── when the caller lacks DEFAULT_ADMIN_ROLE (a manager, outsider, oracle): refused
├── grant by the admin: the account may create programs, RoleGranted; a second grant emits nothing
├── revoke by the admin: the account may no longer create programs or manage its own, RoleRevoked
└── grant after revoke: the manager manages its old programs again
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import brownie
import pytest
from brownie import ZERO_ADDRESS, accounts, chain, web3

from tests.conftest import CHALLENGE_WINDOW, DAY, TOKEN_UNIT, error, evidence, milestone_input
from tests.programs import FACTS

NOT_ADMINS = ["manager", "outsider", "oracle", "beneficiary"]
DEFAULT_ADMIN_ROLE = bytes(32)

# MilestoneStatus
REGISTERED = 1


def block_time() -> int:
    """The latest block's timestamp (chain.time() can run ahead of anvil after a revert)."""
    return int(web3.eth.get_block("latest")["timestamp"])


def sleep_past(moment: int) -> None:
    """Moves the chain's clock past `moment` and mines a block there."""
    chain.sleep(max(moment - block_time(), 0) + 1)
    chain.mine()


def addresses(count: int) -> list[str]:
    """`count` distinct non-zero addresses."""
    return [web3.to_checksum_address(f"0x{i:040x}") for i in range(1, count + 1)]


@pytest.fixture(scope="module")
def actors(roles: Any, oracles: list[Any]) -> dict[str, Any]:
    return {
        "manager": roles.manager,
        "outsider": roles.outsider,
        "oracle": oracles[0],
        "beneficiary": roles.beneficiary,
    }


def committee_of(escrow: Any) -> tuple[list[str], int, int]:
    members, quorum, epoch = escrow.committee()
    return [str(m) for m in members], int(quorum), int(epoch)


# --------------------------------------------------------------------------------------------
# setCommittee and committee()
# --------------------------------------------------------------------------------------------


def test_committee_returns_the_deployed_committee(escrow, oracles):
    assert committee_of(escrow) == ([o.address for o in oracles[:3]], 2, 1)


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_set_committee_refused_without_admin_role(escrow, oracles, actors, who):
    caller = actors[who]
    before = committee_of(escrow)
    with brownie.reverts(error("AccessControlUnauthorizedAccount", caller, DEFAULT_ADMIN_ROLE)):
        escrow.setCommittee(oracles[2:5], 1, {"from": caller})
    assert committee_of(escrow) == before


def test_set_committee_refuses_empty_committee(escrow, roles):
    with brownie.reverts(error("Escrow_InvalidCommitteeSize", 0, 16)):
        escrow.setCommittee([], 1, {"from": roles.admin})


def test_set_committee_refuses_more_than_maximum_members(escrow, roles):
    assert escrow.MAX_COMMITTEE_SIZE() == 16
    with brownie.reverts(error("Escrow_InvalidCommitteeSize", 17, 16)):
        escrow.setCommittee(addresses(17), 1, {"from": roles.admin})


def test_set_committee_accepts_maximum_members_and_full_quorum(escrow, roles):
    members = addresses(16)
    escrow.setCommittee(members, 16, {"from": roles.admin})
    assert committee_of(escrow) == (members, 16, 2)


def test_set_committee_refuses_zero_quorum(escrow, roles, oracles):
    with brownie.reverts(error("Escrow_InvalidQuorum", 0, 3)):
        escrow.setCommittee(oracles[:3], 0, {"from": roles.admin})


def test_set_committee_refuses_quorum_above_size(escrow, roles, oracles):
    with brownie.reverts(error("Escrow_InvalidQuorum", 4, 3)):
        escrow.setCommittee(oracles[:3], 4, {"from": roles.admin})


def test_set_committee_refuses_duplicate_oracle(escrow, roles, oracles):
    before = committee_of(escrow)
    with brownie.reverts(error("Escrow_DuplicateOracle", oracles[3])):
        escrow.setCommittee([oracles[3], oracles[4], oracles[3]], 2, {"from": roles.admin})
    assert committee_of(escrow) == before


def test_set_committee_refused_duplicate_leaves_old_seats_in_place(
    escrow, roles, oracles, register
):
    with brownie.reverts(error("Escrow_DuplicateOracle", oracles[3])):
        escrow.setCommittee([oracles[3], oracles[3]], 1, {"from": roles.admin})
    mid = register("PO-1/M1")
    escrow.attest(mid, evidence(), 1, 0, {"from": oracles[0]})
    assert escrow.hasAttested(mid, oracles[0]) is True


def test_set_committee_refuses_zero_address(escrow, roles, oracles):
    with brownie.reverts(error("Escrow_ZeroAddress", "oracle")):
        escrow.setCommittee([oracles[3], ZERO_ADDRESS], 1, {"from": roles.admin})


def _committee_slot(escrow: Any) -> int:
    """The storage slot packing (paused, epoch, quorum, programCount), found by its contents."""
    _, quorum, epoch = committee_of(escrow)
    paused = int(escrow.paused())
    count = int(escrow.programCount())
    for slot in range(32):
        word = int.from_bytes(web3.eth.get_storage_at(escrow.address, slot), "big")
        if (
            word & 0xFF == paused
            and (word >> 8) & 0xFFFF == epoch
            and (word >> 24) & 0xFF == quorum
            and (word >> 32) & (2**64 - 1) == count
        ):
            return slot
    raise AssertionError("storage layout changed: the epoch/quorum slot was not found")


def test_set_committee_refuses_when_epoch_is_exhausted(escrow, roles, oracles):
    slot = _committee_slot(escrow)
    word = int.from_bytes(web3.eth.get_storage_at(escrow.address, slot), "big")
    word |= 0xFFFF << 8
    web3.provider.make_request(
        "anvil_setStorageAt", [escrow.address, hex(slot), "0x" + word.to_bytes(32, "big").hex()]
    )
    assert escrow.committee()[2] == 2**16 - 1
    with brownie.reverts(error("Escrow_EpochOverflow")):
        escrow.setCommittee(oracles[:3], 2, {"from": roles.admin})


def test_set_committee_replaces_members_and_quorum(escrow, roles, oracles):
    escrow.setCommittee(oracles[2:5], 3, {"from": roles.admin})
    assert committee_of(escrow) == ([o.address for o in oracles[2:5]], 3, 2)


def test_set_committee_increments_epoch_by_one_each_time(escrow, roles, oracles):
    epochs = []
    for quorum in (1, 2, 3):
        escrow.setCommittee(oracles[:3], quorum, {"from": roles.admin})
        epochs.append(escrow.committee()[2])
    assert epochs == [2, 3, 4]


def test_set_committee_emits_committee_updated(escrow, roles, oracles):
    tx = escrow.setCommittee(oracles[1:5], 3, {"from": roles.admin})
    event = tx.events["CommitteeUpdated"]
    assert event["epoch"] == 2
    assert [str(a) for a in event["oracles"]] == [o.address for o in oracles[1:5]]
    assert event["quorum"] == 3


def test_set_committee_works_while_paused(escrow, roles, oracles):
    escrow.pause({"from": roles.admin})
    escrow.setCommittee(oracles[2:5], 2, {"from": roles.admin})
    assert committee_of(escrow) == ([o.address for o in oracles[2:5]], 2, 2)


def test_set_committee_lets_current_members_take_new_seats(escrow, roles, oracles, register):
    escrow.setCommittee([oracles[2], oracles[0]], 1, {"from": roles.admin})
    mid = register("PO-1/M1")
    tx = escrow.attest(mid, evidence(), 2, 0, {"from": oracles[0]})
    assert "MilestoneVerified" in tx.events


def test_set_committee_clears_removed_oracle_seat(escrow, roles, oracles, register):
    mid = register("PO-1/M1")
    escrow.setCommittee(oracles[2:5], 2, {"from": roles.admin})
    with brownie.reverts(error("Escrow_NotOracle", oracles[0])):
        escrow.attest(mid, evidence(), 2, 0, {"from": oracles[0]})
    assert escrow.milestone(mid)["attestations"] == 0


def test_set_committee_refuses_relayed_signature_of_removed_oracle(
    escrow, roles, oracles, register, sign
):
    mid = register("PO-1/M1")
    escrow.setCommittee(oracles[2:5], 2, {"from": roles.admin})
    signature = sign(oracles[1], mid, evidence(), 2)
    with brownie.reverts(error("Escrow_NotOracle", oracles[1])):
        escrow.attestWithSignatures(2, [(mid, evidence(), [signature])], {"from": roles.outsider})


def test_set_committee_removed_oracle_no_longer_counts_as_attested(
    escrow, roles, oracles, register
):
    mid = register("PO-1/M1")
    escrow.attest(mid, evidence(), 1, 0, {"from": oracles[0]})
    escrow.setCommittee(oracles[2:5], 2, {"from": roles.admin})
    assert escrow.hasAttested(mid, oracles[0]) is False


def test_set_committee_new_member_can_attest(escrow, roles, oracles, register):
    mid = register("PO-1/M1")
    escrow.setCommittee(oracles[2:5], 2, {"from": roles.admin})
    tx = escrow.attest(mid, evidence(), 2, 0, {"from": oracles[4]})
    assert tx.events["AttestationRecorded"]["oracle"] == oracles[4]
    assert escrow.hasAttested(mid, oracles[4]) is True


def test_set_committee_makes_old_epoch_attestations_refused(escrow, roles, oracles, register):
    mid = register("PO-1/M1")
    escrow.setCommittee(oracles[:3], 2, {"from": roles.admin})
    with brownie.reverts(error("Escrow_WrongEpoch", 1, 2)):
        escrow.attest(mid, evidence(), 1, 0, {"from": oracles[0]})


# --------------------------------------------------------------------------------------------
# pause / unpause
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_pause_refused_without_admin_role(escrow, actors, who):
    caller = actors[who]
    with brownie.reverts(error("AccessControlUnauthorizedAccount", caller, DEFAULT_ADMIN_ROLE)):
        escrow.pause({"from": caller})
    assert escrow.paused() is False


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_unpause_refused_without_admin_role(escrow, roles, actors, who):
    escrow.pause({"from": roles.admin})
    caller = actors[who]
    with brownie.reverts(error("AccessControlUnauthorizedAccount", caller, DEFAULT_ADMIN_ROLE)):
        escrow.unpause({"from": caller})
    assert escrow.paused() is True


def test_pause_refused_when_already_paused(escrow, roles):
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        escrow.pause({"from": roles.admin})


def test_unpause_refused_when_not_paused(escrow, roles):
    with brownie.reverts("ExpectedPause: "):
        escrow.unpause({"from": roles.admin})


def test_pause_sets_paused_and_emits_paused(escrow, roles):
    tx = escrow.pause({"from": roles.admin})
    assert escrow.paused() is True
    assert tx.events["Paused"]["account"] == roles.admin


def test_unpause_clears_paused_and_emits_unpaused(escrow, roles):
    escrow.pause({"from": roles.admin})
    tx = escrow.unpause({"from": roles.admin})
    assert escrow.paused() is False
    assert tx.events["Unpaused"]["account"] == roles.admin


# Each operation, prepared so that it would succeed unpaused, with the event its success emits.
OPERATIONS = {
    "createProgram": "ProgramCreated",
    "fund": "ProgramFunded",
    "closeProgram": "ProgramClosed",
    "withdrawRemainder": "RemainderWithdrawn",
    "registerMilestone": "MilestoneRegistered",
    "registerMilestones": "MilestoneRegistered",
    "amendMilestone": "MilestoneAmended",
    "attest": "AttestationRecorded",
    "attestWithSignatures": "AttestationRecorded",
    "release": "MilestoneReleased",
    "expire": "MilestoneExpired",
}


@pytest.fixture
def prepare(
    escrow, token, roles, oracles, program_id, register, sign
) -> Callable[[str], Callable[[], Any]]:
    """Sets the chain up so that `operation` would succeed, and returns the call making it."""

    def _prepare(operation: str) -> Callable[[], Any]:
        manager = {"from": roles.manager}
        epoch = escrow.committee()[2]
        if operation == "createProgram":
            return lambda: escrow.createProgram(token, roles.treasury, 0, FACTS, manager)
        if operation == "fund":
            token.approve(escrow, TOKEN_UNIT, {"from": roles.funder})
            return lambda: escrow.fund(program_id, TOKEN_UNIT, {"from": roles.funder})
        if operation == "closeProgram":
            return lambda: escrow.closeProgram(program_id, manager)
        if operation == "withdrawRemainder":
            escrow.closeProgram(program_id, manager)
            return lambda: escrow.withdrawRemainder(program_id, manager)
        if operation == "registerMilestone":
            terms = milestone_input("PO-1/M9", roles.beneficiary, TOKEN_UNIT)
            return lambda: escrow.registerMilestone(program_id, terms, manager)
        if operation == "registerMilestones":
            terms = milestone_input("PO-1/M9", roles.beneficiary, TOKEN_UNIT)
            return lambda: escrow.registerMilestones(program_id, [terms], manager)
        if operation == "amendMilestone":
            mid = register("PO-1/M1")
            deadline = block_time() + 60 * DAY
            return lambda: escrow.amendMilestone(
                mid, roles.beneficiary2, TOKEN_UNIT, deadline, evidence("spec"), manager
            )
        if operation == "attest":
            mid = register("PO-1/M1")
            return lambda: escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
        if operation == "attestWithSignatures":
            mid = register("PO-1/M1")
            signature = sign(oracles[1], mid, evidence())
            return lambda: escrow.attestWithSignatures(
                epoch, [(mid, evidence(), [signature])], {"from": roles.outsider}
            )
        if operation == "release":
            mid = register("PO-1/M1")
            escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
            escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[1]})
            sleep_past(escrow.releasableAt(mid))
            return lambda: escrow.release(mid, {"from": roles.outsider})
        if operation == "expire":
            deadline = block_time() + DAY
            mid = register("PO-1/M1", deadline=deadline)
            sleep_past(deadline)
            return lambda: escrow.expire(mid, {"from": roles.outsider})
        raise AssertionError(f"no preparation for {operation}")

    return _prepare


@pytest.mark.parametrize("operation", OPERATIONS)
def test_pause_blocks_operation(escrow, roles, prepare, operation):
    call = prepare(operation)
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        call()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_unpause_restores_operation(escrow, roles, prepare, operation):
    call = prepare(operation)
    escrow.pause({"from": roles.admin})
    escrow.unpause({"from": roles.admin})
    tx = call()
    assert tx.status == 1
    assert OPERATIONS[operation] in tx.events


def test_pause_keeps_balances_and_commitments(escrow, token, roles, program_id, prepare):
    call = prepare("release")
    before = (escrow.program(program_id), token.balanceOf(roles.beneficiary))
    escrow.pause({"from": roles.admin})
    with brownie.reverts("EnforcedPause: "):
        call()
    assert (escrow.program(program_id), token.balanceOf(roles.beneficiary)) == before


# --------------------------------------------------------------------------------------------
# grantRole / revokeRole of PROGRAM_MANAGER_ROLE
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def newcomer() -> Any:
    return accounts[8]


def test_program_manager_role_is_administered_by_default_admin(escrow):
    assert escrow.getRoleAdmin(escrow.PROGRAM_MANAGER_ROLE()) == "0x" + DEFAULT_ADMIN_ROLE.hex()


@pytest.mark.parametrize("who", ["manager", "outsider", "oracle"])
def test_grant_manager_role_refused_without_admin_role(escrow, actors, newcomer, who):
    caller = actors[who]
    role = escrow.PROGRAM_MANAGER_ROLE()
    with brownie.reverts(error("AccessControlUnauthorizedAccount", caller, DEFAULT_ADMIN_ROLE)):
        escrow.grantRole(role, newcomer, {"from": caller})
    assert escrow.hasRole(role, newcomer) is False


@pytest.mark.parametrize("who", ["manager", "outsider", "oracle"])
def test_revoke_manager_role_refused_without_admin_role(escrow, roles, actors, other, who):
    caller = actors[who]
    role = escrow.PROGRAM_MANAGER_ROLE()
    with brownie.reverts(error("AccessControlUnauthorizedAccount", caller, DEFAULT_ADMIN_ROLE)):
        escrow.revokeRole(role, other, {"from": caller})
    assert escrow.hasRole(role, other) is True


@pytest.fixture(scope="module")
def other(escrow: Any, roles: Any) -> Any:
    """A second program manager."""
    account = accounts[7]
    escrow.grantRole(escrow.PROGRAM_MANAGER_ROLE(), account, {"from": roles.admin})
    return account


def test_grant_manager_role_lets_account_create_programs(escrow, token, roles, newcomer):
    escrow.grantRole(escrow.PROGRAM_MANAGER_ROLE(), newcomer, {"from": roles.admin})
    tx = escrow.createProgram(token, roles.treasury, CHALLENGE_WINDOW, FACTS, {"from": newcomer})
    assert escrow.program(tx.return_value)["manager"] == newcomer


def test_grant_manager_role_emits_role_granted(escrow, roles, newcomer):
    role = escrow.PROGRAM_MANAGER_ROLE()
    tx = escrow.grantRole(role, newcomer, {"from": roles.admin})
    event = tx.events["RoleGranted"]
    assert event["role"] == role
    assert event["account"] == newcomer
    assert event["sender"] == roles.admin


def test_grant_manager_role_twice_emits_nothing_the_second_time(escrow, roles, newcomer):
    role = escrow.PROGRAM_MANAGER_ROLE()
    escrow.grantRole(role, newcomer, {"from": roles.admin})
    tx = escrow.grantRole(role, newcomer, {"from": roles.admin})
    assert "RoleGranted" not in tx.events
    assert escrow.hasRole(role, newcomer) is True


def test_revoke_manager_role_stops_program_creation(escrow, token, roles, other):
    role = escrow.PROGRAM_MANAGER_ROLE()
    escrow.revokeRole(role, other, {"from": roles.admin})
    assert escrow.hasRole(role, other) is False
    with brownie.reverts(error("AccessControlUnauthorizedAccount", other, role)):
        escrow.createProgram(token, roles.treasury, 0, FACTS, {"from": other})


def test_revoke_manager_role_stops_managing_own_program(escrow, token, roles, other):
    pid = escrow.createProgram(token, roles.treasury, 0, FACTS, {"from": other}).return_value
    escrow.revokeRole(escrow.PROGRAM_MANAGER_ROLE(), other, {"from": roles.admin})
    with brownie.reverts(error("Escrow_NotProgramManager", pid, other)):
        escrow.closeProgram(pid, {"from": other})
    assert escrow.program(pid)["closed"] is False


def test_revoke_manager_role_emits_role_revoked(escrow, roles, other):
    role = escrow.PROGRAM_MANAGER_ROLE()
    tx = escrow.revokeRole(role, other, {"from": roles.admin})
    event = tx.events["RoleRevoked"]
    assert event["role"] == role
    assert event["account"] == other
    assert event["sender"] == roles.admin


def test_revoke_manager_role_leaves_other_managers_untouched(escrow, roles, other, register):
    escrow.revokeRole(escrow.PROGRAM_MANAGER_ROLE(), other, {"from": roles.admin})
    mid = register("PO-1/M1")
    assert escrow.statusOf(mid) == REGISTERED
    assert escrow.hasRole(escrow.PROGRAM_MANAGER_ROLE(), roles.manager) is True


def test_grant_after_revoke_restores_management_of_old_programs(escrow, token, roles, other):
    role = escrow.PROGRAM_MANAGER_ROLE()
    pid = escrow.createProgram(token, roles.treasury, 0, FACTS, {"from": other}).return_value
    escrow.revokeRole(role, other, {"from": roles.admin})
    escrow.grantRole(role, other, {"from": roles.admin})
    escrow.closeProgram(pid, {"from": other})
    assert escrow.program(pid)["closed"] is True

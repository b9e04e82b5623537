"""scripts/deploy.py: after `deploy()` no single key controls the escrow; the council does.

Branch tree (a test per leaf):

deploy(deployer, council_members, threshold, oracles, quorum, managers, with_token, evm_version)
├── admin hand-over
│   ├── the council holds DEFAULT_ADMIN_ROLE
│   ├── the deployer holds it no more (renounced: RoleRevoked(admin, deployer, deployer))
│   └── no council member's own account holds it
├── the former deployer, on every admin call ...... AccessControlUnauthorizedAccount(deployer, 0)
│   ├── setCommittee, pause, unpause, freeze, cancel, forceRelease, setChallengeWindow
│   └── grantRole (it cannot give itself the admin role back)
├── the council is configured
│   ├── members accounts[7..9], threshold 2, governs this escrow, no proposal yet
│   └── the escrow's committee (three oracles, quorum 2, epoch 1) and program manager
├── the deployment record
│   ├── names the council, the escrow and the token deployed
│   ├── network, chain id, deployment block (the escrow's), EVM version
│   └── survives save() and load()
├── with_token=False ...................................... no token, record.token is None
└── a threshold the members cannot reach
    ├── above the member count ............................ Council_InvalidThreshold(4, 3); the
    │                                                       escrow keeps its deployer as admin
    └── zero .............................................. Council_InvalidThreshold(0, 3)
"""

from __future__ import annotations

from typing import Any

import brownie
from brownie import MilestoneEscrow, chain, network

from disburse.chain.deployment import load, save
from scripts.deploy import deploy
from tests.council.conftest import (
    AMOUNT,
    CHALLENGE_WINDOW,
    PROGRAM_MANAGER_ROLE,
    ZERO_ROLE,
    unauthorized,
)

# --------------------------------------------------------------------------- admin hand-over


def test_the_council_holds_the_escrow_admin_role(escrow, council):
    assert escrow.hasRole(ZERO_ROLE, council)


def test_the_deployer_holds_no_admin_role_after_deploy(escrow, governed):
    assert not escrow.hasRole(ZERO_ROLE, governed.deployer)


def test_the_deployer_renounced_its_admin_role_in_a_recorded_event(escrow, governed):
    # The renunciation is the last admin-role event on the escrow: nobody was granted it since.
    granted = escrow.events.get_sequence(
        from_block=governed.record.deployment_block, event_type="RoleGranted"
    )
    revoked = escrow.events.get_sequence(
        from_block=governed.record.deployment_block, event_type="RoleRevoked"
    )
    admins = [e.args.account for e in granted if bytes(e.args.role) == ZERO_ROLE]
    assert admins == [governed.deployer.address, governed.council.address]
    assert [(e.args.account, e.args.sender) for e in revoked] == [
        (governed.deployer.address, governed.deployer.address)
    ]


def test_no_council_member_holds_the_admin_role_in_its_own_name(escrow, members):
    assert not any(escrow.hasRole(ZERO_ROLE, m) for m in members)


# --------------------------------------------------------------------------- former deployer


def test_the_former_deployer_can_no_longer_set_the_committee(escrow, governed, oracles):
    before = escrow.committee()
    with brownie.reverts(unauthorized(governed.deployer)):
        escrow.setCommittee(oracles[3:5], 1, {"from": governed.deployer})
    assert escrow.committee() == before


def test_the_former_deployer_can_no_longer_pause(escrow, governed):
    with brownie.reverts(unauthorized(governed.deployer)):
        escrow.pause({"from": governed.deployer})
    assert not escrow.paused()


def test_the_former_deployer_can_no_longer_unpause(escrow, council, governed, members):
    council.emergencyPause({"from": members[0]})
    with brownie.reverts(unauthorized(governed.deployer)):
        escrow.unpause({"from": governed.deployer})
    assert escrow.paused()


def test_the_former_deployer_can_no_longer_freeze(escrow, governed, verified):
    mid = verified()
    with brownie.reverts(unauthorized(governed.deployer)):
        escrow.freeze(mid, {"from": governed.deployer})
    assert escrow.statusOf(mid) == 2


def test_the_former_deployer_can_no_longer_cancel(escrow, governed, register, program_id):
    mid = register()
    with brownie.reverts(unauthorized(governed.deployer)):
        escrow.cancel(mid, {"from": governed.deployer})
    assert escrow.program(program_id)[6] == AMOUNT


def test_the_former_deployer_can_no_longer_force_release(escrow, token, governed, register, roles):
    mid = register()
    with brownie.reverts(unauthorized(governed.deployer)):
        escrow.forceRelease(mid, b"\x01" * 32, {"from": governed.deployer})
    assert token.balanceOf(roles.beneficiary) == 0


def test_the_former_deployer_can_no_longer_set_a_challenge_window(escrow, governed, program_id):
    with brownie.reverts(unauthorized(governed.deployer)):
        escrow.setChallengeWindow(program_id, 0, {"from": governed.deployer})
    assert escrow.program(program_id)[3] == CHALLENGE_WINDOW


def test_the_former_deployer_cannot_grant_itself_the_admin_role_back(escrow, governed):
    with brownie.reverts(unauthorized(governed.deployer)):
        escrow.grantRole(ZERO_ROLE, governed.deployer, {"from": governed.deployer})
    assert not escrow.hasRole(ZERO_ROLE, governed.deployer)


def test_the_former_deployer_cannot_grant_the_program_manager_role(escrow, governed, roles):
    with brownie.reverts(unauthorized(governed.deployer)):
        escrow.grantRole(PROGRAM_MANAGER_ROLE, roles.outsider, {"from": governed.deployer})
    assert not escrow.hasRole(PROGRAM_MANAGER_ROLE, roles.outsider)


# --------------------------------------------------------------------------- configuration


def test_the_council_has_the_configured_members_and_threshold(council, members):
    assert council.members() == list(members)
    assert council.threshold() == 2
    assert all(council.isMember(m) for m in members)


def test_the_council_governs_the_deployed_escrow_and_has_no_proposal_yet(council, escrow):
    assert council.escrow() == escrow.address
    assert council.proposalCount() == 0


def test_the_escrow_has_the_configured_committee_and_manager(escrow, oracles, roles):
    committee, quorum, epoch = escrow.committee()
    assert list(committee) == [o.address for o in oracles[:3]]
    assert (int(quorum), int(epoch)) == (2, 1)
    assert escrow.hasRole(PROGRAM_MANAGER_ROLE, roles.manager)


# --------------------------------------------------------------------------- the record


def test_the_deployment_record_names_the_council_escrow_and_token(governed):
    record = governed.record
    assert record.council == governed.council.address
    assert record.escrow == governed.escrow.address
    assert record.token == governed.token.address


def test_the_deployment_record_has_network_chain_block_and_evm_version(governed):
    record = governed.record
    assert record.network == network.show_active()
    assert record.chain_id == chain.id
    assert record.deployment_block == governed.escrow.tx.block_number
    assert record.evm_version == "cancun"


def test_the_deployment_record_survives_save_and_load(governed, tmp_path):
    path = tmp_path / "deployments" / "dev4.json"
    save(governed.record, path)
    assert load(path) == governed.record


# --------------------------------------------------------------------------- other inputs


def test_deploy_without_token_records_no_token(roles, members):
    record, escrow, council, token = deploy(
        deployer=roles.admin,
        council_members=[str(m) for m in members],
        threshold=3,
        with_token=False,
        evm_version="cancun",
    )
    assert token is None
    assert record.token is None
    assert council.threshold() == 3
    assert escrow.hasRole(ZERO_ROLE, council) and not escrow.hasRole(ZERO_ROLE, roles.admin)


def test_deploy_with_a_threshold_above_the_member_count_fails_before_the_hand_over(
    roles: Any, members: Any
) -> None:
    before = len(MilestoneEscrow)
    with brownie.reverts("Council_InvalidThreshold: 4, 3"):
        deploy(
            deployer=roles.admin,
            council_members=[str(m) for m in members],
            threshold=4,
            with_token=False,
            evm_version="cancun",
        )
    # The escrow got deployed but kept its deployer as admin: the script stops there.
    escrow = MilestoneEscrow[-1]
    assert len(MilestoneEscrow) == before + 1
    assert escrow.hasRole(ZERO_ROLE, roles.admin)


def test_deploy_with_a_zero_threshold_fails(roles, members):
    with brownie.reverts("Council_InvalidThreshold: 0, 3"):
        deploy(
            deployer=roles.admin,
            council_members=[str(m) for m in members],
            threshold=0,
            with_token=False,
            evm_version="cancun",
        )

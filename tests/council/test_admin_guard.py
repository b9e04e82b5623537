"""The escrow always keeps an admin: no proposal can remove the council's admin role unless
another admin exists, so the escrow can never be left unable to unpause or rotate its committee.

revokeRole / renounceRole (DEFAULT_ADMIN_ROLE)
├── when it would remove the last admin: refused (Escrow_LastAdmin), the council stays admin
└── when another admin exists (a new council was granted the role first): the old one can go
"""

import brownie
from brownie import OversightCouncil

from tests.council.conftest import ZERO_ROLE, addr


def test_council_cannot_revoke_its_own_last_admin_role(escrow, council, run_proposal):
    data = escrow.revokeRole.encode_input(ZERO_ROLE, council)
    with brownie.reverts(f"Escrow_LastAdmin: {addr(council)}"):
        run_proposal(data)
    assert escrow.hasRole(ZERO_ROLE, council)
    assert not council.proposal(council.proposalCount())[2]  # not executed


def test_council_cannot_renounce_its_last_admin_role(escrow, council, run_proposal):
    data = escrow.renounceRole.encode_input(ZERO_ROLE, council)
    with brownie.reverts(f"Escrow_LastAdmin: {addr(council)}"):
        run_proposal(data)
    assert escrow.hasRole(ZERO_ROLE, council)


def test_council_can_hand_admin_to_a_new_council_then_step_down(
    escrow, council, members, run_proposal, roles
):
    successor = OversightCouncil.deploy(escrow, list(members), 2, {"from": roles.admin})
    run_proposal(escrow.grantRole.encode_input(ZERO_ROLE, successor))
    run_proposal(escrow.revokeRole.encode_input(ZERO_ROLE, council))
    assert escrow.hasRole(ZERO_ROLE, successor)
    assert not escrow.hasRole(ZERO_ROLE, council)
    # The old council can no longer act on the escrow; the new one can.
    with brownie.reverts():
        run_proposal(escrow.pause.encode_input())
    successor.emergencyPause({"from": members[0]})
    assert escrow.paused()

"""Money cannot be stranded in the escrow, and a fee token cannot short-pay
(issue 11 items 6 and 7).

registerMilestone / registerMilestones / amendMilestone / replaceBeneficiary
├── beneficiary = the escrow → Escrow_InvalidBeneficiary, nothing stored
└── beneficiary = the program's token → Escrow_InvalidBeneficiary, nothing stored
createProgram / setProgramTreasury
└── treasury = the escrow → Escrow_InvalidTreasury, nothing stored
release / forceRelease / withdrawRemainder with a fee-on-transfer token
├── below 100 units (the 1 % fee rounds to zero) → paid whole
└── at 100 units and more (the fee bites) → Escrow_TransferShortfall, nothing changes
"""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from brownie import chain

from tests.conftest import error, evidence, milestone_input
from tests.programs import FACTS


def _view(escrow: Any, mid: bytes) -> dict[str, Any]:
    return dict(escrow.milestone(mid).dict())


@pytest.mark.parametrize("which", ["escrow", "token"])
def test_register_refuses_the_escrow_or_the_token_as_beneficiary(
    escrow, token, roles, program_id, which
):
    target = escrow if which == "escrow" else token
    before = escrow.program(program_id)
    with brownie.reverts(error("Escrow_InvalidBeneficiary", target)):
        escrow.registerMilestone(
            program_id, milestone_input("PO-6/M1", target, 10), {"from": roles.manager}
        )
    with brownie.reverts(error("Escrow_InvalidBeneficiary", target)):
        escrow.registerMilestones(
            program_id,
            [
                milestone_input("PO-6/M2", roles.beneficiary, 10),
                milestone_input("PO-6/M3", target, 10),
            ],
            {"from": roles.manager},
        )
    assert escrow.program(program_id) == before


@pytest.mark.parametrize("which", ["escrow", "token"])
def test_amend_refuses_the_escrow_or_the_token_as_beneficiary(
    escrow, token, roles, register, which
):
    target = escrow if which == "escrow" else token
    mid = register("PO-6/M1")
    before = _view(escrow, mid)
    with brownie.reverts(error("Escrow_InvalidBeneficiary", target)):
        escrow.amendMilestone(
            mid,
            target,
            before["amount"],
            before["deadline"],
            before["evidenceSpecHash"],
            {"from": roles.manager},
        )
    assert _view(escrow, mid) == before


@pytest.mark.parametrize("which", ["escrow", "token"])
def test_replace_beneficiary_refuses_the_escrow_or_the_token(escrow, token, roles, register, which):
    target = escrow if which == "escrow" else token
    mid = register("PO-6/M1")
    before = _view(escrow, mid)
    with brownie.reverts(error("Escrow_InvalidBeneficiary", target)):
        escrow.replaceBeneficiary(mid, target, {"from": roles.admin})
    assert _view(escrow, mid) == before


def test_create_program_refuses_the_escrow_as_treasury(escrow, token, roles):
    count = escrow.programCount()
    with brownie.reverts(error("Escrow_InvalidTreasury", escrow)):
        escrow.createProgram(token, escrow, 0, FACTS, {"from": roles.manager})
    assert escrow.programCount() == count


def test_set_program_treasury_refuses_the_escrow_and_zero(escrow, roles, program_id):
    before = escrow.program(program_id)
    with brownie.reverts(error("Escrow_InvalidTreasury", escrow)):
        escrow.setProgramTreasury(program_id, escrow, {"from": roles.admin})
    with brownie.reverts(error("Escrow_ZeroAddress", "treasury")):
        escrow.setProgramTreasury(
            program_id, "0x0000000000000000000000000000000000000000", {"from": roles.admin}
        )
    assert escrow.program(program_id) == before


# --------------------------------------------------------------------------- fee tokens


@pytest.fixture
def fee_program(escrow: Any, fee_token: Any, roles: Any) -> int:
    """A program in the 1 % fee token, funded with 99 units: the fee rounds to zero."""
    tx = escrow.createProgram(fee_token, roles.treasury, 0, FACTS, {"from": roles.manager})
    pid = int(tx.return_value)
    fee_token.approve(escrow, 10**6, {"from": roles.manager})
    escrow.fund(pid, 99, {"from": roles.manager})
    escrow.fund(pid, 99, {"from": roles.manager})
    return pid


def _verified(
    escrow: Any, roles: Any, oracles: list[Any], pid: int, ref: str, amount: int
) -> bytes:
    escrow.registerMilestone(
        pid, milestone_input(ref, roles.beneficiary, amount), {"from": roles.manager}
    )
    mid = escrow.milestoneIdOf(pid, milestone_input(ref, roles.beneficiary, amount)[0])
    epoch = escrow.committee()[2]
    for oracle in oracles[:2]:
        escrow.attest(mid, evidence(), epoch, 0, {"from": oracle})
    return mid


def test_a_fee_token_dust_funding_passes_and_a_dust_payout_arrives_whole(
    escrow, fee_token, roles, oracles, fee_program
):
    mid = _verified(escrow, roles, oracles, fee_program, "FEE/1", 99)
    escrow.release(mid, {"from": roles.outsider})
    assert fee_token.balanceOf(roles.beneficiary) == 99


def test_a_fee_token_payout_that_would_short_pay_is_refused(
    escrow, fee_token, roles, oracles, fee_program
):
    # 100 units with a 1 % fee: the beneficiary would get 99 while the event said 100.
    mid = _verified(escrow, roles, oracles, fee_program, "FEE/1", 100)
    program_before, held = escrow.program(fee_program), fee_token.balanceOf(escrow)
    with brownie.reverts(error("Escrow_TransferShortfall", fee_token, roles.beneficiary, 100, 99)):
        escrow.release(mid, {"from": roles.outsider})
    with brownie.reverts(error("Escrow_TransferShortfall", fee_token, roles.beneficiary, 100, 99)):
        escrow.releaseBatch([mid], {"from": roles.outsider})
    with brownie.reverts(error("Escrow_TransferShortfall", fee_token, roles.beneficiary, 100, 99)):
        escrow.forceRelease(mid, b"\x01" * 32, {"from": roles.admin})
    assert escrow.statusOf(mid) == 2  # still Verified
    assert escrow.program(fee_program) == program_before
    assert fee_token.balanceOf(escrow) == held
    assert fee_token.balanceOf(roles.beneficiary) == 0


def test_a_fee_token_refund_that_would_short_pay_is_refused(escrow, fee_token, roles, fee_program):
    escrow.closeProgram(fee_program, {"from": roles.manager})
    before = escrow.program(fee_program)
    with brownie.reverts(error("Escrow_TransferShortfall", fee_token, roles.treasury, 198, 197)):
        escrow.withdrawRemainder(fee_program, {"from": roles.manager})
    assert escrow.program(fee_program) == before
    assert fee_token.balanceOf(roles.treasury) == 0
    chain.mine()

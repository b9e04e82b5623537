"""The happy path end to end: register, two attestations (one relayed), window, release."""

from brownie import chain

from tests.conftest import CHALLENGE_WINDOW, TOKEN_UNIT, evidence


def test_quorum_then_window_then_release_pays_beneficiary(
    escrow, token, roles, oracles, register, sign
):
    mid = register("PO-1/M1", 1_000 * TOKEN_UNIT)
    epoch = escrow.committee()[2]
    escrow.attest(mid, evidence(), epoch, 0, {"from": oracles[0]})
    sig = sign(oracles[1], mid, evidence())
    tx = escrow.attestWithSignatures(epoch, [(mid, evidence(), [sig])], {"from": roles.outsider})
    assert "MilestoneVerified" in tx.events
    chain.sleep(CHALLENGE_WINDOW + 1)
    before = token.balanceOf(roles.beneficiary)
    escrow.release(mid, {"from": roles.outsider})
    assert token.balanceOf(roles.beneficiary) - before == 1_000 * TOKEN_UNIT

"""The watcher in process against the escrow on anvil: it schedules what quorum verified and
pays what is due in releaseBatch transactions (or one release each), skipping what another
node paid meanwhile, and confirms this node's relayed attestations from their events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from brownie import accounts, chain, web3
from eth_account import Account

from disburse.chain.client import ChainClient
from disburse.chain.escrow import Escrow
from disburse.chain.profile import ChainProfile
from oracle.journal import Journal
from oracle.metrics import Metrics
from oracle.watcher import Watcher
from tests.conftest import TOKEN_UNIT, evidence
from tests.programs import FACTS

AMOUNT = 1_000 * TOKEN_UNIT


def make_watcher(
    tmp_path: Path, escrow: Any, oracle: Any, *, batch: int, release: bool = True
) -> tuple[Watcher, Journal, Metrics]:
    client = ChainClient(
        ChainProfile(name="test", rpc_url=web3.provider.endpoint_uri, chain_id=chain.id)
    )
    journal = Journal.open(tmp_path / f"journal-{batch}.sqlite3")
    metrics = Metrics()
    account = Account.from_key(oracle.private_key)
    watcher = Watcher(
        client=client,
        escrow=Escrow(client, escrow.address),
        journal=journal,
        metrics=metrics,
        address=account.address,
        start_block=web3.eth.block_number,
        poll_interval_s=0.1,
        release=release,
        account=account,
        release_batch_size=batch,
    )
    return watcher, journal, metrics


def verify(escrow: Any, oracles: list[Any], milestone: bytes) -> None:
    for oracle in oracles[:2]:
        escrow.attest(milestone, evidence(), 1, 0, {"from": oracle})


def released_in(escrow: Any, since: int) -> list[Any]:
    return list(escrow.events.get_sequence(from_block=since, event_type="MilestoneReleased"))


@pytest.mark.parametrize("batch, transactions", [(10, 1), (2, 2), (1, 3)])
def test_due_milestones_are_paid_once_in_batches_skipping_one_paid_meanwhile(
    tmp_path, escrow, token, roles, oracles, register, instant_program, batch, transactions
):
    watcher, journal, metrics = make_watcher(tmp_path, escrow, oracles[2], batch=batch)
    ids = [register(f"W-{batch}-{i}", AMOUNT, program=instant_program) for i in range(4)]
    for mid in ids:
        verify(escrow, oracles, mid)
    assert watcher.poll_once() >= 4 * 3  # two attestations and a verification each
    assert len(journal.due_releases(chain.time() + 1)) == 4
    escrow.release(ids[0], {"from": accounts[5]})  # another node was quicker
    before_balance = token.balanceOf(roles.beneficiary)
    start = web3.eth.block_number + 1
    assert watcher.release_due() == 3
    paid = released_in(escrow, start)
    assert sorted(bytes(e.args.milestoneId) for e in paid) == sorted(ids[1:])
    assert len({e.transactionHash for e in paid}) == transactions
    assert token.balanceOf(roles.beneficiary) - before_balance == 3 * AMOUNT
    assert journal.due_releases(chain.time() + 1) == []
    assert metrics.releases_sent._value.get() == 3
    # Nothing is left to pay: another round sends nothing (no block is mined).
    watcher.poll_once()
    height = web3.eth.block_number
    assert watcher.release_due() == 0
    assert web3.eth.block_number == height


def test_a_milestone_frozen_after_it_was_scheduled_is_left_unpaid_and_the_rest_paid(
    tmp_path, escrow, oracles, register, instant_program, roles
):
    watcher, journal, _ = make_watcher(tmp_path, escrow, oracles[2], batch=10)
    ids = [register(f"WF-{i}", AMOUNT, program=instant_program) for i in range(3)]
    for mid in ids:
        verify(escrow, oracles, mid)
    watcher.poll_once()
    escrow.freeze(ids[1], {"from": roles.admin})
    start = web3.eth.block_number + 1
    assert watcher.release_due() == 2
    assert sorted(bytes(e.args.milestoneId) for e in released_in(escrow, start)) == sorted(
        [ids[0], ids[2]]
    )
    assert int(escrow.statusOf(ids[1])) == 4  # still frozen, unpaid
    assert journal.due_releases(chain.time() + 1) == []


def test_a_rollback_is_seen_even_when_a_receipt_learned_after_it_is_intact(
    tmp_path, escrow, oracles
):
    """The newest block relied on is intact (its receipt came after the rollback), but an
    older one the node relied on was replaced: the watcher must still see the loss."""
    rolled_back: list[float] = []
    watcher, _, _ = make_watcher(tmp_path, escrow, oracles[2], batch=10)
    watcher.on_rollback = rolled_back.append
    client = watcher.client
    sender = Account.from_key(oracles[3].private_key)
    nothing = watcher.escrow.release_batch([b"\x01" * 32])  # pays nothing, mines a block
    snapshot = web3.provider.make_request("evm_snapshot", [])["result"]
    client.transact(sender, nothing)  # a receipt the node acts on, in block H+1
    watcher.poll_once()
    assert rolled_back == []
    web3.provider.make_request("evm_revert", [snapshot])  # the chain loses H+1 ...
    chain.mine(2)  # ... and mines other blocks at H+1 and H+2
    client.resync_nonce(sender.address)
    client.transact(sender, nothing)  # a new receipt at H+3: the newest block is intact
    watcher.poll_once()
    assert len(rolled_back) == 1
    watcher.poll_once()
    assert len(rolled_back) == 1, "a rollback is reported once"


def test_a_node_that_turns_releasing_on_later_pays_what_was_verified_meanwhile(
    tmp_path, escrow, token, roles, oracles, register, instant_program
):
    quiet, journal, _ = make_watcher(tmp_path, escrow, oracles[2], batch=10, release=False)
    ids = [register(f"WL-{i}", AMOUNT, program=instant_program) for i in range(2)]
    for mid in ids:
        verify(escrow, oracles, mid)
    quiet.poll_once()  # follows events without releasing
    assert len(journal.due_releases(chain.time() + 1)) == 2
    journal.close()
    # The operator sets release: true and restarts the node on the same journal.
    releasing, _, _ = make_watcher(tmp_path, escrow, oracles[2], batch=10)
    before = token.balanceOf(roles.beneficiary)
    releasing.poll_once()
    assert releasing.release_due() == 2
    assert token.balanceOf(roles.beneficiary) - before == 2 * AMOUNT


# The releaser keeps a due milestone until it is paid (issue 11 item 12).


@pytest.mark.parametrize("size", [10, 1], ids=["releaseBatch", "release"])
def test_a_milestone_due_while_the_escrow_is_paused_is_paid_once_it_is_unpaused(
    tmp_path, escrow, token, roles, oracles, register, instant_program, size
):
    import time

    watcher, journal, metrics = make_watcher(tmp_path, escrow, oracles[2], batch=size)
    mid = register(f"WP-{size}", AMOUNT, program=instant_program)
    verify(escrow, oracles, mid)
    watcher.poll_once()
    escrow.pause({"from": roles.admin})
    assert watcher.release_due() == 0
    assert [m for m, _ in journal.due_releases(chain.time() + 1)] == ["0x" + mid.hex()]
    assert watcher.releases_waiting_retry == 1
    assert metrics.releases_waiting_retry._value.get() == 1
    assert watcher.release_due() == 0, "backing off: not tried again at once"
    escrow.unpause({"from": roles.admin})
    time.sleep(1.1)
    before = token.balanceOf(roles.beneficiary)
    assert watcher.release_due() == 1
    assert token.balanceOf(roles.beneficiary) - before == AMOUNT
    assert journal.due_releases(chain.time() + 1) == []
    assert watcher.releases_waiting_retry == 0


@pytest.mark.parametrize("size", [10, 1], ids=["releaseBatch", "release"])
def test_a_milestone_whose_window_the_council_lengthened_is_paid_when_the_new_window_ends(
    tmp_path, escrow, token, roles, oracles, register, instant_program, size
):
    watcher, journal, _ = make_watcher(tmp_path, escrow, oracles[2], batch=size)
    mid = register(f"WW-{size}", AMOUNT, program=instant_program)
    verify(escrow, oracles, mid)
    watcher.poll_once()  # scheduled at once: the window was zero
    escrow.setChallengeWindow(instant_program, 1_000, {"from": roles.admin})
    try:
        assert watcher.release_due() == 0
        (scheduled,) = journal.due_releases(chain.time() + 2_000)
        assert scheduled == ("0x" + mid.hex(), escrow.releasableAt(mid))
        assert scheduled[1] > chain.time(), "scheduled at the new end of the window"
        chain.sleep(1_001)
        chain.mine()
        before = token.balanceOf(roles.beneficiary)
        assert watcher.release_due() == 1
        assert token.balanceOf(roles.beneficiary) - before == AMOUNT
    finally:
        escrow.setChallengeWindow(instant_program, 0, {"from": roles.admin})


@pytest.mark.parametrize("size", [10, 1], ids=["releaseBatch", "release"])
def test_a_milestone_whose_token_refuses_the_transfer_is_paid_once_the_token_pays_again(
    tmp_path, escrow, false_token, roles, oracles, register, size
):
    import time

    from tests.conftest import PROGRAM_FUNDS

    tx = escrow.createProgram(false_token, roles.treasury, 0, FACTS, {"from": roles.manager})
    program = int(tx.return_value)
    false_token.approve(escrow, PROGRAM_FUNDS, {"from": roles.manager})
    escrow.fund(program, PROGRAM_FUNDS, {"from": roles.manager})
    watcher, journal, _ = make_watcher(tmp_path, escrow, oracles[2], batch=size)
    mid = register(f"WT-{size}", AMOUNT, program=program)
    verify(escrow, oracles, mid)
    watcher.poll_once()
    false_token.setFailing(True, {"from": roles.admin})
    assert watcher.release_due() == 0
    assert len(journal.due_releases(chain.time() + 1)) == 1
    false_token.setFailing(False, {"from": roles.admin})
    time.sleep(1.1)
    before = false_token.balanceOf(roles.beneficiary)
    assert watcher.release_due() == 1
    assert false_token.balanceOf(roles.beneficiary) - before == AMOUNT
    assert journal.due_releases(chain.time() + 1) == []

"""`disburse council …` through the CLI runner against anvil (3 members, threshold 2).

Branch tree (a test per leaf):

council propose ACTION
├── each of the 19 actions ................... shown in words, proposed; two approvals execute it;
│                                              (the four program powers: their own module)
│                                              the state on chain is what the action says
├── milestone by --program P REF ............. the same id as the 0x id
├── force-release --reason ................... prints keccak256(reason), records it on chain, keeps
│                                              the text in the description
├── --dry-run ................................ shown and checked, nothing sent
├── obviously doomed (nothing sent) .......... freeze of a Registered milestone, unfreeze of a
│                                              Verified one, resolve-dispute without a dispute,
│                                              force-release of a Released one, threshold above
│                                              the members, member twice, manager twice, unpause
│                                              while running, quorum above the committee
├── doomed as the council's call shows ....... "would fail if executed now"
├── --force .................................. skips those checks (a pending proposal may make
│                                              the call possible)
├── non-member ............................... refused before sending
├── wrong arguments .......................... bad id, ref without --program, bad address, bad
│                                              or too long expiry, empty reason, ref too long
├── no keystore .............................. says how to give one
└── network down ............................. one line, exit 2
council approve ID
├── below the threshold ...................... approval only
├── reaching the threshold ................... approve-and-execute in one transaction
├── reaching it with --no-execute ............ approval only, then `council execute ID` (calldata
│                                              from the chain)
├── reaching it, the call fails now .......... refused, nothing sent; --no-execute approves
└── non-member / unknown / expired / executed / approved already ... refused, nothing sent
council revoke ID ............................ drops below the threshold: open again, execute
                                               refused; without an approval: refused
council list [--all] ......................... decoded table (no calldata), open by default,
                                               executed and expired with --all
council show ID .............................. call, approvals by member and time, history
council pause ................................ one member pauses; again or a non-member: refused
"""

from __future__ import annotations

import re

from brownie import accounts, chain, web3
from eth_utils import keccak

from disburse._format import short
from tests.cli.council.conftest import (
    AMOUNT,
    CANCELLED,
    DAY,
    DEAD_RPC,
    EXPIRED,
    FROZEN,
    REGISTERED,
    RELEASED,
    VERIFIED,
    evidence,
    one_error_line,
)

LONG_HEX = re.compile(r"[0-9a-fA-F]{41,}")
"""Calldata (selector and arguments) would show as a run of more than 40 hex digits."""


def hex_id(mid: bytes) -> str:
    return "0x" + bytes(mid).hex()


def assert_no_calldata(output: str) -> None:
    assert not LONG_HEX.search(output), output


# ---------------------------------------------------------------------- every action end to end


def test_freeze_is_shown_in_words_proposed_and_executed_by_the_approval_reaching_the_threshold(
    cli, deployed, verified, program
):
    mid = verified()
    before = deployed.council.proposalCount()
    out = cli.ok(
        "council", "propose", "freeze", "--program", program, "PO-1/M1", "-d", "investigation"
    )
    assert f"proposal:    freeze milestone PO-1/M1 ({short(mid)})" in out
    assert "description: investigation" in out
    assert "expires:" in out and "(in 7 days)" in out
    pid = before + 1
    assert f"proposal {pid} created by {deployed.members[0]}" in out
    assert "1 of 2 approvals" in cli.ok("council", "approve", pid, signer="m0")
    assert deployed.escrow.statusOf(mid) == VERIFIED
    out = cli.ok("council", "approve", pid, signer="m1")
    assert f"approved by {deployed.members[1]} (2 of 2) and executed" in out
    assert deployed.escrow.statusOf(mid) == FROZEN
    assert deployed.council.proposal(pid)[2] is True


def test_a_milestone_named_by_program_and_reference_is_the_one_named_by_its_id(
    cli, deployed, verified, program
):
    mid = verified()
    by_ref = cli.propose("freeze", "--program", program, "PO-1/M1", "-d", "by reference")
    by_id = cli.propose("freeze", hex_id(mid), "-d", "by id")
    assert deployed.council.proposal(by_ref)[3] == deployed.council.proposal(by_id)[3]


def test_unfreeze_makes_a_frozen_milestone_verified_again(cli, deployed, verified):
    mid = verified()
    cli.decide("freeze", hex_id(mid), "-d", "hold")
    cli.decide("unfreeze", hex_id(mid), "-d", "cleared")
    assert deployed.escrow.statusOf(mid) == VERIFIED


def test_cancel_returns_the_amount_to_the_program(cli, deployed, register, program):
    mid = register()
    committed = deployed.escrow.program(program)[6]
    cli.decide("cancel", hex_id(mid), "-d", "contract terminated")
    assert deployed.escrow.statusOf(mid) == CANCELLED
    assert deployed.escrow.program(program)[6] == committed - AMOUNT


def test_force_release_pays_and_records_the_hash_of_the_written_reason(
    cli, deployed, register, program
):
    mid = register()
    reason = "all three oracles offline for two weeks; delivery inspected on site"
    digest = keccak(text=reason)
    start = web3.eth.block_number + 1
    paid = deployed.token.balanceOf(accounts[3])
    out = cli.ok(
        "council",
        "propose",
        "force-release",
        hex_id(mid),
        "--reason",
        reason,
        "-d",
        "pay despite the outage",
    )
    assert f"reason hash: 0x{digest.hex()}" in out
    assert f"to {accounts[3]} for 1,000 JPYT, reason {short(digest)}" in out
    pid = int(re.search(r"proposal (\d+) created", out).group(1))
    cli.ok("council", "approve", pid, signer="m0")
    cli.ok("council", "approve", pid, signer="m2")
    assert deployed.escrow.statusOf(mid) == RELEASED
    assert deployed.token.balanceOf(accounts[3]) == paid + AMOUNT
    escrow = web3.eth.contract(address=deployed.escrow.address, abi=deployed.escrow.abi)
    (forced,) = escrow.events.MilestoneForceReleased.get_logs(from_block=start)
    assert bytes(forced["args"]["reasonHash"]) == digest
    shown = cli.ok("council", "show", pid)
    assert f"pay despite the outage — reason: {reason}" in shown


def test_replace_beneficiary_redirects_the_payment(cli, deployed, register):
    mid = register()
    cli.decide("replace-beneficiary", hex_id(mid), str(accounts[4]), "-d", "key compromised")
    assert deployed.escrow.milestone(mid)[1] == accounts[4]


def test_resolve_dispute_settles_for_the_chosen_evidence(cli, deployed, disputed, program):
    mid = disputed()
    chosen = evidence("second")
    cli.decide(
        "resolve-dispute", "--program", program, "PO-1/D1", hex_id(chosen), "-d", "second holds"
    )
    assert deployed.escrow.statusOf(mid) == VERIFIED
    assert bytes(deployed.escrow.milestone(mid)[8]) == chosen


def test_set_committee_replaces_the_oracles_and_quorum(cli, deployed, oracles):
    chosen = [oracles[0], oracles[1], oracles[3]]
    args = [a for o in chosen for a in ("--oracle", str(o))]
    cli.decide("set-committee", *args, "--quorum", 3, "-d", "rotate oracle 2")
    members, quorum, epoch = deployed.escrow.committee()
    assert list(members) == chosen and quorum == 3 and epoch == 2


def test_set_window_changes_the_programs_challenge_window(cli, deployed, program):
    pid = cli.propose("set-window", program, "2d", "-d", "longer review")
    assert "set the challenge window of program 1 to 2 days" in cli.ok("council", "show", pid)
    cli.ok("council", "approve", pid, signer="m0")
    cli.ok("council", "approve", pid, signer="m1")
    assert deployed.escrow.program(program)[3] == 2 * DAY


def test_grant_and_revoke_manager_change_the_program_manager_role(cli, deployed, people):
    role = deployed.escrow.PROGRAM_MANAGER_ROLE()
    newcomer = people["outsider"]
    cli.decide("grant-manager", str(newcomer), "-d", "new procurement office")
    assert deployed.escrow.hasRole(role, newcomer)
    cli.decide("revoke-manager", str(deployed.manager), "-d", "manager key lost")
    assert not deployed.escrow.hasRole(role, deployed.manager)


def test_pause_and_unpause_by_proposal(cli, deployed):
    cli.decide("pause", "-d", "audit finding")
    assert deployed.escrow.paused()
    cli.decide("unpause", "-d", "finding fixed")
    assert not deployed.escrow.paused()


def test_add_member_with_a_new_threshold(cli, deployed, people):
    newcomer = people["outsider"]
    cli.decide("add-member", str(newcomer), "--threshold", 3, "-d", "new overseer")
    assert deployed.council.isMember(newcomer)
    assert deployed.council.threshold() == 3


def test_remove_member_keeps_the_threshold_unless_told(cli, deployed):
    leaving = deployed.members[2]
    cli.decide("remove-member", str(leaving), "-d", "term ended")
    assert not deployed.council.isMember(leaving)
    assert deployed.council.threshold() == 2


def test_change_threshold(cli, deployed):
    cli.decide("change-threshold", 3, "-d", "all three must agree")
    assert deployed.council.threshold() == 3


# ---------------------------------------------------------------------- approve, execute, revoke


def test_no_execute_only_approves_and_execute_reads_the_calldata_from_the_chain(
    cli, deployed, verified
):
    mid = verified()
    pid = cli.propose("freeze", hex_id(mid), "-d", "hold")
    cli.ok("council", "approve", pid, signer="m0")
    out = cli.ok("council", "approve", pid, "--no-execute", signer="m1")
    assert "2 of 2 approvals" in out
    assert f"disburse council execute {pid}" in out
    assert deployed.escrow.statusOf(mid) == VERIFIED
    assert "executable" in cli.ok("council", "list")
    out = cli.ok("council", "execute", pid, signer="m2")
    assert f"executed by {deployed.members[2]}" in out
    assert deployed.escrow.statusOf(mid) == FROZEN


def test_a_revoked_approval_drops_below_the_threshold_and_execute_is_refused(
    cli, deployed, verified, nonces
):
    mid = verified()
    pid = cli.propose("freeze", hex_id(mid), "-d", "hold")
    cli.ok("council", "approve", pid, signer="m0")
    cli.ok("council", "approve", pid, "--no-execute", signer="m1")
    out = cli.ok("council", "revoke", pid, signer="m1")
    assert "1 of 2 approvals" in out
    assert deployed.council.proposal(pid)[4] == 1
    listed = cli.ok("council", "list")
    row = next(line for line in listed.splitlines() if line.startswith(f"{pid} "))
    assert " open " in row
    before = nonces()
    error = one_error_line(cli("council", "execute", pid, signer="m2"))
    assert f"proposal {pid} has 1 of the 2 approvals it needs" in error
    assert nonces() == before
    assert deployed.escrow.statusOf(mid) == VERIFIED


def test_approving_when_the_call_would_fail_sends_nothing_unless_no_execute(
    cli, deployed, register, program, nonces
):
    # Since issue 11 item 4 the council may cancel or force-release an expired milestone; a
    # force-release still fails when the program no longer holds the amount uncommitted.
    mid = register(deadline=chain.time() + 1000)
    chain.sleep(2000)
    deployed.escrow.expire(mid, {"from": accounts[0]})
    assert deployed.escrow.statusOf(mid) == EXPIRED
    deployed.escrow.closeProgram(program, {"from": deployed.manager})
    deployed.escrow.withdrawRemainder(program, {"from": deployed.manager})
    args = ("force-release", hex_id(mid), "--reason", "oracles down", "-d", "pay")
    refused = one_error_line(cli("council", "propose", *args))
    assert "would fail if executed now" in refused
    assert "InsufficientFunds" in refused
    pid = cli.propose(*args, "--force")
    cli.ok("council", "approve", pid, signer="m0")
    before = nonces()
    error = one_error_line(cli("council", "approve", pid, signer="m1"))
    assert "reaches the threshold but the call fails now" in error
    assert "--no-execute" in error
    assert nonces() == before
    out = cli.ok("council", "approve", pid, "--no-execute", signer="m1")
    assert "note: the call would fail if executed now" in out
    assert "2 of 2 approvals" in out
    shown = cli.ok("council", "show", pid)
    assert "check:        the call would fail if executed now" in shown
    before = nonces()
    error = one_error_line(cli("council", "execute", pid, signer="m2"))
    assert f"the call of proposal {pid} fails now" in error and "InsufficientFunds" in error
    assert nonces() == before


# ---------------------------------------------------------------------- list and show


def test_list_shows_open_proposals_decoded_with_approvals_by_member(cli, deployed, verified):
    mid = verified()
    done = cli.decide("freeze", hex_id(mid), "-d", "hold the payment")
    pid = cli.propose("cancel", hex_id(mid), "-d", "contract terminated")
    cli.ok("council", "approve", pid, signer="m1")
    out = cli.ok("council", "list")
    assert "council " + deployed.council.address in out
    assert "3 members, 2 approvals needed" in out
    assert f"cancel milestone PO-1/M1 ({short(mid)}) (1,000 JPYT)" in out
    assert "contract terminated" in out
    assert short(str(deployed.members[1])) in out
    assert "1 of 2" in out
    assert not any(line.startswith(f"{done} ") for line in out.splitlines())
    assert_no_calldata(out)
    everything = cli.ok("council", "list", "--all")
    row = next(line for line in everything.splitlines() if line.startswith(f"{done} "))
    assert "executed" in row and f"freeze milestone PO-1/M1 ({short(mid)})" in row
    assert_no_calldata(everything)


def test_list_marks_expired_proposals_and_hides_them_by_default(cli, verified):
    mid = verified()
    cli.propose("freeze", hex_id(mid), "-d", "hold", "--expires-in", "1h")
    chain.sleep(2 * 3600)
    chain.mine()
    assert "no open proposals" in cli.ok("council", "list")
    assert " expired " in cli.ok("council", "list", "--all")


def test_show_gives_the_call_approvals_and_history_in_words(cli, deployed, verified):
    mid = verified()
    pid = cli.decide("freeze", hex_id(mid), "-d", "hold the payment")
    out = cli.ok("council", "show", pid)
    m0, m1 = deployed.members[:2]
    assert f"proposal {pid}: executed" in out
    assert f"call:         freeze milestone PO-1/M1 ({short(mid)})" in out
    assert f"target:       the escrow ({deployed.escrow.address})" in out
    assert "description:  hold the payment" in out
    assert f"proposed by:  {m0}" in out
    assert "approvals:    2 of 2 needed" in out
    assert f"executed by:  {m1}" in out
    history = out.split("history:")[1]
    assert [
        re.sub(r"^\s*block \d+ \S+ \S+ UTC\s+", "", line) for line in history.strip().splitlines()
    ] == [
        f"proposed by {m0}",
        f"approved by {m0} (1 approval)",
        f"approved by {m1} (2 approvals)",
        f"executed by {m1}",
    ]
    assert_no_calldata(out)


# ---------------------------------------------------------------------- the emergency brake


def test_one_member_pulls_the_emergency_brake(cli, deployed, nonces):
    out = cli.ok("council", "pause", signer="m2")
    assert f"escrow paused by council member {deployed.members[2]}" in out
    assert deployed.escrow.paused()
    before = nonces()
    assert "paused already" in one_error_line(cli("council", "pause", signer="m0"))
    assert nonces() == before


def test_a_non_member_cannot_pull_the_brake(cli, deployed, nonces):
    before = nonces()
    error = one_error_line(cli("council", "pause", signer="outsider"))
    assert "is not a member of the council: only members pull the emergency brake" in error
    assert nonces() == before
    assert not deployed.escrow.paused()


# ---------------------------------------------------------------------- refusals, nothing sent


def test_a_dry_run_shows_and_checks_but_sends_nothing(cli, deployed, verified, nonces):
    mid = verified()
    before, count = nonces(), deployed.council.proposalCount()
    out = cli.ok(
        "council", "propose", "freeze", hex_id(mid), "-d", "hold", "--dry-run", signer=None
    )
    assert f"freeze milestone PO-1/M1 ({short(mid)})" in out
    assert "dry run: the proposal was checked and not sent" in out
    assert nonces() == before and deployed.council.proposalCount() == count


def test_a_non_member_cannot_propose(cli, deployed, verified, nonces):
    mid = verified()
    before = nonces()
    error = one_error_line(
        cli("council", "propose", "freeze", hex_id(mid), "-d", "hold", signer="outsider")
    )
    assert "is not a member of the council: only members propose" in error
    assert nonces() == before


def test_a_non_member_cannot_approve(cli, verified, nonces):
    pid = cli.propose("freeze", hex_id(verified()), "-d", "hold")
    before = nonces()
    error = one_error_line(cli("council", "approve", pid, signer="outsider"))
    assert "only members approve" in error
    assert nonces() == before


def test_an_unknown_proposal_is_refused_by_every_command(cli, nonces):
    before = nonces()
    for command in ("approve", "revoke", "execute", "show"):
        error = one_error_line(cli("council", command, 42))
        assert "there is no proposal 42 (there are no proposals yet)" in error
    assert nonces() == before


def test_an_expired_proposal_cannot_be_approved(cli, verified, nonces):
    pid = cli.propose("freeze", hex_id(verified()), "-d", "hold", "--expires-in", "1h")
    chain.sleep(2 * 3600)
    chain.mine()
    before = nonces()
    assert f"proposal {pid} expired at" in one_error_line(cli("council", "approve", pid))
    assert nonces() == before


def test_an_executed_proposal_cannot_be_approved_again(cli, verified, nonces):
    pid = cli.decide("freeze", hex_id(verified()), "-d", "hold")
    before = nonces()
    error = one_error_line(cli("council", "approve", pid, signer="m2"))
    assert f"proposal {pid} was executed already" in error
    assert nonces() == before


def test_a_member_cannot_approve_twice_or_revoke_without_approving(cli, verified, nonces):
    pid = cli.propose("freeze", hex_id(verified()), "-d", "hold")
    cli.ok("council", "approve", pid, signer="m0")
    before = nonces()
    assert "approved proposal" in one_error_line(cli("council", "approve", pid, signer="m0"))
    assert "has no approval" in one_error_line(cli("council", "revoke", pid, signer="m1"))
    assert nonces() == before


def _refused(cli, nonces, *args: object) -> str:
    before = nonces()
    error = one_error_line(cli("council", "propose", *args))
    assert nonces() == before
    return error


def test_freeze_of_a_milestone_that_is_not_verified_is_refused(cli, register, nonces):
    mid = register()
    error = _refused(cli, nonces, "freeze", hex_id(mid), "-d", "hold")
    assert f"milestone PO-1/M1 ({short(mid)}) is Registered: only a Verified milestone" in error


def test_unfreeze_of_a_milestone_that_is_not_frozen_is_refused(cli, verified, nonces):
    error = _refused(cli, nonces, "unfreeze", hex_id(verified()), "-d", "x")
    assert "is Verified, not Frozen" in error
    assert error.endswith("nothing sent (--force proposes it anyway)")


def test_force_proposes_what_only_a_pending_proposal_makes_possible(cli, deployed, verified):
    mid = verified()
    freeze = cli.propose("freeze", hex_id(mid), "-d", "hold while we look")
    unfreeze = cli.propose("unfreeze", hex_id(mid), "-d", "release if clean", "--force")
    cli.ok("council", "approve", freeze, signer="m0")
    cli.ok("council", "approve", freeze, signer="m1")
    cli.ok("council", "approve", unfreeze, signer="m0")
    cli.ok("council", "approve", unfreeze, signer="m1")
    assert deployed.escrow.statusOf(mid) == VERIFIED


def test_resolve_dispute_without_a_dispute_is_refused(cli, verified, nonces):
    error = _refused(
        cli, nonces, "resolve-dispute", hex_id(verified()), hex_id(evidence()), "-d", "x"
    )
    assert "is Verified, not Disputed" in error


def test_force_release_of_a_released_milestone_is_refused(cli, deployed, verified, nonces):
    mid = verified()
    chain.sleep(DAY + 1)
    deployed.escrow.release(mid, {"from": accounts[0]})
    error = _refused(cli, nonces, "force-release", hex_id(mid), "--reason", "r", "-d", "x")
    assert f"milestone PO-1/M1 ({short(mid)}) was paid already" in error


def test_an_unknown_milestone_is_refused(cli, program, nonces):
    error = _refused(cli, nonces, "cancel", "--program", program, "PO-9/none", "-d", "x")
    assert "there is no milestone" in error


def test_a_threshold_above_the_member_count_is_refused(cli, nonces, people):
    assert "above the council's 3 members" in _refused(
        cli, nonces, "change-threshold", 4, "-d", "x"
    )
    assert "above the 2 members the council would have" in _refused(
        cli, nonces, "remove-member", str(people["m2"]), "--threshold", 3, "-d", "x"
    )
    assert "above the 4 members" in _refused(
        cli, nonces, "add-member", str(people["outsider"]), "--threshold", 5, "-d", "x"
    )


def test_changes_that_change_nothing_are_refused(cli, deployed, people, nonces):
    assert "the threshold is 2 already" in _refused(cli, nonces, "change-threshold", 2, "-d", "x")
    assert "is a council member already" in _refused(
        cli, nonces, "add-member", str(people["m1"]), "-d", "x"
    )
    assert "is not a council member" in _refused(
        cli, nonces, "remove-member", str(people["outsider"]), "-d", "x"
    )
    assert "is a program manager already" in _refused(
        cli, nonces, "grant-manager", str(deployed.manager), "-d", "x"
    )
    assert "is not a program manager" in _refused(
        cli, nonces, "revoke-manager", str(people["outsider"]), "-d", "x"
    )
    assert "the escrow is not paused" in _refused(cli, nonces, "unpause", "-d", "x")


def test_a_committee_with_a_quorum_above_its_size_is_refused(cli, oracles, nonces):
    args = [a for o in oracles[:2] for a in ("--oracle", str(o))]
    error = _refused(cli, nonces, "set-committee", *args, "--quorum", 3, "-d", "x")
    assert "quorum 3 must be from 1 to the committee's 2 oracles" in error


def test_wrong_arguments_are_refused_in_one_line(cli, program, verified, nonces):
    mid = hex_id(verified())
    typo = "0x" + str(accounts[5])[2:].swapcase()  # every letter's case flipped: bad checksum
    cases = [
        (("freeze", "0x12", "-d", "x"), "is not a milestone id"),
        (("freeze", "PO-1/M1", "-d", "x"), "give its program too: --program P REF"),
        (("replace-beneficiary", mid, "0x1234", "-d", "x"), "'0x1234' is not an address"),
        (("grant-manager", typo, "-d", "x"), "with a correct checksum if in mixed case"),
        (("grant-manager", "0x" + "0" * 40, "-d", "x"), "must not be the zero address"),
        (("freeze", mid, "-d", "x", "--expires-in", "soon"), "'soon' is not a duration"),
        (("freeze", mid, "-d", "x", "--expires-in", "91d"), "--expires-in is at most 90 days"),
        (("force-release", mid, "--reason", "  ", "-d", "x"), "needs a written reason"),
        (("freeze", mid, "-d", "  "), "--description must say"),
        (("freeze", "--program", program, "R" * 33, "-d", "x"), "at most 32 fit in bytes32"),
        (("set-window", program, "100d", "-d", "x"), "a challenge window is at most 90 days"),
        (("set-window", 99, "1d", "-d", "x"), "there is no program 99"),
    ]
    for args, expected in cases:
        assert expected in _refused(cli, nonces, *args), args


def test_a_proposal_without_a_keystore_says_how_to_give_one(cli, verified):
    result = cli("council", "propose", "freeze", hex_id(verified()), "-d", "x", signer=None)
    assert "--keystore" in one_error_line(result)


def test_a_chain_that_is_down_is_one_line(cli, quick_profile):
    for args in (("council", "list"), ("council", "approve", 1), ("council", "pause")):
        result = cli(*args, rpc_url=DEAD_RPC, profile=quick_profile)
        assert "did not answer" in one_error_line(result), args


def test_registered_is_still_registered_after_a_refusal(cli, deployed, register, nonces):
    """A refused proposal changes nothing on chain."""
    mid = register()
    count = deployed.council.proposalCount()
    _refused(cli, nonces, "freeze", hex_id(mid), "-d", "hold")
    assert deployed.escrow.statusOf(mid) == REGISTERED
    assert deployed.council.proposalCount() == count

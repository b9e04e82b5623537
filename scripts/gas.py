"""Gas of the escrow's hot paths, beside the lower bound that the storage layout allows.

`make gas` (brownie run scripts/gas.py) prints the table and writes reports/gas.json
(operation -> gas used by the transaction as its receipt reports it; batch rows per milestone).
tests/gas/test_gas_caps.py runs the same measurement and asserts the caps.

The lower bound of each operation counts only what its storage layout makes unavoidable under
current EVM costs: the 21,000 base, calldata at 16/4 gas per non-zero/zero byte, 22,100 per new
slot, 5,000 per cold update, 2,100 per cold read, 3,000 per ecrecover, 2,600 per cold account
called, and 375 + 375 per topic + 8 per data byte per log. Execution overhead (stack, memory,
hashing, ABI decoding) is not counted, so the ratio shows how much the code spends above the
data it must touch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brownie import (
    ContractorRegistry,
    MilestoneEscrow,
    OversightCouncil,
    RegistryProbe,
    SettlementToken,
    accounts,
    chain,
)
from eth_keys.datatypes import PrivateKey
from eth_utils import keccak

from disburse.chain.attestations import external_ref, milestone_id, sign_attestation, to_compact
from disburse.chain.escrow import ProgramFacts
from scripts.bench_common import BENCH_FACTS

REPORT = Path(__file__).resolve().parent.parent / "reports" / "gas.json"
BATCH = 20

BASE = 21_000
NEW_SLOT = 22_100
COLD_UPDATE = 5_000
COLD_READ = 2_100
ECRECOVER = 3_000
COLD_ACCOUNT = 2_600

CAPS = {
    "register_milestone": 110_000,
    "register_milestones_batch_20": 80_000,
    "attest_own_account_first": 65_000,
    "attest_own_account_second": 40_000,
    "attest_relayed_3_signatures": 90_000,
    "attest_relayed_3_signatures_batch_20": 65_000,
    "release": 60_000,
    "release_first_payment": 80_000,
    # Per milestone of a batch of 20, each to a beneficiary who already holds the token. The batch
    # exists to pay the 21,000 base and the pause, program and token first touches once instead of
    # per milestone, so its cap is half of a lone release's: a batch that stopped amortising them
    # (about 36,000 of release's 58,500) goes over. Each payment still updates its milestone and a
    # cold beneficiary balance, reads the beneficiary and logs two events (floor about 18,400).
    # A beneficiary paid for the first time costs 17,100 more (a new balance slot), as in
    # release_first_payment; the releaser sizes its batches by gas, not by this figure.
    "release_batch20_per_milestone": 30_000,
    # Issue 11: an amendment (bumps the terms version), the council's program powers, and a
    # refund whose arrival is measured at the treasury.
    "amend_milestone": 63_000,
    "withdraw_remainder": 60_000,
    "set_program_manager": 38_000,
    "set_program_treasury": 38_000,
    # Issue 12: a program carries its facts (three strings in an event) and its baseline; the
    # baseline is read on a commitment only while the program holds more than it (a baseline
    # cut, or funds beyond it), so register_milestone keeps its cap and this row prices the
    # other path.
    "create_program": 150_000,
    "set_baseline": 40_000,
    "register_milestone_over_funded": 115_000,
    "council_propose": 120_000,
    "council_approve": 60_000,
    "council_approve_and_execute_freeze": 110_000,
    # Issue 14 (the contractor registry, not yet consulted by the escrow). The council's rows are
    # the executing member's approveAndExecute, council and registry together, as in
    # council_approve_and_execute_freeze.
    "registry_register_via_council": 135_000,
    "registry_suspend_via_council": 64_000,
    "registry_request_change": 63_000,
    "registry_request_change_signed": 70_000,
    "registry_approve_change_via_council": 67_000,
    "registry_cancel_change_by_member": 41_000,
    "registry_finalize_change": 63_000,
    # What the escrow's release path will pay to ask `isPayable` of a cold registry, measured
    # inside the calling contract (gasleft before and after): the cold account, two cold reads.
    "registry_is_payable_external": 9_000,
    # The same by contractor id (one read), for an escrow that keeps the id with the milestone.
    "registry_payable_address_of_external": 7_000,
}


def log_cost(topics: int, data_bytes: int) -> int:
    return 375 + 375 * topics + 8 * data_bytes


def calldata_cost(data: bytes) -> int:
    return sum(16 if byte else 4 for byte in data)


# Events, as (topics including the signature, data bytes).
REGISTERED = log_cost(4, 4 * 32)
ATTESTED = log_cost(3, 2 * 32)
VERIFIED = log_cost(2, 2 * 32)
RELEASED = log_cost(4, 32)
TRANSFER = log_cost(3, 32)


@dataclass(frozen=True)
class GasRow:
    operation: str
    gas: int
    lower_bound: int
    cap: int

    @property
    def ratio(self) -> float:
        return self.gas / self.lower_bound


def _tx_calldata(tx: Any) -> bytes:
    return bytes.fromhex(tx.input[2:])


def _bounds_register(calldata: int, milestones: int) -> int:
    # Reads: pause/committee slot, program manager slot, manager role; update: program commitment.
    per_tx = BASE + calldata + 3 * COLD_READ + COLD_UPDATE
    per_milestone = 3 * NEW_SLOT + REGISTERED
    return (per_tx + milestones * per_milestone) // milestones


def _bounds_attest(calldata: int, milestones: int, signatures: int, *, first: bool) -> int:
    # Reads: pause/committee slot and each signer's seat (once per transaction).
    per_tx = BASE + calldata + COLD_READ + signatures * COLD_READ
    evidence_slot = NEW_SLOT if first else COLD_READ
    per_milestone = COLD_UPDATE + evidence_slot + signatures * ATTESTED
    if milestones > 1 or signatures > 1:
        per_milestone += signatures * ECRECOVER
    reaches_quorum = signatures >= 3
    if reaches_quorum:
        per_milestone += VERIFIED
    return (per_tx + milestones * per_milestone) // milestones


def _bounds_release(calldata: int, *, first_payment: bool) -> int:
    # Reads: pause slot, beneficiary slot, token/window slot; updates: milestone, program balances.
    escrow = BASE + calldata + 3 * COLD_READ + 2 * COLD_UPDATE + RELEASED
    # The token: its account, the escrow's balance update, the beneficiary's balance, Transfer.
    recipient = NEW_SLOT if first_payment else COLD_UPDATE
    return escrow + COLD_ACCOUNT + COLD_UPDATE + recipient + TRANSFER


def _bounds_release_batch(calldata: int, milestones: int) -> int:
    # Once per batch (one program, one token): the pause slot and the program's token/window slot
    # read, its balances updated; the token's account and the escrow's balance in it.
    per_tx = BASE + calldata + 2 * COLD_READ + COLD_UPDATE + COLD_ACCOUNT + COLD_UPDATE
    # Per milestone: its first slot updated, its beneficiary slot read, MilestoneReleased; in the
    # token the beneficiary's balance (distinct beneficiaries who hold the token already), Transfer.
    per_milestone = COLD_UPDATE + COLD_READ + RELEASED + COLD_UPDATE + TRANSFER
    return (per_tx + milestones * per_milestone) // milestones


AMENDED = log_cost(3, 3 * 32)
WITHDRAWN = log_cost(3, 32)
CHANGED = log_cost(4, 0)


def _bounds_amend(calldata: int) -> int:
    # Reads: pause/epoch slot, manager, manager role, the program's token (beneficiary check);
    # updates: the milestone's first two slots and its spec, the program's commitment.
    return BASE + calldata + 4 * COLD_READ + 4 * COLD_UPDATE + AMENDED


def _bounds_withdraw(calldata: int) -> int:
    # Reads: pause slot, manager slot, manager role, token slot, treasury slot; update: balances;
    # the token: its account, the escrow's balance and the treasury's (held already), Transfer.
    escrow = BASE + calldata + 5 * COLD_READ + COLD_UPDATE + WITHDRAWN
    return escrow + COLD_ACCOUNT + 2 * COLD_UPDATE + TRANSFER


def _described_bytes(facts: ProgramFacts) -> int:
    """ProgramDescribed's data: three string offsets, the year, the baseline, and each string as
    its length word and its padded bytes."""
    strings = (facts.title, facts.organisation, facts.category)
    return 5 * 32 + sum(32 + -(-len(text.encode()) // 32) * 32 for text in strings)


def _bounds_create_program(calldata: int, facts: ProgramFacts) -> int:
    # Reads: pause slot, manager role, the token's code (a cold account); updates: the program
    # count; new: the manager, token/window, treasury and baseline slots.
    writes = COLD_UPDATE + 4 * NEW_SLOT
    events = log_cost(4, 2 * 32) + log_cost(2, _described_bytes(facts))
    return BASE + calldata + 3 * COLD_READ + COLD_ACCOUNT + writes + events


def _bounds_set_baseline(calldata: int) -> int:
    # Reads: the caller's admin role, the manager/flag slot, the balances; update: the baseline.
    return BASE + calldata + 3 * COLD_READ + COLD_UPDATE + log_cost(2, 2 * 32)


def _bounds_set_manager(calldata: int) -> int:
    # Reads: the caller's admin role, the new manager's role; update: the manager slot.
    return BASE + calldata + 2 * COLD_READ + COLD_UPDATE + CHANGED


def _bounds_set_treasury(calldata: int) -> int:
    # Reads: the caller's admin role, the program's manager (exists); update: the treasury slot.
    return BASE + calldata + 2 * COLD_READ + COLD_UPDATE + CHANGED


PROPOSED = log_cost(4, 5 * 32 + 64 + 64)  # data, description (each padded), expiry
APPROVED = log_cost(3, 32)
EXECUTED = log_cost(3, 0)
FROZEN = log_cost(2, 0)


def _bounds_propose(calldata: int) -> int:
    # Reads: proposer's seat, the counters slot (updated); new: target/expiry slot, calldata hash.
    return BASE + calldata + COLD_READ + COLD_UPDATE + 2 * NEW_SLOT + PROPOSED


def _bounds_approve(calldata: int) -> int:
    # Reads: member's seat, proposal target/expiry, the seats of current members; new: approvals.
    return BASE + calldata + 3 * COLD_READ + NEW_SLOT + APPROVED


def _bounds_approve_and_execute_freeze(calldata: int) -> int:
    # Council: seat, seats/threshold, calldata hash read; proposal and approvals updated.
    council = BASE + calldata + 3 * COLD_READ + 2 * COLD_UPDATE + APPROVED + EXECUTED
    # Escrow: its account, the admin role read, the milestone's status slot updated.
    escrow = COLD_ACCOUNT + COLD_READ + COLD_UPDATE + FROZEN
    return council + escrow


def _oracle(index: int, funder: Any) -> Any:
    account = accounts.add(keccak(text=f"gas-oracle-{index}").hex())
    if account.balance() < 10**18:
        funder.transfer(account, 10**18)
    return account


def measure() -> list[GasRow]:
    """Deploys a fresh escrow (committee of three, quorum three, no challenge window) and
    measures each operation once."""
    admin, manager, beneficiary, treasury = accounts[0], accounts[1], accounts[2], accounts[3]
    oracles = [_oracle(i, admin) for i in range(3)]
    token = SettlementToken.deploy("Gas Token", "GAS", 18, {"from": admin})
    escrow = MilestoneEscrow.deploy(admin, {"from": admin})
    escrow.grantRole(escrow.PROGRAM_MANAGER_ROLE(), manager, {"from": admin})
    escrow.setCommittee(oracles, 3, {"from": admin})
    epoch = escrow.committee()[2]
    program = escrow.createProgram(
        token, treasury, 0, BENCH_FACTS.as_arg(), {"from": manager}
    ).return_value
    funds = 10**9 * 10**18
    token.mint(manager, funds, {"from": admin})
    token.approve(escrow, funds, {"from": manager})
    escrow.fund(program, funds, {"from": manager})
    # The usual beneficiary already holds the token; `release_first_payment` pays a new one.
    token.mint(beneficiary, 1, {"from": admin})
    deadline = chain.time() + 365 * 24 * 3600
    amount = 1_000 * 10**18
    counter = iter(range(10**6))

    def terms(to: Any = beneficiary) -> tuple[bytes, str, int, int, bytes]:
        ref = external_ref(f"GAS-{next(counter)}")
        return (ref, str(to), amount, deadline, keccak(ref))

    def mid(ref: bytes) -> bytes:
        return milestone_id(program, ref)

    def sigs(milestone: bytes, evidence: bytes) -> list[tuple[bytes, bytes]]:
        return [
            sign_attestation(
                o.private_key,
                chain_id=chain.id,
                escrow=escrow.address,
                milestone=milestone,
                evidence_hash=evidence,
                epoch=epoch,
                terms_version=0,  # every milestone measured here is signed as registered
            ).as_tuple()
            for o in oracles
        ]

    rows: list[GasRow] = []

    def row(name: str, tx: Any, bound: int, per: int = 1) -> None:
        rows.append(GasRow(name, round(tx.gas_used / per), bound, CAPS[name]))

    single = terms()
    tx = escrow.registerMilestone(program, single, {"from": manager})
    row("register_milestone", tx, _bounds_register(calldata_cost(_tx_calldata(tx)), 1))

    batch = [terms() for _ in range(BATCH)]
    tx = escrow.registerMilestones(program, batch, {"from": manager})
    row(
        "register_milestones_batch_20",
        tx,
        _bounds_register(calldata_cost(_tx_calldata(tx)), BATCH),
        BATCH,
    )

    evidence = keccak(text="gas-evidence")
    own = mid(single[0])
    tx = escrow.attest(own, evidence, epoch, 0, {"from": oracles[0]})
    cd = calldata_cost(_tx_calldata(tx))
    row("attest_own_account_first", tx, _bounds_attest(cd, 1, 1, first=True))
    tx = escrow.attest(own, evidence, epoch, 0, {"from": oracles[1]})
    cd = calldata_cost(_tx_calldata(tx))
    row("attest_own_account_second", tx, _bounds_attest(cd, 1, 1, first=False))

    relayed = mid(batch[0][0])
    tx = escrow.attestWithSignatures(
        epoch, [(relayed, evidence, sigs(relayed, evidence))], {"from": admin}
    )
    cd = calldata_cost(_tx_calldata(tx))
    row("attest_relayed_3_signatures", tx, _bounds_attest(cd, 1, 3, first=True))

    items = [(mid(t[0]), evidence, sigs(mid(t[0]), evidence)) for t in batch[1 : BATCH + 1]]
    more = [terms() for _ in range(BATCH + 1 - len(items))]
    if more:
        escrow.registerMilestones(program, more, {"from": manager})
        items += [(mid(t[0]), evidence, sigs(mid(t[0]), evidence)) for t in more]
    items = items[:BATCH]
    tx = escrow.attestWithSignatures(epoch, items, {"from": admin})
    cd = calldata_cost(_tx_calldata(tx))
    row(
        "attest_relayed_3_signatures_batch_20",
        tx,
        _bounds_attest(cd, BATCH, 3, first=True),
        BATCH,
    )

    tx = escrow.release(relayed, {"from": admin})
    row("release", tx, _bounds_release(calldata_cost(_tx_calldata(tx)), first_payment=False))

    newcomer = accounts.add(keccak(text="gas-new-beneficiary").hex())
    fresh = terms(newcomer)
    escrow.registerMilestone(program, fresh, {"from": manager})
    fresh_id = mid(fresh[0])
    escrow.attestWithSignatures(
        epoch, [(fresh_id, evidence, sigs(fresh_id, evidence))], {"from": admin}
    )
    tx = escrow.release(fresh_id, {"from": admin})
    row(
        "release_first_payment",
        tx,
        _bounds_release(calldata_cost(_tx_calldata(tx)), first_payment=True),
    )
    # A batch of due milestones (no challenge window here), each to its own beneficiary, who
    # already holds the token, as the contractors of a running program do.
    payees = [accounts.add(keccak(text=f"gas-batch-beneficiary-{i}").hex()) for i in range(BATCH)]
    for payee in payees:
        token.mint(payee, 1, {"from": admin})
    due = [terms(payee) for payee in payees]
    escrow.registerMilestones(program, due, {"from": manager})
    escrow.attestWithSignatures(
        epoch, [(mid(t[0]), evidence, sigs(mid(t[0]), evidence)) for t in due], {"from": admin}
    )
    tx = escrow.releaseBatch([mid(t[0]) for t in due], {"from": admin})
    if tx.return_value != BATCH:
        raise RuntimeError(f"releaseBatch paid {tx.return_value} of {BATCH} due milestones")
    row(
        "release_batch20_per_milestone",
        tx,
        _bounds_release_batch(calldata_cost(_tx_calldata(tx)), BATCH),
        BATCH,
    )
    # An amendment of a registered milestone: new amount, deadline, specification, beneficiary.
    amended = terms()
    escrow.registerMilestone(program, amended, {"from": manager})
    tx = escrow.amendMilestone(
        mid(amended[0]),
        str(treasury),
        amount // 2,
        deadline + 1,
        keccak(b"amended"),
        {"from": manager},
    )
    row("amend_milestone", tx, _bounds_amend(calldata_cost(_tx_calldata(tx))))
    # A second program, closed and refunded to its treasury (who holds the token already).
    other = escrow.createProgram(
        token, treasury, 0, BENCH_FACTS.as_arg(), {"from": manager}
    ).return_value
    token.mint(treasury, 1, {"from": admin})
    token.mint(manager, amount, {"from": admin})
    token.approve(escrow, amount, {"from": manager})
    escrow.fund(other, amount, {"from": manager})
    escrow.closeProgram(other, {"from": manager})
    tx = escrow.withdrawRemainder(other, {"from": manager})
    row("withdraw_remainder", tx, _bounds_withdraw(calldata_cost(_tx_calldata(tx))))
    successor = accounts[7]
    escrow.grantRole(escrow.PROGRAM_MANAGER_ROLE(), successor, {"from": admin})
    tx = escrow.setProgramManager(other, successor, {"from": admin})
    row("set_program_manager", tx, _bounds_set_manager(calldata_cost(_tx_calldata(tx))))
    tx = escrow.setProgramTreasury(other, accounts[8], {"from": admin})
    row("set_program_treasury", tx, _bounds_set_treasury(calldata_cost(_tx_calldata(tx))))
    tx = escrow.createProgram(token, treasury, 0, BENCH_FACTS.as_arg(), {"from": manager})
    row(
        "create_program",
        tx,
        _bounds_create_program(calldata_cost(_tx_calldata(tx)), BENCH_FACTS),
    )
    # The baseline cut below what the program holds: commitments now read the baseline too.
    cut = tx.return_value
    token.mint(manager, 10 * amount, {"from": admin})
    token.approve(escrow, 10 * amount, {"from": manager})
    escrow.fund(cut, 10 * amount, {"from": manager})
    tx = escrow.setBaseline(cut, 5 * amount, {"from": admin})
    row("set_baseline", tx, _bounds_set_baseline(calldata_cost(_tx_calldata(tx))))
    over = terms()
    tx = escrow.registerMilestone(cut, over, {"from": manager})
    row(
        "register_milestone_over_funded",
        tx,
        _bounds_register(calldata_cost(_tx_calldata(tx)), 1) + COLD_READ,
    )
    rows.extend(_measure_council(escrow, manager, program, oracles, admin, sigs, terms, mid))
    rows.extend(_measure_registry(escrow, admin))
    return rows


def _measure_council(
    escrow: Any,
    manager: Any,
    program: int,
    oracles: list[Any],
    admin: Any,
    sigs: Any,
    terms: Any,
    mid: Any,
) -> list[GasRow]:
    """A council of three (threshold two) takes over the escrow and freezes a verified milestone."""
    members = [accounts[4], accounts[5], accounts[6]]
    council = OversightCouncil.deploy(escrow, members, 2, {"from": admin})
    escrow.grantRole(escrow.DEFAULT_ADMIN_ROLE(), council, {"from": admin})
    evidence = keccak(text="council-evidence")
    target = terms()
    escrow.registerMilestone(program, target, {"from": manager})
    milestone = mid(target[0])
    epoch = escrow.committee()[2]
    escrow.attestWithSignatures(
        epoch, [(milestone, evidence, sigs(milestone, evidence))], {"from": admin}
    )
    data = escrow.freeze.encode_input(milestone)
    expiry = chain.time() + 7 * 24 * 3600
    rows = []
    tx = council.propose(
        escrow,
        data,
        "Freeze: inspection report disputed by the ministry",
        expiry,
        {"from": members[0]},
    )
    pid = tx.return_value
    cd = calldata_cost(_tx_calldata(tx))
    rows.append(
        GasRow("council_propose", tx.gas_used, _bounds_propose(cd), CAPS["council_propose"])
    )
    tx = council.approve(pid, {"from": members[0]})
    cd = calldata_cost(_tx_calldata(tx))
    rows.append(
        GasRow("council_approve", tx.gas_used, _bounds_approve(cd), CAPS["council_approve"])
    )
    tx = council.approveAndExecute(pid, data, {"from": members[1]})
    if escrow.statusOf(milestone) != 4:  # Frozen
        raise RuntimeError("the council's freeze did not take effect")
    cd = calldata_cost(_tx_calldata(tx))
    name = "council_approve_and_execute_freeze"
    rows.append(GasRow(name, tx.gas_used, _bounds_approve_and_execute_freeze(cd), CAPS[name]))
    return rows


REGISTERED_CONTRACTOR = log_cost(3, 2 * 32)
SUSPENDED = log_cost(2, 32)
CHANGE_REQUESTED = log_cost(4, 32)
CHANGE_APPROVED = log_cost(3, 32)
CHANGE_CANCELLED = log_cost(4, 0)
PAYOUT_CHANGED = log_cost(4, 32)


def _bounds_council_execute(calldata: int) -> int:
    """The council's part of the executing member's approveAndExecute, and the registry's
    account and council slot (read by its council check)."""
    council = BASE + calldata + 3 * COLD_READ + 2 * COLD_UPDATE + APPROVED + EXECUTED
    return council + COLD_ACCOUNT + COLD_READ


def _bounds_registry_register(calldata: int) -> int:
    # The council slot holds the contractor count (updated, not only read); new: the contractor's
    # two slots and the address's contractor id.
    return (
        _bounds_council_execute(calldata)
        + (COLD_UPDATE - COLD_READ)
        + 3 * NEW_SLOT
        + (REGISTERED_CONTRACTOR)
    )


def _bounds_registry_suspend(calldata: int) -> int:
    return _bounds_council_execute(calldata) + COLD_UPDATE + SUSPENDED


def _bounds_registry_request(calldata: int, *, signed: bool) -> int:
    # The contractor's slot (its nonce), the change's first slot (new), the new address's
    # contractor id and the council slot (neither may be the payout).
    bound = BASE + calldata + COLD_UPDATE + NEW_SLOT + 2 * COLD_READ + CHANGE_REQUESTED
    return bound + (ECRECOVER if signed else 0)


def _bounds_registry_approve(calldata: int) -> int:
    # The contractor's status read; the change's first slot updated.
    return _bounds_council_execute(calldata) + COLD_READ + COLD_UPDATE + CHANGE_APPROVED


def _bounds_registry_cancel(calldata: int) -> int:
    # The contractor, the change's two slots (cleared: most of it is refunded, so counted as
    # reads) and the council slot read; the council's account and the member's seat.
    return BASE + calldata + 4 * COLD_READ + COLD_ACCOUNT + COLD_READ + CHANGE_CANCELLED


def _bounds_registry_finalize(calldata: int) -> int:
    # The contractor's slot updated; the change's two slots cleared (refunded: counted as reads);
    # the council slot read; the new address's contractor id written.
    return BASE + calldata + COLD_UPDATE + 3 * COLD_READ + NEW_SLOT + PAYOUT_CHANGED


def _measure_registry(escrow: Any, admin: Any) -> list[GasRow]:
    """A registry governed by a council of three (threshold two): a contractor registered and
    suspended, and a second one's payout moved by request, approval and the cooling-off period."""
    members = [accounts[4], accounts[5], accounts[6]]
    council = OversightCouncil.deploy(escrow, members, 2, {"from": admin})
    cooling_off = 72 * 3600
    registry = ContractorRegistry.deploy(council, cooling_off, 14 * 24 * 3600, {"from": admin})
    rows: list[GasRow] = []

    def row(name: str, tx: Any, bound: int) -> None:
        rows.append(GasRow(name, tx.gas_used, bound, CAPS[name]))

    def by_council(data: Any) -> Any:
        expiry = chain.time() + 7 * 24 * 3600
        pid = council.propose(registry, data, "registry", expiry, {"from": members[0]}).return_value
        council.approve(pid, {"from": members[0]})
        return council.approveAndExecute(pid, data, {"from": members[1]})

    payouts = [accounts.add(keccak(text=f"gas-contractor-{i}").hex()) for i in range(4)]
    vetting = keccak(text="gas-vetting-record")
    until = chain.time() + 365 * 24 * 3600
    tx = by_council(registry.register.encode_input(payouts[0], vetting, until))
    row(
        "registry_register_via_council",
        tx,
        _bounds_registry_register(calldata_cost(_tx_calldata(tx))),
    )
    by_council(registry.register.encode_input(payouts[1], vetting, until))
    first, second = 1, 2
    tx = by_council(registry.suspend.encode_input(first, keccak(text="gas-reason")))
    row(
        "registry_suspend_via_council",
        tx,
        _bounds_registry_suspend(calldata_cost(_tx_calldata(tx))),
    )

    # The contractor pays its own request (a payout address holds a little ether for it).
    if payouts[1].balance() < 10**17:
        admin.transfer(payouts[1], 10**18)
    tx = registry.requestPayoutChange(second, payouts[2], {"from": payouts[1]})
    cd = calldata_cost(_tx_calldata(tx))
    row("registry_request_change", tx, _bounds_registry_request(cd, signed=False))
    tx = registry.cancelPayoutChange(second, {"from": members[2]})
    row(
        "registry_cancel_change_by_member",
        tx,
        _bounds_registry_cancel(calldata_cost(_tx_calldata(tx))),
    )
    request = (second, str(payouts[2]), registry.contractor(second)[4], chain.time() + 3600)
    digest = bytes(registry.payoutChangeDigest(request))
    signed = PrivateKey(bytes.fromhex(payouts[1].private_key[2:])).sign_msg_hash(digest)
    signature = to_compact(signed.r, signed.s, signed.v).as_tuple()
    tx = registry.requestPayoutChangeWithSignature(request, signature, {"from": admin})
    cd = calldata_cost(_tx_calldata(tx))
    row("registry_request_change_signed", tx, _bounds_registry_request(cd, signed=True))
    tx = by_council(registry.approvePayoutChange.encode_input(second, payouts[2]))
    cd = calldata_cost(_tx_calldata(tx))
    row("registry_approve_change_via_council", tx, _bounds_registry_approve(cd))
    chain.sleep(cooling_off)
    tx = registry.finalizePayoutChange(second, {"from": admin})
    row(
        "registry_finalize_change",
        tx,
        _bounds_registry_finalize(calldata_cost(_tx_calldata(tx))),
    )

    probe = RegistryProbe.deploy({"from": admin})
    probe.probe(registry, payouts[2], {"from": admin})
    if not probe.lastAnswer():
        raise RuntimeError("isPayable refused the contractor's new payout address")
    gas = int(probe.lastGas())
    name = "registry_is_payable_external"
    rows.append(GasRow(name, gas, COLD_ACCOUNT + 2 * COLD_READ, CAPS[name]))
    # A fresh probe, so that the registry is cold again for the call by id.
    probe = RegistryProbe.deploy({"from": admin})
    probe.probeId(registry, second, {"from": admin})
    if not probe.lastAnswer():
        raise RuntimeError("payableAddressOf refused the contractor")
    name = "registry_payable_address_of_external"
    rows.append(GasRow(name, int(probe.lastGas()), COLD_ACCOUNT + COLD_READ, CAPS[name]))
    return rows


def format_table(rows: list[GasRow]) -> str:
    header = f"{'operation':<40}{'gas':>9}{'lower bound':>13}{'ratio':>8}{'cap':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.operation:<40}{r.gas:>9,}{r.lower_bound:>13,}{r.ratio:>8.2f}{r.cap:>9,}"
            + ("" if r.gas <= r.cap else "  OVER CAP")
        )
    return "\n".join(lines)


def write_report(rows: list[GasRow], path: Path = REPORT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({r.operation: r.gas for r in rows}, indent=2) + "\n")


def main() -> None:
    rows = measure()
    print(format_table(rows))
    write_report(rows)
    print(f"\nwritten: {REPORT}")
    over = [r.operation for r in rows if r.gas > r.cap]
    if over:
        raise SystemExit(f"over cap: {', '.join(over)}")

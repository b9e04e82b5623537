"""The demo scenario on the embedded local chain (`make demo`).

One program walked from creation to the last payment: a program manager funds it and registers
five milestones; three independent oracle nodes (quorum two) attest evidence, one from its own
account and one relayed as a signature; a release inside the challenge window is refused; the
oversight council (two of three overseers) freezes one verified milestone and cancels it, and
force-releases another whose oracles failed; the window passes and the verified milestones are
paid; one milestone misses its deadline and its money goes back to the program; the program
closes and the remainder returns to the treasury. Each step says what it did in plain words.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from brownie import accounts, chain
from eth_utils import keccak

from disburse.attestations import external_ref, milestone_id, sign_attestation
from scripts.deploy import deploy

DAY = 24 * 3600
UNIT = 10**18
STATUS = [
    "None",
    "Registered",
    "Verified",
    "Disputed",
    "Frozen",
    "Released",
    "Cancelled",
    "Expired",
]


_OUT = sys.stdout


def say(step: str, text: str) -> None:
    print(f"\n[{step}] {text}", file=_OUT, flush=True)


def tell(text: str) -> None:
    print(f"      {text}", file=_OUT, flush=True)


@contextlib.contextmanager
def quiet_brownie() -> Iterator[None]:
    """brownie prints every transaction; the demo tells its story in plain words instead."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def jpyt(amount: int) -> str:
    return f"{amount / UNIT:,.0f} JPYT"


def main() -> None:
    global _OUT
    _OUT = sys.stdout
    with quiet_brownie():
        scenario()


def council_decides(
    council: Any, escrow: Any, overseers: dict[str, Any], call: Any, *args: Any, why: str
) -> None:
    """One override as the council makes it: proposed, approved one by one, executed."""
    names = list(overseers)
    first, second = overseers[names[0]], overseers[names[1]]
    data = call.encode_input(*args)
    expiry = chain.time() + 7 * DAY
    proposal = council.propose(escrow, data, why, expiry, {"from": first}).return_value
    tell(f"proposal {proposal} by {names[0]}: {why}")
    council.approve(proposal, {"from": first})
    tell(f"approved by {names[0]} (1 of {council.threshold()})")
    council.approveAndExecute(proposal, data, {"from": second})
    tell(f"approved by {names[1]} (2 of {council.threshold()}): executed")


def attest_by_two(escrow: Any, oracles: dict[str, Any], milestone: bytes, ref: str) -> None:
    """The Audit Office attests from its own account; the Trust Bank's signature is relayed."""
    epoch = escrow.committee()[2]
    evidence = keccak(text=f"evidence bundle for {ref}")
    audit, bank = oracles["Audit Office"], oracles["Trust Bank"]
    escrow.attest(milestone, evidence, epoch, {"from": audit})
    signature = sign_attestation(
        bank.private_key,
        chain_id=chain.id,
        escrow=escrow.address,
        milestone=milestone,
        evidence_hash=evidence,
        epoch=epoch,
    )
    escrow.attestWithSignatures(
        epoch, [(milestone, evidence, [signature.as_tuple()])], {"from": audit}
    )
    status = STATUS[escrow.statusOf(milestone)]
    tell(f"{ref}: Audit Office attested, Trust Bank's signature relayed: {status}")


def scenario() -> None:
    admin, manager, treasury, anyone = accounts[0], accounts[1], accounts[2], accounts[5]
    contractors = {"Kobe Shipyards": accounts[3], "Aoi Sensors": accounts[4]}
    overseers = {
        "Overseer Sato": accounts[6],
        "Overseer Ito": accounts[7],
        "Overseer Mori": accounts[8],
    }
    oracles = {
        name: accounts.add(keccak(text=f"demo-oracle:{name}").hex())
        for name in ("Audit Office", "Trust Bank", "Inspection Body")
    }
    for oracle in oracles.values():
        admin.transfer(oracle, UNIT, silent=True)

    say("1/11", "Deploying escrow, oversight council and a settlement token on the local chain")
    record, escrow, council, token = deploy(
        deployer=admin,
        council_members=[str(a) for a in overseers.values()],
        threshold=2,
        oracles=[o.address for o in oracles.values()],
        quorum=2,
        managers=[str(manager)],
        with_token=True,
        evm_version="cancun",
    )
    tell(f"escrow {escrow.address} (block {record.deployment_block}), token {token.address}")
    tell(f"oracle committee: {', '.join(oracles)}; any 2 of 3 must agree")
    tell(f"council {council.address}: {', '.join(overseers)}; 2 of 3 decide")
    kept = escrow.hasRole(escrow.DEFAULT_ADMIN_ROLE(), admin)
    tell(f"the deployer's admin right went to the council: {'NO' if kept else 'yes'}")

    say("2/11", "The program manager creates program 'Coastal Radar' with a 2-day challenge window")
    program = escrow.createProgram(token, treasury, 2 * DAY, {"from": manager}).return_value
    tell(f"program {program}: what is left at the end goes back to treasury {treasury}")

    say("3/11", "The program is funded with 500,000,000 JPYT (credited by the balance received)")
    budget = 500_000_000 * UNIT
    token.mint(manager, budget, {"from": admin})
    token.approve(escrow, budget, {"from": manager})
    escrow.fund(program, budget, {"from": manager})
    tell(f"escrow holds {jpyt(token.balanceOf(escrow))} for program {program}")

    say("4/11", "Five milestones are registered in one transaction")
    now = chain.time()
    plan = [
        ("CR-2026/M1 hull survey", "Kobe Shipyards", 120_000_000, 30),
        ("CR-2026/M2 radar delivery", "Aoi Sensors", 180_000_000, 60),
        ("CR-2026/M3 sea trials", "Kobe Shipyards", 90_000_000, 5),
        ("CR-2026/M4 crew training", "Aoi Sensors", 40_000_000, 30),
        ("CR-2026/M5 spare parts", "Kobe Shipyards", 25_000_000, 30),
    ]
    ids: dict[str, bytes] = {}
    rows = []
    for ref, who, amount, days in plan:
        rows.append(
            (
                external_ref(ref),
                contractors[who],
                amount * UNIT,
                now + days * DAY,
                keccak(text=f"spec:{ref}"),
            )
        )
        ids[ref] = milestone_id(program, external_ref(ref))
        tell(f"{ref:<28} {jpyt(amount * UNIT):>18} to {who}, due in {days} days")
    escrow.registerMilestones(program, rows, {"from": manager})
    view = escrow.program(program)
    tell(f"committed {jpyt(view['committed'])} of {jpyt(view['balance'])}")
    m1, m2, m3, m4, m5 = (ids[ref] for ref, *_ in plan)

    say("5/11", "Oracles verify the evidence of M1, M2 and M4 and attest")
    for ref, mid in (
        ("CR-2026/M1 hull survey", m1),
        ("CR-2026/M2 radar delivery", m2),
        ("CR-2026/M4 crew training", m4),
    ):
        attest_by_two(escrow, oracles, mid, ref)

    say("6/11", "Releasing M1 during its challenge window is refused")
    try:
        escrow.release(m1, {"from": anyone})
    except Exception as exc:  # brownie raises VirtualMachineError with the decoded custom error
        error = str(getattr(exc, "revert_msg", exc)).split(":")[0]
        due = datetime.fromtimestamp(escrow.releasableAt(m1), tz=UTC)
        tell(f"refused with {error}: releasable from {due:%Y-%m-%d %H:%M} UTC")

    say("7/11", "The ministry disputes M4's training records: the council freezes it in its window")
    council_decides(
        council,
        escrow,
        overseers,
        escrow.freeze,
        m4,
        why="Freeze CR-2026/M4: ministry reports training manuals incomplete",
    )
    tell(f"CR-2026/M4 crew training: {STATUS[escrow.statusOf(m4)]}; nobody can release it")

    say("8/11", "After review the council cancels M4; its amount returns to the program")
    council_decides(
        council,
        escrow,
        overseers,
        escrow.cancel,
        m4,
        why="Cancel CR-2026/M4: training to be re-tendered",
    )
    tell(
        f"CR-2026/M4 crew training: {STATUS[escrow.statusOf(m4)]}; "
        f"committed now {jpyt(escrow.program(program)['committed'])}"
    )

    say("9/11", "M5's oracles are down; the council pays it on the inspector's signed report")
    reason = "Inspection report IR-2026-118 signed on paper; oracle outage ticket OPS-77"
    council_decides(
        council,
        escrow,
        overseers,
        escrow.forceRelease,
        m5,
        keccak(text=reason),
        why=f"Force-release CR-2026/M5 (25,000,000 JPYT): {reason}",
    )
    tell(f"CR-2026/M5 spare parts: {STATUS[escrow.statusOf(m5)]}; reason hash kept on chain")

    say("10/11", "Six days later: anyone may release M1 and M2; M3 missed its deadline")
    chain.sleep(6 * DAY)
    chain.mine()
    for ref, mid in (("CR-2026/M1 hull survey", m1), ("CR-2026/M2 radar delivery", m2)):
        escrow.release(mid, {"from": anyone})
        tell(f"{ref}: paid {jpyt(escrow.milestone(mid)['amount'])}")
    tell(f"CR-2026/M3 sea trials: {STATUS[escrow.statusOf(m3)]}")
    escrow.expire(m3, {"from": anyone})
    tell("CR-2026/M3 sea trials: expired; 90,000,000 JPYT no longer committed")

    say("11/11", "The program closes, the remainder goes to the treasury, and the books balance")
    escrow.closeProgram(program, {"from": manager})
    paid_back = escrow.withdrawRemainder(program, {"from": manager}).return_value
    tell(f"{jpyt(paid_back)} returned to treasury {treasury}")
    view = escrow.program(program)
    held = token.balanceOf(escrow)
    paid = sum(token.balanceOf(c) for c in contractors.values())
    if held != view["balance"] or paid + token.balanceOf(treasury) + held != budget:
        raise SystemExit("reconciliation failed: money unaccounted for")
    tell(
        f"contractors paid {jpyt(paid)} + treasury {jpyt(token.balanceOf(treasury))} "
        f"+ still in escrow {jpyt(held)} = budget {jpyt(budget)}: OK"
    )

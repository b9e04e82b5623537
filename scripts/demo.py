"""The demo scenario on the embedded local chain (`make demo`).

One program walked from creation to the last payment: a program manager funds it and registers
three milestones; three independent oracle nodes (quorum two) attest evidence, one from its own
account and one relayed as a signature; the challenge window passes; the milestones are paid;
one milestone misses its deadline and its money goes back to the program; the program closes and
the remainder returns to the treasury. Each step says what it did in plain words.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime

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


def scenario() -> None:
    admin, manager, treasury = accounts[0], accounts[1], accounts[2]
    contractors = {"Kobe Shipyards": accounts[3], "Aoi Sensors": accounts[4]}
    oracles = {
        name: accounts.add(keccak(text=f"demo-oracle:{name}").hex())
        for name in ("Audit Office", "Trust Bank", "Inspection Body")
    }
    for oracle in oracles.values():
        admin.transfer(oracle, UNIT, silent=True)

    say("1/9", "Deploying the escrow and a settlement token on the local chain")
    overseers = {"Overseer Sato": accounts[6], "Overseer Ito": accounts[7], "Overseer Mori": accounts[8]}
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
    tell(f"escrow {escrow.address}, token {token.address}, block {record.deployment_block}")
    tell(f"oracle committee: {', '.join(oracles)} (any 2 of 3 must agree)")
    tell(f"oversight council {council.address}: {', '.join(overseers)} (2 of 3); it alone is admin")

    say("2/9", "The program manager creates program 'Coastal Radar' with a 2-day challenge window")
    program = escrow.createProgram(token, treasury, 2 * DAY, {"from": manager}).return_value
    tell(f"program {program}: refunds go to treasury {treasury}")

    say("3/9", "The program is funded with 500,000,000 JPYT (credited by the balance received)")
    budget = 500_000_000 * UNIT
    token.mint(manager, budget, {"from": admin})
    token.approve(escrow, budget, {"from": manager})
    escrow.fund(program, budget, {"from": manager})
    tell(f"escrow holds {jpyt(token.balanceOf(escrow))} for program {program}")

    say("4/9", "Three milestones are registered in one transaction")
    now = chain.time()
    plan = [
        ("CR-2026/M1 hull survey", "Kobe Shipyards", 120_000_000, 30),
        ("CR-2026/M2 radar delivery", "Aoi Sensors", 180_000_000, 60),
        ("CR-2026/M3 sea trials", "Kobe Shipyards", 90_000_000, 5),
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

    epoch = escrow.committee()[2]
    say("5/9", "Oracles verify the evidence of M1 and M2 and attest")
    for ref in ("CR-2026/M1 hull survey", "CR-2026/M2 radar delivery"):
        evidence = keccak(text=f"evidence bundle for {ref}")
        audit = oracles["Audit Office"]
        escrow.attest(ids[ref], evidence, epoch, {"from": audit})
        tell(f"{ref}: Audit Office attested from its own account")
        bank = oracles["Trust Bank"]
        signature = sign_attestation(
            bank.private_key,
            chain_id=chain.id,
            escrow=escrow.address,
            milestone=ids[ref],
            evidence_hash=evidence,
            epoch=epoch,
        )
        escrow.attestWithSignatures(
            epoch, [(ids[ref], evidence, [signature.as_tuple()])], {"from": audit}
        )
        status = STATUS[escrow.statusOf(ids[ref])]
        tell(f"{ref}: Trust Bank's signature relayed; quorum reached, status {status}")

    say("6/9", "Releasing M1 during its challenge window is refused")
    m1 = ids["CR-2026/M1 hull survey"]
    try:
        escrow.release(m1, {"from": manager})
    except Exception as exc:  # brownie raises VirtualMachineError with the decoded custom error
        error = str(getattr(exc, "revert_msg", exc)).split(":")[0]
        due = datetime.fromtimestamp(escrow.releasableAt(m1), tz=UTC)
        tell(f"refused with {error}: releasable from {due:%Y-%m-%d %H:%M} UTC")

    say("7/9", "Six days later: the window is over, anyone may release; M3 missed its deadline")
    chain.sleep(6 * DAY)
    chain.mine()
    for ref in ("CR-2026/M1 hull survey", "CR-2026/M2 radar delivery"):
        mid = ids[ref]
        beneficiary = escrow.milestone(mid)["beneficiary"]
        escrow.release(mid, {"from": accounts[5]})
        tell(f"{ref}: paid; beneficiary now holds {jpyt(token.balanceOf(beneficiary))}")
    m3 = ids["CR-2026/M3 sea trials"]
    tell(f"CR-2026/M3 sea trials: status {STATUS[escrow.statusOf(m3)]}")
    escrow.expire(m3, {"from": accounts[5]})
    tell("CR-2026/M3 sea trials: expired; 90,000,000 JPYT no longer committed")

    say("8/9", "The program manager closes the program; the remainder goes back to the treasury")
    escrow.closeProgram(program, {"from": manager})
    paid_back = escrow.withdrawRemainder(program, {"from": manager}).return_value
    tell(f"{jpyt(paid_back)} returned to treasury {treasury}")

    say("9/9", "Reconciliation")
    view = escrow.program(program)
    held = token.balanceOf(escrow)
    tell(f"program balance {jpyt(view['balance'])}, committed {jpyt(view['committed'])}")
    tell(f"escrow token balance {jpyt(held)}")
    paid = sum(token.balanceOf(c) for c in contractors.values())
    assert held == view["balance"], "escrow balance differs from the program ledger"
    assert paid + token.balanceOf(treasury) + held == budget, "money unaccounted for"
    tell(f"paid {jpyt(paid)} + returned {jpyt(token.balanceOf(treasury))} = budget: OK")

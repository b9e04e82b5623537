"""A governed deployment (scripts.deploy.deploy) with a history the audit must tell correctly,
built once per module, and a CLI runner for `disburse audit`.

Deployment: deployer accounts[0]; council accounts[7..9] (2 of 3); oracles the root `oracles`
fixture's first three (quorum 2); program manager `roles.manager`.

The history (times from t0, when the fixture starts; window of program 1 one day, of program 2
one hour):

    program 1 (funded 100,000 by the manager and 50,000 by the funder)
      A/M1 10,000  quorum (oracles 0, 1) → released by the outsider two hours after the window
      A/M2 20,000  quorum → released 10 s after the window closed           (no flag: by design)
      A/M3  5,000  oracle 0 and oracle 1 attest different evidence          (dispute)
      A/M4  7,000  quorum → council freezes it (#1), then cancels it (#2)
      A/M5  3,000  council force-releases it without attestations (#3)      (force-release)
      A/M6  4,000  deadline t0+2 days, no attestation, expire() at t0+4d    (expired)
      A/M7  6,000  deadline t0+3 days, no attestation, nobody expires it    (overdue)
      A/M8  8,000  council replaces its beneficiary (#4); stays Registered
      A/M9  9,000  oracle 0 attests in epoch 1; the council renews the committee (#5); oracles
                   1 and 2 attest other evidence in epoch 2 → verified      (oracle-disagreement)
      paid 33,000 of 65,000 scheduled while 10,000 is due                   (schedule-ahead)
    program 2 (funded 10,000)
      B/M1  2,000  deadline t0+2 days, relayed signatures → released after the window; the
                   program is closed and its 8,000 remainder withdrawn to the treasury
    proposal #6 (cancel A/M8, expiring after one hour) approved by member 2, revoked, expired.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import typer
from brownie import accounts, chain, web3
from eth_utils import keccak
from typer.testing import CliRunner, Result

from disburse.chain.attestations import external_ref, milestone_id, sign_attestation
from disburse.chain.deployment import save
from disburse.cli import main
from disburse.cli.audit import audit
from scripts.deploy import deploy
from tests.conftest import DAY, TOKEN_UNIT, evidence, milestone_input
from tests.programs import TEST_FACTS

HOUR = 3600
FORCE_REASON = "oracles offline: site inspected by hand on 3 March"


@dataclass(frozen=True)
class History:
    record: Any
    escrow: Any
    council: Any
    token: Any
    members: tuple[Any, ...]
    oracles: tuple[Any, ...]
    deployment_file: Path
    ids: dict[str, bytes]
    t0: int


def units(amount: int) -> int:
    return amount * TOKEN_UNIT


PROGRAM_A = replace(
    TEST_FACTS,
    title="Coastal radar refit",
    organisation="MSDF",
    category="maintenance",
    fiscal_year=2026,
    baseline=units(150_000),
)
PROGRAM_B = replace(
    TEST_FACTS,
    title="Counter-drone sensor research",
    organisation="ATLA",
    category="research",
    fiscal_year=2027,
    baseline=units(20_000),
)
RAISED_BASELINE = 180_000
"""Program 1's baseline after the council's proposal 7, in tokens."""


def _ref_id(program: int, ref: str) -> bytes:
    return bytes(milestone_id(program, external_ref(ref)))


@pytest.fixture(scope="module")
def history(
    module_isolation: Any, roles: Any, oracles: list[Any], tmp_path_factory: Any
) -> History:
    """The history above. It asks for brownie's `module_isolation` so that the chain reset that
    fixture makes at the start of the module comes before the history, not after it."""
    members = (accounts[7], accounts[8], accounts[9])
    record, escrow, council, token = deploy(
        deployer=roles.admin,
        council_members=[str(m) for m in members],
        threshold=2,
        oracles=[str(o) for o in oracles[:3]],
        quorum=2,
        managers=[str(roles.manager)],
        with_token=True,
        evm_version="cancun",
    )
    manager = {"from": roles.manager}
    token.mint(roles.manager, units(1_000_000), {"from": roles.admin})
    token.mint(roles.funder, units(1_000_000), {"from": roles.admin})
    token.approve(escrow, units(1_000_000), manager)
    token.approve(escrow, units(1_000_000), {"from": roles.funder})

    t0 = chain.time()
    escrow.createProgram(token, roles.treasury, DAY, PROGRAM_A.as_arg(), manager)
    escrow.createProgram(token, roles.treasury, HOUR, PROGRAM_B.as_arg(), manager)
    escrow.fund(1, units(100_000), manager)
    escrow.fund(1, units(50_000), {"from": roles.funder})
    escrow.fund(2, units(10_000), manager)

    plan = {
        "A/M1": (10_000, 30 * DAY),
        "A/M2": (20_000, 30 * DAY),
        "A/M3": (5_000, 30 * DAY),
        "A/M4": (7_000, 30 * DAY),
        "A/M5": (3_000, 30 * DAY),
        "A/M6": (4_000, 2 * DAY),
        "A/M7": (6_000, 3 * DAY),
        "A/M8": (8_000, 60 * DAY),
        "A/M9": (9_000, 30 * DAY),
    }
    escrow.registerMilestones(
        1,
        [
            milestone_input(ref, roles.beneficiary, units(amount), deadline=t0 + offset)
            for ref, (amount, offset) in plan.items()
        ],
        manager,
    )
    escrow.registerMilestone(
        2, milestone_input("B/M1", roles.beneficiary2, units(2_000), deadline=t0 + 2 * DAY), manager
    )
    ids = {ref: _ref_id(1, ref) for ref in plan} | {"B/M1": _ref_id(2, "B/M1")}

    def attest(ref: str, oracle: Any, label: str) -> None:
        escrow.attest(ids[ref], evidence(label), escrow.committee()[2], 0, {"from": oracle})

    for ref in ("A/M1", "A/M2", "A/M4"):
        attest(ref, oracles[0], ref)
        attest(ref, oracles[1], ref)
    attest("A/M3", oracles[0], "first")
    attest("A/M3", oracles[1], "second")
    attest("A/M9", oracles[0], "old-epoch")

    # B/M1 through relayed EIP-712 signatures.
    epoch = escrow.committee()[2]
    signatures = []
    for oracle in oracles[:2]:
        signatures.append(
            sign_attestation(
                oracle.private_key,
                chain_id=chain.id,
                escrow=escrow.address,
                milestone=ids["B/M1"],
                evidence_hash=evidence("B/M1"),
                epoch=epoch,
                terms_version=escrow.milestone(ids["B/M1"])[10],
            ).as_tuple()
        )
    escrow.attestWithSignatures(
        epoch, [(ids["B/M1"], evidence("B/M1"), signatures)], {"from": roles.outsider}
    )

    def run(data: Any, *, expiry: int | None = None) -> None:
        when = expiry if expiry is not None else chain.time() + 7 * DAY
        tx = council.propose(escrow, data, "audit test", when, {"from": members[0]})
        pid = tx.return_value
        council.approve(pid, {"from": members[0]})
        council.approveAndExecute(pid, data, {"from": members[1]})

    run(escrow.freeze.encode_input(ids["A/M4"]))
    run(escrow.cancel.encode_input(ids["A/M4"]))
    run(escrow.forceRelease.encode_input(ids["A/M5"], keccak(text=FORCE_REASON)))
    run(escrow.replaceBeneficiary.encode_input(ids["A/M8"], roles.beneficiary2))
    run(escrow.setCommittee.encode_input([str(o) for o in oracles[:3]], 2))
    attest("A/M9", oracles[1], "new-epoch")
    attest("A/M9", oracles[2], "new-epoch")

    stale = escrow.cancel.encode_input(ids["A/M8"])
    tx = council.propose(
        escrow, stale, "cancel A/M8 (withdrawn)", chain.time() + HOUR, {"from": members[2]}
    )
    council.approve(tx.return_value, {"from": members[2]})
    council.revoke(tx.return_value, {"from": members[2]})
    run(escrow.setBaseline.encode_input(1, units(RAISED_BASELINE)))  # proposal 7

    # The windows pass: A/M2 is released ten seconds after its window closed, A/M1 and B/M1 two
    # hours later; program 2 closes and returns its remainder.
    chain.sleep(DAY + 10)
    chain.mine()
    escrow.release(ids["A/M2"], {"from": roles.outsider})
    chain.sleep(2 * HOUR)
    chain.mine()
    escrow.release(ids["A/M1"], {"from": roles.outsider})
    escrow.release(ids["B/M1"], {"from": roles.outsider})
    escrow.closeProgram(2, manager)
    escrow.withdrawRemainder(2, manager)

    # Four days on: A/M6 is expired by a call, A/M7 is left overdue.
    chain.sleep(t0 + 4 * DAY - chain.time())
    chain.mine()
    escrow.expire(ids["A/M6"], {"from": roles.outsider})

    path = tmp_path_factory.mktemp("audit") / "deployment.json"
    save(record, path)
    return History(
        record=record,
        escrow=escrow,
        council=council,
        token=token,
        members=members,
        oracles=tuple(oracles[:3]),
        deployment_file=path,
        ids=ids,
        t0=t0,
    )


@pytest.fixture(scope="session")
def cli() -> typer.Typer:
    """`disburse` with its root options and the audit command, as the console script has it."""
    app = typer.Typer()
    app.callback()(main)
    app.command("audit")(audit)
    return app


@pytest.fixture
def run_audit(cli: typer.Typer, history: History) -> Callable[..., Result]:
    """Runs `disburse --deployment … --rpc-url … audit ARGS` through the CLI runner."""

    def _run(*args: str, rpc_url: str | None = None, root: tuple[str, ...] = ()) -> Result:
        runner = CliRunner()
        return runner.invoke(
            cli,
            [
                "--deployment",
                str(history.deployment_file),
                "--rpc-url",
                rpc_url or str(web3.provider.endpoint_uri),
                *root,
                "audit",
                *args,
            ],
            catch_exceptions=False,
        )

    return _run


@pytest.fixture
def audit_json(run_audit: Callable[..., Result]) -> dict[str, Any]:
    result = run_audit("--json")
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc

"""Fixtures for `disburse council …` and `disburse watch` against the test chain.

`scripts.deploy.deploy` makes a governed deployment (the council is the escrow's only admin)
whose council members have deterministic keys in encrypted keystores; the deployment is written
to a file, and `cli` runs the real `disburse` app through typer's CliRunner with the global
options pointing at them, signing as the member named.

Accounts: deployer accounts[0]; council members `m0`, `m1`, `m2` (2 of 3); `outsider` (a keyed
account in no role); program manager accounts[1]; beneficiaries accounts[3] and accounts[4];
oracles the root `oracles` fixture's first three (quorum 2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from brownie import accounts, web3
from click.testing import Result
from eth_utils import keccak

import disburse.cli
from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.deployment import save
from disburse.chain.keystore import import_keystore
from disburse.cli.watch import watch
from scripts.deploy import deploy
from tests.cli_support import Cli as _Cli
from tests.conftest import DAY, TOKEN_UNIT, evidence, milestone_input
from tests.programs import FACTS

PASSWORD = "council test password"
PASSWORD_ENV = "DISBURSE_COUNCIL_TEST_PASSWORD"
FUNDS = 1_000_000 * TOKEN_UNIT
AMOUNT = 1_000 * TOKEN_UNIT
THRESHOLD = 2
SIGNERS = ("m0", "m1", "m2", "outsider")

# MilestoneStatus values.
NONE, REGISTERED, VERIFIED, DISPUTED, FROZEN, RELEASED, CANCELLED, EXPIRED = range(8)

DEAD_RPC = "http://127.0.0.1:9"
"""Nothing listens there (the discard port): the chain is down."""


def _keyed(label: str) -> Any:
    account = accounts.add(keccak(text=f"disburse-council-cli:{label}").hex())
    if account.balance() < 10**18:
        accounts[0].transfer(account, 10 * 10**18, silent=True)
    return account


class Cli(_Cli):
    """The shared runner, with the council's steps: a command that must succeed, a proposal,
    and a whole decision (proposed by m0, approved by m0 and m1)."""

    def ok(self, *args: str | int, signer: str | None = "m0") -> str:
        """Runs a command that must succeed; returns its output."""
        result = self(*args, signer=signer)
        assert result.exit_code == 0, result.output
        return result.output

    def propose(self, *args: str | int, signer: str = "m0") -> int:
        """`council propose …`; returns the new proposal's id."""
        out = self.ok("council", "propose", *args, signer=signer)
        found = re.search(r"^proposal (\d+) created by", out, re.MULTILINE)
        assert found, out
        return int(found.group(1))

    def decide(self, *args: str | int) -> int:
        """Proposes as m0, approves as m0 and m1 (the second approval executes); returns the id."""
        pid = self.propose(*args)
        assert "1 of 2 approvals" in self.ok("council", "approve", pid, signer="m0")
        assert "executed" in self.ok("council", "approve", pid, signer="m1")
        return pid


@pytest.fixture(scope="session")
def people() -> dict[str, Any]:
    return {name: _keyed(name) for name in SIGNERS}


@pytest.fixture(scope="session")
def keystores(people: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Encrypted keystores (fast scrypt) of the members and the outsider."""
    folder = tmp_path_factory.mktemp("council-keystores")
    found = {}
    for name, account in people.items():
        path = folder / f"{name}.json"
        import_keystore(path, account.private_key, PASSWORD, scrypt_n=2**10)
        found[name] = path
    return found


@dataclass(frozen=True)
class Deployed:
    record: Any
    escrow: Any
    council: Any
    token: Any
    path: Path
    manager: Any
    members: tuple[Any, ...]
    oracles: tuple[Any, ...]


@pytest.fixture(scope="module")
def deployed(
    people: dict[str, Any], oracles: list[Any], tmp_path_factory: pytest.TempPathFactory
) -> Deployed:
    manager = accounts[1]
    members = (people["m0"], people["m1"], people["m2"])
    record, escrow, council, token = deploy(
        deployer=accounts[0],
        council_members=[str(m) for m in members],
        threshold=THRESHOLD,
        oracles=[str(o) for o in oracles[:3]],
        quorum=2,
        managers=[str(manager)],
        with_token=True,
        evm_version="cancun",
    )
    token.mint(manager, 10 * FUNDS, {"from": accounts[0]})
    path = tmp_path_factory.mktemp("council-deployment") / "dev.json"
    save(record, path)
    return Deployed(record, escrow, council, token, path, manager, members, tuple(oracles[:3]))


@pytest.fixture(scope="module")
def program(deployed: Deployed) -> int:
    """A program of the manager, funded with FUNDS, one-day challenge window."""
    escrow, token, manager = deployed.escrow, deployed.token, deployed.manager
    pid = int(escrow.createProgram(token, accounts[2], DAY, FACTS, {"from": manager}).return_value)
    token.approve(escrow, FUNDS, {"from": manager})
    escrow.fund(pid, FUNDS, {"from": manager})
    return pid


@pytest.fixture
def register(deployed: Deployed, program: int) -> Callable[..., bytes]:
    """Registers a milestone of the program (beneficiary accounts[3]) and returns its id."""

    def _register(
        ref: str = "PO-1/M1", amount: int = AMOUNT, *, deadline: int | None = None
    ) -> bytes:
        deployed.escrow.registerMilestone(
            program,
            milestone_input(ref, accounts[3], amount, deadline=deadline),
            {"from": deployed.manager},
        )
        return bytes(milestone_id(program, external_ref(ref)))

    return _register


def attest(deployed: Deployed, mid: bytes, oracles: Any, label: str) -> None:
    epoch = deployed.escrow.committee()[2]
    terms = deployed.escrow.milestone(mid).dict()["termsVersion"]
    for oracle in oracles:
        deployed.escrow.attest(mid, evidence(label), epoch, terms, {"from": oracle})


@pytest.fixture
def verified(deployed: Deployed, register: Callable[..., bytes]) -> Callable[..., bytes]:
    """A milestone a quorum attested: Verified, in its challenge window."""

    def _verified(ref: str = "PO-1/M1") -> bytes:
        mid = register(ref)
        attest(deployed, mid, deployed.oracles[:2], "bundle-1")
        assert deployed.escrow.statusOf(mid) == VERIFIED
        return mid

    return _verified


@pytest.fixture
def disputed(deployed: Deployed, register: Callable[..., bytes]) -> Callable[..., bytes]:
    """A milestone on which two oracles attested different evidence: Disputed."""

    def _disputed(ref: str = "PO-1/D1") -> bytes:
        mid = register(ref)
        attest(deployed, mid, deployed.oracles[:1], "first")
        attest(deployed, mid, deployed.oracles[1:2], "second")
        assert deployed.escrow.statusOf(mid) == DISPUTED
        return mid

    return _disputed


@pytest.fixture(scope="session")
def app() -> Iterator[Any]:
    """The real `disburse` app, with `watch` registered unless it is already."""
    main = disburse.cli.app
    added = None
    if not any(c.name == "watch" or c.callback is watch for c in main.registered_commands):
        main.command("watch")(watch)
        added = main.registered_commands[-1]
    yield main
    if added is not None:
        main.registered_commands.remove(added)


@pytest.fixture
def cli(app: Any, deployed: Deployed, keystores: dict[str, Path]) -> Cli:
    return Cli(
        deployed.path,
        keystores,
        password=PASSWORD,
        password_env=PASSWORD_ENV,
        default_signer="m0",
        app=app,
    )


def nonce(account: Any) -> int:
    """Transactions the account has sent: unchanged means nothing was sent."""
    return int(web3.eth.get_transaction_count(str(account)))


@pytest.fixture
def nonces(people: dict[str, Any]) -> Callable[[], dict[str, int]]:
    """Every signer's nonce, to compare before and after a refusal."""
    return lambda: {name: nonce(account) for name, account in people.items()}


@pytest.fixture
def quick_profile(tmp_path: Path) -> Path:
    """A chain profile that gives up on an unreachable node quickly."""
    path = tmp_path / "profile.yaml"
    path.write_text("retries: 1\nbackoff_s: 0.01\nrequest_timeout_s: 2\n")
    return path


def one_error_line(result: Result) -> str:
    """The refusal: exit status 2 and a single `error: …` line."""
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    return errors[0]

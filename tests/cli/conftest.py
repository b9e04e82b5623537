"""Fixtures for the `disburse` command line against the test chain.

A deployment made by `scripts.deploy.deploy` (the council holds the escrow's admin role) is
written to a deployment file; program managers and an outsider have deterministic keys in
encrypted keystores; `cli` invokes the real `disburse` app through typer's CliRunner with the
global options (--deployment, --rpc-url, --keystore, --password-env) pointing at them.

Accounts: deployer accounts[0]; council accounts[7], accounts[8], accounts[9] (2 of 3); oracles
the root `oracles` fixture's first three (quorum 2); managers `manager` and `manager2` (both hold
PROGRAM_MANAGER_ROLE); `outsider` holds no role.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from brownie import accounts, chain, web3
from eth_utils import keccak

from disburse.chain.deployment import save
from disburse.chain.keystore import import_keystore
from scripts.deploy import deploy
from tests.cli_support import Cli
from tests.conftest import DAY, TOKEN_UNIT
from tests.programs import FACTS

PASSWORD = "correct horse battery staple"
PASSWORD_ENV = "DISBURSE_TEST_KEY_PASSWORD"
FUNDS = 1_000_000 * TOKEN_UNIT
"""What the `program` fixture holds."""
MINTED = 10 * FUNDS
"""Each manager's token balance before any test."""


def _keyed(label: str) -> Any:
    account = accounts.add(keccak(text=f"disburse-cli:{label}").hex())
    if account.balance() < 10**18:
        accounts[0].transfer(account, 10 * 10**18, silent=True)
    return account


@dataclass(frozen=True)
class People:
    manager: Any
    manager2: Any
    outsider: Any
    treasury: Any
    beneficiary: Any
    beneficiary2: Any


@pytest.fixture(scope="session")
def people() -> People:
    return People(
        manager=_keyed("manager"),
        manager2=_keyed("manager-2"),
        outsider=_keyed("outsider"),
        treasury=accounts[2],
        beneficiary=accounts[3],
        beneficiary2=accounts[4],
    )


@pytest.fixture(scope="session")
def keystores(people: People, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Encrypted keystores (fast scrypt) of the managers and the outsider."""
    folder = tmp_path_factory.mktemp("keystores")
    found = {}
    for name in ("manager", "manager2", "outsider"):
        path = folder / f"{name}.json"
        import_keystore(path, getattr(people, name).private_key, PASSWORD, scrypt_n=2**10)
        found[name] = path
    return found


@dataclass(frozen=True)
class Deployed:
    record: Any
    escrow: Any
    council: Any
    token: Any
    path: Path


@pytest.fixture(scope="module")
def deployed(
    people: People, oracles: list[Any], tmp_path_factory: pytest.TempPathFactory
) -> Deployed:
    """scripts.deploy.deploy on the test chain, written to a deployment file."""
    record, escrow, council, token = deploy(
        deployer=accounts[0],
        council_members=[str(a) for a in accounts[7:10]],
        threshold=2,
        oracles=[str(o) for o in oracles[:3]],
        quorum=2,
        managers=[str(people.manager), str(people.manager2)],
        with_token=True,
        evm_version="cancun",
    )
    for holder in (people.manager, people.manager2, people.outsider):
        token.mint(holder, MINTED, {"from": accounts[0]})
    path = tmp_path_factory.mktemp("deployment") / "dev.json"
    save(record, path)
    return Deployed(record, escrow, council, token, path)


@pytest.fixture(scope="module")
def program(deployed: Deployed, people: People) -> int:
    """A program of `manager`, funded with FUNDS, one-day challenge window."""
    escrow, token = deployed.escrow, deployed.token
    pid = int(
        escrow.createProgram(
            token, people.treasury, DAY, FACTS, {"from": people.manager}
        ).return_value
    )
    token.approve(escrow, FUNDS, {"from": people.manager})
    escrow.fund(pid, FUNDS, {"from": people.manager})
    return pid


@pytest.fixture
def cli(deployed: Deployed, keystores: dict[str, Path]) -> Cli:
    return Cli(
        deployed.path,
        keystores,
        password=PASSWORD,
        password_env=PASSWORD_ENV,
        default_signer="manager",
    )


def nonce(account: Any) -> int:
    """Transactions the account has sent: unchanged means nothing was sent."""
    return int(web3.eth.get_transaction_count(str(account)))


@pytest.fixture
def unreachable_profile(tmp_path: Path) -> Path:
    """A chain profile that gives up on an unreachable node quickly."""
    path = tmp_path / "profile.yaml"
    path.write_text("retries: 1\nbackoff_s: 0.01\nrequest_timeout_s: 2\n")
    return path


DEAD_RPC = "http://127.0.0.1:9"
"""Nothing listens there (the discard port): the chain is down."""


def iso_in(days: float) -> str:
    """An ISO date-time `days` from the chain's current time."""
    return datetime.fromtimestamp(chain.time() + int(days * DAY), tz=UTC).isoformat()


def write_yaml_plan(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    """A YAML plan under `milestones:`, every value quoted as written."""
    lines = ["milestones:"]
    for row in rows:
        first = True
        for key, value in row.items():
            lines.append(f"  {'- ' if first else '  '}{key}: {json.dumps(value)}")
            first = False
    path.write_text("\n".join(lines) + "\n")
    return path


def write_csv_plan(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def table_rows(text: str) -> dict[str, str]:
    """A two-column table as printed (field │ value), as a mapping."""
    found = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 2 and cells[0]:
            found[cells[0]] = cells[1]
    return found


def table_records(text: str) -> list[list[str]]:
    """The body rows of a table as printed, each a list of its cells."""
    return [
        [c.strip() for c in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.strip().startswith("│")
    ]

"""Shared fixtures: a deployed escrow with a committee of three oracles (quorum 2), a funded
program, and helpers to register milestones and sign attestations with real keys.

Every test runs on a real anvil chain; `isolate` rewinds the chain after each test, so module
fixtures deploy once and every test starts from the same state.

The chain is started here, with explicit parameters (`TEST_CHAIN`), before brownie connects;
brownie then attaches to it instead of launching its own from the user's ~/.brownie settings
(brownie 1.22.2 cannot take `cmd_settings` from the project's brownie-config.yaml, and a fresh
~/.brownie gives a 12,000,000 block gas limit). tests/toolchain/test_fresh_brownie_home.py runs
a probe with HOME pointed at an empty folder to keep this true.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pytest
from brownie import (
    FalseReturningToken,
    FeeOnTransferToken,
    MilestoneEscrow,
    ReentrantToken,
    SettlementToken,
    accounts,
    chain,
)
from eth_utils import keccak

from disburse.chain.attestations import external_ref, milestone_id, sign_attestation
from disburse.chain.localchain import LocalChain
from tests.programs import FACTS

TEST_CHAIN: dict[str, Any] = {
    "chain_id": 31337,
    "accounts": 10,
    "gas_limit": 30_000_000,
    "base_fee": 0,
}
"""The test chain's parameters, whatever the user's ~/.brownie says (anvil's default mnemonic and
balances, like brownie's own launch)."""

_chain: LocalChain | None = None

pytest_plugins = ["tests.databases"]


def _development_port() -> int | None:
    """The port brownie's network connects to, when it is a development network brownie would
    launch (a live network given with --network is left alone)."""
    from brownie._config import CONFIG

    network = CONFIG.argv.get("network") or CONFIG.settings["networks"]["default"]
    settings = CONFIG.networks.get(network, {})
    if "cmd" not in settings:
        return None
    port = urlparse(str(settings.get("host", "http://127.0.0.1"))).port
    return int(port or settings.get("cmd_settings", {}).get("port", 8545))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Starts the test chain with TEST_CHAIN's parameters before brownie connects to it."""
    global _chain
    port = _development_port()
    if port is None:
        return
    chain_ = LocalChain(state_file=None, port=port, **TEST_CHAIN)
    if chain_.ready():
        raise pytest.UsageError(
            f"port {chain_.port} already answers JSON-RPC: the tests start their own chain "
            "there; stop the other chain or run the tests in a network namespace of their own"
        )
    chain_.start()
    _chain = chain_
    atexit.register(chain_.stop)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _chain is not None:
        _chain.stop()


DAY = 24 * 3600
TOKEN_UNIT = 10**18
PROGRAM_FUNDS = 1_000_000 * TOKEN_UNIT
CHALLENGE_WINDOW = DAY


@pytest.fixture(autouse=True)
def isolate(fn_isolation: Any) -> None:
    """Rewinds the chain after every test."""


@dataclass(frozen=True)
class Roles:
    admin: Any
    manager: Any
    outsider: Any
    beneficiary: Any
    beneficiary2: Any
    treasury: Any
    funder: Any


@pytest.fixture(scope="session")
def roles() -> Roles:
    return Roles(*accounts[:7])


def _oracle_account(index: int) -> Any:
    """Deterministic oracle keys, so signatures (and gas figures) are the same on every run."""
    account = accounts.add(keccak(text=f"test-oracle-{index}").hex())
    return account


@pytest.fixture(scope="session")
def oracles(roles: Roles) -> list[Any]:
    found = [_oracle_account(i) for i in range(5)]
    for oracle in found:
        if oracle.balance() < 10**18:
            roles.admin.transfer(oracle, 10 * 10**18)
    return found


@pytest.fixture(scope="module")
def token(roles: Roles) -> Any:
    t = SettlementToken.deploy("Yen Deposit Token", "JPYT", 18, {"from": roles.admin})
    for holder in (roles.manager, roles.funder):
        t.mint(holder, 10 * PROGRAM_FUNDS, {"from": roles.admin})
    return t


@pytest.fixture(scope="module")
def escrow(roles: Roles, oracles: list[Any]) -> Any:
    e = MilestoneEscrow.deploy(roles.admin, {"from": roles.admin})
    e.grantRole(e.PROGRAM_MANAGER_ROLE(), roles.manager, {"from": roles.admin})
    e.setCommittee(oracles[:3], 2, {"from": roles.admin})
    return e


@pytest.fixture(scope="module")
def program_id(escrow: Any, token: Any, roles: Roles) -> int:
    tx = escrow.createProgram(
        token, roles.treasury, CHALLENGE_WINDOW, FACTS, {"from": roles.manager}
    )
    pid = tx.return_value
    token.approve(escrow, PROGRAM_FUNDS, {"from": roles.manager})
    escrow.fund(pid, PROGRAM_FUNDS, {"from": roles.manager})
    return int(pid)


@pytest.fixture
def instant_program(escrow: Any, token: Any, roles: Roles) -> int:
    """A funded program with no challenge window: verified milestones are due at once."""
    tx = escrow.createProgram(token, roles.treasury, 0, FACTS, {"from": roles.manager})
    pid = int(tx.return_value)
    token.approve(escrow, PROGRAM_FUNDS, {"from": roles.manager})
    escrow.fund(pid, PROGRAM_FUNDS, {"from": roles.manager})
    return pid


def milestone_input(
    ref: str,
    beneficiary: Any,
    amount: int,
    *,
    deadline: int | None = None,
    spec: bytes | None = None,
) -> tuple[bytes, str, int, int, bytes]:
    """A MilestoneInput tuple; the deadline defaults to thirty days from now."""
    return (
        external_ref(ref),
        str(beneficiary),
        amount,
        deadline if deadline is not None else chain.time() + 30 * DAY,
        spec if spec is not None else keccak(text=f"spec:{ref}"),
    )


@pytest.fixture
def register(escrow: Any, program_id: int, roles: Roles) -> Callable[..., bytes]:
    """Registers one milestone of the funded program and returns its id."""

    def _register(
        ref: str = "PO-1/M1",
        amount: int = 1_000 * TOKEN_UNIT,
        *,
        beneficiary: Any = None,
        deadline: int | None = None,
        program: int | None = None,
    ) -> bytes:
        pid = program if program is not None else program_id
        who = beneficiary if beneficiary is not None else roles.beneficiary
        escrow.registerMilestone(
            pid, milestone_input(ref, who, amount, deadline=deadline), {"from": roles.manager}
        )
        return milestone_id(pid, external_ref(ref))

    return _register


@pytest.fixture
def sign(escrow: Any) -> Callable[..., tuple[bytes, bytes]]:
    """Signs an attestation with an oracle's key for this escrow and chain."""

    def _sign(
        oracle: Any,
        milestone: bytes,
        evidence: bytes,
        epoch: int | None = None,
        *,
        chain_id: int | None = None,
        verifying_contract: str | None = None,
        terms_version: int | None = None,
    ) -> tuple[bytes, bytes]:
        # By default the milestone's current terms, as an oracle reads them with its spec.
        if terms_version is None:
            terms_version = escrow.milestone(milestone)[10]
        return sign_attestation(
            oracle.private_key,
            chain_id=chain_id if chain_id is not None else chain.id,
            escrow=verifying_contract or escrow.address,
            milestone=bytes(milestone),
            evidence_hash=bytes(evidence),
            epoch=epoch if epoch is not None else escrow.committee()[2],
            terms_version=terms_version,
        ).as_tuple()

    return _sign


def error(name: str, *args: Any) -> str:
    """The revert string brownie decodes from a custom error: `Name: arg, arg` with addresses in
    lower case, bytes32 as Python bytes literals and enums as numbers."""

    def fmt(value: Any) -> str:
        if isinstance(value, bytes):
            return repr(bytes(value))
        if isinstance(value, int):
            return str(value)
        if hasattr(value, "address"):
            return str(value.address).lower()
        text = str(value)
        return text.lower() if text.startswith("0x") and len(text) == 42 else text

    return f"{name}: " + ", ".join(fmt(a) for a in args)


def evidence(label: str = "bundle-1") -> bytes:
    return keccak(text=f"evidence:{label}")


@pytest.fixture(scope="module")
def fee_token(roles: Roles) -> Any:
    t = FeeOnTransferToken.deploy(100, {"from": roles.admin})
    t.mint(roles.manager, PROGRAM_FUNDS, {"from": roles.admin})
    return t


@pytest.fixture(scope="module")
def reentrant_token(roles: Roles) -> Any:
    t = ReentrantToken.deploy({"from": roles.admin})
    t.mint(roles.manager, PROGRAM_FUNDS, {"from": roles.admin})
    return t


@pytest.fixture(scope="module")
def false_token(roles: Roles) -> Any:
    t = FalseReturningToken.deploy({"from": roles.admin})
    t.mint(roles.manager, PROGRAM_FUNDS, {"from": roles.admin})
    return t

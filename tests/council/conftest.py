"""Fixtures for a governed deployment: escrow, council and token as `scripts.deploy.deploy` leaves
them (the council holds the escrow's only admin role), a funded program, and helpers that take a
milestone to a given status and run a council proposal end to end.

The root conftest's `escrow`, `token` and `program_id` are overridden here, so its `register` and
`sign` fixtures work on the governed escrow unchanged.

Deployment: deployer accounts[0]; council accounts[7], accounts[8], accounts[9] (2 of 3); oracles
the root `oracles` fixture's first three (quorum 2); program manager accounts[1].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from brownie import accounts, chain
from eth_utils import keccak
from hexbytes import HexBytes

from scripts.deploy import deploy
from tests.conftest import (  # noqa: F401 (re-exported to the council tests)
    CHALLENGE_WINDOW,
    DAY,
    PROGRAM_FUNDS,
    TOKEN_UNIT,
    evidence,
    milestone_input,
)
from tests.programs import FACTS

AMOUNT = 1_000 * TOKEN_UNIT
PROPOSAL_LIFETIME = 7 * DAY
THRESHOLD = 2
QUORUM = 2

# MilestoneStatus values.
NONE, REGISTERED, VERIFIED, DISPUTED, FROZEN, RELEASED, CANCELLED, EXPIRED = range(8)

ZERO_ROLE = b"\x00" * 32
PROGRAM_MANAGER_ROLE = keccak(text="PROGRAM_MANAGER_ROLE")


# How brownie renders the arguments of a decoded custom error.
def b32(value: bytes) -> str:
    return repr(bytes(value))


def addr(account: Any) -> str:
    return str(account).lower()


def unauthorized(account: Any, role: bytes = ZERO_ROLE) -> str:
    """The revert message of OpenZeppelin's AccessControlUnauthorizedAccount(account, role)."""
    return f"AccessControlUnauthorizedAccount: {addr(account)}, {b32(role)}"


@dataclass(frozen=True)
class Governed:
    record: Any
    escrow: Any
    council: Any
    token: Any
    deployer: Any
    members: tuple[Any, ...]
    oracles: tuple[Any, ...]
    manager: Any


@pytest.fixture(scope="module")
def members() -> tuple[Any, Any, Any]:
    return accounts[7], accounts[8], accounts[9]


@pytest.fixture(scope="module")
def governed(roles: Any, oracles: list[Any], members: tuple[Any, ...]) -> Governed:
    """scripts.deploy.deploy on the test chain: the council is the escrow's only admin."""
    record, escrow, council, token = deploy(
        deployer=roles.admin,
        council_members=[str(m) for m in members],
        threshold=THRESHOLD,
        oracles=[str(o) for o in oracles[:3]],
        quorum=QUORUM,
        managers=[str(roles.manager)],
        with_token=True,
        evm_version="cancun",
    )
    for holder in (roles.manager, roles.funder):
        token.mint(holder, 10 * PROGRAM_FUNDS, {"from": roles.admin})
    return Governed(
        record=record,
        escrow=escrow,
        council=council,
        token=token,
        deployer=roles.admin,
        members=tuple(members),
        oracles=tuple(oracles[:3]),
        manager=roles.manager,
    )


@pytest.fixture(scope="module")
def escrow(governed: Governed) -> Any:
    return governed.escrow


@pytest.fixture(scope="module")
def council(governed: Governed) -> Any:
    return governed.council


@pytest.fixture(scope="module")
def token(governed: Governed) -> Any:
    return governed.token


@pytest.fixture(scope="module")
def program_id(escrow: Any, token: Any, roles: Any) -> int:
    """A program created and funded by the manager, with a one-day challenge window."""
    tx = escrow.createProgram(
        token, roles.treasury, CHALLENGE_WINDOW, FACTS, {"from": roles.manager}
    )
    pid = int(tx.return_value)
    token.approve(escrow, PROGRAM_FUNDS, {"from": roles.manager})
    escrow.fund(pid, PROGRAM_FUNDS, {"from": roles.manager})
    return pid


def attest_all(escrow: Any, milestone: bytes, signers: Sequence[Any], label: str) -> Any:
    """Each signer attests `evidence(label)` from its own account; returns the last receipt."""
    epoch = escrow.committee()[2]
    terms = escrow.milestone(milestone).dict()["termsVersion"]
    tx = None
    for oracle in signers:
        tx = escrow.attest(milestone, evidence(label), epoch, terms, {"from": oracle})
    return tx


@pytest.fixture
def verified(escrow: Any, oracles: list[Any], register: Any) -> Callable[..., bytes]:
    """Registers a milestone and has a quorum attest it: Verified, in its challenge window."""

    def _verified(ref: str = "PO-1/M1", amount: int = AMOUNT, **kwargs: Any) -> bytes:
        mid = register(ref, amount, **kwargs)
        attest_all(escrow, mid, oracles[:QUORUM], "bundle-1")
        assert escrow.statusOf(mid) == VERIFIED
        return mid

    return _verified


@pytest.fixture
def disputed(escrow: Any, oracles: list[Any], register: Any) -> Callable[..., bytes]:
    """Registers a milestone on which two oracles attest different evidence: Disputed."""

    def _disputed(ref: str = "PO-1/D1", amount: int = AMOUNT) -> bytes:
        mid = register(ref, amount)
        attest_all(escrow, mid, oracles[:1], "first")
        attest_all(escrow, mid, oracles[1:2], "second")
        assert escrow.statusOf(mid) == DISPUTED
        return mid

    return _disputed


@dataclass
class Run:
    """One proposal's way through the council: what was asked and the receipts."""

    proposal_id: int
    target: Any
    data: Any
    description: str
    proposer: Any
    approvers: list[Any]
    executor: Any
    proposed: Any
    approvals: list[Any] = field(default_factory=list)
    executed: Any = None


def assert_council_trail(run: Run, council: Any) -> None:
    """ProposalCreated, one ProposalApproved per approver with the running count, then
    ProposalExecuted: the trail an auditor reads, each with its arguments."""
    created = run.proposed.events["ProposalCreated"]
    assert created["proposalId"] == run.proposal_id
    assert created["proposer"] == run.proposer
    assert created["target"] == run.target
    assert HexBytes(created["data"]) == HexBytes(run.data)
    assert created["description"] == run.description
    assert created["expiry"] == council.proposal(run.proposal_id)[1]
    for count, (tx, member) in enumerate(zip(run.approvals, run.approvers, strict=True), 1):
        approved = tx.events["ProposalApproved"]
        assert (approved["proposalId"], approved["member"], approved["approvals"]) == (
            run.proposal_id,
            member,
            count,
        )
        assert "ProposalExecuted" not in tx.events
    executed = run.executed.events["ProposalExecuted"]
    assert (executed["proposalId"], executed["executor"]) == (run.proposal_id, run.executor)
    assert council.proposal(run.proposal_id)[2] is True


@pytest.fixture
def propose(council: Any, members: tuple[Any, ...]) -> Callable[..., Any]:
    """Proposes a call as a member (the first by default); returns the receipt."""

    def _propose(
        data: Any,
        *,
        target: Any = None,
        description: str = "test proposal",
        expiry: int | None = None,
        proposer: Any = None,
    ) -> Any:
        when = expiry if expiry is not None else chain.time() + PROPOSAL_LIFETIME
        return council.propose(
            target if target is not None else council.escrow(),
            data,
            description,
            when,
            {"from": proposer if proposer is not None else members[0]},
        )

    return _propose


@pytest.fixture
def run_proposal(council: Any, members: tuple[Any, ...], propose: Any) -> Callable[..., Run]:
    """Runs a call through the council: proposed, approved one by one by `approvers` (the first
    `threshold` members by default), then executed by `executor` (the last approver by default)."""

    def _run(
        data: Any,
        *,
        target: Any = None,
        description: str = "test proposal",
        approvers: Sequence[Any] | None = None,
        executor: Any = None,
    ) -> Run:
        who = list(approvers) if approvers is not None else list(members[: council.threshold()])
        to = target if target is not None else council.escrow()
        proposed = propose(data, target=to, description=description, proposer=who[0])
        run = Run(
            proposal_id=int(proposed.return_value),
            target=to,
            data=data,
            description=description,
            proposer=who[0],
            approvers=who,
            executor=executor if executor is not None else who[-1],
            proposed=proposed,
        )
        for member in who:
            run.approvals.append(council.approve(run.proposal_id, {"from": member}))
        run.executed = council.execute(run.proposal_id, data, {"from": run.executor})
        return run

    return _run

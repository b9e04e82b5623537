"""The escrow's four invariants hold under random sequences of calls (a hypothesis state machine).

Rules drive the deployed escrow through random sequences. A ghost ledger kept here in plain Python
predicts the outcome of every call from the ghost state alone: success with the exact events the
escrow emits and the token transfers it makes, or a revert with the exact custom error and its
values. The test asserts that prediction and updates the ghost only when the call succeeded. After
every step all invariants of DESIGN.md are checked against the chain with one batched JSON-RPC
read, and each failure message names its invariant:

1. the escrow's token balance == sum over programs of (funded - paid - withdrawn)
   == sum of the contract's program balances;
2. committed <= balance for every program, and the contract's committed == the ghost's;
   (issue 12) paid + committed <= baseline, and the contract's baseline == the ghost's;
3. every milestone pays at most once, exactly its amount, to its current beneficiary (the payees'
   token balances are reconciled against the ghost's payments);
4. a payment follows either a quorum of distinct oracles of one committee epoch agreeing on one
   hash (rebuilt from the emitted events), or the council's resolution of a dispute, and then the
   end of the challenge window, while not frozen and not paused; or it is the council's
   forceRelease. Never a payment from Registered, Disputed, Expired or Frozen otherwise;

and `statusOf` (and every field of `milestone`) equals the ghost's view of every milestone.

Time is the ghost's: block timestamps stop moving on their own (anvil's block timestamp interval
is set to 0) and only the time rules move them (`evm_setNextBlockTimestamp`, then
`chain.mine()`), so every deadline and challenge-window boundary is predicted to the second.
`chain.sleep` cannot serve: anvil ignores `evm_increaseTime` while an interval is set (and without
one, block times follow the wall clock); brownie 1.22.2's `chain.mine(timestamp=...)` sends anvil
a malformed request.

Isolation: brownie's `state_machine` fixture is broken in 1.22.2 (DESIGN.md), so this is a plain
hypothesis machine. A module fixture deploys, approves and takes `chain.snapshot()`; every
sequence starts with `chain.revert()`. The autouse `fn_isolation` takes its own snapshot of the
same state after the module fixtures, which `chain.revert()` then targets; the machine asserts
the block height after each revert, so a snapshot of another state cannot go unnoticed. The
escrow's admin here is an account (the root conftest's), standing in for the council.

Each sequence starts (an `initialize` rule) with a funded program and one to four milestones,
some verified by a quorum, disputed or attested once: hypothesis's swarm testing enables a random
subset of the rules in each sequence, and this keeps short sequences reaching deep states. Rules
and the branches each one predicts (in the contract's order of checks):

    create_program      paused | caller without the manager role | window > 90 days | ok (0 too),
                        with a baseline that never binds or one that does once funded
                        (ProgramCreated, then ProgramDescribed)
    fund                paused | unknown program | closed | zero amount | ok
    register_milestone  paused | unknown program | not its manager | closed | zero beneficiary
                        | zero amount | deadline not in the future | duplicate ref
                        | over the uncommitted balance | paid + committed over the baseline of an
                        over-funded program | ok (incl. exactly the uncommitted balance)
    register_batch      as above, plus empty batch, a ref repeated inside the batch, total over
    amend_milestone     paused | unknown | not its manager | closed | not Registered
                        | attested in the current epoch | a beneficiary the council chose
                        | terms (the escrow or the token as beneficiary) | over the balance | ok
                        (terms version + 1, an old epoch's tally cleared)
    attest              paused | wrong epoch | unknown | not Registered | past deadline
                        | not in the committee | already attested this epoch | ok -> Registered,
                        Verified or Disputed (from the oracle's own account)
    relay               EIP-712 signatures relayed in a batch: a quorum of the committee, a quorum
                        with a dissenting item (Disputed), or random items; paused | wrong epoch
                        | empty batch | item without signatures | per item: already verified on
                        this hash (skipped) | the attest branches | a signature for stale terms
                        (recovers to a non-oracle) | an oracle already recorded (skipped) | the
                        same oracle twice in the item | the outcome decided once per item
    release             paused | unknown | not Verified (status found) | window open | ok
    expire              paused | unknown | not (stored Registered and past deadline) | ok
    set_committee       not admin | empty | quorum 0 or > size | duplicate oracle | ok (epoch + 1,
                        earlier attestations stop counting)
    close_or_withdraw   paused | unknown | neither its manager nor the admin | closed / not
                        closed | nothing left | a fee-free exact transfer | ok (by the manager
                        or by the council)
    council_override    not admin | unknown | wrong status | own fault | ok, for each of freeze,
                        unfreeze, resolveDispute (only a hash of the dispute), cancel and
                        forceRelease (both also while paused, both on a lapsed milestone after
                        `expire`: re-committed, or refused when the program lacks the funds),
                        replaceBeneficiary (locks the beneficiary, bumps the terms version),
                        setChallengeWindow (a shorter window never ends a running one)
    set_baseline        not admin | unknown program | zero | below paid + owed | ok (exactly
                        paid + owed too; a cut below the funds makes commitments read it)
    program_powers      setProgramManager / setProgramTreasury: not admin | unknown program
                        | zero | a manager without the role | the escrow as treasury | ok
    wrong_role          every role-restricted function called by a random wrong caller in
                        whatever state the sequence reached: the predicted refusal, and a
                        snapshot of every view (programs, milestones, committee, pause, roles,
                        token balances) unchanged
    pause_and_probe     once per sequence: a state-changing call while paused reverts with
                        EnforcedPause (or a council cancel / forceRelease succeeds)
    advance_time        to the second before or of a due time, to a deadline or just past it,
                        or by a number of seconds

INVARIANT_EXAMPLES (default 200) and INVARIANT_STEPS (default 20) size the run;
INVARIANT_TRACE=1 prints every sequence's calls and outcomes (with -s).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar

import pytest
from brownie import accounts, chain, web3
from brownie.exceptions import VirtualMachineError, decode_typed_error
from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.reporting import with_reporter
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from disburse.chain.attestations import (
    CompactSignature,
    external_ref,
    milestone_id,
    recover_attestation,
    sign_attestation,
)
from tests.conftest import DAY
from tests.programs import FACTS

EXAMPLES = int(os.environ.get("INVARIANT_EXAMPLES", "200"))
STEPS = int(os.environ.get("INVARIANT_STEPS", "20"))
TRACE = os.environ.get("INVARIANT_TRACE") == "1"  # print every sequence's calls (with -s)

HOUR = 3600
MAX_WINDOW = 90 * DAY
MAX_COMMITTEE = 16
UNIT = 10**18
ZERO_ADDRESS = "0x" + "00" * 20
DEFAULT_ADMIN_ROLE = b"\0" * 32
PROGRAM_MANAGER_ROLE = keccak(text="PROGRAM_MANAGER_ROLE")
MAX_PROGRAMS = 4
REFS_PER_PROGRAM = 8


class Status(IntEnum):
    """MilestoneStatus, in the contract's order."""

    NONE = 0
    REGISTERED = 1
    VERIFIED = 2
    DISPUTED = 3
    FROZEN = 4
    RELEASED = 5
    CANCELLED = 6
    EXPIRED = 7


# Stored statuses whose amount is still committed.
UNPAID = (Status.REGISTERED, Status.VERIFIED, Status.DISPUTED, Status.FROZEN)
# Stored statuses the council may still cancel, pay or redirect (a lapsed one too, since issue 11).
COUNCIL_REACH = (*UNPAID, Status.EXPIRED)
MAX_TERMS = 255


# ---------------------------------------------------------------------------------------------
# The world the machine drives, deployed once per module
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    escrow: Any
    token: Any
    admin: Any
    manager: Any
    outsider: Any
    funder: Any
    treasury: Any
    treasury2: Any
    beneficiaries: tuple[Any, ...]
    oracles: tuple[Any, ...]
    errors: dict[str, list[str]]
    chain_id: int
    start_height: int
    start_time: int
    committee: tuple[str, ...]
    quorum: int
    epoch: int
    holdings: dict[str, int]  # token balances of the escrow and every payee at the snapshot


def _rpc(method: str, params: list[Any] | None = None) -> Any:
    response = web3.provider.make_request(method, params or [])
    if "error" in response:
        raise RuntimeError(f"{method} failed: {response['error']}")
    return response.get("result")


@pytest.fixture(scope="module")
def world(escrow: Any, token: Any, roles: Any, oracles: list[Any]) -> World:
    """The root conftest's escrow (committee of three, quorum two) and token, with allowances
    for the funders, and the snapshot every sequence starts from."""
    for holder in (roles.manager, roles.funder):
        token.approve(escrow, 2**256 - 1, {"from": holder}, silent=True)
    # A second program manager, to whom the council may hand programs.
    escrow.grantRole(PROGRAM_MANAGER_ROLE, roles.funder, {"from": roles.admin}, silent=True)
    members, quorum, epoch = escrow.committee()
    beneficiaries = (roles.beneficiary, roles.beneficiary2, accounts[7])
    payees = [escrow, roles.treasury, accounts[8], *beneficiaries]
    errors = {
        item["name"]: [i["type"] for i in item["inputs"]]
        for item in escrow.abi
        if item["type"] == "error"
    }
    chain.snapshot()
    return World(
        escrow=escrow,
        token=token,
        admin=roles.admin,
        manager=roles.manager,
        outsider=roles.outsider,
        funder=roles.funder,
        treasury=roles.treasury,
        treasury2=accounts[8],
        beneficiaries=beneficiaries,
        oracles=tuple(oracles),
        errors=errors,
        chain_id=chain.id,
        start_height=chain.height,
        start_time=int(web3.eth.get_block("latest")["timestamp"]),
        committee=tuple(to_checksum_address(a) for a in members),
        quorum=int(quorum),
        epoch=int(epoch),
        holdings={str(p.address): int(token.balanceOf(p)) for p in payees},
    )


# ---------------------------------------------------------------------------------------------
# Reading the chain: one JSON-RPC batch per invariant check
# ---------------------------------------------------------------------------------------------


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


SEL_STATUS_OF = _selector("statusOf(bytes32)")
SEL_MILESTONE = _selector("milestone(bytes32)")
SEL_PROGRAM = _selector("program(uint256)")
SEL_PROGRAM_COUNT = _selector("programCount()")
SEL_COMMITTEE = _selector("committee()")
SEL_PAUSED = _selector("paused()")
SEL_BALANCE_OF = _selector("balanceOf(address)")
SEL_HAS_ATTESTED = _selector("hasAttested(bytes32,address)")
SEL_HAS_ROLE = _selector("hasRole(bytes32,address)")

MILESTONE_VIEW = [
    "uint256",  # programId
    "address",  # beneficiary
    "uint128",  # amount
    "uint40",  # deadline
    "bytes32",  # evidenceSpecHash
    "uint8",  # status
    "uint8",  # attestations
    "uint16",  # attestationEpoch
    "bytes32",  # evidenceHash
    "uint40",  # verifiedAt
    "uint8",  # termsVersion
    "bool",  # beneficiaryLocked
]
PROGRAM_VIEW = ["address", "bool", "address", "uint40", "address", "uint128", "uint128", "uint128"]
BASELINES = [FACTS[4]] * 3 + [500 * UNIT, 3_000 * UNIT, 12_000 * UNIT]
"""Baselines of the programs the machine creates: most never bind; the others do once funded."""


class BatchRead:
    """Collects eth_calls and sends them as one JSON-RPC batch against the latest block."""

    def __init__(self) -> None:
        self._requests: list[tuple[str, list[Any]]] = []
        self._decoders: list[Callable[[Any], Any]] = []

    def call(self, to: str, data: bytes, types: list[str]) -> int:
        self._requests.append(("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"]))
        self._decoders.append(lambda raw: decode(types, HexBytes(raw)))
        return len(self._requests) - 1

    def latest_timestamp(self) -> int:
        self._requests.append(("eth_getBlockByNumber", ["latest", False]))
        self._decoders.append(lambda block: int(block["timestamp"], 16))
        return len(self._requests) - 1

    def run(self) -> list[Any]:
        responses = web3.provider.make_batch_request(self._requests)
        if not isinstance(responses, list):
            raise RuntimeError(f"batch read failed: {responses}")
        results = []
        for request, response, decoder in zip(
            self._requests, responses, self._decoders, strict=True
        ):
            if "error" in response:
                raise RuntimeError(f"{request} failed: {response['error']}")
            results.append(decoder(response["result"]))
        return results


# ---------------------------------------------------------------------------------------------
# The ghost ledger
# ---------------------------------------------------------------------------------------------


@dataclass
class GhostProgram:
    pid: int
    manager: str
    window: int
    treasury: str
    closed: bool = False
    # When the council last changed the window, and the longest window a milestone verified
    # until then may still be running under (MilestoneEscrow.setChallengeWindow).
    changed_at: int = 0
    earlier: int = 0
    funded: int = 0
    paid: int = 0
    withdrawn: int = 0
    committed: int = 0
    baseline: int = FACTS[4]

    @property
    def balance(self) -> int:
        return self.funded - self.paid - self.withdrawn

    @property
    def over_funded(self) -> bool:
        """Funded net of withdrawals beyond the baseline: only then can a commitment within the
        balance break the baseline (the escrow reads the baseline only then)."""
        return self.funded - self.withdrawn > self.baseline

    @property
    def uncommitted(self) -> int:
        return self.balance - self.committed

    def window_of(self, verified_at: int) -> int:
        """_releasableAt: the window of a milestone verified at `verified_at`."""
        if verified_at <= self.changed_at:
            return max(self.window, self.earlier)
        return self.window


@dataclass(frozen=True)
class Payment:
    beneficiary: str
    amount: int
    time: int
    window: int  # the program's challenge window when it was paid
    status_before: Status  # stored status
    paused: bool
    by_council: bool


@dataclass
class GhostMilestone:
    mid: bytes
    pid: int
    ref: bytes
    beneficiary: str
    amount: int
    deadline: int
    spec: bytes
    stored: Status = Status.REGISTERED
    # The attestation tally exactly as stored: the first attestation of a new epoch starts it
    # afresh, so after a committee change the stored count still shows the old epoch's.
    att_epoch: int = 0
    attesters: tuple[tuple[str, bytes], ...] = ()  # (oracle, evidence hash), in order
    count: int = 0
    evidence: bytes = b"\0" * 32
    verified_at: int = 0
    terms: int = 0  # termsVersion: every amendment and beneficiary replacement adds one
    locked: bool = False  # the council chose the beneficiary
    conflicting: bytes = b"\0" * 32  # the hash that disputed `evidence`
    payments: list[Payment] = field(default_factory=list)

    def status(self, now: int) -> Status:
        if self.stored == Status.REGISTERED and now > self.deadline:
            return Status.EXPIRED
        return self.stored


@dataclass
class Tally:
    """The contract's in-memory tally while one attestation or one relayed item is counted."""

    before: int
    count: int
    attesters: dict[str, bytes]


def agreed_evidence(mid: bytes) -> bytes:
    return keccak(b"evidence:" + mid)


def conflicting_evidence(mid: bytes) -> bytes:
    return keccak(b"conflicting-evidence:" + mid)


_SIGNATURES: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}


def _signature(
    oracle: Any, *, chain_id: int, escrow: str, mid: bytes, evidence: bytes, epoch: int, terms: int
) -> tuple[bytes, bytes]:
    """A real EIP-712 signature (cached: the same attestation recurs across sequences)."""
    key = (oracle.address, chain_id, escrow, mid, evidence, epoch, terms)
    if key not in _SIGNATURES:
        _SIGNATURES[key] = sign_attestation(
            oracle.private_key,
            chain_id=chain_id,
            escrow=escrow,
            milestone=mid,
            evidence_hash=evidence,
            epoch=epoch,
            terms_version=terms,
        ).as_tuple()
    return _SIGNATURES[key]


def _signer_seen(
    signature: tuple[bytes, bytes],
    *,
    chain_id: int,
    escrow: str,
    mid: bytes,
    evidence: bytes,
    epoch: int,
    terms: int,
) -> str:
    """Whom the escrow recovers a signature to for these terms (anyone, for other terms)."""
    return str(
        recover_attestation(
            CompactSignature(*signature),
            chain_id=chain_id,
            escrow=escrow,
            milestone=mid,
            evidence_hash=evidence,
            epoch=epoch,
            terms_version=terms,
        )
    )


def _plain(value: Any) -> Any:
    """An event value as a plain Python value (bytes, checksummed str, int, bool, tuple)."""
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return value


def _pick(items: list[Any], index: int) -> Any:
    return items[index % len(items)] if items else None


STATS: Counter[str] = Counter()

Event = tuple[Any, ...]


# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------

picks = st.integers(min_value=0, max_value=255)
windows = st.sampled_from([0, 1, HOUR, DAY, 7 * DAY, MAX_WINDOW]) | st.integers(0, 3 * DAY)
offsets = st.sampled_from([DAY, 3 * DAY, HOUR, 10 * DAY, 2 * DAY, 30 * DAY, 60, 1])
beneficiaries = st.integers(0, 2)
shares = st.integers(min_value=1, max_value=1000)
epoch_shifts = st.sampled_from([0, 0, 0, 0, 0, -1, 1])


class EscrowMachine(RuleBasedStateMachine):
    """Random sequences of escrow calls against a ghost ledger; see the module docstring."""

    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        w = self.world
        chain.revert()
        assert chain.height == w.start_height, (
            f"chain.revert() landed at block {chain.height}, not at the snapshot "
            f"taken after deployment (block {w.start_height})"
        )
        _rpc("anvil_setBlockTimestampInterval", [0])
        self.w = w
        self.escrow = w.escrow
        self.now = w.start_time
        self.paused = False
        self.epoch = w.epoch
        self.committee: tuple[str, ...] = w.committee
        self.quorum = w.quorum
        self.history: dict[int, tuple[tuple[str, ...], int]] = {w.epoch: (w.committee, w.quorum)}
        self.programs: dict[int, GhostProgram] = {}
        self.ms: dict[bytes, GhostMilestone] = {}
        self.received: Counter[str] = Counter()  # token amounts the escrow paid to each payee
        # Every escrow event the chain emitted about a milestone, with its time (invariant 4).
        self.chain_log: dict[bytes, list[Event]] = {}
        self.log: list[str] = []
        self.oracle_by_address = {str(o.address): o for o in w.oracles}
        self.managers = {str(a.address): a for a in (w.manager, w.funder)}
        self.steps = -1  # the invariants run once before the first step
        self.probed = False
        STATS["sequences"] += 1

    def teardown(self) -> None:
        if TRACE:
            print("\n".join(["sequence:", *self.log]))

    # -- calling the contract --------------------------------------------------------------

    def err(self, name: str, *args: Any) -> str:
        """The revert message brownie shows for this custom error with these values."""
        types = self.w.errors[name]
        data = _selector(f"{name}({','.join(types)})") + encode(types, list(args))
        return decode_typed_error("0x" + data.hex())

    def trace(self) -> str:
        lines = self.log[-40:]
        return "sequence so far (t = seconds since the snapshot):\n  " + "\n  ".join(lines)

    def send(
        self,
        label: str,
        fn: Any,
        args: list[Any],
        sender: Any,
        expect: str | None,
        events: list[Event] | None = None,
        transfers: list[tuple[str, str, int]] | None = None,
    ) -> Any:
        """Sends fn(*args) from sender. `expect` is None for a predicted success (then `events`
        are the escrow's predicted events, in order, and `transfers` the token transfers), else
        the predicted revert message. Returns the receipt on success."""
        self.log.append(f"t={self.now - self.w.start_time:>8} {label} -> {expect or 'ok'}")
        STATS["transactions"] += 1
        try:
            tx = fn(*args, {"from": sender}, silent=True)
        except VirtualMachineError as exc:
            if expect is None:
                raise AssertionError(
                    f"{label}: the ghost predicted success, the contract reverted with "
                    f"{exc.revert_msg!r}\n{self.trace()}"
                ) from None
            assert exc.revert_msg == expect, (
                f"{label}: expected revert {expect!r}, got {exc.revert_msg!r}\n{self.trace()}"
            )
            STATS["reverted as predicted"] += 1
            STATS[f"revert {expect.split(':')[0]}"] += 1
            return None
        if expect is not None:
            raise AssertionError(
                f"{label}: the ghost predicted revert {expect!r}, the call succeeded\n"
                f"{self.trace()}"
            )
        STATS[f"ok {fn.abi['name']}"] += 1
        self.absorb(label, tx, events or [], transfers or [])
        return tx

    def absorb(
        self, label: str, tx: Any, events: list[Event], transfers: list[tuple[str, str, int]]
    ) -> None:
        """Checks the escrow's events and the token's transfers against the prediction, and
        keeps the milestone events for invariant 4."""
        escrow, token = str(self.escrow.address), str(self.w.token.address)
        emitted: list[Event] = []
        moved: list[tuple[Any, ...]] = []
        for ev in tx.events:
            if ev.address == escrow:
                emitted.append((ev.name, *(_plain(v) for v in ev.values())))
            elif ev.address == token and ev.name == "Transfer":
                moved.append(tuple(_plain(v) for v in ev.values()))
        assert emitted == events, (
            f"{label}: the escrow emitted\n  {emitted}\nthe ghost predicted\n  {events}\n"
            f"{self.trace()}"
        )
        assert moved == transfers, (
            f"{label}: the token moved {moved}, the ghost predicted {transfers}\n{self.trace()}"
        )
        for event in emitted:
            if event[0].startswith(("Milestone", "Attestation", "Dispute", "Beneficiary")):
                self.chain_log.setdefault(event[1], []).append((*event, self.now))

    # -- choosing targets ------------------------------------------------------------------

    def caller(self, fault: str | None, pid: int | None = None) -> Any:
        """The outsider for that fault, the admin (the council) for "council", else the
        program's manager (the first manager for a program the ghost does not know)."""
        if fault == "outsider":
            return self.w.outsider
        if fault == "council":
            return self.w.admin
        program = self.programs.get(pid) if pid is not None else None
        return self.managers[program.manager] if program else self.w.manager

    def admin(self, fault: str | None) -> Any:
        return self.w.outsider if fault == "outsider" else self.w.admin

    def admin_error(self, who: Any) -> str | None:
        if who != self.w.admin:
            return self.err(
                "AccessControlUnauthorizedAccount", str(who.address), DEFAULT_ADMIN_ROLE
            )
        return None

    def program_for(self, pick: int, fault: str | None) -> int:
        """An open program id; a closed or an unknown one when the fault asks for it (or when
        no open one exists)."""
        open_ids = [pid for pid, p in self.programs.items() if not p.closed]
        closed_ids = [pid for pid, p in self.programs.items() if p.closed]
        if fault == "closed" and closed_ids:
            return _pick(closed_ids, pick)
        if fault == "unknown program":
            return len(self.programs) + 1 + pick % 2  # the next id, or one beyond
        return _pick(open_ids, pick) or _pick(closed_ids, pick) or len(self.programs) + 1

    def milestone_for(self, pick: int, pool: str) -> bytes:
        """A milestone id from the pool named (any milestone when that pool is empty), or an
        id nobody registered."""
        now = self.now
        ms = self.ms.values()
        pools = {
            "open": [m.mid for m in ms if m.status(now) == Status.REGISTERED],
            "verified": [m.mid for m in ms if m.stored == Status.VERIFIED],
            "frozen": [m.mid for m in ms if m.stored == Status.FROZEN],
            "disputed": [m.mid for m in ms if m.stored == Status.DISPUTED],
            "lapsed": [m.mid for m in ms if m.status(now) == Status.EXPIRED],
            "unpaid": [m.mid for m in ms if m.stored in UNPAID],
            "locked": [m.mid for m in ms if m.locked and m.status(now) == Status.REGISTERED],
            "any": list(self.ms),
        }
        chosen = pools.get(pool) or pools["any"]
        if pool == "unknown" or not chosen:
            return bytes(milestone_id(10_000 + pick, external_ref("never-registered")))
        return _pick(chosen, pick)

    def describe(self, mid: bytes) -> str:
        m = self.ms.get(mid)
        return f"{mid.hex()[:8]}({m.status(self.now).name.lower()})" if m else mid.hex()[:8]

    def due(self) -> list[bytes]:
        return [
            m.mid
            for m in self.ms.values()
            if m.stored == Status.VERIFIED and self.now >= self.due_at(m)
        ]

    # -- predicting checks shared by several functions -------------------------------------

    def open_program_error(self, pid: int, caller: Any) -> str | None:
        """_openManagedProgram."""
        error = self.managed_program_error(pid, caller)
        if error is None and self.programs[pid].closed:
            return self.err("Escrow_ProgramClosed", pid)
        return error

    def managed_program_error(self, pid: int, caller: Any) -> str | None:
        """_managedProgram."""
        if pid not in self.programs:
            return self.err("Escrow_UnknownProgram", pid)
        if self.programs[pid].manager != str(caller.address):
            return self.err("Escrow_NotProgramManager", pid, str(caller.address))
        return None

    def governed_program_error(self, pid: int, caller: Any) -> str | None:
        """_managedOrGovernedProgram: the program's manager or the admin."""
        if pid not in self.programs:
            return self.err("Escrow_UnknownProgram", pid)
        who = str(caller.address)
        if self.programs[pid].manager != who and caller != self.w.admin:
            return self.err("Escrow_NotProgramManager", pid, who)
        return None

    def beneficiary_error(self, beneficiary: str) -> str | None:
        """_checkBeneficiary: not zero, not the escrow, not the program's token."""
        if beneficiary == ZERO_ADDRESS:
            return self.err("Escrow_ZeroAddress", "beneficiary")
        if beneficiary in (str(self.escrow.address), str(self.w.token.address)):
            return self.err("Escrow_InvalidBeneficiary", beneficiary)
        return None

    def refused_payee(self, fault: str | None, index: int) -> str:
        """A beneficiary, or the address the fault asks for."""
        return {
            "zero beneficiary": ZERO_ADDRESS,
            "escrow beneficiary": str(self.escrow.address),
            "token beneficiary": str(self.w.token.address),
        }.get(fault or "", None) or self.beneficiary(index)

    def due_at(self, m: GhostMilestone) -> int:
        return m.verified_at + self.programs[m.pid].window_of(m.verified_at)

    def terms_error(self, beneficiary: str, amount: int, deadline: int) -> str | None:
        """_checkTerms."""
        error = self.beneficiary_error(beneficiary)
        if error is not None:
            return error
        if amount == 0:
            return self.err("Escrow_ZeroAmount")
        if deadline <= self.now:
            return self.err("Escrow_DeadlineNotInFuture", deadline, self.now)
        return None

    def commit_error(self, pid: int, committed: int) -> str | None:
        """_setCommitted: the program's commitment set to `committed` is refused beyond its
        balance, then (when over-funded) beyond its baseline counting what it paid."""
        program = self.programs[pid]
        if committed > program.balance:
            return self.err("Escrow_InsufficientFunds", pid, committed, program.balance)
        obligated = committed + program.paid
        if program.over_funded and obligated > program.baseline:
            return self.err("Escrow_BaselineExceeded", pid, obligated, program.baseline)
        return None

    def council_error(self, mid: bytes) -> str | None:
        """_councilMilestone: anything not paid or cancelled (a lapsed one too)."""
        m = self.ms.get(mid)
        if m is None:
            return self.err("Escrow_UnknownMilestone", mid)
        if m.stored not in COUNCIL_REACH:
            return self.err("Escrow_UnexpectedMilestoneStatus", mid, int(m.status(self.now)))
        return None

    def terms_of(self, mid: bytes | None) -> int:
        """The ghost's terms version of a milestone (0 for one the escrow does not know)."""
        ghost = self.ms.get(mid) if mid is not None else None
        return ghost.terms if ghost else 0

    def open_tally(self, scratch: dict[bytes, GhostMilestone], mid: bytes) -> str | Tally:
        """_openTally on a scratch copy of the ghost: the error, or the tally."""
        if mid not in self.ms:
            return self.err("Escrow_UnknownMilestone", mid)
        m = scratch.setdefault(mid, dataclasses.replace(self.ms[mid]))
        if m.stored != Status.REGISTERED:
            return self.err("Escrow_UnexpectedMilestoneStatus", mid, int(m.stored))
        if self.now > m.deadline:
            return self.err("Escrow_MilestonePastDeadline", mid, m.deadline)
        if m.att_epoch == self.epoch:
            return Tally(m.count, m.count, dict(m.attesters))
        return Tally(0, 0, {})

    def count(
        self, tally: Tally, mid: bytes, oracle: str, evidence: bytes, events: list[Event]
    ) -> str | None:
        """_count: one committee member, once per epoch."""
        if oracle not in self.committee:
            return self.err("Escrow_NotOracle", oracle)
        if oracle in tally.attesters:
            return self.err("Escrow_AlreadyAttested", mid, oracle)
        tally.attesters[oracle] = evidence
        tally.count += 1
        events.append(("AttestationRecorded", mid, oracle, evidence, self.epoch))
        return None

    def close_tally(
        self, m: GhostMilestone, tally: Tally, evidence: bytes, oracle: str, events: list[Event]
    ) -> None:
        """_closeTally: the epoch's first hash stands; another disputes; a quorum verifies."""
        status, agreed = Status.REGISTERED, evidence
        if tally.before == 0:
            m.evidence = evidence
        else:
            agreed = m.evidence
            if agreed != evidence:
                status = Status.DISPUTED
        if status == Status.REGISTERED and tally.count >= self.quorum:
            status = Status.VERIFIED
            m.verified_at = self.now
        m.attesters, m.count = tuple(tally.attesters.items()), tally.count
        m.att_epoch = self.epoch
        m.stored = status
        if status == Status.DISPUTED:
            m.conflicting = evidence
            events.append(("MilestoneDisputed", m.mid, oracle, agreed, evidence))
        elif status == Status.VERIFIED:
            events.append(("MilestoneVerified", m.mid, agreed, tally.count))

    def pay(self, m: GhostMilestone, *, by_council: bool) -> None:
        """_pay, on the ghost (after the call succeeded)."""
        program = self.programs[m.pid]
        m.payments.append(
            Payment(
                m.beneficiary,
                m.amount,
                self.now,
                program.window_of(m.verified_at),
                m.stored,
                self.paused,
                by_council,
            )
        )
        m.stored = Status.RELEASED
        program.paid += m.amount
        program.committed -= m.amount
        self.received[m.beneficiary] += m.amount

    # -- setup -----------------------------------------------------------------------------

    @initialize(
        with_program=st.sampled_from([True] * 7 + [False]),
        window=st.sampled_from([0, HOUR, DAY, 1, 7 * DAY]),
        milestones=st.lists(
            st.tuples(st.integers(0, REFS_PER_PROGRAM - 1), beneficiaries, shares, offsets),
            min_size=1,
            max_size=4,
            unique_by=lambda item: item[0],
        ),
        attestations=st.lists(
            st.sampled_from(["quorum", "quorum", "dissent", "one", None]), min_size=1, max_size=4
        ),
        rotate=st.integers(0, 4),
    )
    def bootstrap(
        self,
        with_program: bool,
        window: int,
        milestones: list[tuple[int, int, int, int]],
        attestations: list[str | None],
        rotate: int,
    ) -> None:
        """Most sequences start with a funded program and a few milestones, some of them
        verified by a quorum, disputed or attested once, so that even with hypothesis's swarm
        testing (each sequence enables a random subset of the rules) the steps reach deep
        states within the step budget. These calls are predicted and checked like any other."""
        if not with_program:
            return
        self.create_program(window=window, baseline=FACTS[4], fault=None)
        self.fund(pick=0, amount=2_000 * UNIT, funder=0, fault=None)
        self.register_batch(pick=0, items=milestones, fault=None)
        for mid, kind in zip(list(self.ms), attestations, strict=False):
            if kind == "one":
                oracle = self.oracle_by_address[_pick(list(self.committee), rotate)]
                self.do_attest(mid, oracle, conflict=False, epoch=self.epoch)
            elif kind is not None:
                self.relay_quorum(mid, rotate, dissent=kind == "dissent")

    # -- programs --------------------------------------------------------------------------

    @precondition(lambda self: len(self.programs) < MAX_PROGRAMS)
    @rule(
        window=windows,
        baseline=st.sampled_from(BASELINES),
        fault=st.sampled_from([None] * 4 + ["outsider", "too long", "escrow treasury"]),
    )
    def create_program(self, window: int, baseline: int, fault: str | None) -> None:
        who = self.caller(fault)
        w = self.w
        treasury = self.escrow if fault == "escrow treasury" else w.treasury
        if fault == "too long":
            window = MAX_WINDOW + 1 + window % DAY
        pid = len(self.programs) + 1
        expect = None
        if self.paused:
            expect = self.err("EnforcedPause")
        elif who != self.w.manager:
            expect = self.err(
                "AccessControlUnauthorizedAccount", str(who.address), PROGRAM_MANAGER_ROLE
            )
        elif treasury == self.escrow:
            expect = self.err("Escrow_InvalidTreasury", str(self.escrow.address))
        elif window > MAX_WINDOW:
            expect = self.err("Escrow_ChallengeWindowTooLong", window, MAX_WINDOW)
        created = ("ProgramCreated", pid, str(who.address), str(w.token), str(treasury), window)
        facts = (*FACTS[:4], baseline)
        described = ("ProgramDescribed", pid, *facts)
        tx = self.send(
            f"createProgram(window={window}, baseline={baseline // UNIT} tokens)"
            f"{' with fault ' + fault if fault else ''}",
            self.escrow.createProgram,
            [w.token, treasury, window, facts],
            who,
            expect,
            [created, described],
        )
        if tx is not None:
            self.programs[pid] = GhostProgram(
                pid=pid,
                manager=str(who.address),
                window=window,
                treasury=str(treasury),
                baseline=baseline,
            )

    @precondition(lambda self: self.programs)
    @rule(
        pick=picks,
        to=st.sampled_from(
            ["cut", "cut", "cut", "obligated", "obligated - 1", "zero", "double", "half", "plus"]
        ),
        fault=st.sampled_from([None] * 6 + ["outsider", "unknown program"]),
    )
    def set_baseline(self, pick: int, to: str, fault: str | None) -> None:
        """The council sets a program's baseline: never zero, never below paid plus owed."""
        pid = self.program_for(pick, fault)
        who = self.admin(fault)
        program = self.programs.get(pid)
        obligated = program.committed + program.paid if program else 0
        current = program.baseline if program else FACTS[4]
        baseline = {
            "obligated": obligated,
            "obligated - 1": obligated - 1,
            "zero": 0,
            "double": min(2 * current, 2**128 - 1),
            "half": current // 2,
            # Halfway between what is obliged and what is held: over-funded from now on.
            "cut": obligated + (program.uncommitted // 2 if program else 0),
        }.get(to, obligated + 1_000 * UNIT)
        baseline = max(0, baseline)
        expect = self.admin_error(who)
        if expect is None and program is None:
            expect = self.err("Escrow_UnknownProgram", pid)
        if expect is None and baseline == 0:
            expect = self.err("Escrow_ZeroAmount")
        if expect is None and baseline < obligated:
            expect = self.err("Escrow_BaselineBelowObligated", pid, baseline, obligated)
        tx = self.send(
            f"setBaseline({pid}, {baseline}) [{to}]",
            self.escrow.setBaseline,
            [pid, baseline],
            who,
            expect,
            [("BaselineChanged", pid, current, baseline)],
        )
        if tx is not None:
            assert program is not None
            program.baseline = baseline

    @rule(
        pick=picks,
        amount=st.integers(min_value=1, max_value=5_000).map(lambda n: n * UNIT),
        funder=st.sampled_from([0, 1]),
        fault=st.sampled_from([None] * 5 + ["zero", "unknown program", "closed"]),
    )
    def fund(self, pick: int, amount: int, funder: int, fault: str | None) -> None:
        pid = self.program_for(pick, fault)
        who = self.w.manager if funder == 0 else self.w.funder
        amount = 0 if fault == "zero" else amount
        expect = None
        if self.paused:
            expect = self.err("EnforcedPause")
        elif pid not in self.programs:
            expect = self.err("Escrow_UnknownProgram", pid)
        elif self.programs[pid].closed:
            expect = self.err("Escrow_ProgramClosed", pid)
        elif amount == 0:
            expect = self.err("Escrow_ZeroAmount")
        tx = self.send(
            f"fund({pid}, {amount // UNIT} tokens)",
            self.escrow.fund,
            [pid, amount],
            who,
            expect,
            [("ProgramFunded", pid, str(who.address), amount)],
            [(str(who.address), str(self.escrow.address), amount)],
        )
        if tx is not None:
            self.programs[pid].funded += amount

    @precondition(lambda self: self.programs)
    @rule(
        close=st.booleans(),
        pick=picks,
        fault=st.sampled_from(
            [None] * 4 + ["council", "outsider", "unknown program", "closed", "open"]
        ),
    )
    def close_or_withdraw(self, close: bool, pick: int, fault: str | None) -> None:
        """Closes a program, or withdraws a closed program's uncommitted remainder. Closing ends
        a program's registrations, so it waits for the second half of a sequence unless another
        program stays open."""
        open_programs = sum(not p.closed for p in self.programs.values())
        if close and (self.steps >= STEPS // 2 or open_programs >= 2 or fault is not None):
            self.close_program(pick, fault)
        else:
            self.withdraw_remainder(pick, fault)

    def close_program(self, pick: int, fault: str | None) -> None:
        pid = self.program_for(pick, fault)
        who = self.caller(fault, pid)
        expect = self.err("EnforcedPause") if self.paused else self.governed_program_error(pid, who)
        if expect is None and self.programs[pid].closed:
            expect = self.err("Escrow_ProgramClosed", pid)
        tx = self.send(
            f"closeProgram({pid})",
            self.escrow.closeProgram,
            [pid],
            who,
            expect,
            [("ProgramClosed", pid)],
        )
        if tx is not None:
            self.programs[pid].closed = True

    def withdraw_remainder(self, pick: int, fault: str | None) -> None:
        closed_ids = [pid for pid, p in self.programs.items() if p.closed]
        if fault in ("unknown program", "open") or not closed_ids:
            pid = self.program_for(pick, fault)
        else:
            pid = _pick(closed_ids, pick)
        who = self.caller(fault, pid)
        expect = self.err("EnforcedPause") if self.paused else self.governed_program_error(pid, who)
        program = self.programs.get(pid)
        amount = program.uncommitted if program else 0
        if expect is None and program is not None:
            if not program.closed:
                expect = self.err("Escrow_ProgramNotClosed", pid)
            elif amount == 0:
                expect = self.err("Escrow_NothingToWithdraw", pid)
        treasury = program.treasury if program else str(self.w.treasury.address)
        tx = self.send(
            f"withdrawRemainder({pid})",
            self.escrow.withdrawRemainder,
            [pid],
            who,
            expect,
            [("RemainderWithdrawn", pid, treasury, amount)],
            [(str(self.escrow.address), treasury, amount)],
        )
        if tx is not None:
            assert program is not None
            program.withdrawn += amount
            self.received[treasury] += amount

    # -- milestones ------------------------------------------------------------------------

    def new_milestone(
        self, pid: int, ref_index: int, beneficiary: str, amount: int, deadline: int
    ) -> GhostMilestone:
        ref = external_ref(f"P{pid}-M{ref_index}")
        mid = bytes(milestone_id(pid, ref))
        return GhostMilestone(
            mid=mid,
            pid=pid,
            ref=ref,
            beneficiary=beneficiary,
            amount=amount,
            deadline=deadline,
            spec=keccak(b"spec:" + mid),
        )

    def beneficiary(self, index: int) -> str:
        return str(self.w.beneficiaries[index % len(self.w.beneficiaries)].address)

    def deadline(self, offset: int, fault: str | None) -> int:
        if fault == "deadline now":
            return self.now
        if fault == "deadline past":
            return self.now - offset
        return self.now + offset

    @staticmethod
    def registered(m: GhostMilestone) -> Event:
        return (
            "MilestoneRegistered",
            m.mid,
            m.pid,
            m.beneficiary,
            m.amount,
            m.deadline,
            m.spec,
            m.ref,
        )

    @rule(
        pick=picks,
        ref=st.integers(0, REFS_PER_PROGRAM - 1),
        beneficiary=beneficiaries,
        share=shares,
        offset=offsets,
        fault=st.sampled_from(
            [None] * 7
            + ["exact", "over", "zero amount", "zero beneficiary", "deadline now"]
            + ["deadline past", "outsider", "unknown program", "closed"]
            + ["escrow beneficiary", "token beneficiary"]
        ),
    )
    def register_milestone(
        self, pick: int, ref: int, beneficiary: int, share: int, offset: int, fault: str | None
    ) -> None:
        pid = self.program_for(pick, fault)
        who = self.caller(fault, pid)
        program = self.programs.get(pid)
        free = program.uncommitted if program else 0
        amount = {
            "exact": free,
            "over": free + share * UNIT,
            "zero amount": 0,
        }.get(fault or "", max(1, free * share // 1000))
        payee = self.refused_payee(fault, beneficiary)
        m = self.new_milestone(pid, ref, payee, amount, self.deadline(offset, fault))
        expect = self.err("EnforcedPause") if self.paused else self.open_program_error(pid, who)
        if expect is None:
            expect = self.terms_error(m.beneficiary, amount, m.deadline)
        if expect is None and m.mid in self.ms:
            expect = self.err("Escrow_DuplicateMilestone", pid, m.ref, m.mid)
        if expect is None and program is not None:
            expect = self.commit_error(pid, program.committed + amount)
        tx = self.send(
            f"registerMilestone({pid}, P{pid}-M{ref} = {m.mid.hex()[:8]}, amount={amount}, "
            f"deadline={m.deadline - self.now:+})",
            self.escrow.registerMilestone,
            [pid, (m.ref, m.beneficiary, amount, m.deadline, m.spec)],
            who,
            expect,
            [self.registered(m)],
        )
        if tx is not None:
            assert program is not None
            self.ms[m.mid] = m
            program.committed += amount

    @rule(
        pick=picks,
        items=st.lists(
            st.tuples(st.integers(0, REFS_PER_PROGRAM - 1), beneficiaries, shares, offsets),
            min_size=1,
            max_size=4,
        ),
        fault=st.sampled_from(
            [None] * 5
            + ["exact", "over", "empty", "repeated ref", "deadline now", "outsider", "closed"]
        ),
    )
    def register_batch(
        self, pick: int, items: list[tuple[int, int, int, int]], fault: str | None
    ) -> None:
        pid = self.program_for(pick, fault)
        who = self.caller(fault, pid)
        program = self.programs.get(pid)
        free = program.uncommitted if program else 0
        if fault == "empty":
            items = []
        elif fault == "repeated ref":
            items = [*items, items[0]]
        each = free // max(1, len(items))
        amounts = [max(1, each * share // 1000) for _, _, share, _ in items]
        if amounts and fault == "over":
            amounts[-1] += free + 1
        elif amounts and fault == "exact" and free > sum(amounts[:-1]):
            amounts[-1] = free - sum(amounts[:-1])
        batch = [
            self.new_milestone(
                pid,
                ref,
                self.beneficiary(b),
                amount,
                self.deadline(offset, fault if i == len(items) - 1 else None),
            )
            for i, ((ref, b, _, offset), amount) in enumerate(zip(items, amounts, strict=True))
        ]
        expect = self.err("EnforcedPause") if self.paused else self.open_program_error(pid, who)
        if expect is None and not batch:
            expect = self.err("Escrow_EmptyBatch")
        seen: set[bytes] = set()
        for m in batch:
            if expect is not None:
                break
            expect = self.terms_error(m.beneficiary, m.amount, m.deadline)
            if expect is None and (m.mid in self.ms or m.mid in seen):
                expect = self.err("Escrow_DuplicateMilestone", pid, m.ref, m.mid)
            seen.add(m.mid)
        total = sum(amounts)
        if expect is None and program is not None:
            expect = self.commit_error(pid, program.committed + total)
        refs = ", ".join(f"{m.ref.rstrip(bytes(1)).decode()} = {m.mid.hex()[:8]}" for m in batch)
        tx = self.send(
            f"registerMilestones({pid}, [{refs}], total={total})",
            self.escrow.registerMilestones,
            [pid, [(m.ref, m.beneficiary, m.amount, m.deadline, m.spec) for m in batch]],
            who,
            expect,
            [self.registered(m) for m in batch],
        )
        if tx is not None:
            assert program is not None
            for m in batch:
                self.ms[m.mid] = m
            program.committed += total

    @precondition(lambda self: self.ms)
    @rule(
        pick=picks,
        pool=st.sampled_from(["open", "open", "locked", "locked", "any", "unknown"]),
        beneficiary=beneficiaries,
        share=shares,
        offset=offsets,
        fault=st.sampled_from(
            [None] * 4
            + ["over", "zero amount", "deadline now", "outsider", "closed"]
            + ["escrow beneficiary", "token beneficiary", "keep beneficiary"]
        ),
    )
    def amend_milestone(
        self,
        pick: int,
        pool: str,
        beneficiary: int,
        share: int,
        offset: int,
        fault: str | None,
    ) -> None:
        closed = [m.mid for m in self.ms.values() if self.programs[m.pid].closed]
        mid = (
            _pick(closed, pick) if fault == "closed" and closed else self.milestone_for(pick, pool)
        )
        m = self.ms.get(mid)
        who = self.caller(fault, m.pid if m else None)
        program = self.programs[m.pid] if m else None
        room = program.uncommitted + m.amount if m and program else 0
        new_amount = {"over": room + share * UNIT, "zero amount": 0}.get(
            fault or "", max(1, room * share // 1000)
        )
        new_beneficiary = self.refused_payee(fault, beneficiary)
        if fault == "keep beneficiary" and m is not None:
            new_beneficiary = m.beneficiary
        elif pool == "locked" and fault is None and m is not None and m.locked:
            # The manager tries to move a beneficiary the council chose (back, or elsewhere).
            others = [b for b in map(self.beneficiary, range(3)) if b != m.beneficiary]
            new_beneficiary = _pick(others, beneficiary)
        deadline = self.deadline(offset, fault)
        spec = keccak(b"amended:" + mid)
        expect = self.err("EnforcedPause") if self.paused else None
        if expect is None and m is None:
            expect = self.err("Escrow_UnknownMilestone", mid)
        if expect is None:
            expect = self.open_program_error(m.pid, who)
        if expect is None and m.stored != Status.REGISTERED:
            expect = self.err("Escrow_UnexpectedMilestoneStatus", mid, int(m.status(self.now)))
        if expect is None and m.count != 0 and m.att_epoch == self.epoch:
            expect = self.err("Escrow_MilestoneAlreadyAttested", mid, m.count)
        if expect is None and m.locked and new_beneficiary != m.beneficiary:
            expect = self.err("Escrow_BeneficiarySetByCouncil", mid, m.beneficiary)
        if expect is None:
            expect = self.terms_error(new_beneficiary, new_amount, deadline)
        if expect is None and m.terms == MAX_TERMS:
            expect = self.err("Escrow_TermsVersionExhausted", mid)
        if expect is None:
            expect = self.commit_error(m.pid, program.committed - m.amount + new_amount)
        tx = self.send(
            f"amendMilestone({self.describe(mid)}, amount={new_amount}, "
            f"deadline={deadline - self.now:+})",
            self.escrow.amendMilestone,
            [mid, new_beneficiary, new_amount, deadline, spec],
            who,
            expect,
            [("MilestoneAmended", mid, new_beneficiary, new_amount, deadline, spec)],
        )
        if tx is not None:
            program.committed += new_amount - m.amount
            m.amount, m.deadline, m.beneficiary, m.spec = (
                new_amount,
                deadline,
                new_beneficiary,
                spec,
            )
            # A new version of the terms; an earlier epoch's tally is cleared with it.
            m.terms += 1
            m.attesters, m.count = (), 0

    # -- attestations ----------------------------------------------------------------------

    @precondition(lambda self: self.ms)
    @rule(
        pick=picks,
        pool=st.sampled_from(["open", "open", "open", "open", "any", "unknown"]),
        member=st.sampled_from([True] * 4 + [False]),
        oracle=st.integers(0, 4),
        conflict=st.sampled_from([False, False, False, False, True]),
        shift=epoch_shifts,
        terms_shift=st.sampled_from([0] * 9 + [-1, 1]),
    )
    def attest(
        self,
        pick: int,
        pool: str,
        member: bool,
        oracle: int,
        conflict: bool,
        shift: int,
        terms_shift: int,
    ) -> None:
        """One attestation from the oracle's own account: a committee member, or any of the five
        oracle accounts (some of which may not be in the current committee), naming the current
        terms version or (`terms_shift`) another one."""
        mid = self.milestone_for(pick, pool)
        if member:
            account = self.oracle_by_address[_pick(list(self.committee), oracle)]
        else:
            account = self.w.oracles[oracle]
        self.do_attest(mid, account, conflict, max(0, self.epoch + shift), terms_shift)

    def do_attest(
        self, mid: bytes, account: Any, conflict: bool, epoch: int, terms_shift: int = 0
    ) -> None:
        address = str(account.address)
        evidence = conflicting_evidence(mid) if conflict else agreed_evidence(mid)
        ghost = self.ms.get(mid)
        current_terms = ghost.terms if ghost else 0
        terms = min(MAX_TERMS, max(0, current_terms + terms_shift))
        scratch: dict[bytes, GhostMilestone] = {}
        events: list[Event] = []
        expect = None
        if self.paused:
            expect = self.err("EnforcedPause")
        elif epoch != self.epoch:
            expect = self.err("Escrow_WrongEpoch", epoch, self.epoch)
        else:
            tally = self.open_tally(scratch, mid)
            if isinstance(tally, str):
                expect = tally
            elif terms != current_terms:
                expect = self.err("Escrow_TermsChanged", mid, terms, current_terms)
            else:
                expect = self.count(tally, mid, address, evidence, events)
                if expect is None:
                    self.close_tally(scratch[mid], tally, evidence, address, events)
        tx = self.send(
            f"attest({self.describe(mid)}, {'conflicting' if conflict else 'agreed'}, "
            f"epoch={epoch}, terms={terms}) by oracle{self.w.oracles.index(account)}",
            self.escrow.attest,
            [mid, evidence, epoch, terms],
            account,
            expect,
            events,
        )
        if tx is not None:
            self.ms.update(scratch)

    def send_relay(
        self,
        label: str,
        epoch: int,
        items: list[tuple[bytes, bytes, list[Any]]],
        caller: Any,
        stale: bool = False,
    ) -> None:
        """attestWithSignatures with real EIP-712 signatures, predicted item by item. With
        `stale`, the last item is signed for the terms before its milestone's last change."""
        w = self.w
        batch = []
        for index, (mid, evidence, signers) in enumerate(items):
            ghost = self.ms.get(mid)
            terms = ghost.terms if ghost else 0
            if stale and index == len(items) - 1 and terms > 0:
                terms -= 1
            sigs = [
                _signature(
                    s,
                    chain_id=w.chain_id,
                    escrow=self.escrow.address,
                    mid=mid,
                    evidence=evidence,
                    epoch=epoch,
                    terms=terms,
                )
                for s in signers
            ]
            batch.append((mid, evidence, sigs))
        scratch: dict[bytes, GhostMilestone] = {}
        events: list[Event] = []
        expect = None
        if self.paused:
            expect = self.err("EnforcedPause")
        elif epoch != self.epoch:
            expect = self.err("Escrow_WrongEpoch", epoch, self.epoch)
        elif not items:
            expect = self.err("Escrow_EmptyBatch")
        for (mid, evidence, signers), (_, _, sigs) in zip(items, batch, strict=True):
            if expect is not None:
                break
            if not signers:
                expect = self.err("Escrow_EmptyBatch")
                break
            current = scratch.get(mid) or self.ms.get(mid)
            if (
                current is not None
                and current.stored in (Status.VERIFIED, Status.FROZEN, Status.RELEASED)
                and current.evidence == evidence
            ):
                STATS["relay item skipped (verified already)"] += 1
                continue  # a race lost to another relayer: skipped
            tally = self.open_tally(scratch, mid)
            if isinstance(tally, str):
                expect = tally
                break
            m = scratch[mid]
            recorded = set(tally.attesters)
            first = None
            for sig in sigs:
                oracle = _signer_seen(
                    sig,
                    chain_id=w.chain_id,
                    escrow=str(self.escrow.address),
                    mid=mid,
                    evidence=evidence,
                    epoch=epoch,
                    terms=m.terms,
                )
                if oracle in self.committee and oracle in recorded:
                    STATS["relay signature skipped (recorded already)"] += 1
                    continue
                expect = self.count(tally, mid, oracle, evidence, events)
                if expect is not None:
                    break
                first = first or oracle
            if expect is not None:
                break
            if tally.count != tally.before:
                assert first is not None
                self.close_tally(m, tally, evidence, first, events)
        tx = self.send(
            label, self.escrow.attestWithSignatures, [epoch, batch], caller, expect, events
        )
        if tx is not None:
            self.ms.update(scratch)

    def describe_items(self, items: list[tuple[bytes, bytes, list[Any]]]) -> str:
        return "; ".join(
            f"{self.describe(mid)} {'agreed' if ev == agreed_evidence(mid) else 'conflicting'} "
            f"by oracles {[self.w.oracles.index(s) for s in signers]}"
            for mid, ev, signers in items
        )

    @precondition(lambda self: self.ms)
    @rule(
        kind=st.sampled_from(["quorum", "quorum", "dissent", "items", "items", "items"]),
        pick=picks,
        rotate=st.integers(0, 4),
        items=st.lists(
            st.tuples(
                picks,
                st.sampled_from(["open", "open", "open", "any", "unknown"]),
                st.sampled_from([False, False, False, True]),
                st.lists(st.integers(0, 4), min_size=1, max_size=3),
            ),
            min_size=1,
            max_size=3,
        ),
        mutation=st.sampled_from(
            [None] * 5 + ["empty batch", "no signatures", "repeat", "non-member", "stale terms"]
        ),
        shift=epoch_shifts,
    )
    def relay(
        self,
        kind: str,
        pick: int,
        rotate: int,
        items: list[tuple[int, str, bool, list[int]]],
        mutation: str | None,
        shift: int,
    ) -> None:
        """Relayed EIP-712 attestations: a quorum of the committee for one open milestone (with
        or without a dissenting item), or a random batch of items (see relay_signatures)."""
        if kind == "items":
            self.relay_signatures(items, mutation, shift)
        else:
            self.relay_quorum(self.milestone_for(pick, "open"), rotate, kind == "dissent")

    def relay_signatures(
        self, items: list[tuple[int, str, bool, list[int]]], mutation: str | None, shift: int
    ) -> None:
        """Relayed signatures of committee members for one to three milestones (the same
        milestone may recur, with the same or a conflicting hash)."""
        epoch = max(0, self.epoch + shift)
        members = [self.oracle_by_address[a] for a in self.committee]
        outsiders = [o for o in self.w.oracles if str(o.address) not in self.committee]
        batch = []
        for pick, pool, conflict, signers in items:
            mid = self.milestone_for(pick, pool)
            evidence = conflicting_evidence(mid) if conflict else agreed_evidence(mid)
            chosen = list(dict.fromkeys(_pick(members, i) for i in signers))
            batch.append((mid, evidence, chosen))
        if mutation == "empty batch":
            batch = []
        elif mutation == "no signatures":
            batch[-1] = (batch[-1][0], batch[-1][1], [])
        elif mutation == "repeat":
            batch[-1][2].append(batch[-1][2][0])
        elif mutation == "non-member" and outsiders:
            batch[-1][2].insert(0, _pick(outsiders, items[-1][0]))
        self.send_relay(
            f"attestWithSignatures(epoch={epoch}, [{self.describe_items(batch)}])"
            + (" (last item signed for stale terms)" if mutation == "stale terms" else ""),
            epoch,
            batch,
            self.w.outsider,
            stale=mutation == "stale terms",
        )

    def relay_quorum(self, mid: bytes, rotate: int, dissent: bool) -> None:
        """A quorum of the current committee relays agreeing signatures; with `dissent`, one
        member fewer agrees and another member's conflicting signature follows in a second item,
        which disputes the milestone."""
        members = [self.oracle_by_address[a] for a in self.committee]
        members = members[rotate % len(members) :] + members[: rotate % len(members)]
        agreeing = max(1, self.quorum - 1) if dissent else self.quorum
        batch = [(mid, agreed_evidence(mid), members[:agreeing])]
        if dissent and len(members) > agreeing:
            batch.append((mid, conflicting_evidence(mid), [members[agreeing]]))
        self.send_relay(
            f"attestWithSignatures(epoch={self.epoch}, [{self.describe_items(batch)}])",
            self.epoch,
            batch,
            self.w.funder,
        )

    # -- release and expiry ----------------------------------------------------------------

    @precondition(lambda self: self.ms)
    @rule(
        pick=picks,
        pool=st.sampled_from(["due", "due", "due", "verified", "any", "unknown"]),
        caller=st.integers(0, 2),
    )
    def release(self, pick: int, pool: str, caller: int) -> None:
        """Release (anyone may call) of a due milestone, of a verified one (due or not), of any
        milestone, or of an unknown id."""
        due = self.due()
        mid = _pick(due, pick) if pool == "due" and due else self.milestone_for(pick, pool)
        self.do_release(mid, caller)

    def do_release(self, mid: bytes, caller: int) -> None:
        who = (self.w.outsider, self.w.beneficiaries[0], self.w.oracles[0])[caller]
        m = self.ms.get(mid)
        expect = None
        if self.paused:
            expect = self.err("EnforcedPause")
        elif m is None:
            expect = self.err("Escrow_UnknownMilestone", mid)
        elif m.stored != Status.VERIFIED:
            expect = self.err("Escrow_UnexpectedMilestoneStatus", mid, int(m.status(self.now)))
        elif self.now < self.due_at(m):
            expect = self.err("Escrow_ChallengeWindowOpen", mid, self.due_at(m))
        events: list[Event] = []
        transfers: list[tuple[str, str, int]] = []
        if m is not None:
            events = [("MilestoneReleased", mid, m.pid, m.beneficiary, m.amount)]
            transfers = [(str(self.escrow.address), m.beneficiary, m.amount)]
        tx = self.send(
            f"release({self.describe(mid)})",
            self.escrow.release,
            [mid],
            who,
            expect,
            events,
            transfers,
        )
        if tx is not None:
            self.pay(m, by_council=False)

    @precondition(lambda self: self.ms)
    @rule(
        chosen=st.lists(
            st.tuples(picks, st.sampled_from(["due", "due", "verified", "any", "unknown"])),
            max_size=5,
        ),
        repeat=st.booleans(),
        caller=st.integers(0, 2),
    )
    def release_batch(self, chosen: list[tuple[int, str]], repeat: bool, caller: int) -> None:
        """releaseBatch (anyone may call) of a mix of due, verified, any and unknown ids, some
        perhaps twice: the due ones are paid once each, in order; the others are skipped."""
        due = self.due()
        ids = [
            _pick(due, pick) if pool == "due" and due else self.milestone_for(pick, pool)
            for pick, pool in chosen
        ]
        if repeat and ids:
            ids.append(ids[0])
        who = (self.w.outsider, self.w.beneficiaries[0], self.w.oracles[0])[caller]
        expect = None
        if self.paused:
            expect = self.err("EnforcedPause")
        elif not ids:
            expect = self.err("Escrow_EmptyBatch")
        paid: list[GhostMilestone] = []
        for mid in ids:
            m = self.ms.get(mid)
            if (
                m is not None
                and m not in paid
                and m.stored == Status.VERIFIED
                and self.now >= self.due_at(m)
            ):
                paid.append(m)
        escrow = str(self.escrow.address)
        tx = self.send(
            f"releaseBatch({', '.join(self.describe(mid) for mid in ids)})",
            self.escrow.releaseBatch,
            [ids],
            who,
            expect,
            [("MilestoneReleased", m.mid, m.pid, m.beneficiary, m.amount) for m in paid],
            [(escrow, m.beneficiary, m.amount) for m in paid],
        )
        if tx is not None:
            assert tx.return_value == len(paid)
            for m in paid:
                self.pay(m, by_council=False)

    @precondition(lambda self: self.ms)
    @rule(pick=picks, pool=st.sampled_from(["lapsed", "lapsed", "lapsed", "any", "unknown"]))
    def expire(self, pick: int, pool: str) -> None:
        mid = self.milestone_for(pick, pool)
        m = self.ms.get(mid)
        expect = None
        if self.paused:
            expect = self.err("EnforcedPause")
        elif m is None:
            expect = self.err("Escrow_UnknownMilestone", mid)
        elif m.status(self.now) != Status.EXPIRED or m.stored != Status.REGISTERED:
            expect = self.err("Escrow_UnexpectedMilestoneStatus", mid, int(m.status(self.now)))
        tx = self.send(
            f"expire({self.describe(mid)})",
            self.escrow.expire,
            [mid],
            self.w.outsider,
            expect,
            [("MilestoneExpired", mid, m.pid, m.amount)] if m else [],
        )
        if tx is not None:
            m.stored = Status.EXPIRED
            self.programs[m.pid].committed -= m.amount

    # -- council overrides (the escrow's admin) --------------------------------------------

    @precondition(lambda self: self.programs)
    @rule(
        kind=st.sampled_from(
            ["freeze", "resolve", "cancel", "force", "replace", "window", "lapsed"]
        ),
        pick=picks,
        anything=st.sampled_from([False] * 4 + [True]),
        beneficiary=beneficiaries,
        window=windows,
        conflicting=st.booleans(),
        fault=st.sampled_from([None] * 6 + ["outsider", "other"]),
    )
    def council_override(
        self,
        kind: str,
        pick: int,
        anything: bool,
        beneficiary: int,
        window: int,
        conflicting: bool,
        fault: str | None,
    ) -> None:
        """The escrow's admin (the council) overrides: freeze or unfreeze, resolve a dispute,
        cancel, force-release, replace a beneficiary, set a challenge window. The target is one
        the override applies to, or (`anything`) any milestone or an unknown id; `other` is the
        override's own fault (a zero beneficiary, a window over the maximum, an unknown
        program)."""
        pool = "any" if anything else None
        if kind == "lapsed":
            # The council reaches a lapsed milestone, whether or not someone expired it.
            lapsed = [m.mid for m in self.ms.values() if m.stored == Status.EXPIRED]
            if lapsed and not anything:
                mid = _pick(lapsed, pick)
                if conflicting:
                    self.replace_beneficiary(pick, "lapsed", beneficiary, fault, mid=mid)
                else:
                    self.cancel_or_force(pick % 2 == 0, pick, "lapsed", fault, mid=mid)
                return
            kind = "force"
        if kind == "freeze":
            self.freeze_or_unfreeze(pick, pool or "verified", fault)
        elif kind == "resolve":
            self.resolve_dispute(pick, pool or "disputed", conflicting, fault)
        elif kind in ("cancel", "force"):
            self.cancel_or_force(kind == "force", pick, pool or "unpaid", fault)
        elif kind == "replace":
            if fault == "other":
                fault = ("zero beneficiary", "escrow beneficiary", "token beneficiary")[pick % 3]
            # Half of them on an open milestone, which the manager may then try to amend.
            self.replace_beneficiary(
                pick, pool or ("open" if pick % 2 else "unpaid"), beneficiary, fault
            )
        else:
            if fault == "other":
                fault = "too long" if pick % 2 else "unknown program"
            self.set_challenge_window(pick, window, fault)

    def freeze_or_unfreeze(self, pick: int, pool: str, fault: str | None) -> None:
        """Freezes a verified milestone or unfreezes a frozen one (any other status refused)."""
        frozen = [m.mid for m in self.ms.values() if m.stored == Status.FROZEN]
        mid = _pick(frozen, pick) if frozen and pick % 2 else self.milestone_for(pick, pool)
        m = self.ms.get(mid)
        unfreeze = m is not None and m.stored == Status.FROZEN
        who = self.admin(fault)
        expect = self.admin_error(who)
        if expect is None and m is None:
            expect = self.err("Escrow_UnknownMilestone", mid)
        if expect is None and m.stored not in (Status.FROZEN, Status.VERIFIED):
            expect = self.err("Escrow_UnexpectedMilestoneStatus", mid, int(m.status(self.now)))
        name = "unfreeze" if unfreeze else "freeze"
        tx = self.send(
            f"{name}({self.describe(mid)})",
            getattr(self.escrow, name),
            [mid],
            who,
            expect,
            [("MilestoneUnfrozen" if unfreeze else "MilestoneFrozen", mid)],
        )
        if tx is not None:
            m.stored = Status.VERIFIED if unfreeze else Status.FROZEN

    def resolve_dispute(self, pick: int, pool: str, conflicting: bool, fault: str | None) -> None:
        """The council settles a dispute for one hash an oracle of the dispute attested:
        Verified, and the window starts now; any other hash is refused (fault "other")."""
        mid = self.milestone_for(pick, pool)
        m = self.ms.get(mid)
        evidence = conflicting_evidence(mid) if conflicting else agreed_evidence(mid)
        if fault == "other":
            evidence, fault = keccak(b"made-up evidence:" + mid), None
        who = self.admin(fault)
        expect = self.admin_error(who)
        if expect is None and m is None:
            expect = self.err("Escrow_UnknownMilestone", mid)
        if expect is None and m.stored != Status.DISPUTED:
            expect = self.err("Escrow_UnexpectedMilestoneStatus", mid, int(m.status(self.now)))
        if expect is None and evidence not in (m.evidence, m.conflicting):
            expect = self.err("Escrow_HashNotDisputed", mid, evidence)
        tx = self.send(
            f"resolveDispute({self.describe(mid)})",
            self.escrow.resolveDispute,
            [mid, evidence],
            who,
            expect,
            [("DisputeResolved", mid, evidence)],
        )
        if tx is not None:
            m.evidence, m.verified_at, m.stored = evidence, self.now, Status.VERIFIED

    def cancel_or_force(
        self, force: bool, pick: int, pool: str, fault: str | None, mid: bytes | None = None
    ) -> None:
        """The council cancels an unpaid milestone (its amount returns to the program) or pays
        it without a quorum (forceRelease). Both work while paused, and on a lapsed milestone
        after `expire`: a cancellation then returns nothing more, a force-release commits the
        amount again (refused when the program no longer has it uncommitted)."""
        mid = mid if mid is not None else self.milestone_for(pick, pool)
        m = self.ms.get(mid)
        who = self.admin(fault)
        expect = self.admin_error(who) or self.council_error(mid)
        expired = m is not None and m.stored == Status.EXPIRED
        if expect is None and force and expired:
            expect = self.commit_error(m.pid, self.programs[m.pid].committed + m.amount)
        reason = keccak(b"council reason:" + mid)
        events: list[Event] = []
        transfers: list[tuple[str, str, int]] = []
        if m is not None and force:
            events = [
                ("MilestoneForceReleased", mid, reason),
                ("MilestoneReleased", mid, m.pid, m.beneficiary, m.amount),
            ]
            transfers = [(str(self.escrow.address), m.beneficiary, m.amount)]
        elif m is not None:
            events = [("MilestoneCancelled", mid, m.pid, 0 if expired else m.amount)]
        tx = self.send(
            f"{'forceRelease' if force else 'cancel'}({self.describe(mid)})",
            self.escrow.forceRelease if force else self.escrow.cancel,
            [mid, reason] if force else [mid],
            who,
            expect,
            events,
            transfers,
        )
        if tx is not None and force:
            if expired:
                self.programs[m.pid].committed += m.amount
            self.pay(m, by_council=True)
        elif tx is not None:
            m.stored = Status.CANCELLED
            if not expired:
                self.programs[m.pid].committed -= m.amount

    def replace_beneficiary(
        self,
        pick: int,
        pool: str,
        beneficiary: int,
        fault: str | None,
        mid: bytes | None = None,
    ) -> None:
        """The council redirects an unpaid (or lapsed) milestone: the beneficiary is locked
        against the manager's amendments and the terms version moves on."""
        mid = mid if mid is not None else self.milestone_for(pick, pool)
        m = self.ms.get(mid)
        payee = self.refused_payee(fault, beneficiary)
        who = self.admin(fault)
        expect = self.admin_error(who) or self.council_error(mid)
        if expect is None:
            expect = self.beneficiary_error(payee)
        if expect is None and m.terms == MAX_TERMS:
            expect = self.err("Escrow_TermsVersionExhausted", mid)
        tx = self.send(
            f"replaceBeneficiary({self.describe(mid)}, beneficiary{beneficiary})",
            self.escrow.replaceBeneficiary,
            [mid, payee],
            who,
            expect,
            [("BeneficiaryReplaced", mid, m.beneficiary, payee)] if m else [],
        )
        if tx is not None:
            previous = m.beneficiary
            m.beneficiary, m.locked, m.terms = payee, True, m.terms + 1
            if m.stored == Status.REGISTERED and previous != payee:
                self.amend_back(m, previous)

    def amend_back(self, m: GhostMilestone, previous: str) -> None:
        """The manager alone tries to undo the council's replacement: refused (issue 11)."""
        who = self.caller(None, m.pid)
        expect = self.err("EnforcedPause") if self.paused else self.open_program_error(m.pid, who)
        # (Stored Registered, as the caller checked: a lapsed one is not expired yet.)
        if expect is None and m.count != 0 and m.att_epoch == self.epoch:
            expect = self.err("Escrow_MilestoneAlreadyAttested", m.mid, m.count)
        if expect is None:
            expect = self.err("Escrow_BeneficiarySetByCouncil", m.mid, m.beneficiary)
        deadline = max(m.deadline, self.now + 1)
        self.send(
            f"amendMilestone({self.describe(m.mid)}) back to the replaced beneficiary",
            self.escrow.amendMilestone,
            [m.mid, previous, m.amount, deadline, m.spec],
            who,
            expect,
        )

    def set_challenge_window(self, pick: int, window: int, fault: str | None) -> None:
        pid = self.program_for(pick, fault)
        if fault == "too long":
            window = MAX_WINDOW + 1 + window % DAY
        who = self.admin(fault)
        expect = self.admin_error(who)
        if expect is None and pid not in self.programs:
            expect = self.err("Escrow_UnknownProgram", pid)
        if expect is None and window > MAX_WINDOW:
            expect = self.err("Escrow_ChallengeWindowTooLong", window, MAX_WINDOW)
        tx = self.send(
            f"setChallengeWindow({pid}, {window})",
            self.escrow.setChallengeWindow,
            [pid, window],
            who,
            expect,
            [("ChallengeWindowSet", pid, window)],
        )
        if tx is not None:
            # A shorter window applies to milestones verified from now on; those verified
            # until now keep the longest window one of them may still be running under.
            p = self.programs[pid]
            if p.earlier <= p.window or self.now >= p.changed_at + p.earlier:
                p.earlier = p.window
            p.changed_at, p.window = self.now, window

    # -- council program powers (issue 11) -------------------------------------------------

    @precondition(lambda self: self.programs)
    @rule(
        treasury=st.booleans(),
        pick=picks,
        fault=st.sampled_from(
            [None] * 4 + ["outsider", "manager", "unknown program", "zero", "no role", "escrow"]
        ),
    )
    def program_powers(self, treasury: bool, pick: int, fault: str | None) -> None:
        """setProgramManager (the new manager must hold the role) or setProgramTreasury (not
        the escrow); admin only, also while paused."""
        pid = self.program_for(pick, fault)
        program = self.programs.get(pid)
        w = self.w
        who = {"outsider": w.outsider, "manager": w.manager}.get(fault or "", w.admin)
        expect = self.admin_error(who)
        if expect is None and program is None:
            expect = self.err("Escrow_UnknownProgram", pid)
        if treasury:
            current = program.treasury if program else str(w.treasury.address)
            choice = str(
                (w.treasury2 if current == str(w.treasury.address) else w.treasury).address
            )
            new = {"zero": ZERO_ADDRESS, "escrow": str(self.escrow.address)}.get(
                fault or "", choice
            )
            if expect is None and new == ZERO_ADDRESS:
                expect = self.err("Escrow_ZeroAddress", "treasury")
            if expect is None and new == str(self.escrow.address):
                expect = self.err("Escrow_InvalidTreasury", new)
            tx = self.send(
                f"setProgramTreasury({pid}, {new[:8]})",
                self.escrow.setProgramTreasury,
                [pid, new],
                who,
                expect,
                [("ProgramTreasuryChanged", pid, current, new)],
            )
            if tx is not None:
                assert program is not None
                program.treasury = new
            return
        current = program.manager if program else str(w.manager.address)
        choice = str((w.funder if current == str(w.manager.address) else w.manager).address)
        new = {"zero": ZERO_ADDRESS, "no role": str(w.outsider.address)}.get(fault or "", choice)
        if expect is None and new == ZERO_ADDRESS:
            expect = self.err("Escrow_ZeroAddress", "manager")
        if expect is None and new not in self.managers:
            expect = self.err("Escrow_ManagerLacksRole", new)
        tx = self.send(
            f"setProgramManager({pid}, {new[:8]})",
            self.escrow.setProgramManager,
            [pid, new],
            who,
            expect,
            [("ProgramManagerChanged", pid, current, new)],
        )
        if tx is not None:
            assert program is not None
            program.manager = new

    # -- wrong roles (issue 11: random callers for every role-restricted function) ---------

    ADMIN_ONLY: ClassVar[tuple[str, ...]] = (
        "setCommittee",
        "pause",
        "unpause",
        "freeze",
        "unfreeze",
        "cancel",
        "forceRelease",
        "replaceBeneficiary",
        "resolveDispute",
        "setChallengeWindow",
        "setBaseline",
        "setProgramManager",
        "setProgramTreasury",
        "grantRole",
        "revokeRole",
    )
    MANAGER_ONLY: ClassVar[tuple[str, ...]] = (
        "registerMilestone",
        "registerMilestones",
        "amendMilestone",
    )

    def views(self) -> list[Any]:
        """Everything a refused call could have changed, read in one batch: pause, committee,
        programs, milestones (view and status), roles of every account used, token balances."""
        w, escrow, token = self.w, str(self.escrow.address), str(self.w.token.address)
        read = BatchRead()
        read.call(escrow, SEL_PAUSED, ["bool"])
        read.call(escrow, SEL_COMMITTEE, ["address[]", "uint8", "uint16"])
        read.call(escrow, SEL_PROGRAM_COUNT, ["uint256"])
        for pid in range(1, len(self.programs) + 2):
            read.call(escrow, SEL_PROGRAM + encode(["uint256"], [pid]), PROGRAM_VIEW)
        for mid in self.ms:
            read.call(escrow, SEL_STATUS_OF + mid, ["uint8"])
            read.call(escrow, SEL_MILESTONE + mid, MILESTONE_VIEW)
        people = [w.admin, w.manager, w.funder, w.outsider, *w.beneficiaries, *w.oracles]
        for account in people:
            for role in (DEFAULT_ADMIN_ROLE, PROGRAM_MANAGER_ROLE):
                data = SEL_HAS_ROLE + encode(["bytes32", "address"], [role, str(account.address)])
                read.call(escrow, data, ["bool"])
        for holder in [*w.holdings, str(w.manager.address), str(w.funder.address)]:
            read.call(token, SEL_BALANCE_OF + encode(["address"], [holder]), ["uint256"])
        return read.run()

    @rule(
        kind=st.sampled_from(
            [
                *ADMIN_ONLY,
                *MANAGER_ONLY,
                "createProgram",
                "closeProgram",
                "withdrawRemainder",
                "attest",
            ]
        ),
        pick=picks,
        caller=st.integers(0, 4),
    )
    def wrong_role(self, kind: str, pick: int, caller: int) -> None:
        """A role-restricted function called by someone without the role, in whatever state
        the sequence reached: the predicted refusal, and every view unchanged."""
        w, e = self.w, self.escrow
        pid = _pick(list(self.programs), pick) or len(self.programs) + 1
        program = self.programs.get(pid)
        mid = self.milestone_for(pick, "any")
        m = self.ms.get(mid)
        manager = program.manager if program else str(w.manager.address)
        other_manager = w.funder if manager == str(w.manager.address) else w.manager
        oracle = _pick(list(w.oracles), pick)
        expect: str | None
        if kind in self.ADMIN_ONLY:
            who = (w.outsider, w.manager, w.funder, w.beneficiaries[0], oracle)[caller]
            expect = self.admin_error(who)
        elif kind == "createProgram":
            who = (w.outsider, w.admin, w.beneficiaries[0], oracle, w.treasury)[caller]
            expect = (
                self.err("EnforcedPause")
                if self.paused
                else self.err(
                    "AccessControlUnauthorizedAccount", str(who.address), PROGRAM_MANAGER_ROLE
                )
            )
        elif kind == "attest":
            outsiders = [o for o in w.oracles if str(o.address) not in self.committee]
            who = (_pick(outsiders, pick) or w.outsider, w.outsider, w.manager, w.admin, w.funder)[
                caller
            ]
            expect = self.err("EnforcedPause") if self.paused else None
            if expect is None:
                tally = self.open_tally({}, mid)
                expect = (
                    tally
                    if isinstance(tally, str)
                    else self.err("Escrow_NotOracle", str(who.address))
                )
        else:
            who = (w.outsider, other_manager, oracle, w.beneficiaries[0], w.admin)[caller]
            if kind in ("closeProgram", "withdrawRemainder") and who == w.admin:
                who = w.outsider  # the admin may close and withdraw (issue 11)
            expect = self.err("EnforcedPause") if self.paused else None
            if expect is None and kind == "amendMilestone" and m is None:
                expect = self.err("Escrow_UnknownMilestone", mid)
            target = m.pid if kind == "amendMilestone" and m is not None else pid
            if expect is None and target not in self.programs:
                expect = self.err("Escrow_UnknownProgram", target)
            if expect is None and self.programs[target].manager != str(who.address):
                expect = self.err("Escrow_NotProgramManager", target, str(who.address))
        if expect is None:  # the chosen caller holds the role after all: nothing to show
            return
        payee = self.beneficiary(pick)
        terms = (external_ref(f"wrong-{pick}"), payee, 1, self.now + DAY, keccak(b"spec"))
        calls: dict[str, tuple[Any, list[Any]]] = {
            "setCommittee": (e.setCommittee, [list(self.committee), self.quorum]),
            "pause": (e.pause, []),
            "unpause": (e.unpause, []),
            "freeze": (e.freeze, [mid]),
            "unfreeze": (e.unfreeze, [mid]),
            "cancel": (e.cancel, [mid]),
            "forceRelease": (e.forceRelease, [mid, keccak(b"no")]),
            "replaceBeneficiary": (e.replaceBeneficiary, [mid, str(who.address)]),
            "resolveDispute": (e.resolveDispute, [mid, agreed_evidence(mid)]),
            "setChallengeWindow": (e.setChallengeWindow, [pid, 0]),
            "setBaseline": (e.setBaseline, [pid, 10**30]),
            "setProgramManager": (e.setProgramManager, [pid, str(other_manager.address)]),
            "setProgramTreasury": (e.setProgramTreasury, [pid, str(who.address)]),
            "grantRole": (e.grantRole, [DEFAULT_ADMIN_ROLE, str(who.address)]),
            "revokeRole": (e.revokeRole, [DEFAULT_ADMIN_ROLE, str(w.admin.address)]),
            "registerMilestone": (e.registerMilestone, [pid, terms]),
            "registerMilestones": (e.registerMilestones, [pid, [terms]]),
            "amendMilestone": (e.amendMilestone, [mid, str(who.address), 1, self.now + DAY, mid]),
            "createProgram": (e.createProgram, [w.token, w.treasury, 0, FACTS]),
            "closeProgram": (e.closeProgram, [pid]),
            "withdrawRemainder": (e.withdrawRemainder, [pid]),
            "attest": (e.attest, [mid, agreed_evidence(mid), self.epoch, self.terms_of(mid)]),
        }
        fn, args = calls[kind]
        before = self.views()
        self.send(f"{kind} by a wrong caller {str(who.address)[:8]}", fn, args, who, expect)
        after = self.views()
        assert after == before, (
            f"{kind} by a wrong caller was refused but changed a view\n{self.trace()}"
        )
        STATS["wrong role refused, nothing changed"] += 1

    # -- committee and pause ---------------------------------------------------------------

    @rule(
        members=st.lists(st.integers(0, 4), min_size=1, max_size=5, unique=True),
        quorum=st.integers(1, 5),
        mutation=st.sampled_from(
            [None] * 6 + ["empty", "quorum 0", "quorum > size", "duplicate", "outsider"]
        ),
    )
    def set_committee(self, members: list[int], quorum: int, mutation: str | None) -> None:
        """A new committee and quorum: the epoch advances and earlier attestations stop
        counting."""
        addresses = [str(self.w.oracles[i].address) for i in members]
        quorum = min(quorum, len(addresses))
        who = self.admin(mutation)
        if mutation == "empty":
            addresses = []
        elif mutation == "quorum 0":
            quorum = 0
        elif mutation == "quorum > size":
            quorum = len(addresses) + 1
        elif mutation == "duplicate":
            addresses.append(addresses[0])
        expect = self.admin_error(who)
        if expect is None and (not addresses or len(addresses) > MAX_COMMITTEE):
            expect = self.err("Escrow_InvalidCommitteeSize", len(addresses), MAX_COMMITTEE)
        if expect is None and (quorum == 0 or quorum > len(addresses)):
            expect = self.err("Escrow_InvalidQuorum", quorum, len(addresses))
        if expect is None and len(set(addresses)) != len(addresses):
            expect = self.err("Escrow_DuplicateOracle", addresses[-1])
        names = [self.w.oracles.index(self.oracle_by_address[a]) for a in addresses]
        tx = self.send(
            f"setCommittee(oracles {names}, quorum={quorum})",
            self.escrow.setCommittee,
            [addresses, quorum],
            who,
            expect,
            [("CommitteeUpdated", self.epoch + 1, tuple(addresses), quorum)],
        )
        if tx is not None:
            self.epoch += 1
            self.committee, self.quorum = tuple(addresses), quorum
            self.history[self.epoch] = (self.committee, quorum)

    @precondition(lambda self: not self.probed)
    @rule(
        kind=st.sampled_from(
            [
                *("release", "attest", "relay", "fund", "register", "expire", "create", "close"),
                *("force release", "cancel"),
            ]
        ),
        pick=picks,
    )
    def pause_and_probe(self, kind: str, pick: int) -> None:
        """Pauses and shows that a call (one that would otherwise succeed, where the ghost has
        one) reverts with EnforcedPause, or that the council's forceRelease and cancel still
        work; then unpauses. Once per sequence: it costs three calls."""
        self.probed = True
        e, w = self.escrow, self.w
        admin = str(w.admin.address)
        self.send("pause()", e.pause, [], w.admin, None, [("Paused", admin)])
        self.paused = True
        if kind in ("force release", "cancel"):
            self.cancel_or_force(
                force=kind == "force release", pick=pick, pool="unpaid", fault=None
            )
        else:
            mid = _pick(self.due(), pick) or self.milestone_for(pick, "open")
            pid = self.program_for(pick, None)
            oracle = self.oracle_by_address[self.committee[0]]
            calls = {
                "release": (e.release, [mid], w.outsider),
                "attest": (
                    e.attest,
                    [mid, agreed_evidence(mid), self.epoch, self.terms_of(mid)],
                    oracle,
                ),
                "relay": (e.attestWithSignatures, [self.epoch, []], w.outsider),
                "fund": (e.fund, [pid, UNIT], w.funder),
                "register": (
                    e.registerMilestone,
                    [pid, (external_ref("paused"), self.beneficiary(0), 1, self.now + DAY, mid)],
                    w.manager,
                ),
                "expire": (e.expire, [mid], w.outsider),
                "create": (e.createProgram, [w.token, w.treasury, 0, FACTS], w.manager),
                "close": (e.closeProgram, [pid], w.manager),
            }
            fn, args, who = calls[kind]
            self.send(f"{kind} while paused", fn, args, who, self.err("EnforcedPause"))
        self.send("unpause()", e.unpause, [], w.admin, None, [("Unpaused", admin)])
        self.paused = False

    # -- time ------------------------------------------------------------------------------

    def advance(self, seconds: int) -> None:
        self.now += seconds
        self.log.append(f"t={self.now - self.w.start_time:>8} (time passes: {seconds} s)")
        # brownie's chain.mine(timestamp=...) sends anvil a malformed evm_mine, so the timestamp
        # is set first and brownie mines the block.
        _rpc("evm_setNextBlockTimestamp", [self.now])
        chain.mine()

    @rule(
        to=st.sampled_from(["due", "due", "deadline", "seconds"]),
        seconds=st.sampled_from([1, 60, HOUR, DAY, 3 * DAY, 8 * DAY]) | st.integers(1, 10 * DAY),
        pick=picks,
        before=st.sampled_from([False, False, True]),
    )
    def advance_time(self, to: str, seconds: int, pick: int, before: bool) -> None:
        """Time passes: to the last second before (or the first second of) a verified
        milestone's due time, to a registered milestone's deadline (or the first second past
        it), or by a number of seconds (also when no such boundary lies ahead)."""
        due = [
            self.due_at(m) - int(before) for m in self.ms.values() if m.stored == Status.VERIFIED
        ]
        deadlines = [
            m.deadline + int(not before) for m in self.ms.values() if m.stored == Status.REGISTERED
        ]
        ahead = sorted(t for t in {"due": due, "deadline": deadlines}.get(to, []) if t > self.now)
        if not ahead and to == "due":
            ahead = sorted(t for t in deadlines if t > self.now)
        self.advance(_pick(ahead, pick) - self.now if ahead else seconds)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        STATS["invariant checks"] += 1
        self.steps += 1
        w, escrow, token = self.w, str(self.escrow.address), str(self.w.token.address)
        payees = list(w.holdings)  # the escrow, the treasury, the beneficiaries
        read = BatchRead()
        i_time = read.latest_timestamp()
        i_paused = read.call(escrow, SEL_PAUSED, ["bool"])
        i_committee = read.call(escrow, SEL_COMMITTEE, ["address[]", "uint8", "uint16"])
        i_count = read.call(escrow, SEL_PROGRAM_COUNT, ["uint256"])
        i_holdings = [
            read.call(token, SEL_BALANCE_OF + encode(["address"], [p]), ["uint256"]) for p in payees
        ]
        i_programs = {
            pid: read.call(escrow, SEL_PROGRAM + encode(["uint256"], [pid]), PROGRAM_VIEW)
            for pid in self.programs
        }
        i_ms = {
            mid: (
                read.call(escrow, SEL_STATUS_OF + mid, ["uint8"]),
                read.call(escrow, SEL_MILESTONE + mid, MILESTONE_VIEW),
            )
            for mid in self.ms
        }
        # hasAttested for every tally of the current epoch (all others must read false anyway).
        i_attested = {
            (mid, str(o.address)): read.call(
                escrow, SEL_HAS_ATTESTED + mid + encode(["address"], [str(o.address)]), ["bool"]
            )
            for mid, m in self.ms.items()
            if m.att_epoch == self.epoch
            for o in w.oracles
        }
        got = read.run()
        trace = self.trace()

        # The ghost's clock, pause flag and committee are the chain's; all below relies on them.
        assert got[i_time] == self.now, f"block time {got[i_time]} != ghost {self.now}\n{trace}"
        assert got[i_paused][0] is self.paused, f"paused() != ghost {self.paused}\n{trace}"
        members, quorum, epoch = got[i_committee]
        assert (
            tuple(to_checksum_address(a) for a in members),
            quorum,
            epoch,
        ) == (self.committee, self.quorum, self.epoch), f"committee() differs\n{trace}"
        assert got[i_count][0] == len(self.programs), f"programCount() differs\n{trace}"

        # Invariant 1: token balance == sum(funded - paid - withdrawn) == sum(program balances).
        held = {p: got[i][0] for p, i in zip(payees, i_holdings, strict=True)}
        escrow_balance = held[escrow] - w.holdings[escrow]
        ghost_sum = sum(p.funded - p.paid - p.withdrawn for p in self.programs.values())
        chain_sum = sum(got[i][5] for i in i_programs.values())
        assert escrow_balance == ghost_sum == chain_sum, (
            f"invariant 1 (escrow token balance == sum of funded - paid - withdrawn == sum of "
            f"program balances): token {escrow_balance}, ghost {ghost_sum}, "
            f"programs {chain_sum}\n{trace}"
        )
        for pid, i in i_programs.items():
            program, view = self.programs[pid], got[i]
            expected_view = (
                program.manager,
                program.closed,
                token,
                program.window,
                program.treasury,
                program.balance,
            )
            actual_view = (
                to_checksum_address(view[0]),
                view[1],
                to_checksum_address(view[2]),
                view[3],
                to_checksum_address(view[4]),
                view[5],
            )
            assert actual_view == expected_view, (
                f"invariant 1 (program {pid} as the ghost has it): chain {actual_view}, "
                f"ghost {expected_view}\n{trace}"
            )

            # Invariant 2: committed <= balance, and the contract's committed is the ghost's.
            owed = sum(m.amount for m in self.ms.values() if m.pid == pid and m.stored in UNPAID)
            assert view[6] <= view[5], (
                f"invariant 2 (committed <= balance): program {pid} committed {view[6]} > "
                f"balance {view[5]}\n{trace}"
            )
            assert view[6] == program.committed == owed, (
                f"invariant 2 (contract committed == ghost committed): program {pid} chain "
                f"{view[6]}, ghost {program.committed}, unpaid milestones {owed}\n{trace}"
            )

            # The baseline (issue 12): paid plus owed never exceeds it.
            assert view[7] == program.baseline, (
                f"baseline: program {pid} chain {view[7]}, ghost {program.baseline}\n{trace}"
            )
            assert program.paid + program.committed <= program.baseline, (
                f"baseline: program {pid} paid {program.paid} + committed {program.committed} "
                f"> baseline {program.baseline}\n{trace}"
            )

        # Invariant 3: each milestone pays at most once, exactly its amount, to its current
        # beneficiary, and every payee holds exactly what the ghost paid it.
        released_on_chain = set()
        for mid, (i_status, _) in i_ms.items():
            m = self.ms[mid]
            assert len(m.payments) <= 1, f"invariant 3 (pays once): {mid.hex()} paid twice"
            for pay in m.payments:
                assert (pay.beneficiary, pay.amount) == (m.beneficiary, m.amount), (
                    f"invariant 3 (exact amount to the beneficiary): {mid.hex()} paid {pay}\n"
                    f"{trace}"
                )
            if got[i_status][0] == Status.RELEASED:
                released_on_chain.add(mid)
        paid_in_ghost = {m.mid for m in self.ms.values() if m.payments}
        assert released_on_chain == paid_in_ghost, (
            f"invariant 3 (released on chain == paid in the ghost): chain "
            f"{sorted(x.hex()[:8] for x in released_on_chain)}, ghost "
            f"{sorted(x.hex()[:8] for x in paid_in_ghost)}\n{trace}"
        )
        for payee in payees[1:]:
            expected = w.holdings[payee] + self.received[payee]
            assert held[payee] == expected, (
                f"invariant 3 (payees' token balances == what the ghost paid them): {payee} "
                f"holds {held[payee]}, expected {expected}\n{trace}"
            )

        # Invariant 4: every payment was due, by the chain's own record of events.
        for mid in paid_in_ghost:
            self.check_payment_was_due(mid, trace)

        # The contract's view of every milestone is the ghost's.
        for mid, (i_status, i_view) in i_ms.items():
            m = self.ms[mid]
            expected_status = m.status(self.now)
            assert got[i_status][0] == expected_status, (
                f"statusOf({mid.hex()[:8]}) == {Status(got[i_status][0]).name}, the ghost "
                f"expects {expected_status.name}\n{trace}"
            )
            view = got[i_view]
            actual = (view[0], to_checksum_address(view[1]), *view[2:12])
            expected = (
                m.pid,
                m.beneficiary,
                m.amount,
                m.deadline,
                m.spec,
                expected_status,
                m.count,
                m.att_epoch,
                m.evidence,
                m.verified_at,
                m.terms,
                m.locked,
            )
            assert actual == expected, (
                f"milestone({mid.hex()[:8]}) == {actual}, the ghost expects {expected}\n{trace}"
            )
        for (mid, oracle), i in i_attested.items():
            counted = oracle in self.committee and oracle in dict(self.ms[mid].attesters)
            assert got[i][0] is counted, (
                f"hasAttested({mid.hex()[:8]}, {oracle}) == {got[i][0]}, the ghost counted "
                f"{dict(self.ms[mid].attesters)} in epoch {self.epoch}\n{trace}"
            )

    def check_payment_was_due(self, mid: bytes, trace: str) -> None:
        """Invariant 4 for one paid milestone, from the events the escrow emitted about it."""
        m, pay = self.ms[mid], self.ms[mid].payments[0]
        log = self.chain_log.get(mid, [])
        where = f"milestone {mid.hex()[:8]}, its events:\n  " + "\n  ".join(map(str, log))
        where += f"\n{trace}"
        releases = [i for i, event in enumerate(log) if event[0] == "MilestoneReleased"]
        assert len(releases) == 1, f"invariant 4 (one MilestoneReleased per payment): {where}"
        before = log[: releases[0]]
        _, _, _, beneficiary, amount, paid_at = log[releases[0]]
        assert (beneficiary, amount, paid_at) == (pay.beneficiary, pay.amount, pay.time), (
            f"invariant 4 (the payment is the one the ghost recorded): {pay}: {where}"
        )
        if before and before[-1][0] == "MilestoneForceReleased":
            assert pay.by_council and pay.status_before in COUNCIL_REACH, (
                f"invariant 4 (a council payment pays an unpaid milestone): {pay}: {where}"
            )
            return
        assert not pay.by_council and pay.status_before == Status.VERIFIED and not pay.paused, (
            f"invariant 4 (paid from Verified, by release, not paused): {pay}: {where}"
        )
        made_due = [
            i for i, e in enumerate(before) if e[0] in ("MilestoneVerified", "DisputeResolved")
        ]
        assert made_due, f"invariant 4 (paid without a quorum or a council resolution): {where}"
        decision = before[made_due[-1]]
        after = [e[0] for e in before[made_due[-1] + 1 :]]
        assert after.count("MilestoneFrozen") == after.count("MilestoneUnfrozen"), (
            f"invariant 4 (never paid while frozen): {where}"
        )
        assert paid_at >= decision[-1] + pay.window, (
            f"invariant 4 (paid only after the challenge window of {pay.window} s): {where}"
        )
        if decision[0] == "DisputeResolved":
            return  # the council decided which evidence stands
        _, _, agreed, count, _ = decision
        attestations = [e for e in before[: made_due[-1]] if e[0] == "AttestationRecorded"]
        assert attestations, f"invariant 4 (verified without attestations): {where}"
        epoch = attestations[-1][4]
        counted = [e for e in attestations if e[4] == epoch]
        members, quorum = self.history[epoch]
        oracles = [e[2] for e in counted]
        assert len(set(oracles)) == len(oracles) == count >= quorum, (
            f"invariant 4 (a quorum of distinct oracles: {quorum} needed in epoch {epoch}, "
            f"{count} counted): {where}"
        )
        assert all(o in members for o in oracles), (
            f"invariant 4 (only members of epoch {epoch}'s committee count): {where}"
        )
        assert all(e[3] == agreed for e in counted), (
            f"invariant 4 (all counted attestations agree on one hash): {where}"
        )
        assert "MilestoneDisputed" not in [e[0] for e in before], (
            f"invariant 4 (a disputed milestone verified without the council): {where}"
        )
        assert m.stored == Status.RELEASED


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------


def test_escrow_invariants_hold_over_random_call_sequences(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    EscrowMachine.world = world
    STATS.clear()
    started = time.perf_counter()
    try:
        # brownie's hypothesis reporter drops line breaks; the failing sequence should be legible.
        with with_reporter(print):
            run_state_machine_as_test(
                EscrowMachine,
                settings=settings(
                    max_examples=EXAMPLES,
                    stateful_step_count=STEPS,
                    deadline=None,
                    database=None,
                    print_blob=True,
                    verbosity=Verbosity.normal,
                    report_multiple_bugs=False,
                    suppress_health_check=[
                        HealthCheck.too_slow,
                        HealthCheck.filter_too_much,
                        HealthCheck.data_too_large,
                    ],
                ),
            )
    finally:
        # Let block time flow again for whatever runs next on this chain.
        _rpc("anvil_removeBlockTimestampInterval")
        elapsed = time.perf_counter() - started
        steps = STATS["invariant checks"] - STATS["sequences"]
        outcomes = ", ".join(
            f"{name} {count:,}"
            for name, count in sorted(STATS.items())
            if name.startswith(("ok ", "revert ", "wrong role", "relay "))
        )
        with capsys.disabled():
            print(
                f"\ninvariants: {STATS['sequences']:,} sequences, {steps:,} steps, "
                f"{STATS['transactions']:,} transactions "
                f"({STATS['reverted as predicted']:,} reverted as predicted), "
                f"{STATS['invariant checks']:,} invariant checks in {elapsed:.0f} s\n"
                f"invariants: outcomes: {outcomes}"
            )

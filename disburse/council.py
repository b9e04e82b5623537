"""The oversight council's read model and its actions, for the CLI, the audit and the console.

`Council` reads the council on chain: a proposal's stored facts, its state (the contract's own
`proposalState` view), its calldata (from its ProposalCreated event), a simulation of its call
as the council would make it, and every proposal rebuilt from the council's events.

Proposals in plain words, both ways: the calldata of each override an overseer can
propose, and the description of any proposal's calldata ("force-release milestone 0x3f2a…9c01
to 0xAbC… for 12,000,000 JPYT, reason 0x…"), so nobody approves raw hex.

`ChainWords` looks up what a description says about a milestone (its reference, beneficiary,
amount and the program token's symbol) from the chain, once per milestone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import is_address, is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    Web3Exception,
)
from web3.types import EventData, TxParams, TxReceipt

from disburse._format import duration_seconds, format_amount, ref_text, short, when
from disburse._format import duration_words as show_duration
from disburse.chain.client import ChainClient, revert_data
from disburse.chain.contracts import enum_labels
from disburse.chain.errors import ConfigurationError, ContractRevertError, DisburseError
from disburse.chain.escrow import Escrow

PROGRAM_MANAGER_ROLE = keccak(text="PROGRAM_MANAGER_ROLE")
ADMIN_ROLE = b"\x00" * 32
ROLE_NAMES = {PROGRAM_MANAGER_ROLE: "program manager", ADMIN_ROLE: "escrow admin"}

MAX_PROPOSAL_LIFETIME = 90 * 24 * 3600
"""OversightCouncil.MAX_PROPOSAL_LIFETIME: a proposal lives at most this long, seconds."""
MAX_CHALLENGE_WINDOW = 90 * 24 * 3600
"""MilestoneEscrow.MAX_CHALLENGE_WINDOW, seconds."""
MAX_COMMITTEE_SIZE = 16
"""MilestoneEscrow.MAX_COMMITTEE_SIZE."""


class ProposalError(ConfigurationError):
    """An action or its arguments do not make a valid proposal."""


@dataclass(frozen=True)
class Money:
    """How amounts of the settlement token are shown."""

    symbol: str = "tokens"
    decimals: int = 18

    def show(self, amount: int) -> str:
        return f"{format_amount(amount, self.decimals)} {self.symbol}"


@dataclass(frozen=True)
class MilestoneFacts:
    """What a description says about a milestone, looked up by the caller."""

    beneficiary: str
    amount: int
    ref: str | None = None
    money: Money | None = None
    """How its program's token is shown (the `money` given to `describe` when None)."""


def reason_hash(reason: str) -> bytes:
    """The hash a force-release records: keccak256 of the written reason (UTF-8)."""
    if not reason.strip():
        raise ProposalError("a force-release needs a written reason")
    return keccak(text=reason)


def parse_duration(text: str) -> int:
    """Seconds of "7d", "36h", "1d12h", "90m", "45s" or a plain number of seconds."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise ProposalError(
            f"{text!r} is not a duration: write it like 7d, 36h, 1d12h, 90m, 45s or in seconds"
        )
    return seconds


# ---------------------------------------------------------------------- encoding

Kind = Literal["milestone", "hash", "address", "addresses", "uint8", "program", "seconds", "amount"]


@dataclass(frozen=True)
class Action:
    """One override an overseer can propose: the function it calls and its parameters."""

    name: str
    on: Literal["escrow", "council"]
    function: str
    params: tuple[tuple[str, Kind], ...] = ()
    role: bytes | None = None
    """For grantRole / revokeRole: the role, passed before the parameters."""
    summary: str = ""


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "freeze",
            "escrow",
            "freeze",
            (("milestone", "milestone"),),
            summary="hold a verified milestone during its challenge window",
        ),
        Action(
            "unfreeze",
            "escrow",
            "unfreeze",
            (("milestone", "milestone"),),
            summary="lift a freeze: the milestone is Verified again",
        ),
        Action(
            "cancel",
            "escrow",
            "cancel",
            (("milestone", "milestone"),),
            summary="cancel an unpaid milestone; its amount returns to the program",
        ),
        Action(
            "force-release",
            "escrow",
            "forceRelease",
            (("milestone", "milestone"), ("reason hash", "hash")),
            summary="pay an unpaid milestone without an oracle quorum",
        ),
        Action(
            "replace-beneficiary",
            "escrow",
            "replaceBeneficiary",
            (("milestone", "milestone"), ("beneficiary", "address")),
            summary="pay an unpaid milestone to another address",
        ),
        Action(
            "resolve-dispute",
            "escrow",
            "resolveDispute",
            (("milestone", "milestone"), ("evidence hash", "hash")),
            summary="settle a dispute for one evidence hash (Verified, window restarts)",
        ),
        Action(
            "set-committee",
            "escrow",
            "setCommittee",
            (("oracles", "addresses"), ("quorum", "uint8")),
            summary="replace the oracle committee and its quorum",
        ),
        Action(
            "set-window",
            "escrow",
            "setChallengeWindow",
            (("program", "program"), ("challenge window", "seconds")),
            summary="set a program's challenge window",
        ),
        Action(
            "set-baseline",
            "escrow",
            "setBaseline",
            (("program", "program"), ("baseline", "amount")),
            summary="set a program's baseline (the total its milestones may oblige)",
        ),
        Action(
            "grant-manager",
            "escrow",
            "grantRole",
            (("account", "address"),),
            role=PROGRAM_MANAGER_ROLE,
            summary="let an account create programs",
        ),
        Action(
            "revoke-manager",
            "escrow",
            "revokeRole",
            (("account", "address"),),
            role=PROGRAM_MANAGER_ROLE,
            summary="cut a program manager off (its programs too)",
        ),
        Action(
            "close-program",
            "escrow",
            "closeProgram",
            (("program", "program"),),
            summary="close a program: no more funding or milestones",
        ),
        Action(
            "withdraw-remainder",
            "escrow",
            "withdrawRemainder",
            (("program", "program"),),
            summary="pay a closed program's uncommitted remainder to its treasury",
        ),
        Action(
            "set-program-manager",
            "escrow",
            "setProgramManager",
            (("program", "program"), ("manager", "address")),
            summary="hand a program to another program manager",
        ),
        Action(
            "set-program-treasury",
            "escrow",
            "setProgramTreasury",
            (("program", "program"), ("treasury", "address")),
            summary="change where a program's remainder goes",
        ),
        Action("pause", "escrow", "pause", summary="stop the escrow"),
        Action("unpause", "escrow", "unpause", summary="lift a pause"),
        Action(
            "add-member",
            "council",
            "addMember",
            (("member", "address"), ("threshold", "uint8")),
            summary="add a council member and set the threshold",
        ),
        Action(
            "remove-member",
            "council",
            "removeMember",
            (("member", "address"), ("threshold", "uint8")),
            summary="remove a council member and set the threshold",
        ),
        Action(
            "change-threshold",
            "council",
            "changeThreshold",
            (("threshold", "uint8"),),
            summary="change the approvals the council needs",
        ),
    )
}


def _bytes32(action: str, label: str, value: Any) -> bytes:
    if isinstance(value, str):
        digits = value.strip().removeprefix("0x").removeprefix("0X")
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            raw = b""
    elif isinstance(value, bytes | bytearray):
        raw = bytes(value)
    else:
        raw = b""
    if len(raw) != 32:
        raise ProposalError(f"{action}: the {label} must be 32 bytes (0x and 64 hex digits)")
    return raw


def checked_address(text: str, *, label: str = "") -> ChecksumAddress:
    """An address as typed by a person: 0x and 40 hex digits, all lower case, all upper case, or
    mixed case with a correct EIP-55 checksum (a mixed-case typo is caught, not re-checksummed);
    never the zero address."""
    value = text.strip()
    digits = value[2:]
    mixed = digits != digits.lower() and digits != digits.upper()
    if (
        not is_address(value)
        or not value.startswith(("0x", "0X"))
        or (mixed and not is_checksum_address(value))
    ):
        raise ProposalError(
            f"{label + ' ' if label else ''}{value!r} is not an address (0x and 40 hex digits, "
            "with a correct checksum if in mixed case)"
        )
    if int(value, 16) == 0:
        raise ProposalError(f"{label or 'the address'} must not be the zero address")
    return to_checksum_address(value)


def _address(action: str, label: str, value: Any) -> str:
    try:
        return checked_address(str(value), label=label)
    except ProposalError as exc:
        raise ProposalError(f"{action}: {exc}") from None


def _integer(action: str, label: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ProposalError(f"{action}: {label} {value!r} is not a whole number") from None
    if isinstance(value, bool) or not low <= number <= high:
        raise ProposalError(f"{action}: {label} must be from {low} to {high}, got {number}")
    return number


def _coerce(action: str, label: str, kind: Kind, value: Any) -> Any:
    if kind in ("milestone", "hash"):
        return _bytes32(action, label, value)
    if kind == "address":
        return _address(action, label, value)
    if kind == "addresses":
        if isinstance(value, str) or not isinstance(value, Sequence) or not value:
            raise ProposalError(f"{action}: give at least one of the {label}")
        return [_address(action, label[:-1] if label.endswith("s") else label, v) for v in value]
    if kind == "uint8":
        return _integer(action, label, value, 1, 255)
    if kind == "program":
        return _integer(action, label, value, 1, 2**256 - 1)
    if kind == "amount":
        return _integer(action, label, value, 1, 2**128 - 1)
    return _integer(action, label, value, 0, 2**40 - 1)


def encode(
    escrow: Contract, council: Contract, action: str, args: Sequence[Any]
) -> tuple[str, bytes]:
    """(target address, calldata) of an action; ProposalError names what is wrong."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise ProposalError(f"unknown action {action!r}; known actions: {', '.join(ACTIONS)}")
    if len(args) != len(spec.params):
        wanted = ", ".join(label for label, _ in spec.params) or "no arguments"
        raise ProposalError(f"{action} takes {wanted}; got {len(args)} argument(s)")
    values = [
        _coerce(action, label, kind, value)
        for (label, kind), value in zip(spec.params, args, strict=True)
    ]
    if spec.role is not None:
        values.insert(0, spec.role)
    contract = escrow if spec.on == "escrow" else council
    try:
        data = getattr(contract.functions, spec.function)(*values)._encode_transaction_data()
    except (TypeError, ValueError, Web3Exception) as exc:  # pragma: no cover - checked above
        raise ProposalError(f"{action}: {exc}") from None
    return Web3.to_checksum_address(contract.address), bytes.fromhex(str(data)[2:])


# ---------------------------------------------------------------------- describing


def describe(
    escrow: Contract,
    council: Contract,
    target: str,
    data: bytes,
    *,
    money: Money = Money(),
    milestone: Callable[[bytes], MilestoneFacts | None] = lambda _m: None,
    program_money: Callable[[int], Money] | None = None,
) -> str:
    """The proposal's call in plain words; an unknown call says so, with its selector. Amounts
    of a program (a baseline) are shown in `program_money(program)`, else in `money`."""
    target = Web3.to_checksum_address(target)
    contract = (
        escrow if target == escrow.address else council if target == council.address else None
    )
    if contract is None:
        return (
            f"call contract {target} (not the escrow or the council), selector 0x{data[:4].hex()}"
        )
    try:
        fn, args = contract.decode_function_input(data)
    except (ValueError, Web3Exception):
        return f"call {target} with unknown function 0x{data[:4].hex()}"
    name = fn.fn_name

    def about(m: bytes) -> str:
        facts = milestone(bytes(m))
        if facts and facts.ref:
            return f"milestone {facts.ref} ({short(bytes(m))})"
        return f"milestone {short(bytes(m))}"

    def cash(facts: MilestoneFacts) -> str:
        return (facts.money or money).show(facts.amount)

    if name == "forceRelease":
        m = args["milestoneId"]
        facts = milestone(bytes(m))
        pay = f" to {facts.beneficiary} for {cash(facts)}" if facts else ""
        return f"force-release {about(m)}{pay}, reason {short(args['reasonHash'])}"
    if name in ("freeze", "unfreeze", "cancel"):
        m = args["milestoneId"]
        facts = milestone(bytes(m))
        amount = f" ({cash(facts)})" if facts and name == "cancel" else ""
        return f"{name} {about(m)}{amount}"
    if name == "replaceBeneficiary":
        m = args["milestoneId"]
        facts = milestone(bytes(m))
        was = f" (was {facts.beneficiary})" if facts else ""
        return f"replace the beneficiary of {about(m)} with {args['beneficiary']}{was}"
    if name == "resolveDispute":
        evidence = short(args["evidenceHash"])
        return f"resolve the dispute on {about(args['milestoneId'])} for evidence {evidence}"
    if name == "setCommittee":
        oracles = ", ".join(args["oracles"])
        return f"set the oracle committee to {oracles} with quorum {args['quorum']}"
    if name == "setChallengeWindow":
        program, seconds = args["programId"], int(args["challengeWindow"])
        return f"set the challenge window of program {program} to {show_duration(seconds)}"
    if name == "setBaseline":
        program = int(args["programId"])
        shown = (program_money(program) if program_money else money).show(args["baseline"])
        return f"set the baseline of program {program} to {shown}"
    if name in ("grantRole", "revokeRole"):
        role = args["role"]
        what = ROLE_NAMES.get(bytes(role), f"role {short(bytes(role))}")
        verb = "grant" if name == "grantRole" else "revoke"
        preposition = "to" if verb == "grant" else "from"
        return f"{verb} the {what} role {preposition} {args['account']}"
    if name == "closeProgram":
        return f"close program {args['programId']}"
    if name == "withdrawRemainder":
        return f"pay the uncommitted remainder of program {args['programId']} to its treasury"
    if name == "setProgramManager":
        return f"hand program {args['programId']} to manager {args['manager']}"
    if name == "setProgramTreasury":
        return f"set the treasury of program {args['programId']} to {args['treasury']}"
    if name in ("pause", "unpause"):
        return f"{name} the escrow"
    if name == "addMember":
        return f"add council member {args['member']}, threshold {args['threshold_']}"
    if name == "removeMember":
        return f"remove council member {args['member']}, threshold {args['threshold_']}"
    if name == "changeThreshold":
        return f"change the council threshold to {args['threshold_']}"
    shown = ", ".join(
        f"{k} {short(bytes(v)) if isinstance(v, bytes | bytearray) else v}" for k, v in args.items()
    )
    return f"{name}({shown})"


# ---------------------------------------------------------------------- chain lookups


@dataclass
class ChainWords:
    """Looks up, once each, what descriptions say about milestones and programs: a milestone's
    reference (from its MilestoneRegistered event), beneficiary and amount, and how its
    program's token is shown. Pass `milestone` to `describe`."""

    client: ChainClient
    escrow: Contract
    since_block: int
    """The escrow's deployment block: registrations are read from here."""
    _refs: dict[bytes, str] = field(default_factory=dict)
    _programs: dict[bytes, int] = field(default_factory=dict)
    _refs_read_to: int | None = None
    _money: dict[int, Money] = field(default_factory=dict)

    def learn(self, milestone_id: bytes, external_ref: bytes, program_id: int) -> None:
        """Records a registration seen elsewhere (a watcher reading events in order)."""
        self._refs[bytes(milestone_id)] = ref_text(external_ref)
        self._programs[bytes(milestone_id)] = int(program_id)

    def ref(self, milestone_id: bytes) -> str | None:
        """The manager's reference of a milestone, or None for an unknown milestone."""
        key = bytes(milestone_id)
        if key not in self._refs:
            start = self.since_block if self._refs_read_to is None else self._refs_read_to + 1
            head = self.client.block_number()
            if head >= start:
                for log in self.client.get_logs(
                    self.escrow.events.MilestoneRegistered, from_block=start, to_block=head
                ):
                    self.learn(
                        bytes(log["args"]["milestoneId"]),
                        bytes(log["args"]["externalRef"]),
                        int(log["args"]["programId"]),
                    )
                self._refs_read_to = head
        return self._refs.get(key)

    def program_of(self, milestone_id: bytes) -> int | None:
        """The program a milestone belongs to, from its registration."""
        self.ref(milestone_id)
        return self._programs.get(bytes(milestone_id))

    def money(self, program_id: int) -> Money:
        """How the program's token is shown; plain "tokens" when it cannot be read."""
        if program_id not in self._money:
            found = Money()
            try:
                view = self.client.call(self.escrow.functions.program(program_id))
                token_address = str(view[2])
                if int(token_address, 16) != 0:
                    token = self.client.contract("SettlementToken", token_address)
                    found = Money(
                        symbol=str(self.client.call(token.functions.symbol())),
                        decimals=int(self.client.call(token.functions.decimals())),
                    )
            except (DisburseError, Web3Exception, ValueError, OverflowError):
                found = Money()
            self._money[program_id] = found
        return self._money[program_id]

    def milestone(self, milestone_id: bytes) -> MilestoneFacts | None:
        """Facts for `describe`: the milestone's current beneficiary, amount and reference."""
        view = self.client.call(self.escrow.functions.milestone(bytes(milestone_id)))
        program_id, beneficiary, amount, status = int(view[0]), str(view[1]), int(view[2]), view[5]
        if int(status) == 0:
            return None
        return MilestoneFacts(
            beneficiary=Web3.to_checksum_address(beneficiary),
            amount=amount,
            ref=self.ref(milestone_id),
            money=self.money(program_id),
        )


# ---------------------------------------------------------------------- the read model


@dataclass(frozen=True)
class Stored:
    """A proposal's facts as the council stores them."""

    proposal_id: int
    target: str
    expiry: int
    executed: bool
    data_hash: bytes
    approvals: int


@dataclass
class Proposal:
    """A proposal rebuilt from the council's events and its stored facts."""

    stored: Stored
    proposer: str
    data: bytes
    description: str
    created_block: int
    approved_by: dict[str, int] = field(default_factory=dict)
    """Members whose approval stands, with the block of that approval."""
    history: list[tuple[int, int, str]] = field(default_factory=list)
    """(block, log index, what happened) in chain order."""
    executed_by: str | None = None
    executed_block: int | None = None


@dataclass
class Council:
    """The council and the escrow as the commands use them, over one connection."""

    client: ChainClient
    escrow: Contract
    council: Contract
    words: ChainWords
    since_block: int
    _times: dict[int, int] = field(default_factory=dict)

    def read(self, fn: ContractFunction) -> Any:
        return self.client.call(fn)

    def typed_escrow(self) -> Escrow:
        return Escrow(self.client, self.escrow.address)

    def describe(self, target: str, data: bytes) -> str:
        # One look at the milestone per description, however often the words mention it.
        facts = functools.cache(self.words.milestone)
        return describe(
            self.escrow,
            self.council,
            target,
            data,
            milestone=facts,
            program_money=self.words.money,
        )

    def now(self) -> int:
        """The latest block's time: the chain's clock, which decides expiry."""
        return self.client.timestamp("latest")

    def block_time(self, block: int) -> int:
        if block not in self._times:
            self._times[block] = self.client.timestamp(block)
        return self._times[block]

    def threshold(self) -> int:
        return int(self.read(self.council.functions.threshold()))

    def members(self) -> list[str]:
        return [Web3.to_checksum_address(m) for m in self.read(self.council.functions.members())]

    def is_member(self, account: str) -> bool:
        return bool(self.read(self.council.functions.isMember(account)))

    def stored(self, proposal_id: int) -> Stored:
        """The proposal's stored facts; an unknown id is refused with the ids that exist."""
        target, expiry, executed, data_hash, approvals = self.read(
            self.council.functions.proposal(proposal_id)
        )
        if int(str(target), 16) == 0:
            count = int(self.read(self.council.functions.proposalCount()))
            known = f"ids run from 1 to {count}" if count else "there are no proposals yet"
            raise ProposalError(f"there is no proposal {proposal_id} ({known})")
        return Stored(
            proposal_id=proposal_id,
            target=Web3.to_checksum_address(target),
            expiry=int(expiry),
            executed=bool(executed),
            data_hash=bytes(data_hash),
            approvals=int(approvals),
        )

    def open_proposal(self, proposal_id: int) -> Stored:
        """A proposal that can still be approved, revoked or executed."""
        stored = self.stored(proposal_id)
        if stored.executed:
            raise ProposalError(f"proposal {proposal_id} was executed already")
        if self.now() > stored.expiry:
            raise ProposalError(
                f"proposal {proposal_id} expired at {when(stored.expiry)}; propose it again"
            )
        return stored

    def state(self, proposal_id: int) -> str:
        """Where the proposal stands, as the council's `proposalState` view says: unknown, open,
        executable, expired or executed."""
        found = int(self.read(self.council.functions.proposalState(proposal_id)))
        return proposal_states()[found]

    def calldata(self, stored: Stored) -> bytes:
        """The proposal's calldata, from its ProposalCreated event, checked against the hash."""
        logs = self.client.get_logs(
            self.council.events.ProposalCreated,
            from_block=self.since_block,
            to_block=self.client.block_number(),
            argument_filters={"proposalId": stored.proposal_id},
        )
        for log in logs:
            data = bytes(log["args"]["data"])
            if keccak(data) == stored.data_hash:
                return data
        raise ProposalError(
            f"the calldata of proposal {stored.proposal_id} is not in the council's events from "
            f"block {self.since_block}: is the deployment file's deployment block right?"
        )

    def simulate(self, target: str, data: bytes) -> None:
        """Runs the call as the council would, at the current state; a revert is raised decoded."""
        call: TxParams = {"from": self.council.address, "to": target, "data": data}
        try:
            self.client.rpc(lambda: self.client.w3.eth.call(call), what="check the call")
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.client.decoder.revert_error(revert_data(exc)) from None

    def failure_now(self, target: str, data: bytes) -> str | None:
        """Why the call would fail if executed now, or None when it would succeed."""
        try:
            self.simulate(target, data)
        except ContractRevertError as exc:
            return str(exc)
        return None

    def send(self, account: LocalAccount, fn: ContractFunction) -> TxReceipt:
        return self.client.transact(account, fn)

    def proposals(self, only: int | None = None) -> list[Proposal]:
        """Every proposal (or one), rebuilt from the council's events."""
        head = self.client.block_number()
        events = self.council.events
        filters = {"proposalId": only} if only is not None else None

        def logs(event: Any) -> list[EventData]:
            return self.client.get_logs(
                event, from_block=self.since_block, to_block=head, argument_filters=filters
            )

        found: dict[int, Proposal] = {}
        for log in logs(events.ProposalCreated):
            args = log["args"]
            pid = int(args["proposalId"])
            data = bytes(args["data"])
            stored = self.stored(pid)
            if keccak(data) != stored.data_hash:  # pragma: no cover - the council hashes data
                continue
            proposal = Proposal(
                stored=stored,
                proposer=Web3.to_checksum_address(args["proposer"]),
                data=data,
                description=str(args["description"]),
                created_block=int(log["blockNumber"]),
            )
            proposal.history.append(
                (log["blockNumber"], log["logIndex"], f"proposed by {proposal.proposer}")
            )
            found[pid] = proposal
        votes: list[tuple[int, int, int, str, bool, int]] = []
        for log in logs(events.ProposalApproved):
            a = log["args"]
            votes.append(
                (
                    log["blockNumber"],
                    log["logIndex"],
                    int(a["proposalId"]),
                    Web3.to_checksum_address(a["member"]),
                    True,
                    int(a["approvals"]),
                )
            )
        for log in logs(events.ApprovalRevoked):
            a = log["args"]
            votes.append(
                (
                    log["blockNumber"],
                    log["logIndex"],
                    int(a["proposalId"]),
                    Web3.to_checksum_address(a["member"]),
                    False,
                    int(a["approvals"]),
                )
            )
        for block, index, pid, member, approved, count in sorted(votes):
            voted = found.get(pid)
            if voted is None:
                continue
            if approved:
                voted.approved_by[member] = block
                text = f"approved by {member} ({approvals_text(count)})"
            else:
                voted.approved_by.pop(member, None)
                text = f"approval revoked by {member} ({approvals_text(count)} left)"
            voted.history.append((block, index, text))
        for log in logs(events.ProposalExecuted):
            pid = int(log["args"]["proposalId"])
            ran = found.get(pid)
            if ran is None:
                continue
            ran.executed_by = Web3.to_checksum_address(log["args"]["executor"])
            ran.executed_block = int(log["blockNumber"])
            ran.history.append(
                (log["blockNumber"], log["logIndex"], f"executed by {ran.executed_by}")
            )
        for proposal in found.values():
            proposal.history.sort()
            # Only the approvals of current members count (a removed member's stops counting).
            proposal.approved_by = {
                member: block
                for member, block in proposal.approved_by.items()
                if self.read(
                    self.council.functions.hasApproved(proposal.stored.proposal_id, member)
                )
            }
        return [found[k] for k in sorted(found)]


OPEN_STATES = ("open", "executable")


@functools.cache
def proposal_states() -> tuple[str, ...]:
    """The ProposalState labels in lower case, by value, from the compiled contracts."""
    return tuple(label.lower() for label in enum_labels("ProposalState"))


def approvals_text(count: int) -> str:
    return f"{count} approval" + ("" if count == 1 else "s")

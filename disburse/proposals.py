"""Council proposals in plain words, both ways: the calldata of each override an overseer can
propose, and the description of any proposal's calldata ("force-release milestone 0x3f2a…9c01
to 0xAbC… for 12,000,000 JPYT, reason 0x…"), so nobody approves raw hex."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

from disburse.errors import ConfigurationError

PROGRAM_MANAGER_ROLE = keccak(text="PROGRAM_MANAGER_ROLE")
ADMIN_ROLE = b"\x00" * 32


class ProposalError(ConfigurationError):
    """An action or its arguments do not make a valid proposal."""


@dataclass(frozen=True)
class MilestoneFacts:
    """What a description says about a milestone, looked up by the caller."""

    beneficiary: str
    amount: int
    ref: str | None = None


@dataclass(frozen=True)
class Money:
    """How amounts of the settlement token are shown."""

    symbol: str = "tokens"
    decimals: int = 18

    def show(self, amount: int) -> str:
        value = Decimal(amount) / (Decimal(10) ** self.decimals)
        text = f"{value:,.{self.decimals}f}".rstrip("0").rstrip(".")
        return f"{text} {self.symbol}"


def short(value: bytes | str) -> str:
    text = value if isinstance(value, str) else "0x" + bytes(value).hex()
    return text if len(text) <= 14 else f"{text[:6]}…{text[-4:]}"


def reason_hash(reason: str) -> bytes:
    """The hash a force-release records: keccak256 of the written reason (UTF-8)."""
    if not reason.strip():
        raise ProposalError("a force-release needs a written reason")
    return keccak(text=reason)


def encode(
    escrow: Contract, council: Contract, action: str, args: Sequence[Any]
) -> tuple[str, bytes]:
    """(target address, calldata) of an action; ProposalError names what is wrong."""
    escrow_calls: dict[str, Callable[..., Any]] = {
        "freeze": lambda m: escrow.functions.freeze(m),
        "unfreeze": lambda m: escrow.functions.unfreeze(m),
        "cancel": lambda m: escrow.functions.cancel(m),
        "force-release": lambda m, reason: escrow.functions.forceRelease(m, reason),
        "replace-beneficiary": lambda m, who: escrow.functions.replaceBeneficiary(m, who),
        "resolve-dispute": lambda m, h: escrow.functions.resolveDispute(m, h),
        "set-committee": lambda oracles, quorum: escrow.functions.setCommittee(oracles, quorum),
        "set-window": lambda program, seconds: escrow.functions.setChallengeWindow(
            program, seconds
        ),
        "grant-manager": lambda who: escrow.functions.grantRole(PROGRAM_MANAGER_ROLE, who),
        "revoke-manager": lambda who: escrow.functions.revokeRole(PROGRAM_MANAGER_ROLE, who),
        "pause": lambda: escrow.functions.pause(),
        "unpause": lambda: escrow.functions.unpause(),
    }
    council_calls: dict[str, Callable[..., Any]] = {
        "add-member": lambda who, threshold: council.functions.addMember(who, threshold),
        "remove-member": lambda who, threshold: council.functions.removeMember(who, threshold),
        "change-threshold": lambda threshold: council.functions.changeThreshold(threshold),
    }
    if action in escrow_calls:
        target, make = escrow.address, escrow_calls[action]
    elif action in council_calls:
        target, make = council.address, council_calls[action]
    else:
        known = ", ".join(sorted([*escrow_calls, *council_calls]))
        raise ProposalError(f"unknown action {action!r}; known actions: {known}")
    try:
        call = make(*args)
        data = call._encode_transaction_data()
    except (TypeError, ValueError) as exc:
        raise ProposalError(f"{action}: {exc}") from None
    return Web3.to_checksum_address(target), bytes.fromhex(str(data)[2:])


def describe(
    escrow: Contract,
    council: Contract,
    target: str,
    data: bytes,
    *,
    money: Money = Money(),
    milestone: Callable[[bytes], MilestoneFacts | None] = lambda _m: None,
) -> str:
    """The proposal's call in plain words; an unknown call says so, with its selector."""
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
    except ValueError:
        return f"call {target} with unknown function 0x{data[:4].hex()}"
    name = fn.fn_name

    def about(m: bytes) -> str:
        facts = milestone(bytes(m))
        label = (
            f"milestone {facts.ref} ({short(m)})"
            if facts and facts.ref
            else f"milestone {short(m)}"
        )
        return label

    if name == "forceRelease":
        m = args["milestoneId"]
        facts = milestone(bytes(m))
        pay = f" to {facts.beneficiary} for {money.show(facts.amount)}" if facts else ""
        return f"force-release {about(m)}{pay}, reason {short(args['reasonHash'])}"
    if name in ("freeze", "unfreeze", "cancel"):
        m = args["milestoneId"]
        facts = milestone(bytes(m))
        amount = f" ({money.show(facts.amount)})" if facts and name == "cancel" else ""
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
        program, seconds = args["programId"], args["challengeWindow"]
        return f"set the challenge window of program {program} to {seconds} s"
    if name in ("grantRole", "revokeRole"):
        role = args["role"]
        what = {PROGRAM_MANAGER_ROLE: "program manager", ADMIN_ROLE: "escrow admin"}.get(
            bytes(role), f"role {short(role)}"
        )
        verb = "grant" if name == "grantRole" else "revoke"
        preposition = "to" if verb == "grant" else "from"
        return f"{verb} the {what} role {preposition} {args['account']}"
    if name in ("pause", "unpause"):
        return f"{name} the escrow"
    if name == "addMember":
        return f"add council member {args['member']}, threshold {args['threshold_']}"
    if name == "removeMember":
        return f"remove council member {args['member']}, threshold {args['threshold_']}"
    if name == "changeThreshold":
        return f"change the council threshold to {args['threshold_']}"
    shown = ", ".join(f"{k} {v!r}" for k, v in args.items())
    return f"{name}({shown})"

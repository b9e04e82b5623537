"""The council page: its members and threshold now, and its proposals, the open ones decoded into
plain words (`disburse.council.describe`, the CLI's describer, fed from the index instead of the
chain) with their approvals counted against the current members, who still has to approve, and
a warning on every action that moves money or changes who decides.

Members and threshold are folded from the council's own events (MemberAdded, MemberRemoved,
ThresholdChanged; its constructor emits them too). A proposal's state follows the council's
`proposalState`: executed, expired once the chain's time passes its expiry, executable once its
standing approvals reach the threshold, else open; "now" is the index's cursor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, select
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception

from disburse._format import ref_text
from disburse.chain.contracts import load_abi
from disburse.console.views._events import (
    Arg,
    EventDecoding,
    arg_kind,
    cursor_of,
    event_columns,
    shown_value,
)
from disburse.council import ACTIONS, PROGRAM_MANAGER_ROLE, Money, describe
from disburse.council import MilestoneFacts as Described
from disburse.index import schema
from disburse.index.store import Cursor
from disburse.report.facts import TokenFacts, TokenLookup

State = Literal["open", "executable", "expired", "executed"]
Warning = Literal["money", "decides"]

MOVES_MONEY: Final = frozenset(
    {"forceRelease", "replaceBeneficiary", "withdrawRemainder", "setProgramTreasury"}
)
"""Calls that pay someone or change where money goes."""
CHANGES_WHO_DECIDES: Final = frozenset(
    {
        "setCommittee",
        "addMember",
        "removeMember",
        "changeThreshold",
        "grantRole",
        "revokeRole",
        "setProgramManager",
    }
)
"""Calls that change the oracles, the council, its threshold or who manages programs."""
MAX_CLOSED: Final = 100
"""Executed and expired proposals shown (the most recent)."""
_MEMBERSHIP: Final = ("MemberAdded", "MemberRemoved", "ThresholdChanged")


@dataclass(frozen=True, slots=True)
class ProposalView:
    proposal_id: int
    proposer: str
    target: str
    action: str | None
    """The ACTIONS name of the call (force-release, set-committee …); None for an unknown call."""
    words: str
    """The call in plain words (disburse.council.describe)."""
    args: tuple[Arg, ...]
    """The call's arguments decoded, for labels in the viewer's language."""
    token: TokenFacts | None
    """The token of the program the call is about (its amounts), if any."""
    milestone_ref: str | None
    """The reference of the milestone the call is about, if any."""
    description: str
    """What the proposer wrote."""
    expiry: int
    created_block: int
    created_time: int
    state: State
    approved_by: tuple[str, ...]
    """Current members whose approval stands."""
    waiting_for: tuple[str, ...]
    """Current members who have not approved."""
    needed: int
    """Approvals still missing to reach the threshold."""
    warnings: tuple[Warning, ...]
    executed_block: int | None
    executed_time: int | None
    executor: str | None


@dataclass(frozen=True, slots=True)
class CouncilPage:
    cursor: Cursor
    members: tuple[str, ...]
    threshold: int
    open: tuple[ProposalView, ...]
    closed: tuple[ProposalView, ...]
    """Executed and expired, most recent first (at most MAX_CLOSED)."""


class Describer:
    """`disburse.council.describe` over the index: the escrow and council contracts built from
    the ABIs (decoding needs no connection), milestones and tokens read from the index."""

    def __init__(self, escrow: str, council: str, token: TokenLookup) -> None:
        w3 = Web3()
        self.escrow: Contract = w3.eth.contract(
            address=Web3.to_checksum_address(escrow), abi=load_abi("MilestoneEscrow")
        )
        self.council: Contract = w3.eth.contract(
            address=Web3.to_checksum_address(council), abi=load_abi("OversightCouncil")
        )
        self.token = token

    def function(self, target: str, data: bytes) -> str | None:
        """The called function's name, None when it is not one of ours."""
        checked = Web3.to_checksum_address(target)
        contract = {self.escrow.address: self.escrow, self.council.address: self.council}.get(
            checked
        )
        if contract is None:
            return None
        try:
            fn, _args = contract.decode_function_input(data)
        except (ValueError, Web3Exception):
            return None
        return str(fn.fn_name)

    def args(self, target: str, data: bytes) -> tuple[Arg, ...]:
        """The call's arguments in ABI order (a role first for grant/revoke), () when unknown.
        Names lose the trailing underscore Solidity gives a parameter shadowing a function
        (`threshold_`)."""
        checked = Web3.to_checksum_address(target)
        contract = {self.escrow.address: self.escrow, self.council.address: self.council}.get(
            checked
        )
        if contract is None:
            return ()
        try:
            fn, args = contract.decode_function_input(data)
        except (ValueError, Web3Exception):
            return ()
        out = []
        for raw, value in args.items():
            name = raw.rstrip("_")
            kind = arg_kind(str(fn.fn_name), name, value)
            out.append(Arg(name, kind, shown_value(kind, value)))
        return tuple(out)

    def program(self, conn: Connection, target: str, data: bytes) -> int | None:
        """The program a call is about (named, or its milestone's); None for a call about no
        program (the committee, the council, roles, the pause)."""
        contract = {self.escrow.address: self.escrow}.get(Web3.to_checksum_address(target))
        if contract is None:
            return None
        try:
            _fn, args = contract.decode_function_input(data)
        except (ValueError, Web3Exception):
            return None
        if "programId" in args:
            return int(args["programId"])
        if "milestoneId" in args:
            m = schema.milestones
            found = conn.execute(
                select(m.c.program_id).where(
                    m.c.milestone_id == "0x" + bytes(args["milestoneId"]).hex()
                )
            ).scalar()
            return None if found is None else int(found)
        return None

    def action(self, target: str, data: bytes) -> str | None:
        """The ACTIONS name of a call: its function, and for a role its role."""
        fn = self.function(target, data)
        if fn in ("grantRole", "revokeRole"):
            role = bytes(data[4:36])
            if role != PROGRAM_MANAGER_ROLE:
                return None
            return "grant-manager" if fn == "grantRole" else "revoke-manager"
        return next((a.name for a in ACTIONS.values() if a.function == fn), None)

    def words(self, conn: Connection, target: str, data: bytes) -> str:
        money = functools.cache(functools.partial(_money, conn, self.token))
        return describe(
            self.escrow,
            self.council,
            target,
            data,
            milestone=functools.partial(_described, conn, money),
            program_money=money,
        )


def _money(conn: Connection, token: TokenLookup, program_id: int) -> Money:
    p = schema.programs
    address = conn.execute(select(p.c.token).where(p.c.program_id == program_id)).scalar()
    if address is None:
        return Money()
    facts = token(str(address))
    return Money(facts.symbol, facts.decimals)


def _described(conn: Connection, money: Any, milestone_id: bytes) -> Described | None:
    m = schema.milestones
    r = conn.execute(
        select(m.c.beneficiary, m.c.amount, m.c.ref, m.c.program_id).where(
            m.c.milestone_id == "0x" + bytes(milestone_id).hex()
        )
    ).first()
    if r is None:
        return None
    return Described(
        beneficiary=str(r[0]),
        amount=int(r[1]),
        ref=ref_text(bytes.fromhex(str(r[2])[2:])),
        money=money(int(r[3])),
    )


def membership(conn: Connection, decoding: EventDecoding) -> tuple[tuple[str, ...], int]:
    """The council's members (in the order they joined) and threshold, from its events."""
    e = schema.events
    # Sorted here: ordered in SQL, SQLite walks every event in key order instead of the few
    # that the name index finds.
    rows = sorted(conn.execute(event_columns().where(e.c.name.in_(_MEMBERSHIP))).all(), key=_key)
    members: list[str] = []
    threshold = 0
    for v in decoding.views(conn, rows):
        if v.contract != "council":
            continue
        if v.name == "MemberAdded":
            members.append(str(v.arg("member")))
        elif v.name == "MemberRemoved":
            members = [m for m in members if m != str(v.arg("member"))]
        else:
            threshold = int(v.arg("threshold"))
    return tuple(members), threshold


def approvals(
    conn: Connection, decoding: EventDecoding, proposal_ids: list[int]
) -> dict[int, set[str]]:
    """Each proposal's members whose approval stands (ProposalApproved minus ApprovalRevoked,
    in chain order)."""
    if not proposal_ids:
        return {}
    e = schema.events
    rows = sorted(
        conn.execute(
            event_columns().where(
                e.c.proposal_id.in_(proposal_ids),
                e.c.name.in_(("ProposalApproved", "ApprovalRevoked")),
            )
        ).all(),
        key=_key,
    )
    standing: dict[int, set[str]] = {pid: set() for pid in proposal_ids}
    for v in decoding.views(conn, rows):
        assert v.proposal_id is not None
        member = str(v.arg("member"))
        if v.name == "ProposalApproved":
            standing[v.proposal_id].add(member)
        else:
            standing[v.proposal_id].discard(member)
    return standing


def _ref(conn: Connection, args: tuple[Arg, ...]) -> str | None:
    """The reference of the milestone a call names, if it names one the index knows."""
    mid = next((a.value for a in args if a.name == "milestoneId"), None)
    if mid is None:
        return None
    m = schema.milestones
    ref = conn.execute(select(m.c.ref).where(m.c.milestone_id == mid)).scalar()
    return None if ref is None else ref_text(bytes.fromhex(str(ref)[2:]))


def _key(row: Any) -> tuple[int, int]:
    """Chain order of an `event_columns()` row."""
    return int(row[0]), int(row[1])


def proposal_state(
    *, executed: bool, expiry: int, approvals: int, threshold: int, now: int
) -> State:
    """Where a proposal stands, as the council's `proposalState` decides it."""
    if executed:
        return "executed"
    if now > expiry:
        return "expired"
    return "executable" if approvals >= threshold else "open"


def council_page(
    conn: Connection,
    decoding: EventDecoding,
    describer: Describer,
    *,
    visible: frozenset[int] | None = None,
) -> CouncilPage:
    """Everything the council page shows, at the index's cursor. With `visible` (a program
    manager's programs), only the proposals about those programs."""
    cursor = cursor_of(conn)
    now = cursor.timestamp
    members, threshold = membership(conn, decoding)
    p = schema.proposals
    open_rows = (
        conn.execute(
            select(p)
            .where(p.c.executed_block.is_(None), p.c.expiry >= now)
            .order_by(p.c.proposal_id)
        )
        .mappings()
        .all()
    )
    closed_rows = (
        conn.execute(
            select(p)
            .where((p.c.executed_block.is_not(None)) | (p.c.expiry < now))
            .order_by(p.c.proposal_id.desc())
            .limit(MAX_CLOSED)
        )
        .mappings()
        .all()
    )
    if visible is not None:

        def shown(r: Any) -> bool:
            data = bytes.fromhex(str(r["data"])[2:])
            return describer.program(conn, str(r["target"]), data) in visible

        open_rows = [r for r in open_rows if shown(r)]
        closed_rows = [r for r in closed_rows if shown(r)]
    rows = [*open_rows, *closed_rows]
    standing = approvals(conn, decoding, [int(r["proposal_id"]) for r in rows])
    views = [_view(conn, describer, r, members, threshold, standing, now) for r in rows]
    return CouncilPage(
        cursor=cursor,
        members=members,
        threshold=threshold,
        open=tuple(views[: len(open_rows)]),
        closed=tuple(views[len(open_rows) :]),
    )


def _view(
    conn: Connection,
    describer: Describer,
    r: Any,
    members: tuple[str, ...],
    threshold: int,
    standing: dict[int, set[str]],
    now: int,
) -> ProposalView:
    pid = int(r["proposal_id"])
    data = bytes.fromhex(str(r["data"])[2:])
    target = str(r["target"])
    # Only current members' approvals count (a removed member's stop counting).
    approved = tuple(m for m in members if m in standing.get(pid, set()))
    fn = describer.function(target, data)
    warnings: list[Warning] = []
    if fn in MOVES_MONEY:
        warnings.append("money")
    if fn in CHANGES_WHO_DECIDES:
        warnings.append("decides")
    executed = r["executed_block"] is not None
    program = describer.program(conn, target, data)
    args = describer.args(target, data)
    token = None
    if program is not None:
        p = schema.programs
        address = conn.execute(select(p.c.token).where(p.c.program_id == program)).scalar()
        token = None if address is None else describer.token(str(address))
    return ProposalView(
        proposal_id=pid,
        proposer=str(r["proposer"]),
        target=target,
        action=describer.action(target, data),
        words=describer.words(conn, target, data),
        args=args,
        token=token,
        milestone_ref=_ref(conn, args),
        description=str(r["description"]),
        expiry=int(r["expiry"]),
        created_block=int(r["created_block"]),
        created_time=int(r["created_time"]),
        state=proposal_state(
            executed=executed,
            expiry=int(r["expiry"]),
            approvals=len(approved),
            threshold=threshold,
            now=now,
        ),
        approved_by=approved,
        waiting_for=tuple(m for m in members if m not in approved),
        needed=max(0, threshold - len(approved)),
        warnings=tuple(warnings),
        executed_block=None if r["executed_block"] is None else int(r["executed_block"]),
        executed_time=None if r["executed_time"] is None else int(r["executed_time"]),
        executor=None if r["executor"] is None else str(r["executor"]),
    )

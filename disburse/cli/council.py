"""`disburse council`: the overseers' commands. Propose a decision (one subcommand per override,
shown in plain words and checked before anything is sent), approve, revoke, execute, list and
show proposals decoded from the chain (never as raw calldata), and pull the emergency brake.

The council stores only the hash of a proposal's calldata; the calldata itself is in the
ProposalCreated event, from which `approve` and `execute` read it again.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, NoReturn

import typer
from eth_account.signers.local import LocalAccount
from web3 import Web3

from disburse._format import duration_words as show_duration
from disburse._format import parse_amount, short, table, when
from disburse._format import when_minute as when_short
from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.errors import ContractRevertError
from disburse.chain.escrow import MilestoneState
from disburse.cli._options import (
    AddressArg,
    Description,
    DryRun,
    ExpiresIn,
    Force,
    MilestoneArg,
    ProgramArg,
    ProgramOption,
    ProposalId,
    ThresholdOption,
)
from disburse.cli._session import Session, fail, reports_errors, session
from disburse.council import (
    ACTIONS,
    MAX_CHALLENGE_WINDOW,
    MAX_COMMITTEE_SIZE,
    MAX_PROPOSAL_LIFETIME,
    OPEN_STATES,
    PROGRAM_MANAGER_ROLE,
    ChainWords,
    ProposalError,
    approvals_text,
    checked_address,
    encode,
    parse_duration,
    reason_hash,
)
from disburse.council import Council as CouncilModel

app = typer.Typer(
    help="The oversight council: proposals in plain words, approvals, the emergency brake.",
    no_args_is_help=True,
)
propose_app = typer.Typer(
    help="Propose a council decision (members then approve it with `council approve ID`).",
    no_args_is_help=True,
)
app.add_typer(propose_app, name="propose")


"""The council commands' error decorator is `disburse.cli._session.reports_errors` (this name
stays until disburse.cli.watch imports that one)."""


# ---------------------------------------------------------------------- the council on chain


@dataclass
class Council(CouncilModel):
    """The council's read model (disburse.council.Council) with the session the commands sign
    with."""

    session: Session = field(kw_only=True)

    @classmethod
    def open(cls, ctx: typer.Context) -> Council:
        s = session(ctx)
        deployment = s.deployment()
        client = s.client()
        escrow = client.contract("MilestoneEscrow", deployment.escrow)
        return cls(
            session=s,
            client=client,
            escrow=escrow,
            council=s.council(),
            words=ChainWords(client, escrow, deployment.deployment_block),
            since_block=deployment.deployment_block,
        )

    def require_member(self, account: LocalAccount, doing: str) -> None:
        if not self.is_member(account.address):
            fail(f"{account.address} is not a member of the council: only members {doing}")


# ---------------------------------------------------------------------- propose


class _DoomedError(Exception):
    """A check found that the proposal's call would fail in the chain's current state."""


def doomed(message: str) -> NoReturn:
    raise _DoomedError(message)


@dataclass(frozen=True)
class _Common:
    description: str
    expires_in: str
    dry_run: bool
    force: bool


Args = Sequence[Any] | Callable[[Council], Sequence[Any]]
"""A proposal's call arguments, or how to read them from the council (the threshold now)."""
Check = Callable[[Council, Sequence[Any]], list[str]]
"""Refuses (`doomed`) a proposal whose call would fail now; returns notes worth showing."""


def _milestone(text: str, program: int | None) -> bytes:
    if program is not None:
        return bytes(milestone_id(program, external_ref(text)))
    digits = text.strip().removeprefix("0x").removeprefix("0X")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        fail(
            f"{text!r} is not a milestone id (0x and 64 hex digits); to name a milestone by its "
            "reference, give its program too: --program P REF"
        )
    return raw


def _address(text: str) -> str:
    try:
        return checked_address(text)
    except ProposalError as exc:
        fail(str(exc))


def _propose(
    ctx: typer.Context,
    action: str,
    args: Args,
    common: _Common,
    *,
    check: Check | None = None,
    description_suffix: str = "",
) -> None:
    seconds = parse_duration(common.expires_in)
    if seconds <= 0:
        fail("--expires-in must be longer than zero")
    if seconds > MAX_PROPOSAL_LIFETIME:
        fail(f"--expires-in is at most {show_duration(MAX_PROPOSAL_LIFETIME)}; nothing sent")
    description = common.description.strip()
    if not description:
        fail("--description must say, in words, what the decision is for")
    description += description_suffix
    c = Council.open(ctx)
    account = None if common.dry_run else c.session.account()
    if callable(args):
        args = args(c)
    target, data = encode(c.escrow, c.council, action, args)
    expiry = c.now() + seconds
    typer.echo(f"proposal:    {c.describe(target, data)}")
    typer.echo(f"description: {description}")
    typer.echo(f"expires:     {when(expiry)} (in {show_duration(seconds)})")
    if account is not None:
        c.require_member(account, "propose")
    notes: list[str] = []
    if not common.force:
        try:
            notes = check(c, args) if check is not None else []
            c.simulate(target, data)
        except _DoomedError as exc:
            fail(f"{exc}; nothing sent (--force proposes it anyway)")
        except ContractRevertError as exc:
            fail(
                f"this proposal would fail if executed now: {exc}; nothing sent "
                "(--force proposes it anyway)"
            )
    for note in notes:
        typer.echo(f"note:        {note}")
    if account is None:
        typer.echo("dry run: the proposal was checked and not sent")
        return
    fn = c.council.functions.propose(target, data, description, expiry)
    receipt = c.send(account, fn)
    created = c.council.events.ProposalCreated().process_receipt(receipt)
    pid = int(created[0]["args"]["proposalId"])
    threshold = c.threshold()
    typer.echo(
        f"proposal {pid} created by {account.address}; it needs {approvals_text(threshold)}: "
        f"disburse council approve {pid}"
    )


# ---------------------------------------------------------------------- propose: the checks


def _milestone_state(c: Council, mid: bytes) -> tuple[MilestoneState, str]:
    state = c.typed_escrow().milestone(mid)
    ref = c.words.ref(mid) if state.exists else None
    label = f"{ref} ({short(mid)})" if ref else short(mid)
    if not state.exists:
        doomed(f"there is no milestone {label} in the escrow")
    return state, label


_UNPAID = ("Registered", "Verified", "Frozen", "Disputed", "Expired")


def _check_milestone(c: Council, action: str, mid: bytes, extra: Sequence[Any]) -> list[str]:
    """Refuses an override the milestone's status rules out; returns notes worth showing."""
    state, label = _milestone_state(c, mid)
    status = state.status
    notes: list[str] = []
    if action == "freeze":
        if status != "Verified":
            doomed(
                f"milestone {label} is {status}: only a Verified milestone (in its challenge "
                "window) can be frozen"
            )
        releasable = c.typed_escrow().releasable_at(mid)
        notes.append(
            f"anyone may release it from {when(releasable)}: the freeze must be executed before"
        )
    elif action == "unfreeze":
        if status != "Frozen":
            doomed(f"milestone {label} is {status}, not Frozen: nothing to unfreeze")
    elif action == "resolve-dispute":
        if status != "Disputed":
            doomed(f"milestone {label} is {status}, not Disputed: no dispute to resolve")
    elif status not in _UNPAID:
        done = {"Released": "was paid already", "Cancelled": "was cancelled already"}
        doomed(
            f"milestone {label} {done.get(status, 'is ' + status)}: "
            f"it can no longer be {_past(action)}"
        )
    if action == "replace-beneficiary" and Web3.to_checksum_address(extra[0]) == state.beneficiary:
        doomed(f"{state.beneficiary} is the beneficiary of milestone {label} already")
    return notes


def _past(action: str) -> str:
    return {
        "cancel": "cancelled",
        "force-release": "force-released",
        "replace-beneficiary": "redirected to another beneficiary",
    }.get(action, action)


def _milestone_check(action: str) -> Check:
    def check(c: Council, args: Sequence[Any]) -> list[str]:
        return _check_milestone(c, action, bytes(args[0]), args[1:])

    return check


def _program_view(c: Council, program: int) -> dict[str, Any]:
    """The program as `program(id)` returns it, by field; a missing program dooms the proposal."""
    if not 1 <= program < 2**256:
        fail(f"program {program} is not a program id (1 or more); nothing sent")
    view = c.read(c.escrow.functions.program(program))
    if int(str(view[0]), 16) == 0:
        doomed(f"there is no program {program}")
    fields = (
        "manager",
        "closed",
        "token",
        "window",
        "treasury",
        "balance",
        "committed",
        "baseline",
    )
    return dict(zip(fields, view, strict=True))


def _program_check(action: str, program: int) -> Check:
    """The program-level refusals a person can act on, before the chain's own simulation."""

    def check(c: Council, args: Sequence[Any]) -> list[str]:
        view = _program_view(c, program)
        money = c.words.money(program)
        uncommitted = int(view["balance"]) - int(view["committed"])
        if action == "close-program":
            if view["closed"]:
                doomed(f"program {program} is closed already")
            return [f"{money.show(uncommitted)} uncommitted (withdraw-remainder after closing)"]
        if action == "withdraw-remainder":
            if not view["closed"]:
                doomed(f"program {program} is open: close it first (close-program)")
            if uncommitted == 0:
                doomed(f"program {program} has nothing uncommitted to withdraw")
            return [f"{money.show(uncommitted)} go to its treasury {view['treasury']}"]
        if action == "set-program-manager":
            who = str(args[1])
            if Web3.to_checksum_address(who) == Web3.to_checksum_address(str(view["manager"])):
                doomed(f"{who} manages program {program} already")
            if not bool(c.read(c.escrow.functions.hasRole(PROGRAM_MANAGER_ROLE, who))):
                doomed(f"{who} is not a program manager: grant-manager first")
            return [f"the manager is {view['manager']} now"]
        who = Web3.to_checksum_address(str(args[1]))
        if who == Web3.to_checksum_address(c.escrow.address):
            doomed("the escrow cannot be a treasury: the remainder would stay stranded in it")
        if who == Web3.to_checksum_address(str(view["treasury"])):
            doomed(f"{who} is the treasury of program {program} already")
        return [f"the treasury is {view['treasury']} now"]

    return check


def _window_check(program: int) -> Check:
    def check(c: Council, _args: Sequence[Any]) -> list[str]:
        view = c.read(c.escrow.functions.program(program))
        if int(str(view[0]), 16) == 0:
            doomed(f"there is no program {program}")
        return [f"the window is {show_duration(int(view[3]))} now"]

    return check


def _baseline_args(program: int, text: str) -> Args:
    """The program and the baseline in the smallest unit of the program's token."""

    def args(c: Council) -> Sequence[Any]:
        view = _program_view(c, program)
        money = c.words.money(program)
        try:
            units = parse_amount(text, money.decimals)
        except ValueError as exc:
            fail(f"baseline: {exc}; nothing sent")
        if units <= 0 or units >= 2**128:
            fail(f"baseline: {text} must be above zero (and below 2**128 units); nothing sent")
        if units == int(view["baseline"]):
            fail(f"program {program}'s baseline is {money.show(units)} already; nothing sent")
        return [program, units]

    return args


def _baseline_check(program: int) -> Check:
    def check(c: Council, args: Sequence[Any]) -> list[str]:
        view = _program_view(c, program)
        money = c.words.money(program)
        now, new = int(view["baseline"]), int(args[1])
        change = (new - now) / now
        return [f"the baseline is {money.show(now)} now; this changes it by {change:+.1%}"]

    return check


def _role_check(grant: bool) -> Check:
    def check(c: Council, args: Sequence[Any]) -> list[str]:
        who = str(args[0])
        has = bool(c.read(c.escrow.functions.hasRole(PROGRAM_MANAGER_ROLE, who)))
        if grant and has:
            doomed(f"{who} is a program manager already")
        if not grant and not has:
            doomed(f"{who} is not a program manager")
        return []

    return check


def _pause_check(pause: bool) -> Check:
    def check(c: Council, _args: Sequence[Any]) -> list[str]:
        paused = c.typed_escrow().paused()
        if pause and paused:
            doomed("the escrow is paused already")
        if not pause and not paused:
            doomed("the escrow is not paused: nothing to unpause")
        return (
            ["any single member can pause at once, without a proposal: disburse council pause"]
            if pause
            else []
        )

    return check


def _with_threshold(who: str, given: int | None) -> Callable[[Council], Sequence[Any]]:
    """The member and the threshold afterwards (unchanged unless given)."""

    def args(c: Council) -> Sequence[Any]:
        return [who, given if given is not None else c.threshold()]

    return args


def _check_threshold(threshold: int, members_after: int, *, given: bool) -> None:
    if not 1 <= threshold <= members_after:
        which = "--threshold" if given else "the current threshold"
        doomed(
            f"{which} {threshold} is above the {members_after} members the council would have: "
            "give a lower --threshold"
        )


def _member_check(*, add: bool, given: bool) -> Check:
    """Adding someone who is no member yet, or removing a member (never the last one), with a
    threshold the council can still reach afterwards."""

    def check(c: Council, args: Sequence[Any]) -> list[str]:
        who, members = str(args[0]), c.members()
        if add and who in members:
            doomed(f"{who} is a council member already")
        if not add and who not in members:
            doomed(f"{who} is not a council member")
        if not add and len(members) == 1:
            doomed("the council cannot remove its last member")
        after = len(members) + 1 if add else len(members) - 1
        _check_threshold(int(args[1]), after, given=given)
        return []

    return check


def _threshold_check(threshold: int) -> Check:
    def check(c: Council, _args: Sequence[Any]) -> list[str]:
        count = len(c.members())
        if threshold > count:
            doomed(f"threshold {threshold} is above the council's {count} members")
        if threshold == c.threshold():
            doomed(f"the threshold is {threshold} already")
        return []

    return check


# ---------------------------------------------------------------------- propose: the arguments


def _committee(oracles: Sequence[str], quorum: int) -> list[Any]:
    """The new committee and its quorum, refused before the chain is read when they cannot be
    right."""
    committee = [_address(o) for o in oracles]
    seen: set[str] = set()
    for oracle in committee:
        if oracle in seen:
            fail(f"oracle {oracle} is listed twice; nothing sent")
        seen.add(oracle)
    if len(committee) > MAX_COMMITTEE_SIZE:
        fail(f"a committee has at most {MAX_COMMITTEE_SIZE} oracles, got {len(committee)}")
    if not 1 <= quorum <= len(committee):
        fail(
            f"quorum {quorum} must be from 1 to the committee's {len(committee)} oracles; "
            "nothing sent"
        )
    return [committee, quorum]


def _window(text: str) -> int:
    seconds = parse_duration(text)
    if seconds > MAX_CHALLENGE_WINDOW:
        fail(
            f"a challenge window is at most {show_duration(MAX_CHALLENGE_WINDOW)}, got "
            f"{show_duration(seconds)}; nothing sent"
        )
    return seconds


# ---------------------------------------------------------------------- propose: the commands

Given = Mapping[str, Any]
"""What a propose command was given, by parameter name (the common options taken out)."""


@dataclass(frozen=True)
class _Param:
    """One of an action's own arguments or options, as typer reads it from a signature: the
    annotation is `Annotated[type, typer.Argument(…) or typer.Option(…)]`."""

    name: str
    annotation: Any
    default: Any = inspect.Parameter.empty

    def parameter(self) -> inspect.Parameter:
        return inspect.Parameter(
            self.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=self.annotation,
            default=self.default,
        )


@dataclass(frozen=True)
class _Row:
    """One `propose ACTION` subcommand. Its parameters are, in this order: MILESTONE (for an
    action on a milestone), `params`, --description, `after_description`, --expires-in,
    --program (for an action on a milestone), --dry-run, --force."""

    action: str
    help: str
    args: Callable[[Given], Args]
    """The call's arguments from what was given; refuses what cannot be right (`fail`) before
    anything is read from the chain."""
    check: Callable[[Given], Check | None] = lambda _given: None
    """The check made against the chain before proposing (none: the chain's simulation only)."""
    params: tuple[_Param, ...] = ()
    after_description: tuple[_Param, ...] = ()
    on_milestone: bool = False
    echo: Callable[[Given], str] | None = None
    """A line shown once the arguments are made, before the proposal."""
    suffix: Callable[[Given], str] = lambda _given: ""
    """Appended to the description kept on chain."""


_DESCRIPTION = _Param("description", Description)
_EXPIRES_IN = _Param("expires_in", ExpiresIn, "7d")
_DRY_RUN = _Param("dry_run", DryRun, False)
_FORCE = _Param("force", Force, False)
_MILESTONE = _Param("milestone", MilestoneArg)
_PROGRAM = _Param("program", ProgramOption, None)


def _signature(row: _Row) -> inspect.Signature:
    """The command's signature, which typer reads its arguments and options from."""
    params = [
        _Param("ctx", typer.Context),
        *([_MILESTONE] if row.on_milestone else []),
        *row.params,
        _DESCRIPTION,
        *row.after_description,
        _EXPIRES_IN,
        *([_PROGRAM] if row.on_milestone else []),
        _DRY_RUN,
        _FORCE,
    ]
    return inspect.Signature([p.parameter() for p in params], return_annotation=None)


def _command(row: _Row) -> Callable[..., None]:
    """The typer command of a row: its signature says what it takes, its body proposes."""

    def command(ctx: typer.Context, **given: Any) -> None:
        common = _Common(
            given.pop("description"),
            given.pop("expires_in"),
            given.pop("dry_run"),
            given.pop("force"),
        )
        args = row.args(given)
        if row.echo is not None:
            typer.echo(row.echo(given))
        _propose(
            ctx,
            row.action,
            args,
            common,
            check=row.check(given),
            description_suffix=row.suffix(given),
        )

    command.__doc__ = row.help
    command.__name__ = command.__qualname__ = "propose_" + row.action.replace("-", "_")
    # typer reads the parameters through inspect.signature, which takes __signature__ as it is
    # (set through vars: to mypy a function has no such attribute).
    vars(command)["__signature__"] = _signature(row)
    return command


def _register(row: _Row) -> None:
    """Adds `propose ACTION`, an action of disburse.council.ACTIONS."""
    assert row.action in ACTIONS, row.action
    propose_app.command(row.action)(reports_errors(_command(row)))


def _mid(given: Given) -> bytes:
    """The milestone an action on a milestone names (by id, or by reference with --program)."""
    return _milestone(given["milestone"], given["program"])


def _on_milestone(
    action: str,
    help_text: str,
    *params: _Param,
    args: Callable[[Given], Args] = lambda given: [_mid(given)],
    echo: Callable[[Given], str] | None = None,
    suffix: Callable[[Given], str] = lambda _given: "",
) -> _Row:
    """`propose ACTION MILESTONE …`: an action on one milestone, checked against its status."""
    return _Row(
        action,
        help_text,
        args=args,
        check=lambda _given: _milestone_check(action),
        params=params,
        on_milestone=True,
        echo=echo,
        suffix=suffix,
    )


def _on_program(action: str, help_text: str, address: _Param | None = None) -> _Row:
    """`propose ACTION PROGRAM [ADDRESS]`: an action on one program, checked against it; the
    call takes the program and the address, if the action has one."""

    def args(given: Given) -> Args:
        return [given["program"], *([_address(given[address.name])] if address else [])]

    return _Row(
        action,
        help_text,
        args=args,
        check=lambda given: _program_check(action, given["program"]),
        params=(_Param("program", ProgramArg), *([address] if address else [])),
    )


def _on_role(action: str, help_text: str, *, grant: bool) -> _Row:
    """`propose ACTION ADDRESS`: the program manager role granted or revoked."""
    return _Row(
        action,
        help_text,
        args=lambda given: [_address(given["account"])],
        check=lambda _given: _role_check(grant),
        params=(_Param("account", AddressArg),),
    )


def _on_pause(action: str, help_text: str, *, pause: bool) -> _Row:
    """`propose pause` / `propose unpause`: no arguments."""
    return _Row(action, help_text, args=lambda _given: [], check=lambda _given: _pause_check(pause))


def _on_member(action: str, help_text: str, *, add: bool) -> _Row:
    """`propose ACTION ADDRESS [--threshold N]`: a council member added or removed."""
    return _Row(
        action,
        help_text,
        args=lambda given: _with_threshold(_address(given["member"]), given["threshold"]),
        check=lambda given: _member_check(add=add, given=given["threshold"] is not None),
        params=(_Param("member", AddressArg),),
        after_description=(_Param("threshold", ThresholdOption, None),),
    )


_ROWS = (
    _on_milestone(
        "freeze",
        "Hold a Verified milestone during its challenge window (a veto): nobody can release it.",
    ),
    _on_milestone(
        "unfreeze", "Lift a freeze: the milestone is Verified again (its window is not restarted)."
    ),
    _on_milestone(
        "cancel",
        "Cancel an unpaid milestone; its amount returns to the program's available balance.",
    ),
    _on_milestone(
        "force-release",
        "Pay an unpaid milestone to its beneficiary without an oracle quorum.",
        _Param(
            "reason",
            Annotated[
                str,
                typer.Option(
                    "--reason",
                    help="why the council pays without an oracle quorum; its keccak256 is "
                    "recorded on chain and the text is kept in the description",
                ),
            ],
        ),
        args=lambda given: [_mid(given), reason_hash(given["reason"])],
        echo=lambda given: (
            f"reason hash: 0x{reason_hash(given['reason']).hex()} (keccak256 of the reason, "
            "recorded on chain)"
        ),
        suffix=lambda given: f" — reason: {given['reason']}",
    ),
    _on_milestone(
        "replace-beneficiary",
        "Pay an unpaid milestone to another address (a compromised contractor address).",
        _Param(
            "beneficiary",
            Annotated[
                str,
                typer.Argument(metavar="NEW_BENEFICIARY", help="the address paid from now on"),
            ],
        ),
        args=lambda given: [_mid(given), _address(given["beneficiary"])],
    ),
    _on_milestone(
        "resolve-dispute",
        """Settle a dispute for one evidence hash: Verified, and its challenge window starts again.
    (To settle against it, propose `cancel`.)""",
        _Param(
            "evidence_hash",
            Annotated[
                str,
                typer.Argument(metavar="EVIDENCE_HASH", help="the evidence hash that stands (0x…)"),
            ],
        ),
        args=lambda given: [_mid(given), given["evidence_hash"]],
    ),
    _Row(
        "set-committee",
        "Replace the oracle committee and its quorum; attestations of the old epoch stop counting.",
        args=lambda given: _committee(given["oracles"], given["quorum"]),
        params=(
            _Param(
                "oracles",
                Annotated[
                    list[str],
                    typer.Option("--oracle", help="an oracle of the new committee (repeat)"),
                ],
            ),
            _Param(
                "quorum",
                Annotated[int, typer.Option("--quorum", help="matching attestations needed")],
            ),
        ),
    ),
    _Row(
        "set-window",
        "Set a program's challenge window (time between verification and the earliest release).",
        args=lambda given: [given["program"], _window(given["window"])],
        check=lambda given: _window_check(given["program"]),
        params=(
            _Param("program", ProgramArg),
            _Param(
                "window",
                Annotated[
                    str,
                    typer.Argument(
                        metavar="WINDOW", help="the new challenge window: 2d, 36h, 0 or seconds"
                    ),
                ],
            ),
        ),
    ),
    _Row(
        "set-baseline",
        "Set a program's baseline: the approved total its milestones may oblige (paid plus owed).",
        args=lambda given: _baseline_args(given["program"], given["baseline"]),
        check=lambda given: _baseline_check(given["program"]),
        params=(
            _Param("program", ProgramArg),
            _Param(
                "baseline",
                Annotated[
                    str,
                    typer.Argument(
                        metavar="AMOUNT",
                        help="the new baseline in the token's units, e.g. 1,200,000,000",
                    ),
                ],
            ),
        ),
    ),
    _on_program(
        "close-program",
        "Close a program (no more funding or milestones), also when its manager was revoked.",
    ),
    _on_program(
        "withdraw-remainder", "Pay a closed program's uncommitted remainder to its treasury."
    ),
    _on_program(
        "set-program-manager",
        "Hand a program to another program manager (who must hold the manager role).",
        _Param(
            "manager",
            Annotated[str, typer.Argument(metavar="MANAGER", help="the new manager's address")],
        ),
    ),
    _on_program(
        "set-program-treasury",
        "Change where a program's uncommitted remainder goes when it is withdrawn.",
        _Param(
            "treasury", Annotated[str, typer.Argument(metavar="TREASURY", help="the new treasury")]
        ),
    ),
    _on_role(
        "grant-manager", "Let an account create programs and register their milestones.", grant=True
    ),
    _on_role(
        "revoke-manager",
        "Cut a program manager off: no new programs, and no changes to its programs.",
        grant=False,
    ),
    _on_pause(
        "pause",
        "Stop the escrow by council decision (the emergency brake is `council pause`).",
        pause=True,
    ),
    _on_pause(
        "unpause",
        "Lift a pause (this needs the council's threshold, unlike the emergency brake).",
        pause=False,
    ),
    _on_member("add-member", "Add a council member (and set the threshold).", add=True),
    _on_member(
        "remove-member",
        "Remove a council member (and set the threshold); its approvals stop counting.",
        add=False,
    ),
    _Row(
        "change-threshold",
        "Change the number of approvals the council needs.",
        args=lambda given: [given["threshold"]],
        check=lambda given: _threshold_check(given["threshold"]),
        params=(
            _Param(
                "threshold",
                Annotated[int, typer.Argument(metavar="THRESHOLD", help="approvals needed")],
            ),
        ),
    ),
)
"""Every `propose` subcommand, in the order `propose --help` lists them."""

for _row in _ROWS:
    _register(_row)


# ---------------------------------------------------------------------- approvals


@app.command("approve")
@reports_errors
def approve(
    ctx: typer.Context,
    proposal_id: ProposalId,
    execute: Annotated[
        bool,
        typer.Option(
            "--execute/--no-execute",
            help="when this approval reaches the threshold, execute in the same transaction",
        ),
    ] = True,
) -> None:
    """Approve a proposal; the approval that reaches the threshold also executes it."""
    c = Council.open(ctx)
    account = c.session.account()
    stored = c.open_proposal(proposal_id)
    c.require_member(account, "approve")
    if c.read(c.council.functions.hasApproved(proposal_id, account.address)):
        fail(f"{account.address} approved proposal {proposal_id} already")
    threshold = c.threshold()
    reaches = stored.approvals + 1 >= threshold
    data = c.calldata(stored)
    typer.echo(f"proposal {proposal_id}: {c.describe(stored.target, data)}")
    if reaches and execute:
        fn = c.council.functions.approveAndExecute(proposal_id, data)
        try:
            c.send(account, fn)
        except ContractRevertError as exc:
            fail(
                f"your approval reaches the threshold but the call fails now: {exc}; nothing "
                "sent (approve without executing with --no-execute)"
            )
        typer.echo(
            f"approved by {account.address} ({stored.approvals + 1} of {threshold}) and executed"
        )
        return
    failure = c.failure_now(stored.target, data)
    if failure is not None:
        typer.echo(f"note: the call would fail if executed now: {failure}")
    c.send(account, c.council.functions.approve(proposal_id))
    after = c.stored(proposal_id).approvals
    typer.echo(f"approved by {account.address}: {after} of {threshold} approvals")
    if after >= threshold:
        typer.echo(f"the threshold is reached: disburse council execute {proposal_id}")


@app.command("revoke")
@reports_errors
def revoke(ctx: typer.Context, proposal_id: ProposalId) -> None:
    """Withdraw your approval of a proposal before it is executed."""
    c = Council.open(ctx)
    account = c.session.account()
    c.open_proposal(proposal_id)
    c.require_member(account, "revoke approvals")
    if not c.read(c.council.functions.hasApproved(proposal_id, account.address)):
        fail(f"{account.address} has no approval on proposal {proposal_id} to revoke")
    c.send(account, c.council.functions.revoke(proposal_id))
    after = c.stored(proposal_id).approvals
    typer.echo(
        f"approval of proposal {proposal_id} revoked by {account.address}: "
        f"{after} of {c.threshold()} approvals"
    )


@app.command("execute")
@reports_errors
def execute(ctx: typer.Context, proposal_id: ProposalId) -> None:
    """Execute a proposal whose approvals reached the threshold (its calldata is read from the
    chain: nobody types hex)."""
    c = Council.open(ctx)
    account = c.session.account()
    stored = c.open_proposal(proposal_id)
    c.require_member(account, "execute")
    threshold = c.threshold()
    if stored.approvals < threshold:
        fail(
            f"proposal {proposal_id} has {stored.approvals} of the {threshold} approvals it "
            "needs; nothing sent"
        )
    data = c.calldata(stored)
    typer.echo(f"proposal {proposal_id}: {c.describe(stored.target, data)}")
    try:
        c.send(account, c.council.functions.execute(proposal_id, data))
    except ContractRevertError as exc:
        fail(f"the call of proposal {proposal_id} fails now: {exc}; nothing sent")
    typer.echo(f"executed by {account.address}")


@app.command("pause")
@reports_errors
def pause(ctx: typer.Context) -> None:
    """The emergency brake: any single member pauses the escrow at once. Lifting the pause needs
    a proposal (`council propose unpause`)."""
    c = Council.open(ctx)
    account = c.session.account()
    c.require_member(account, "pull the emergency brake")
    if c.typed_escrow().paused():
        fail("the escrow is paused already; nothing sent")
    c.send(account, c.council.functions.emergencyPause())
    typer.echo(
        f"escrow paused by council member {account.address}; it stays paused until the council "
        "executes a proposal to unpause it (disburse council propose unpause)"
    )


# ---------------------------------------------------------------------- reading


@app.command("list")
@reports_errors
def list_(
    ctx: typer.Context,
    all_: Annotated[
        bool, typer.Option("--all", help="also executed and expired proposals")
    ] = False,
) -> None:
    """Proposals in plain words: open and executable ones (all with --all)."""
    c = Council.open(ctx)
    threshold, members = c.threshold(), c.members()
    typer.echo(f"council {c.council.address}: {len(members)} members, {threshold} approvals needed")
    rows = []
    for p in c.proposals():
        state = c.state(p.stored.proposal_id)
        if not all_ and state in ("executed", "expired"):
            continue
        by = "\n".join(
            f"{short(member)} {when_short(c.block_time(block))}"
            for member, block in sorted(p.approved_by.items(), key=lambda kv: kv[1])
        )
        approvals = f"{p.stored.approvals} of {threshold}" + (f"\n{by}" if by else "")
        call = c.describe(p.stored.target, p.data)
        failure = c.failure_now(p.stored.target, p.data) if state in OPEN_STATES else None
        if failure is not None:
            call += f"\nwould fail if executed now: {failure}"
        rows.append(
            [
                str(p.stored.proposal_id),
                state,
                approvals,
                when_short(p.stored.expiry),
                call,
                p.description,
            ]
        )
    if not rows:
        typer.echo("no proposals" if all_ else "no open proposals (--all shows every proposal)")
        return
    headers = ["ID", "STATE", "APPROVALS", "EXPIRES (UTC)", "CALL", "DESCRIPTION"]
    typer.echo(table(headers, rows))


@app.command("show")
@reports_errors
def show(ctx: typer.Context, proposal_id: ProposalId) -> None:
    """One proposal in full: its call in plain words, approvals by member and its history."""
    c = Council.open(ctx)
    stored = c.stored(proposal_id)
    found = c.proposals(only=proposal_id)
    if not found:
        fail(
            f"the events of proposal {proposal_id} are not in the chain from block {c.since_block}"
        )
    p = found[0]
    threshold = c.threshold()
    state = c.state(proposal_id)
    where = (
        "the escrow"
        if stored.target == c.escrow.address
        else "the council"
        if stored.target == c.council.address
        else "another contract"
    )
    lines = [
        f"proposal {proposal_id}: {state}",
        f"call:         {c.describe(stored.target, p.data)}",
        f"target:       {where} ({stored.target})",
        f"description:  {p.description}",
        f"proposed by:  {p.proposer} at {when(c.block_time(p.created_block))} "
        f"(block {p.created_block})",
        f"expires:      {when(stored.expiry)}",
        f"approvals:    {stored.approvals} of {threshold} needed",
    ]
    for member, block in sorted(p.approved_by.items(), key=lambda kv: kv[1]):
        lines.append(f"  {member} at {when(c.block_time(block))} (block {block})")
    if state in OPEN_STATES:
        failure = c.failure_now(stored.target, p.data)
        lines.append(
            "check:        the call would succeed if executed now"
            if failure is None
            else f"check:        the call would fail if executed now: {failure}"
        )
    if p.executed_by is not None and p.executed_block is not None:
        lines.append(
            f"executed by:  {p.executed_by} at {when(c.block_time(p.executed_block))} "
            f"(block {p.executed_block})"
        )
    lines.append("history:")
    for block, _index, text in p.history:
        lines.append(f"  block {block} {when(c.block_time(block))}  {text}")
    typer.echo("\n".join(lines))


__all__ = ["Council", "app"]

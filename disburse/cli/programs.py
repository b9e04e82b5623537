"""`disburse program`: create, fund, close and show a program, and withdraw what is left.

Every command checks what the contract would refuse (unknown program, wrong signer, closed
program, pause, balance) before it signs anything, so a refusal costs nothing and sends nothing;
whatever still reverts is decoded by the client into one `error: …` line.

The helpers here (programs and tokens as people read them, the manager check, sending) are shared
with `disburse milestones`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from rich.console import Console
from rich.table import Table
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception, Web3RPCError
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from disburse import plans
from disburse._format import duration_compact as show_duration
from disburse._format import duration_seconds, format_amount, parse_amount
from disburse.chain.errors import ChainError, DisburseError
from disburse.chain.escrow import Escrow, ProgramFacts, milestone_statuses
from disburse.cli._options import ProgramId
from disburse.cli._session import Session, reports_errors, session
from disburse.council import PROGRAM_MANAGER_ROLE

app = typer.Typer(
    help="Programs: create, fund, close, withdraw the remainder, show.", no_args_is_help=True
)


class RefusedError(DisburseError):
    """Found before sending: the chain would refuse, so nothing was sent."""


# ---------------------------------------------------------------------------- shared helpers


@dataclass(frozen=True)
class Token:
    """A settlement token as people read its amounts."""

    address: ChecksumAddress
    symbol: str
    decimals: int

    def show(self, units: int) -> str:
        return f"{format_amount(units, self.decimals)} {self.symbol}"

    def parse(self, text: str, what: str = "amount") -> int:
        try:
            return parse_amount(text, self.decimals)
        except ValueError as exc:
            raise RefusedError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class Program:
    """A program as `MilestoneEscrow.program` returns it."""

    program_id: int
    manager: ChecksumAddress
    closed: bool
    token: ChecksumAddress
    challenge_window: int
    treasury: ChecksumAddress
    balance: int
    committed: int
    baseline: int

    @property
    def available(self) -> int:
        """Held for the program and not committed to a milestone."""
        return self.balance - self.committed


def check_program_id(program_id: int) -> int:
    """A program id as given on the command line: ids are uint256 on chain and start at 1."""
    if not 0 <= program_id < 2**256:  # 0 is a uint256: the chain says no such program
        raise RefusedError(
            f"{program_id} is not a program id: program ids are whole numbers from 1 "
            "(`disburse program create` prints them)"
        )
    return program_id


def read_program(s: Session, program_id: int) -> Program:
    """The program, or RefusedError naming the ids that exist."""
    check_program_id(program_id)
    escrow = s.escrow()
    raw = s.client().call(escrow.contract.functions.program(program_id))
    manager = to_checksum_address(raw[0])
    if int(manager, 16) == 0:
        count = int(s.client().call(escrow.contract.functions.programCount()))
        known = f"programs run from 1 to {count}" if count else "no program exists yet"
        raise RefusedError(f"no program {program_id} in escrow {escrow.address} ({known})")
    return Program(
        program_id=program_id,
        manager=manager,
        closed=bool(raw[1]),
        token=to_checksum_address(raw[2]),
        challenge_window=int(raw[3]),
        treasury=to_checksum_address(raw[4]),
        balance=int(raw[5]),
        committed=int(raw[6]),
        baseline=int(raw[7]),
    )


def read_token(s: Session, address: str) -> Token:
    """Symbol and decimals of an ERC-20; RefusedError when the address is not one."""
    client = s.client()
    checked = to_checksum_address(address)
    code = client.rpc(lambda: client.w3.eth.get_code(checked), what="eth_getCode")
    if not code:
        raise RefusedError(f"{checked} holds no contract, so it is not a token")
    contract = s.token(checked)
    try:
        symbol = str(client.call(contract.functions.symbol()))
        decimals = int(client.call(contract.functions.decimals()))
    except (Web3Exception, DisburseError) as exc:
        if isinstance(exc, ChainError):
            raise
        raise RefusedError(f"{checked} is not an ERC-20 token (no symbol or decimals)") from None
    return Token(checked, symbol, decimals)


def check_open(s: Session) -> None:
    """Refuses while the council has paused the escrow."""
    escrow = s.escrow()
    if escrow.paused():
        raise RefusedError(
            f"escrow {escrow.address} is paused by the oversight council; nothing can be "
            "created, funded or registered until the council unpauses it"
        )


def is_manager(s: Session, account: str) -> bool:
    escrow = s.escrow()
    fn = escrow.contract.functions.hasRole(PROGRAM_MANAGER_ROLE, to_checksum_address(account))
    return bool(s.client().call(fn))


def check_manager(s: Session, program: Program, account: LocalAccount) -> None:
    """The contract lets only the program's manager, still holding the role, manage it."""
    if account.address != program.manager:
        raise RefusedError(
            f"you ({account.address}) are not the manager of program {program.program_id}; "
            f"only its manager {program.manager} can do this"
        )
    if not is_manager(s, account.address):
        raise RefusedError(
            f"you ({account.address}) no longer hold the program-manager role (the council "
            f"revoked it), so program {program.program_id} cannot be managed with this key"
        )


def send(s: Session, account: LocalAccount, fn: ContractFunction) -> TxReceipt:
    """Signs, sends and waits; a node's refusal becomes one clear error."""
    try:
        return s.client().transact(account, fn)
    except Web3RPCError as exc:
        raise ChainError(f"the node refused {fn.fn_name}: {exc}") from None


def registered_events(
    s: Session, *, program_id: int | None = None, milestone: bytes | None = None
) -> list[EventData]:
    """MilestoneRegistered events since the deployment block, for a program or a milestone."""
    client = s.client()
    escrow = s.escrow()
    filters: dict[str, Any] = {}
    if program_id is not None:
        filters["programId"] = program_id
    if milestone is not None:
        filters["milestoneId"] = milestone
    return client.get_logs(
        escrow.contract.events.MilestoneRegistered,
        from_block=s.deployment().deployment_block,
        to_block=client.block_number(),
        argument_filters=filters,
    )


def parse_address(text: str, what: str) -> ChecksumAddress:
    """An address given on the command line; a mixed-case one must carry a valid checksum."""
    try:
        return plans.parse_address(text, require_checksum=False)
    except ValueError as exc:
        raise RefusedError(f"{what}: {exc}") from None


def parse_duration(text: str) -> int:
    """Seconds of a duration written as 3600, 90m, 36h, 2d, 1w or combined (1d12h)."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise RefusedError(
            f"challenge window {text!r} is not a duration: write seconds (3600) or a number with "
            "a unit s, m, h, d or w (90m, 36h, 2d, 1d12h)"
        )
    return seconds


def console(*, stderr: bool = False) -> Console:
    """A console that prints plain text (no markup: references may hold brackets) and does not
    squeeze tables to 80 columns when the output is a file or a pipe."""
    out = Console(stderr=stderr, markup=False, highlight=False, emoji=False)
    if not out.is_terminal:
        out.width = max(out.width, 200)
    return out


def note(text: str) -> None:
    """What happened, for the person at the terminal (stderr; stdout keeps the result)."""
    typer.echo(text, err=True)


def status_counts(s: Session, program_id: int) -> Counter[str]:
    """How many of the program's milestones are in each status."""
    escrow = s.escrow()
    counts: Counter[str] = Counter()
    for event in registered_events(s, program_id=program_id):
        counts[escrow.milestone(bytes(event["args"]["milestoneId"])).status] += 1
    return counts


# ---------------------------------------------------------------------------- commands


@app.command("create")
@reports_errors
def create(
    ctx: typer.Context,
    treasury: Annotated[
        str, typer.Option(help="where the uncommitted remainder goes when the program closes")
    ],
    challenge_window: Annotated[
        str,
        typer.Option(
            help="time between verification and release, when the council can still intervene: "
            "3600, 90m, 36h, 2d"
        ),
    ],
    title: Annotated[str, typer.Option(help="the program's name (at most 120 bytes)")],
    organisation: Annotated[
        str, typer.Option(help="the branch or agency that spends it, e.g. ATLA, GSDF")
    ],
    category: Annotated[
        str, typer.Option(help="what it buys: research, procurement, maintenance, ...")
    ],
    fiscal_year: Annotated[int, typer.Option(help="the fiscal year it is budgeted in, e.g. 2027")],
    baseline: Annotated[
        str,
        typer.Option(
            help="the approved total its milestones may oblige, in the token's units "
            "(1,000,000); only the council changes it"
        ),
    ],
    token: Annotated[
        str | None,
        typer.Option(
            help="the settlement token (by default the deployment's token, if it has one)"
        ),
    ] = None,
) -> None:
    """Creates a program with its facts; you become its manager. Prints the new program's id."""
    s = session(ctx)
    given = token if token is not None else s.deployment().token
    if given is None:
        raise RefusedError("give the settlement token with --token (the deployment has none)")
    token_address = parse_address(given, "token")
    treasury_address = parse_address(treasury, "treasury")
    escrow_address = to_checksum_address(s.deployment().escrow)
    if treasury_address == escrow_address:
        raise RefusedError(
            f"treasury: {treasury_address} is the escrow itself; a remainder paid there would "
            "be stranded outside every program: give the treasury's own address"
        )
    window = parse_duration(challenge_window)
    account = s.account()
    escrow = s.escrow()
    client = s.client()
    longest = int(client.call(escrow.contract.functions.MAX_CHALLENGE_WINDOW()))
    if window > longest:
        raise RefusedError(
            f"challenge window {show_duration(window)} is longer than the escrow allows "
            f"({show_duration(longest)})"
        )
    settlement = read_token(s, token_address)
    facts = ProgramFacts(
        title=title,
        organisation=organisation,
        category=category,
        fiscal_year=fiscal_year,
        baseline=settlement.parse(baseline, "baseline"),
    )
    if problems := facts.problems():
        raise RefusedError("; ".join(problems) + "; nothing was sent")
    if not is_manager(s, account.address):
        raise RefusedError(
            f"you ({account.address}) do not hold the program-manager role; the oversight "
            "council grants it (`disburse council propose grant-manager`)"
        )
    check_open(s)
    call = escrow.contract.functions.createProgram(
        token_address, treasury_address, window, facts.as_arg()
    )
    receipt = send(s, account, call)
    created = escrow.contract.events.ProgramCreated().process_receipt(receipt, errors=DISCARD)
    program_id = int(created[0]["args"]["programId"])
    note(
        f"created program {program_id}, {title!r} of {organisation} ({category}, FY "
        f"{fiscal_year}), baseline {settlement.show(facts.baseline)} {settlement.symbol}: pays "
        f"in {settlement.symbol} ({settlement.address}), challenge window "
        f"{show_duration(window)}, remainder to treasury {treasury_address}"
    )
    typer.echo(program_id)


@app.command("fund")
@reports_errors
def fund(
    ctx: typer.Context,
    program_id: ProgramId,
    amount: Annotated[str, typer.Argument(help="in the token's units, e.g. 1,000,000.50")],
) -> None:
    """Moves AMOUNT of the program's token from you into the program (approving the escrow
    first when its allowance is short). Anyone may fund a program."""
    s = session(ctx)
    account = s.account()
    program = read_program(s, program_id)
    if program.closed:
        raise RefusedError(f"program {program_id} is closed and takes no more funding")
    settlement = read_token(s, program.token)
    units = settlement.parse(amount)
    check_open(s)
    client = s.client()
    token = s.token(program.token)
    held = int(client.call(token.functions.balanceOf(account.address)))
    if units > held:
        raise RefusedError(
            f"the amount {settlement.show(units)} is above your balance of "
            f"{settlement.show(held)} ({account.address}); nothing was sent"
        )
    escrow: Escrow = s.escrow()
    allowance = int(client.call(token.functions.allowance(account.address, escrow.address)))
    if allowance < units:
        send(s, account, token.functions.approve(escrow.address, units))
        note(f"approved the escrow to take {settlement.show(units)} from {account.address}")
    send(s, account, escrow.contract.functions.fund(program_id, units))
    after = read_program(s, program_id)
    typer.echo(
        f"funded program {program_id} with {settlement.show(units)}: balance "
        f"{settlement.show(after.balance)}, available {settlement.show(after.available)}"
    )


@app.command("close")
@reports_errors
def close(ctx: typer.Context, program_id: ProgramId) -> None:
    """Closes the program: no more funding or milestones; registered milestones still run."""
    s = session(ctx)
    account = s.account()
    program = read_program(s, program_id)
    check_manager(s, program, account)
    if program.closed:
        raise RefusedError(f"program {program_id} is already closed")
    check_open(s)
    send(s, account, s.escrow().contract.functions.closeProgram(program_id))
    settlement = read_token(s, program.token)
    after = read_program(s, program_id)
    typer.echo(
        f"program {program_id} closed; {settlement.show(after.available)} uncommitted can go "
        f"back to the treasury with `disburse program withdraw {program_id}`"
    )


@app.command("withdraw")
@reports_errors
def withdraw(ctx: typer.Context, program_id: ProgramId) -> None:
    """Pays the uncommitted remainder of a closed program back to its treasury."""
    s = session(ctx)
    account = s.account()
    program = read_program(s, program_id)
    check_manager(s, program, account)
    if not program.closed:
        raise RefusedError(
            f"program {program_id} is open; close it first with `disburse program close "
            f"{program_id}`"
        )
    settlement = read_token(s, program.token)
    if program.available == 0:
        raise RefusedError(
            f"program {program_id} has nothing uncommitted to withdraw (balance "
            f"{settlement.show(program.balance)}, all committed to milestones)"
        )
    check_open(s)
    send(s, account, s.escrow().contract.functions.withdrawRemainder(program_id))
    typer.echo(
        f"paid {settlement.show(program.available)} from program {program_id} back to treasury "
        f"{program.treasury}"
    )


@app.command("show")
@reports_errors
def show(ctx: typer.Context, program_id: ProgramId) -> None:
    """The program's settings, balances and milestones by status."""
    s = session(ctx)
    program = read_program(s, program_id)
    settlement = read_token(s, program.token)
    counts = status_counts(s, program_id)
    table = Table(title=f"Program {program_id}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    client = s.client()
    described = client.get_logs(
        s.escrow().contract.events.ProgramDescribed,
        from_block=s.deployment().deployment_block,
        to_block=client.block_number(),
        argument_filters={"programId": program_id},
    )
    for event in described[:1]:
        facts = event["args"]
        table.add_row("title", facts["title"])
        table.add_row("organisation", facts["organisation"])
        table.add_row("category", facts["category"])
        table.add_row("fiscal year", str(facts["fiscalYear"]))
        table.add_row("original baseline", settlement.show(int(facts["baseline"])))
    table.add_row("manager", program.manager)
    table.add_row("token", f"{settlement.symbol} ({settlement.address})")
    table.add_row("treasury", program.treasury)
    table.add_row("challenge window", show_duration(program.challenge_window))
    table.add_row("balance", settlement.show(program.balance))
    table.add_row("committed", settlement.show(program.committed))
    table.add_row("available", settlement.show(program.available))
    table.add_row("baseline", settlement.show(program.baseline))
    table.add_row("closed", "yes" if program.closed else "no")
    total = sum(counts.values())
    table.add_row("milestones", str(total))
    for status in milestone_statuses():
        if counts[status]:
            table.add_row(f"  {status}", str(counts[status]))
    console().print(table)

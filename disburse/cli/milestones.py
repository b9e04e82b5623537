"""`disburse milestones`: register a plan file, list a program's milestones, show one in full.

`add` checks the whole file before it sends anything: every row through the plan model, the
references against the chain (a row already registered with the same terms is skipped, one
registered with other terms is a conflict), the deadlines against chain time, and the new
commitment against the program's uncommitted balance. Then it registers the new rows in batches.
Because a row already on chain is skipped, a run that was interrupted continues where it stopped
when started again with the same file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from eth_account.signers.local import LocalAccount
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from disburse._format import ref_text, short
from disburse._format import when as format_time
from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.errors import DisburseError
from disburse.chain.escrow import MilestoneState, milestone_statuses
from disburse.cli._session import Session, fail, reports_errors, session
from disburse.cli.programs import (
    Program,
    RefusedError,
    Token,
    check_manager,
    check_open,
    check_program_id,
    console,
    read_program,
    read_token,
    registered_events,
    send,
)
from disburse.plans import (
    OnChainTerms,
    PlanInvalidError,
    PlannedMilestone,
    batches,
    compare,
    deadline_issues,
    read_rows,
    validate_rows,
)

app = typer.Typer(
    help="Milestones: register a plan file, list them, show one.", no_args_is_help=True
)

_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
LOOKUP_BATCH = 500
"""Milestones looked up per JSON-RPC batch when a plan is compared with the chain."""
CONFLICT_EXIT = 1
"""Exit status of `add` when rows conflict with milestones on chain (the others were sent)."""


@dataclass(frozen=True)
class Conflict:
    planned: PlannedMilestone
    fields: list[str]
    found: MilestoneState


def _report_invalid(error: PlanInvalidError) -> NoReturn:
    typer.echo(f"error: {error}", err=True)
    for issue in error.issues:
        typer.echo(f"  {issue}", err=True)
    raise typer.Exit(2)


def _terms(state: MilestoneState) -> OnChainTerms:
    return OnChainTerms(state.beneficiary, state.amount, state.deadline, state.evidence_spec_hash)


def _describe_conflict(c: Conflict, token: Token) -> str:
    row, found = c.planned.row, c.found
    shown = {
        "beneficiary": (row.beneficiary, found.beneficiary),
        "amount": (token.show(row.amount), token.show(found.amount)),
        "deadline": (format_time(row.deadline), format_time(found.deadline)),
        "spec": ("0x" + row.spec.hex(), "0x" + found.evidence_spec_hash.hex()),
    }
    differences = "; ".join(
        f"{name}: file {shown[name][0]}, chain {shown[name][1]}" for name in c.fields
    )
    return (
        f"line {c.planned.line}, ref {c.planned.ref!r}: registered ({found.status}) with other "
        f"terms, not sent ({differences})"
    )


@app.command("add")
@reports_errors
def add(
    ctx: typer.Context,
    program_id: Annotated[int, typer.Option("--program", help="the program that pays them")],
    file: Annotated[Path, typer.Option(help="the plan: a .yaml, .yml or .csv file")],
    batch_size: Annotated[
        int, typer.Option(min=1, max=500, help="milestones per transaction")
    ] = 50,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check everything and say what would be sent")
    ] = False,
) -> None:
    """Registers the milestones of a plan file, skipping those already registered.

    The whole file is checked first; any invalid row is reported with its line and field, and
    nothing is sent (exit status 2). Rows registered before with the same terms are skipped,
    rows registered with other terms are reported as conflicts and not sent (exit status 1).
    """
    s = session(ctx)
    check_program_id(program_id)
    rows, layout_issues = read_rows(file)
    account = s.account() if (s.keystore is not None or not dry_run) else None
    program = read_program(s, program_id)
    token = read_token(s, program.token)
    escrow_address = s.deployment().escrow
    planned, issues = validate_rows(
        rows,
        program_id=program_id,
        decimals=token.decimals,
        base_dir=file.parent,
        refused_beneficiaries={
            escrow_address: f"the escrow itself ({escrow_address})",
            program.token: f"the program's settlement token {token.symbol}",
        },
    )
    # Everything that needs no chain look-up is decided first: a bad row anywhere in the file
    # is reported before one milestone is looked up.
    issues = layout_issues + issues
    if issues:
        _report_invalid(PlanInvalidError(file, issues))

    new, same, conflicts = _against_chain(s, planned)
    issues = deadline_issues(new, now=s.client().timestamp())
    if issues:
        _report_invalid(PlanInvalidError(file, issues))

    if account is not None:
        check_manager(s, program, account)
    if program.closed:
        raise RefusedError(f"program {program_id} is closed and takes no more milestones")
    check_open(s)
    commitment = sum(p.row.amount for p in new)
    if commitment > program.available:
        raise RefusedError(
            f"the {len(new)} new milestones commit {token.show(commitment)}, but program "
            f"{program_id} has only {token.show(program.available)} uncommitted (balance "
            f"{token.show(program.balance)}, committed {token.show(program.committed)}); fund it "
            f"with at least {token.show(commitment - program.available)} first; nothing was sent"
        )

    for c in conflicts:
        typer.echo(f"conflict: {_describe_conflict(c, token)}", err=True)
    if dry_run:
        _print_plan(new, token, title=f"Would register in program {program_id}")
        typer.echo(
            f"dry run: would register {len(new)} ({token.show(commitment)}), skip {len(same)} "
            f"already registered, {len(conflicts)} conflicts; nothing was sent"
        )
        raise typer.Exit(CONFLICT_EXIT if conflicts else 0)

    assert account is not None
    try:
        registered = _register(s, account, program, new, batch_size)
    except DisburseError as exc:
        fail(
            f"{exc}; {registered_so_far(s, new)} of {len(new)} new milestones were registered "
            "before the failure: run the same command again to continue"
        )
    except KeyboardInterrupt:
        fail(
            f"interrupted; {registered_so_far(s, new)} of {len(new)} new milestones were "
            "registered: run the same command again to continue"
        )
    after = read_program(s, program_id)
    typer.echo(
        f"registered {registered}, skipped {len(same)} (already registered with the same "
        f"terms), conflicts {len(conflicts)}; program {program_id} committed "
        f"{token.show(after.committed)} of {token.show(after.balance)}"
    )
    if conflicts:
        raise typer.Exit(CONFLICT_EXIT)


def _progress(label: str, *, transient: bool = False) -> Progress:
    """A progress bar on stderr (stdout keeps the summary). A transient one vanishes when done
    and is not shown at all when stderr is not a terminal."""
    out = console(stderr=True)
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=transient,
        disable=transient and not out.is_terminal,
    )


def _against_chain(
    s: Session, planned: Sequence[PlannedMilestone]
) -> tuple[list[PlannedMilestone], list[PlannedMilestone], list[Conflict]]:
    """Each valid row against the milestone registered under its reference, if any: the new
    rows, the rows already registered with the same terms, and the conflicts."""
    escrow = s.escrow()
    new: list[PlannedMilestone] = []
    same: list[PlannedMilestone] = []
    conflicts: list[Conflict] = []
    with _progress("checking", transient=True) as progress:
        task = progress.add_task("check", total=len(planned))
        for chunk in batches(planned, LOOKUP_BATCH):
            states = escrow.milestones([item.milestone_id for item in chunk])
            for item, state in zip(chunk, states, strict=True):
                outcome, fields = compare(item, _terms(state) if state.exists else None)
                if outcome == "new":
                    new.append(item)
                elif outcome == "same":
                    same.append(item)
                else:
                    conflicts.append(Conflict(item, fields, state))
            progress.advance(task, len(chunk))
    return new, same, conflicts


def _register(
    s: Session, account: LocalAccount, program: Program, new: Sequence[PlannedMilestone], size: int
) -> int:
    """Sends the new rows in batches, with a progress bar; returns how many were registered."""
    if not new:
        return 0
    escrow = s.escrow()
    done = 0
    with _progress("registering") as progress:
        task = progress.add_task("register", total=len(new))
        for batch in batches(new, size):
            inputs = [p.as_input() for p in batch]
            send(
                s, account, escrow.contract.functions.registerMilestones(program.program_id, inputs)
            )
            done += len(batch)
            progress.update(task, advance=len(batch))
    return done


def registered_so_far(s: Session, new: Sequence[PlannedMilestone]) -> int:
    """How many of `new` are on chain now (after a failure, from the chain itself)."""
    try:
        escrow = s.escrow()
        return sum(1 for p in new if escrow.milestone(p.milestone_id).exists)
    except DisburseError:
        return 0


def _print_plan(items: Sequence[PlannedMilestone], token: Token, *, title: str) -> None:
    if not items:
        return
    table = Table(title=title, title_justify="left")
    for column in ("line", "ref", "beneficiary", "amount", "deadline"):
        table.add_column(column, justify="right" if column in ("line", "amount") else "left")
    for p in items:
        table.add_row(
            str(p.line),
            p.ref,
            p.row.beneficiary,
            token.show(p.row.amount),
            format_time(p.row.deadline),
        )
    console().print(table)


def _status(text: str | None) -> str | None:
    if text is None:
        return None
    for status in milestone_statuses()[1:]:
        if status.lower() == text.strip().lower():
            return status
    fail(f"unknown status {text!r}; one of {', '.join(milestone_statuses()[1:])}")


def _ref_of(raw: bytes) -> str:
    return ref_text(raw)


@app.command("list")
@reports_errors
def list_(
    ctx: typer.Context,
    program_id: Annotated[int, typer.Option("--program", help="the program")],
    status: Annotated[
        str | None, typer.Option(help="only milestones in this status, e.g. Verified")
    ] = None,
) -> None:
    """The program's milestones in a table: reference, id, beneficiary, amount, deadline, status,
    attestations and, once verified, when they can be released."""
    s = session(ctx)
    wanted = _status(status)
    program = read_program(s, program_id)
    token = read_token(s, program.token)
    escrow = s.escrow()
    committee = escrow.committee()
    table = Table(title=f"Milestones of program {program_id}", title_justify="left")
    for column in (
        "ref",
        "id",
        "beneficiary",
        "amount",
        "deadline",
        "status",
        "attestations",
        "releasable at",
    ):
        table.add_column(column, justify="right" if column == "amount" else "left")
    shown = 0
    for event in registered_events(s, program_id=program_id):
        args = event["args"]
        mid = bytes(args["milestoneId"])
        state = escrow.milestone(mid)
        if wanted is not None and state.status != wanted:
            continue
        table.add_row(
            _ref_of(args["externalRef"]),
            short(mid),
            state.beneficiary,
            token.show(state.amount),
            format_time(state.deadline),
            state.status,
            _attestations(state, committee.quorum, committee.epoch),
            _releasable(s, state),
        )
        shown += 1
    if shown == 0:
        which = f" in status {wanted}" if wanted else ""
        typer.echo(f"program {program_id} has no milestones{which}")
        return
    console().print(table)


def _attestations(state: MilestoneState, quorum: int, epoch: int) -> str:
    if state.attestations and state.attestation_epoch != epoch:
        return f"{state.attestations} (epoch {state.attestation_epoch}, no longer counted)"
    return f"{state.attestations} of {quorum}"


def _releasable(s: Session, state: MilestoneState) -> str:
    if state.status != "Verified":
        return "-"
    return format_time(s.escrow().releasable_at(state.milestone_id))


@app.command("show")
@reports_errors
def show(
    ctx: typer.Context,
    milestone: Annotated[
        str, typer.Argument(help="the milestone's id (0x and 64 hex digits) or its reference")
    ],
    program_id: Annotated[
        int | None,
        typer.Option("--program", help="the program (needed to find a milestone by reference)"),
    ] = None,
) -> None:
    """Everything about one milestone, with each oracle's attestation."""
    s = session(ctx)
    if program_id is not None:
        check_program_id(program_id)
        read_program(s, program_id)
    if _ID.match(milestone.strip()):
        mid = bytes.fromhex(milestone.strip()[2:])
        label = short(mid)
    else:
        if program_id is None:
            fail(f"{milestone!r} is not a milestone id; to find it by reference, give --program")
        try:
            mid = milestone_id(program_id, external_ref(milestone))
        except ValueError as exc:
            raise RefusedError(str(exc)) from None
        label = repr(milestone)
    escrow = s.escrow()
    state = escrow.milestone(mid)
    if not state.exists:
        where = f" in program {program_id}" if program_id is not None else ""
        raise RefusedError(f"no milestone {label}{where}")
    if program_id is not None and state.program_id != program_id:
        raise RefusedError(
            f"milestone {label} belongs to program {state.program_id}, not {program_id}"
        )
    program = read_program(s, state.program_id)
    token = read_token(s, program.token)
    client = s.client()
    registered = registered_events(s, milestone=mid)
    committee = escrow.committee()

    table = Table(title=f"Milestone {short(mid)}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("id", "0x" + mid.hex())
    if registered:
        event = registered[0]
        table.add_row("ref", _ref_of(event["args"]["externalRef"]))
        table.add_row(
            "registered",
            f"{format_time(client.timestamp(event['blockNumber']))} "
            f"(block {event['blockNumber']}, tx 0x{bytes(event['transactionHash']).hex()})",
        )
    table.add_row("program", str(state.program_id))
    table.add_row("beneficiary", state.beneficiary)
    table.add_row("amount", token.show(state.amount))
    table.add_row("deadline", format_time(state.deadline))
    table.add_row("evidence spec hash", "0x" + state.evidence_spec_hash.hex())
    table.add_row("status", state.status)
    table.add_row("attestations", _attestations(state, committee.quorum, committee.epoch))
    table.add_row("attestation epoch", str(state.attestation_epoch))
    if any(state.evidence_hash):
        table.add_row("evidence hash", "0x" + state.evidence_hash.hex())
    if state.verified_at:
        table.add_row("verified at", format_time(state.verified_at))
    table.add_row("releasable at", _releasable(s, state))
    out = console()
    out.print(table)

    recorded = client.get_logs(
        escrow.contract.events.AttestationRecorded,
        from_block=s.deployment().deployment_block,
        to_block=client.block_number(),
        argument_filters={"milestoneId": mid},
    )
    if not recorded:
        typer.echo("no attestations yet")
        return
    attestations = Table(title="Attestations", title_justify="left")
    for column in ("oracle", "evidence hash", "epoch", "block time", "block"):
        attestations.add_column(column)
    for event in recorded:
        args = event["args"]
        attestations.add_row(
            str(args["oracle"]),
            "0x" + bytes(args["evidenceHash"]).hex(),
            str(args["epoch"]),
            format_time(client.timestamp(event["blockNumber"])),
            str(event["blockNumber"]),
        )
    out.print(attestations)

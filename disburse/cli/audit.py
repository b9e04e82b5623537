"""`disburse audit`: the overseers' audit of the whole history (see `disburse.audit`).

Exit status: 0 when the rebuilt ledger matches the chain, 1 when the reconciliation found a
difference (the report is still written, and every difference is named on stderr), 2 when the
audit could not run (no deployment file, chain down, wrong chain).
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated

import typer

from disburse.audit import SCHEDULE_TOLERANCE, AuditReport, WindowPolicy, run_audit
from disburse.cli._session import fail, reports_errors, session
from disburse.cli.programs import parse_duration
from disburse.index.history import IndexedHistory
from disburse.index.store import IndexStore
from disburse.plans import parse_amount
from disburse.report import record_reconciliation


@reports_errors
def audit(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON document (amounts as integer strings)")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV, one row per milestone")] = False,
    from_block: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="start here instead of the deployment block (a partial history is not reconciled)",
        ),
    ] = None,
    schedule_tolerance: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="flag a program whose paid share and due share differ by more than this",
        ),
    ] = SCHEDULE_TOLERANCE,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the report to this file")
    ] = None,
    high_value: Annotated[
        str | None,
        typer.Option(
            help="policy: flag milestones of at least this amount (in their token, e.g. "
            "1,000,000) whose challenge window is shorter than --min-window"
        ),
    ] = None,
    min_window: Annotated[
        str,
        typer.Option(help="policy: the shortest challenge window of a high-value milestone"),
    ] = "7d",
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="read the history from this ledger index (see `disburse index`) and reconcile "
            "it against the chain at the index's block; without it, the chain is read",
        ),
    ] = None,
) -> None:
    """Rebuild the whole history from events, reconcile it against the chain, flag anomalies.

    Per program and overall: funded, committed, paid, refunded, available; every milestone's
    timeline; council proposals in plain words with their approvals. Exits 1 when the rebuilt
    ledger and the chain's state differ.
    """
    if as_json and as_csv:
        fail("--json and --csv are alternatives: choose one")
    policy = None
    if high_value is not None:
        try:
            parse_amount(high_value, 18)
        except ValueError as exc:
            fail(f"--high-value: {exc}")
        policy = WindowPolicy(high_value=high_value.strip(), min_window=parse_duration(min_window))
    s = session(ctx)
    deployment = s.deployment()  # a missing or bad file: one `error:` line (reports_errors)
    client = s.client()
    with ExitStack() as opened:
        history = None
        if db is not None:
            store = opened.enter_context(IndexStore.open_existing(db, deployment))
            history = IndexedHistory(store, deployment)
        report = run_audit(
            client,
            deployment,
            from_block=from_block,
            schedule_tolerance=schedule_tolerance,
            window_policy=policy,
            history=history,
        )
        if history is not None and report.reconciliation.checked:
            record_reconciliation(
                history.store,
                ok=report.reconciliation.ok,
                differences=len(report.reconciliation.differences),
            )
    if output is not None:
        with output.open("w", encoding="utf-8") as out:
            _write(report, out, as_json=as_json, as_csv=as_csv)
    else:
        _write(report, sys.stdout, as_json=as_json, as_csv=as_csv)
        sys.stdout.flush()
    if not report.ok:
        differences = report.reconciliation.differences
        typer.echo(
            f"error: reconciliation failed: {len(differences)} difference(s) between the "
            "rebuilt ledger and the chain",
            err=True,
        )
        for d in differences:
            typer.echo(f"  {d.message}", err=True)
        raise typer.Exit(1)


def _write(report: AuditReport, out: IO[str], *, as_json: bool, as_csv: bool) -> None:
    if as_json:
        report.write_json(out)
    elif as_csv:
        report.write_csv(out)
    else:
        report.write_text(out)

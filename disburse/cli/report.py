"""`disburse report`: the budget report from the ledger index (see `disburse.report`).

Exit status: 0 when written and the index reconciles with the chain (or --no-reconcile), 1 when
the reconciliation found a difference (the report is still written), 2 when it could not run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Annotated

import typer

from disburse.cli._session import fail, reports_errors, session
from disburse.cli.index import DbOption, default_db
from disburse.index.store import IndexStore
from disburse.report import BudgetReport, make_report
from disburse.report.render import write_csv, write_html, write_json, write_text


@reports_errors
def report(
    ctx: typer.Context,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV, one row per program")] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="also write one self-contained HTML file (styles and charts inline, no request "
            "leaves the page) to this path",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the report to this file")
    ] = None,
    no_reconcile: Annotated[
        bool,
        typer.Option("--no-reconcile", help="skip checking the index's ledger against the chain"),
    ] = False,
    program: Annotated[
        list[int] | None,
        typer.Option(
            "--program", min=1, help="only this program (repeatable): its budget, EV and alerts"
        ),
    ] = None,
) -> None:
    """Budgets by organisation, category and fiscal year, earned value, alerts and forecasts.

    Read from the ledger index (`disburse index` builds it) at its last block; the report says
    which block and hash it describes.
    """
    if as_json and as_csv:
        fail("--json and --csv are alternatives: choose one")
    s = session(ctx)
    deployment = s.deployment()  # a missing or bad file: one `error:` line (reports_errors)
    client = s.client()
    with IndexStore.open_existing(db or default_db(s.deployment_file), deployment) as store:
        found = make_report(
            client, deployment, store, reconcile=not no_reconcile, programs=program or ()
        )
    if output is not None:
        with output.open("w", encoding="utf-8") as out:
            _write(found, out, as_json=as_json, as_csv=as_csv)
    else:
        _write(found, sys.stdout, as_json=as_json, as_csv=as_csv)
        sys.stdout.flush()
    if html is not None:
        with html.open("w", encoding="utf-8") as out:
            write_html(found, out)
        typer.echo(f"HTML report written to {html}", err=True)
    r = found.reconciliation
    if r is not None and r.checked and not r.ok:
        typer.echo(f"error: reconciliation failed: {len(r.differences)} difference(s)", err=True)
        raise typer.Exit(1)


def _write(found: BudgetReport, out: IO[str], *, as_json: bool, as_csv: bool) -> None:
    if as_json:
        write_json(found, out)
    elif as_csv:
        write_csv(found, out)
    else:
        write_text(found, out)

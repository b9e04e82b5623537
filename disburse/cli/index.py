"""`disburse index`: the ledger index (see `disburse.index`), built or brought up to date from
the chain; with --follow, kept current until Ctrl-C.

Exit status: 0 when the index is current (or following stopped by Ctrl-C or SIGTERM), 2 when it
could not run (a bad database URL, a database of another deployment, chain down)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from disburse.cli._session import reports_errors, session
from disburse.index.ingest import Indexer, SyncResult
from disburse.index.store import IndexStore

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="DISBURSE_INDEX_DB",
        help="the index's database: sqlite:///FILE or postgresql://USER@HOST:PORT/DATABASE "
        "[default: a SQLite file beside the deployment file]",
    ),
]


def default_db(deployment_file: Path) -> str:
    """sqlite:///<the deployment file's folder>/<its name>.ledger.db"""
    return f"sqlite:///{deployment_file.with_suffix('.ledger.db')}"


def _say(result: SyncResult, *, always: bool) -> None:
    if result.rolled_back_to is not None:
        typer.echo(
            f"the chain no longer has the index's last block: rolled back to block "
            f"{result.rolled_back_to} ({result.dropped} events dropped) and read again"
        )
    if always or result.events or result.rolled_back_to is not None:
        lag = max(result.head - result.cursor.number, 0)
        typer.echo(
            f"index at block {result.cursor.number} ({result.cursor.hash}); chain head "
            f"{result.head}, lag {lag} block{'s' if lag != 1 else ''}; {result.events} new events"
        )


@reports_errors
def index(
    ctx: typer.Context,
    db: DbOption = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="keep the index current until Ctrl-C")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.05, max=3600.0, help="seconds between polls with --follow")
    ] = 1.0,
) -> None:
    """Read every escrow and council event since the deployment block into the index.

    Each window of blocks is stored with the cursor in one transaction: stopping it at any
    moment loses and doubles nothing. A chain that no longer has the last block read (restarted
    from an older state, reorganised) is rolled back to the common ancestor and read again.
    """
    s = session(ctx)
    deployment = s.deployment()  # a missing or bad file: one `error:` line (reports_errors)
    client = s.client()
    with IndexStore.open(db or default_db(s.deployment_file), deployment) as store:
        indexer = Indexer(client, deployment, store)
        if not follow:
            _say(indexer.sync(), always=True)
            return
        stop = {"now": False}

        def on_signal(_signum: int, _frame: Any) -> None:
            stop["now"] = True

        previous = signal.signal(signal.SIGTERM, on_signal)
        first = {"done": False}

        def report(result: SyncResult) -> None:
            _say(result, always=not first["done"])
            first["done"] = True

        try:
            indexer.follow(interval=interval, report=report, should_stop=lambda: stop["now"])
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        typer.echo("stopped; the index is consistent at its last block")

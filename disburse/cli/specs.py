"""`disburse evidence-spec hash FILE`: the hash a program manager registers with a milestone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from disburse.chain.specs import spec_hash
from disburse.cli._session import fail
from disburse.plans import MAX_SPEC_BYTES, PlanFileError, check_spec, read_bounded

app = typer.Typer(help="Evidence specifications.", no_args_is_help=True)


@app.command("hash")
def hash_(file: Annotated[Path, typer.Argument(help="the specification (YAML or JSON)")]) -> None:
    """Checks the file is an evidence specification, then prints keccak256 of its bytes: register
    this hash with the milestone."""
    try:
        raw = read_bounded(file, limit=MAX_SPEC_BYTES, what="specification file")
    except PlanFileError as exc:
        fail(str(exc))
    try:
        check_spec(raw, file)
    except ValueError as exc:
        fail(str(exc))
    typer.echo("0x" + spec_hash(raw).hex())

"""`disburse`: the command line for program managers and overseers.

Global options (or their environment variables) say where the deployment file and the chain
are, and which encrypted keystore signs; each command group lives in its own module here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from disburse.cli import audit, council, keys, milestones, programs, specs, watch
from disburse.cli._session import Session, default_password_env

app = typer.Typer(
    help="Milestone escrow: programs, milestones, council proposals and the audit.",
    no_args_is_help=True,
)


@app.callback()
def main(
    ctx: typer.Context,
    deployment: Annotated[
        Path,
        typer.Option(
            envvar="DISBURSE_DEPLOYMENT", help="deployment file written by scripts/deploy.py"
        ),
    ] = Path("deployments/development.json"),
    rpc_url: Annotated[
        str, typer.Option(envvar="DISBURSE_RPC_URL", help="JSON-RPC endpoint of the chain")
    ] = "http://127.0.0.1:8545",
    profile: Annotated[
        Path | None,
        typer.Option(envvar="DISBURSE_PROFILE", help="chain profile (YAML): tx type, gas price…"),
    ] = None,
    keystore: Annotated[
        Path | None, typer.Option(envvar="DISBURSE_KEYSTORE", help="your encrypted keystore")
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option(help="file holding the keystore password")
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(
            help="variable holding the keystore password [default: DISBURSE_KEY_PASSWORD]"
        ),
    ] = None,
) -> None:
    ctx.obj = Session(
        deployment_file=deployment,
        rpc_url=rpc_url,
        profile_file=profile,
        keystore=keystore,
        password_file=password_file,
        password_env=default_password_env(password_file, password_env),
    )


app.add_typer(keys.app, name="keys")
app.add_typer(programs.app, name="program")
app.add_typer(milestones.app, name="milestones")
app.add_typer(specs.app, name="evidence-spec")
app.add_typer(council.app, name="council")
app.command("watch")(watch.watch)
app.command("audit")(audit.audit)

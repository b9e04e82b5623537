"""`disburse`: the command line for program managers and overseers.

Global options (or their environment variables) say where the deployment file and the chain
are, and which encrypted keystore signs; each command group lives in its own module here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import requests
import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from disburse.cli import (
    audit,
    console,
    council,
    index,
    keys,
    milestones,
    programs,
    report,
    specs,
    watch,
)
from disburse.cli._session import Session, default_password_env


class _Boundary(TyperGroup):
    """The root command: whatever a command lets escape becomes one `error:` line and exit
    status 2, never a traceback. Commands report what they expect themselves; this is the net
    under them (input nested too deeply to parse, memory exhausted, a URL that is no JSON-RPC
    endpoint, a defect of ours)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException, EOFError):
            raise  # typer's own ways out: exit status, usage error, Ctrl-C
        except RecursionError:
            _boundary_error("the input nests lists or mappings too deeply to be read")
        except MemoryError:
            _boundary_error("out of memory reading the input (is a file far too large?)")
        except requests.exceptions.HTTPError as exc:
            response = exc.response
            where = response.url if response is not None else "the RPC URL"
            code = f"HTTP {response.status_code}" if response is not None else str(exc)
            _boundary_error(
                f"{where} answered {code}: it is not a JSON-RPC endpoint (check --rpc-url)"
            )
        except requests.exceptions.RequestException as exc:
            _boundary_error(f"the chain's RPC URL cannot be used: {exc}")
        except OSError as exc:
            _boundary_error(f"{exc.filename or 'a file'}: {exc.strerror or exc}")
        except Exception as exc:
            _boundary_error(f"unexpected {type(exc).__name__}: {exc}")


def _boundary_error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


app = typer.Typer(
    cls=_Boundary,
    help="Milestone escrow: programs, milestones, council proposals and the audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
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
app.command("index")(index.index)
app.command("report")(report.report)
app.add_typer(console.app, name="console")

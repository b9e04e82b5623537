"""`disburse console`: serve the overseer console, and manage who may log in to it.

    disburse console serve [--index URL] [--users PATH] [--host 127.0.0.1] [--port 8600]
                           [--trusted-header H --trusted-proxy IP ...]
    disburse console users add NAME --role overseer|auditor|manager [--manager 0xADDR ...]
    disburse console users remove NAME | passwd NAME | list | log

Passwords are read from a prompt (never echoed, asked twice) or, for scripts, from the first
line of standard input with --password-stdin; never from an option, so they stay out of shell
histories and process lists. The accounts file defaults to one beside the deployment file.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from disburse._format import table, when
from disburse.chain.errors import DisburseError
from disburse.cli._session import fail, reports_errors, session
from disburse.cli.index import default_db
from disburse.console.config import DEFAULT_HOST, DEFAULT_PORT, ConsoleConfig
from disburse.console.users import (
    UserError,
    UserStore,
    check_managers,
    check_name,
    check_password,
    check_role,
)

if TYPE_CHECKING:
    from disburse.console.data import IndexReader

app = typer.Typer(help="The overseer console (a web browser's view of the index).")
users_app = typer.Typer(help="Console accounts: add, remove, passwd, list, log.")
app.add_typer(users_app, name="users")

UsersOption = Annotated[
    Path | None,
    typer.Option(
        "--users",
        envvar="DISBURSE_CONSOLE_USERS",
        help="the console's accounts file (SQLite) [default: <deployment>.console-users.db]",
    ),
]


def default_users(deployment_file: Path) -> Path:
    """<the deployment file's folder>/<its name>.console-users.db"""
    return deployment_file.with_suffix(".console-users.db")


def _users_path(ctx: typer.Context, users: Path | None) -> Path:
    return users if users is not None else default_users(session(ctx).deployment_file)


def _existing(path: Path) -> UserStore:
    try:
        return UserStore.open_existing(path)
    except UserError as exc:
        fail(str(exc))


def _password(stdin: bool) -> str:
    """The new password: the first line of standard input, or typed twice at a prompt."""
    if stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        return check_password(password)
    except UserError as exc:
        fail(str(exc))


PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="read the password from the first line of stdin"),
]


@app.command("serve")
@reports_errors
def serve(
    ctx: typer.Context,
    index: Annotated[
        str | None,
        typer.Option(
            "--index",
            envvar="DISBURSE_INDEX_DB",
            help="the index's database URL [default: a SQLite file beside the deployment file]",
        ),
    ] = None,
    users: UsersOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = DEFAULT_PORT,
    session_idle: Annotated[
        int, typer.Option(min=60, max=7 * 86_400, help="seconds a session may stay unused")
    ] = 1800,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="mark cookies Secure (served over HTTPS)")
    ] = False,
    public_origin: Annotated[
        str | None,
        typer.Option(help="scheme://host[:port] browsers use, when a proxy in front changes it"),
    ] = None,
    trusted_header: Annotated[
        str | None,
        typer.Option(help="single sign-on: the header naming the account (from --trusted-proxy)"),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(help="address of a proxy whose --trusted-header is believed (repeatable)"),
    ] = None,
) -> None:
    """Serve the console (read-only) until Ctrl-C."""
    import uvicorn

    from disburse.console.app import create_app

    s = session(ctx)
    proxies = frozenset(trusted_proxy or ())
    if (trusted_header is None) != (not proxies):
        fail("--trusted-header and --trusted-proxy go together: give both or neither")
    config = ConsoleConfig(
        index_url=index or default_db(s.deployment_file),
        deployment=s.deployment_file,
        users_db=_users_path(ctx, users),
        rpc_url=s.rpc_url,
        host=host,
        port=port,
        session_idle_s=session_idle,
        secure_cookies=secure_cookies,
        trusted_header=trusted_header,
        trusted_proxies=proxies,
        public_origin=public_origin,
    )
    if not config.users_db.is_file():
        fail(
            f"{config.users_db} holds no console accounts: create one first with "
            f"`disburse console users add NAME --role overseer --users {config.users_db}`"
        )
    s.deployment()  # a missing or bad deployment file: one error line
    web = create_app(config)  # a missing index: IndexStoreError, one error line
    threading.Thread(target=_warm, args=(web.state.reader,), daemon=True).start()
    typer.echo(f"console at http://{host}:{port}/ (index {web.state.reader.store.url})", err=True)
    # The client address must be the TCP peer's: forwarded headers would let anyone name the
    # trusted proxy's address.
    # Open pages hold /live streams: Ctrl-C must not wait for them to end on their own.
    uvicorn.run(
        web,
        host=host,
        port=port,
        proxy_headers=False,
        log_level="info",
        timeout_graceful_shutdown=3,
    )


def _warm(reader: IndexReader) -> None:
    """The portfolio's shared answers computed before the first visitor asks."""
    from disburse.console.pages import portfolio

    try:
        portfolio.warm(reader)
    except DisburseError as exc:  # e.g. nothing indexed yet: the pages will say so
        typer.echo(f"note: {exc}", err=True)
    except Exception as exc:  # the pages compute it themselves then; serving goes on
        typer.echo(f"note: the portfolio was not computed ahead: {exc}", err=True)


@users_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="account name: 1-64 of a-z 0-9 . _ -")],
    role: Annotated[str, typer.Option(help="overseer, auditor or manager")],
    manager: Annotated[
        list[str] | None,
        typer.Option(help="a manager's on-chain program-manager address (repeatable)"),
    ] = None,
    password_stdin: PasswordStdin = False,
    users: UsersOption = None,
) -> None:
    """Create an account (the password from a prompt or --password-stdin)."""
    path = _users_path(ctx, users)
    try:
        store = UserStore(path) if path.exists() else None
        check_name(name)
        check_managers(check_role(role), tuple(manager or ()))
        if store is not None and store.get(name) is not None:
            raise UserError(f"an account named {name!r} exists already")
        password = _password(password_stdin)
        account = (store or UserStore(path)).add(name, role, password, tuple(manager or ()))
    except UserError as exc:
        fail(str(exc))
    extra = f" for {', '.join(account.managers)}" if account.managers else ""
    typer.echo(f"added {account.name} ({account.role}{extra}) to {path}")


@users_app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    users: UsersOption = None,
) -> None:
    """Delete an account and end its sessions."""
    path = _users_path(ctx, users)
    try:
        _existing(path).remove(name)
    except UserError as exc:
        fail(str(exc))
    typer.echo(f"removed {name} from {path}")


@users_app.command("passwd")
def passwd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    password_stdin: PasswordStdin = False,
    users: UsersOption = None,
) -> None:
    """Set a new password (the account's sessions end)."""
    store = _existing(_users_path(ctx, users))
    try:
        if store.get(name) is None:
            raise UserError(f"no account is named {name[:80]!r}")
        store.passwd(name, _password(password_stdin))
    except UserError as exc:
        fail(str(exc))
    typer.echo(f"password of {name} changed; its sessions ended")


@users_app.command("list")
def list_users(ctx: typer.Context, users: UsersOption = None) -> None:
    """The accounts: name, role, manager addresses, created."""
    accounts = _existing(_users_path(ctx, users)).accounts()
    if not accounts:
        typer.echo("no accounts")
        return
    typer.echo(
        table(
            ["name", "role", "manages", "created"],
            [[a.name, a.role, "\n".join(a.managers) or "-", when(a.created)] for a in accounts],
        )
    )


@users_app.command("log")
def log(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="only this account's rows")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="rows, newest first")] = 50,
    users: UsersOption = None,
) -> None:
    """The login log: logins, failures, refusals, logouts and expiries, newest first."""
    entries = _existing(_users_path(ctx, users)).entries(limit=limit, name=name)
    if not entries:
        typer.echo("no logins recorded")
        return
    typer.echo(
        table(
            ["time", "name", "client", "outcome"],
            [[when(e.time), e.name, e.client, e.outcome] for e in entries],
        )
    )

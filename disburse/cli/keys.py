"""`disburse keys`: a program manager's or overseer's own signing key, in an encrypted keystore."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from disburse.chain.keystore import import_keystore, new_keystore, read_password
from disburse.cli._session import default_password_env, fail, reports_errors

app = typer.Typer(help="Your signing key (an encrypted keystore).", no_args_is_help=True)

Keystore = Annotated[Path, typer.Option(help="path of the encrypted keystore file")]
PasswordFile = Annotated[Path | None, typer.Option(help="file holding the password")]
PasswordEnv = Annotated[
    str | None, typer.Option(help="variable holding the password [default: DISBURSE_KEY_PASSWORD]")
]


@app.command("new")
@reports_errors
def new(
    keystore: Keystore, password_file: PasswordFile = None, password_env: PasswordEnv = None
) -> None:
    """Creates a new key; prints its address."""
    password = read_password(
        file=password_file, env_var=default_password_env(password_file, password_env)
    )
    typer.echo(new_keystore(keystore, password))


@app.command("import")
@reports_errors
def import_(
    keystore: Keystore,
    private_key_file: Annotated[Path, typer.Option(help="file holding the hex private key")],
    password_file: PasswordFile = None,
    password_env: PasswordEnv = None,
) -> None:
    """Encrypts an existing private key (read from a file, never an argument)."""
    try:
        secret = private_key_file.read_text().strip()
    except FileNotFoundError:
        fail(f"no private key file at {private_key_file}")
    password = read_password(
        file=password_file, env_var=default_password_env(password_file, password_env)
    )
    typer.echo(import_keystore(keystore, secret, password))


@app.command("address")
def address(keystore: Keystore) -> None:
    """Prints the keystore's address (no password needed)."""
    try:
        typer.echo("0x" + str(json.loads(keystore.read_text())["address"]).removeprefix("0x"))
    except (FileNotFoundError, KeyError, TypeError, json.JSONDecodeError):
        fail(f"{keystore} is not a keystore file")

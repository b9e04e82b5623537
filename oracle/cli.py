"""`oracle`: the verifier's command line.

    oracle keys new --keystore KEY.json --password-file PW      create this node's signing key
    oracle keys import --keystore KEY.json --private-key-file F --password-file PW
    oracle keys address --keystore KEY.json
    oracle apikeys add SUBMITTER --role ROLE (--program N ... | --milestone 0x.. ... |
                       --any-program) --config node.yaml    prints the key once
    oracle apikeys revoke SUBMITTER --config node.yaml
    oracle run --config node.yaml                              API, worker, watcher, releaser
    oracle spec upload SPEC.yaml --node URL --api-key-file F
    oracle evidence submit --node URL --api-key-file F --milestone 0x.. --claims C.yaml
                           [--document FILE ...] [--approvals A.json]
    oracle evidence show ID --node URL --api-key-file F

Passwords and keys are read from files or environment variables, never from arguments.
"""

from __future__ import annotations

import json
import mimetypes
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml

from disburse.chain.errors import DisburseError
from oracle.config import load_settings
from oracle.journal import Journal
from oracle.keys import import_keystore, new_keystore, read_password
from oracle.logs import configure_logging

app = typer.Typer(help="Oracle node of the milestone escrow.", no_args_is_help=True)
keys = typer.Typer(help="This node's signing key (an encrypted keystore).", no_args_is_help=True)
apikeys = typer.Typer(help="Submitters' API keys (stored hashed).", no_args_is_help=True)
spec = typer.Typer(help="Evidence specifications.", no_args_is_help=True)
evidence = typer.Typer(help="Submit evidence to a node and follow it.", no_args_is_help=True)
app.add_typer(keys, name="keys")
app.add_typer(apikeys, name="apikeys")
app.add_typer(spec, name="spec")
app.add_typer(evidence, name="evidence")

Keystore = Annotated[Path, typer.Option(help="path of the encrypted keystore file")]
PasswordFile = Annotated[Path | None, typer.Option(help="file holding the keystore password")]
PasswordEnv = Annotated[
    str | None, typer.Option(help="environment variable holding the keystore password")
]
Config = Annotated[Path, typer.Option(help="the node's settings file (YAML or JSON)")]
NodeUrl = Annotated[str, typer.Option("--node", help="the node's API base URL")]
ApiKeyFile = Annotated[Path, typer.Option(help="file holding your API key")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _password(file: Path | None, env: str | None) -> str:
    if file is None and env is None:
        env = "ORACLE_KEY_PASSWORD"
    return read_password(file=file, env_var=env)


@keys.command("new")
def keys_new(
    keystore: Keystore, password_file: PasswordFile = None, password_env: PasswordEnv = None
) -> None:
    """Creates a new signing key, encrypted with the password."""
    try:
        address = new_keystore(keystore, _password(password_file, password_env))
    except DisburseError as exc:
        _fail(str(exc))
    typer.echo(address)


@keys.command("import")
def keys_import(
    keystore: Keystore,
    private_key_file: Annotated[Path, typer.Option(help="file holding the hex private key")],
    password_file: PasswordFile = None,
    password_env: PasswordEnv = None,
) -> None:
    """Encrypts an existing private key (read from a file) into a keystore."""
    try:
        secret = private_key_file.read_text().strip()
        address = import_keystore(keystore, secret, _password(password_file, password_env))
    except FileNotFoundError:
        _fail(f"no private key file at {private_key_file}")
    except DisburseError as exc:
        _fail(str(exc))
    typer.echo(address)


@keys.command("address")
def keys_address(keystore: Keystore) -> None:
    """Prints the keystore's address (no password needed)."""
    try:
        typer.echo("0x" + str(json.loads(keystore.read_text())["address"]).removeprefix("0x"))
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        _fail(f"{keystore} is not a keystore file")


def _journal(config: Path) -> Journal:
    settings = load_settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Journal.open(settings.data_dir / "journal.sqlite3")


@apikeys.command("add")
def apikeys_add(
    submitter: str,
    config: Config,
    role: Annotated[
        str,
        typer.Option(
            help="the submitter's role, matched against a specification's `submitters:` "
            "(e.g. inspector, contractor); `oracle` for a peer node handing over signatures"
        ),
    ],
    program: Annotated[
        list[int] | None,
        typer.Option(help="a program whose milestones it may submit evidence for (repeatable)"),
    ] = None,
    milestone: Annotated[
        list[str] | None,
        typer.Option(help="a milestone id (0x…) it may submit evidence for (repeatable)"),
    ] = None,
    any_program: Annotated[
        bool, typer.Option("--any-program", help="every program (say so explicitly)")
    ] = False,
) -> None:
    """Creates an API key for a submitter, scoped to a role and to programs or milestones; it is
    shown once (on standard output) and stored only hashed."""
    if not (program or milestone or any_program):
        _fail("say what the key may submit for: --program N, --milestone 0x…, or --any-program")
    if any_program and (program or milestone):
        _fail("--any-program and --program/--milestone exclude each other")
    try:
        key = _journal(config).add_api_key(
            submitter, role=role, programs=program or None, milestones=milestone or None
        )
    except DisburseError as exc:
        _fail(str(exc))
    scope = (
        "any program"
        if any_program
        else "; ".join(
            part
            for part in (
                f"programs {', '.join(map(str, program))}" if program else "",
                f"milestones {', '.join(milestone)}" if milestone else "",
            )
            if part
        )
    )
    typer.echo(f"API key for {submitter} (role {role}; {scope}):", err=True)
    typer.echo(key)


@apikeys.command("revoke")
def apikeys_revoke(submitter: str, config: Config) -> None:
    """Revokes a submitter's API key."""
    try:
        _journal(config).revoke_api_key(submitter)
    except DisburseError as exc:
        _fail(str(exc))
    typer.echo(f"revoked {submitter}")


@app.command("run")
def run(config: Config, log_level: str = "INFO") -> None:
    """Runs the node: intake API, verification, attestation, watcher and releaser."""
    from oracle.service import run as run_service  # uvicorn and web3 only when needed

    configure_logging(log_level, sys.stderr)
    try:
        run_service(load_settings(config))
    except DisburseError as exc:  # the settings, the keystore, the chain refusing at start
        _fail(str(exc))


def _client(node: str, api_key_file: Path) -> httpx.Client:
    try:
        key = api_key_file.read_text().strip()
    except FileNotFoundError:
        _fail(f"no API key file at {api_key_file}")
    return httpx.Client(base_url=node, headers={"X-API-Key": key}, timeout=30)


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        text = detail if isinstance(detail, str) else json.dumps(detail)
        _fail(f"{response.status_code}: {text}")
    return response.json()


@spec.command("upload")
def spec_upload(file: Path, node: NodeUrl, api_key_file: ApiKeyFile) -> None:
    """Uploads an evidence specification; prints its hash (the one registered on chain)."""
    with _client(node, api_key_file) as http:
        typer.echo(_check(http.post("/v1/specs", content=file.read_bytes()))["spec_hash"])


@evidence.command("submit")
def evidence_submit(
    node: NodeUrl,
    api_key_file: ApiKeyFile,
    milestone: Annotated[str, typer.Option(help="milestone id, 0x + 64 hex")],
    claims: Annotated[Path, typer.Option(help="YAML or JSON mapping of claims")],
    document: Annotated[
        list[Path] | None, typer.Option(help="a document file (repeatable)")
    ] = None,
    approvals: Annotated[Path | None, typer.Option(help="JSON list of inspector approvals")] = None,
) -> None:
    """Uploads the documents, then submits the evidence; prints the node's answer."""
    with _client(node, api_key_file) as http:
        refs = []
        for path in document or []:
            data = path.read_bytes()
            stored = _check(http.post("/v1/documents", content=data))
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            refs.append(
                {
                    "name": path.name,
                    "sha256": stored["sha256"],
                    "size": stored["size"],
                    "media_type": kind,
                }
            )
        body = {
            "milestone_id": milestone,
            "documents": refs,
            "claims": yaml.safe_load(claims.read_text()) or {},
            "approvals": json.loads(approvals.read_text()) if approvals else [],
        }
        typer.echo(json.dumps(_check(http.post("/v1/evidence", json=body)), indent=2))


@evidence.command("show")
def evidence_show(evidence_id: int, node: NodeUrl, api_key_file: ApiKeyFile) -> None:
    """Shows the evidence's state, rejection reasons and attestation."""
    with _client(node, api_key_file) as http:
        typer.echo(json.dumps(_check(http.get(f"/v1/evidence/{evidence_id}")), indent=2))

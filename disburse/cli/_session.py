"""What every `disburse` command shares: where the deployment and the chain are, how to sign, and
how a failure reaches the user (one line, `error: …`, exit status 2, nothing sent)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
import yaml
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError
from web3.contract import Contract
from web3.exceptions import Web3RPCError

from disburse.chain.client import ChainClient
from disburse.chain.deployment import Deployment, load
from disburse.chain.errors import ConfigurationError, DisburseError
from disburse.chain.escrow import Escrow
from disburse.chain.keystore import load_account, read_password
from disburse.chain.profile import ChainProfile
from disburse.plans import PlanFileError, read_bounded

MAX_PROFILE_BYTES = 64 * 1024
"""The largest chain profile read."""

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turns the client's errors into one clear line and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DisburseError as exc:
            fail(str(exc))
        except Web3RPCError as exc:  # e.g. "insufficient funds for gas": the node's own words
            fail(f"the node refused: {exc}")

    return wrapper


@dataclass
class Session:
    """The global options, resolved lazily: a command that needs no chain never connects."""

    deployment_file: Path
    rpc_url: str
    profile_file: Path | None
    keystore: Path | None
    password_file: Path | None
    password_env: str | None
    _cache: dict[str, Any] = field(default_factory=dict)

    def deployment(self) -> Deployment:
        if "deployment" not in self._cache:
            self._cache["deployment"] = load(self.deployment_file)
        found: Deployment = self._cache["deployment"]
        return found

    def profile(self) -> ChainProfile:
        values: dict[str, Any] = {"name": "disburse", "rpc_url": self.rpc_url}
        if self.profile_file is not None:
            try:
                raw = read_bounded(self.profile_file, limit=MAX_PROFILE_BYTES, what="chain profile")
                loaded = yaml.safe_load(raw) or {}
            except PlanFileError as exc:
                raise ConfigurationError(str(exc)) from None
            except (yaml.YAMLError, RecursionError):
                raise ConfigurationError(
                    f"{self.profile_file} is not a YAML chain profile"
                ) from None
            if not isinstance(loaded, dict):
                raise ConfigurationError(f"{self.profile_file} must hold a mapping")
            values.update(loaded)
        values.setdefault("chain_id", self.deployment().chain_id)
        try:
            return ChainProfile.model_validate(values)
        except ValidationError as exc:
            raise ConfigurationError(f"invalid chain profile: {exc}") from None

    def client(self) -> ChainClient:
        if "client" not in self._cache:
            client = ChainClient(self.profile())
            client.check_chain()
            self._cache["client"] = client
        found: ChainClient = self._cache["client"]
        return found

    def escrow(self) -> Escrow:
        return Escrow(self.client(), self.deployment().escrow)

    def council(self) -> Contract:
        return self.client().contract("OversightCouncil", self.deployment().council)

    def token(self, address: str) -> Contract:
        return self.client().contract("SettlementToken", address)

    def account(self) -> LocalAccount:
        """The signing key, from the encrypted keystore (`--keystore` / DISBURSE_KEYSTORE)."""
        if "account" not in self._cache:
            if self.keystore is None:
                raise ConfigurationError(
                    "this command signs a transaction: give --keystore (or DISBURSE_KEYSTORE) "
                    "and the password in a file (--password-file) or a variable (--password-env)"
                )
            password = read_password(file=self.password_file, env_var=self.password_env)
            self._cache["account"] = load_account(self.keystore, password)
        found: LocalAccount = self._cache["account"]
        return found


def session(ctx: typer.Context) -> Session:
    found = ctx.find_object(Session)
    if found is None:  # pragma: no cover - the root callback always sets it
        fail("internal: no session")
    return found


def default_password_env(file: Path | None, env: str | None) -> str | None:
    if file is None and env is None:
        return "DISBURSE_KEY_PASSWORD"
    return env


def env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None

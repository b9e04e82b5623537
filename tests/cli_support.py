"""Runs `disburse` in tests as a person would: global options filled in, the keystore password
in an environment variable, against the test session's chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brownie import web3
from click.testing import Result
from typer.testing import CliRunner

import disburse.cli


class Cli:
    """`cli("program", "show", 1, signer="manager")` runs `disburse … program show 1`."""

    def __init__(
        self,
        deployment: Path,
        keystores: dict[str, Path],
        *,
        password: str,
        password_env: str,
        default_signer: str | None,
        app: Any = None,
    ) -> None:
        self.app = app if app is not None else disburse.cli.app
        self.deployment = deployment
        self.keystores = keystores
        self.password = password
        self.password_env = password_env
        self.default_signer = default_signer
        self.runner = CliRunner()

    def __call__(
        self,
        *args: str | int,
        signer: str | type[Ellipsis] | None = ...,
        rpc_url: str | None = None,
        profile: Path | None = None,
    ) -> Result:
        who = self.default_signer if signer is ... else signer
        options = [
            "--deployment",
            str(self.deployment),
            "--rpc-url",
            rpc_url or web3.provider.endpoint_uri,
            "--password-env",
            self.password_env,
        ]
        if who is not None:
            options += ["--keystore", str(self.keystores[str(who)])]
        if profile is not None:
            options += ["--profile", str(profile)]
        return self.runner.invoke(
            self.app,
            [*options, *(str(a) for a in args)],
            env={self.password_env: self.password},
        )

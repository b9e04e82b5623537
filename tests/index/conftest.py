"""Index fixtures: the audit's history (tests/audit/conftest.py, one module-scoped deployment
with every kind of event) and the CLI; the databases (`db_url`, `pg_url`) are tests/databases.py's.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from brownie import web3
from typer.testing import CliRunner, Result

from disburse.cli import app
from tests.audit.conftest import History, history  # noqa: F401 - the shared history fixture


@pytest.fixture
def disburse(history: History) -> Callable[..., Result]:  # noqa: F811
    """Runs `disburse --deployment … --rpc-url … ARGS` through the CLI runner."""

    def _run(*args: str) -> Result:
        return CliRunner().invoke(
            app,
            [
                "--deployment",
                str(history.deployment_file),
                "--rpc-url",
                str(web3.provider.endpoint_uri),
                *args,
            ],
            catch_exceptions=False,
        )

    return _run

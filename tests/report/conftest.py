"""The report's fixtures: the index tests' history, CLI and databases."""

from tests.index.conftest import disburse, history  # noqa: F401

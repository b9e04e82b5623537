"""`python -m disburse.cli`: the `disburse` command, for environments without the console script."""

from disburse.cli import app

app(prog_name="disburse")

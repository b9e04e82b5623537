"""`python -m disburse.cli`: the `disburse` command, for environments without the console script."""

from disburse.cli import app

if __name__ == "__main__":
    app(prog_name="disburse")

"""The `disburse` command line, through its runner, against the test chain."""

"""Options and arguments several commands declare alike (ape keeps its reusable options in
`cli/options.py`): one declaration each, so a help text cannot drift between two commands.

Each is an `Annotated` type for a command's signature; the default, where there is one, stays
with the command (`expires_in: ExpiresIn = "7d"`).
"""

from __future__ import annotations

from typing import Annotated

import typer

# ---------------------------------------------------------------------- council proposals

Description = Annotated[
    str,
    typer.Option(
        "--description",
        "-d",
        help="what the decision is for, in words (kept on chain for the audit trail)",
    ),
]
ExpiresIn = Annotated[
    str,
    typer.Option(
        "--expires-in", help="how long members may approve it: 7d, 36h, 1d12h… (at most 90d)"
    ),
]
ProgramOption = Annotated[
    int | None,
    typer.Option(
        "--program", help="read MILESTONE as this program's reference for it (e.g. PO-1/M1)"
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="show and check the proposal; send nothing")
]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="propose even though the checks say the call would fail if it were executed now "
        "(it may succeed once another proposal has run)",
    ),
]
MilestoneArg = Annotated[
    str,
    typer.Argument(
        metavar="MILESTONE",
        help="the milestone id (0x and 64 hex digits), or its reference with --program",
    ),
]
ProgramArg = Annotated[int, typer.Argument(metavar="PROGRAM", help="the program id")]
AddressArg = Annotated[str, typer.Argument(metavar="ADDRESS", help="an account address (0x…)")]
ThresholdOption = Annotated[
    int | None,
    typer.Option("--threshold", help="approvals needed afterwards [default: unchanged]"),
]
ProposalId = Annotated[int, typer.Argument(metavar="ID", help="the proposal id")]

# ---------------------------------------------------------------------- programs

ProgramId = Annotated[int, typer.Argument(help="the program's id (printed by `program create`)")]

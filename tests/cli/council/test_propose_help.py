"""`disburse council propose ACTION`: the subcommands built from their table rows take what the
hand-written commands took (no chain needed: these read the commands typer built).

propose
├── the subcommands .......................... exactly the actions of disburse.council.ACTIONS,
│                                              listed in the order of PARAMETERS below
├── each subcommand's parameters ............. argument metavars and option names, in order
├── required ................................. the arguments, --description and the action's own
│                                              options (--reason, --oracle, --quorum)
├── defaults ................................. --expires-in 7d, --dry-run and --force off
└── a shared option .......................... one help text in every subcommand
"""

from __future__ import annotations

from typing import Any

import pytest
import typer

from disburse.cli import app
from disburse.council import ACTIONS

COMMON = ("--description -d", "--expires-in")
ON_MILESTONE = ("--description -d", "--expires-in", "--program")
FLAGS = ("--dry-run", "--force")

PARAMETERS: dict[str, tuple[str, ...]] = {
    "freeze": ("MILESTONE", *ON_MILESTONE, *FLAGS),
    "unfreeze": ("MILESTONE", *ON_MILESTONE, *FLAGS),
    "cancel": ("MILESTONE", *ON_MILESTONE, *FLAGS),
    "force-release": ("MILESTONE", "--reason", *ON_MILESTONE, *FLAGS),
    "replace-beneficiary": ("MILESTONE", "NEW_BENEFICIARY", *ON_MILESTONE, *FLAGS),
    "resolve-dispute": ("MILESTONE", "EVIDENCE_HASH", *ON_MILESTONE, *FLAGS),
    "set-committee": ("--oracle", "--quorum", *COMMON, *FLAGS),
    "set-window": ("PROGRAM", "WINDOW", *COMMON, *FLAGS),
    "set-baseline": ("PROGRAM", "AMOUNT", *COMMON, *FLAGS),
    "close-program": ("PROGRAM", *COMMON, *FLAGS),
    "withdraw-remainder": ("PROGRAM", *COMMON, *FLAGS),
    "set-program-manager": ("PROGRAM", "MANAGER", *COMMON, *FLAGS),
    "set-program-treasury": ("PROGRAM", "TREASURY", *COMMON, *FLAGS),
    "grant-manager": ("ADDRESS", *COMMON, *FLAGS),
    "revoke-manager": ("ADDRESS", *COMMON, *FLAGS),
    "pause": (*COMMON, *FLAGS),
    "unpause": (*COMMON, *FLAGS),
    "add-member": ("ADDRESS", "--description -d", "--threshold", "--expires-in", *FLAGS),
    "remove-member": ("ADDRESS", "--description -d", "--threshold", "--expires-in", *FLAGS),
    "change-threshold": ("THRESHOLD", *COMMON, *FLAGS),
}
"""What each subcommand takes, in order: arguments by metavar, options by their names (the
subcommands in the order `propose --help` lists them)."""

OWN_REQUIRED_OPTIONS = {"--reason", "--oracle", "--quorum"}


def _propose_group() -> Any:
    return typer.main.get_group(app).commands["council"].commands["propose"]


def _commands() -> dict[str, Any]:
    return dict(_propose_group().commands)


def _shown(param: Any) -> str:
    if param.param_type_name == "argument":
        return str(param.metavar)
    return " ".join(param.opts)


def test_every_action_has_a_propose_subcommand_and_every_subcommand_an_action() -> None:
    assert set(_commands()) == set(ACTIONS)


def test_the_subcommands_keep_the_order_propose_help_lists_them_in() -> None:
    """Milestones, committee, programs, roles, pause, membership: not the order of ACTIONS."""
    assert list(_commands()) == list(PARAMETERS)


def test_the_table_here_covers_every_action() -> None:
    assert set(PARAMETERS) == set(ACTIONS)


@pytest.mark.parametrize("action", list(PARAMETERS))
def test_each_subcommand_takes_its_arguments_and_options_in_order(action: str) -> None:
    command = _commands()[action]
    assert tuple(_shown(p) for p in command.params) == PARAMETERS[action]


@pytest.mark.parametrize("action", list(PARAMETERS))
def test_arguments_description_and_the_actions_own_options_are_required(action: str) -> None:
    command = _commands()[action]
    required = {_shown(p) for p in command.params if p.required}
    expected = {
        shown
        for shown in PARAMETERS[action]
        if not shown.startswith("-") or shown == "--description -d" or shown in OWN_REQUIRED_OPTIONS
    }
    assert required == expected


@pytest.mark.parametrize("action", list(PARAMETERS))
def test_expiry_defaults_to_seven_days_and_the_flags_are_off(action: str) -> None:
    defaults = {_shown(p): p.default for p in _commands()[action].params}
    assert defaults["--expires-in"] == "7d"
    assert defaults["--dry-run"] is False
    assert defaults["--force"] is False
    for optional in ("--program", "--threshold"):
        if optional in defaults:
            assert defaults[optional] is None


def test_a_shared_option_has_one_help_text_in_every_subcommand() -> None:
    helps: dict[str, set[str]] = {}
    for command in _commands().values():
        for param in command.params:
            helps.setdefault(_shown(param), set()).add(str(param.help))
    for shown in ("MILESTONE", "PROGRAM", "ADDRESS", *ON_MILESTONE, *FLAGS, "--threshold"):
        assert len(helps[shown]) == 1, (shown, helps[shown])

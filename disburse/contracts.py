"""Contract ABIs, read from the build artifacts (never copied by hand)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from disburse.errors import ArtifactError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ("MilestoneEscrow", "OversightCouncil", "SettlementToken")


def build_dir() -> Path:
    """build/contracts of the project, or DISBURSE_BUILD_DIR when set."""
    return Path(os.environ.get("DISBURSE_BUILD_DIR", PROJECT_ROOT / "build" / "contracts"))


@cache
def load_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of a compiled contract."""
    path = build_dir() / f"{name}.json"
    try:
        artifact = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"no build artifact for {name} at {path}: compile the contracts "
            "(`make setup` then `.venv/bin/brownie compile`)"
        ) from None
    abi = artifact.get("abi")
    if not isinstance(abi, list):
        raise ArtifactError(f"{path} has no ABI")
    return abi

"""Contract ABIs, read from the build artifacts (never copied by hand)."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from disburse.chain.errors import ArtifactError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ("MilestoneEscrow", "OversightCouncil", "SettlementToken")


def build_dir() -> Path:
    """build/contracts of the project, or DISBURSE_BUILD_DIR when set."""
    return Path(os.environ.get("DISBURSE_BUILD_DIR", PROJECT_ROOT / "build" / "contracts"))


def _artifact(name: str) -> dict[str, Any]:
    path = build_dir() / f"{name}.json"
    try:
        artifact = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"no build artifact for {name} at {path}: compile the contracts "
            "(`make setup` then `.venv/bin/brownie compile`)"
        ) from None
    if not isinstance(artifact, dict):
        raise ArtifactError(f"{path} is not a build artifact")
    return artifact


@cache
def load_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of a compiled contract."""
    abi = _artifact(name).get("abi")
    if not isinstance(abi, list):
        raise ArtifactError(f"{build_dir() / f'{name}.json'} has no ABI")
    return abi


_ENUM = re.compile(r"\benum\s+(\w+)\s*\{([^}]*)\}")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


@cache
def enum_labels(name: str) -> tuple[str, ...]:
    """The member names of a Solidity enum, in declaration order (their ABI values), as the
    contracts were compiled: from the ASTs in the build artifacts, else (for an enum declared at
    file level, outside any contract, which has no artifact of its own) from the source files
    the artifacts were compiled from. Never a hand-kept copy."""
    sources: set[str] = set()
    for contract in CONTRACTS:
        artifact = _artifact(contract)
        found = _ast_enum(artifact.get("ast"), name)
        if found:
            return found
        sources.update(str(p) for p in artifact.get("allSourcePaths", {}).values())
    for source in sorted(sources):
        try:
            text = _COMMENT.sub("", (PROJECT_ROOT / source).read_text())
        except OSError:
            continue
        for match in _ENUM.finditer(text):
            if match.group(1) == name:
                return tuple(m.strip() for m in match.group(2).split(",") if m.strip())
    raise ArtifactError(f"no enum {name} in the contracts' build artifacts or their sources")


def _ast_enum(node: Any, name: str) -> tuple[str, ...]:
    if isinstance(node, dict):
        if node.get("nodeType") == "EnumDefinition" and node.get("name") == name:
            return tuple(str(m["name"]) for m in node.get("members", ()))
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return ()
    for child in children:
        found = _ast_enum(child, name)
        if found:
            return found
    return ()

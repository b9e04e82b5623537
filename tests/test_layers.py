"""The layers of the package, enforced by reading every import statement (also the ones inside
functions) of `disburse/` and `oracle/`:

- `disburse.chain` is the bottom layer: it imports nothing of ours above it;
- the oracle node stands on `disburse.chain` alone (never the CLI, the audit, plans, the council);
- the CLI framework (typer, click) is imported only by the command lines, `disburse.cli` and
  `oracle.cli`;
- nothing in the package imports a script, a test or a benchmark engine;
- `disburse.analytics` is pure computation over dataclasses: of `disburse` it imports only
  `disburse._format` (no chain, no index, no database).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI_FRAMEWORKS = ("typer", "click")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in the file; relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, module
            # `from disburse import plans` imports disburse.plans
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _violations(package: str, refused: Callable[[str, str], str | None]) -> list[str]:
    found = []
    for path in _sources(package):
        importer = _module_name(path)
        for line, module in imports_of(path):
            why = refused(importer, module)
            if why:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}: {why}")
    return found


def _chain_rule(importer: str, module: str) -> str | None:
    if not _within(importer, "disburse.chain"):
        return None
    if _within(module, "disburse") and not _within(module, "disburse.chain"):
        if module in ("disburse", "disburse.chain"):
            return None
        return "disburse.chain is the bottom layer and imports nothing above it"
    if _within(module, "oracle") or _within(module, "scripts") or _within(module, "tests"):
        return "disburse.chain imports nothing above it"
    return None


def _oracle_rule(importer: str, module: str) -> str | None:
    if _within(module, "disburse") and not _within(module, "disburse.chain"):
        if module == "disburse":
            return None
        return "the oracle node stands on disburse.chain alone"
    return None


def _framework_rule(importer: str, module: str) -> str | None:
    if any(_within(module, f) for f in CLI_FRAMEWORKS):
        if _within(importer, "disburse.cli") or _within(importer, "oracle.cli"):
            return None
        return "only the command lines (disburse.cli, oracle.cli) import the CLI framework"
    return None


def _scripts_rule(importer: str, module: str) -> str | None:
    if _within(module, "scripts") or _within(module, "tests"):
        return "the package never imports a script, a benchmark engine or a test"
    return None


def _analytics_rule(importer: str, module: str) -> str | None:
    if not _within(importer, "disburse.analytics"):
        return None
    allowed = ("disburse._format", "disburse.analytics")
    if module == "disburse" or any(_within(module, a) for a in allowed):
        return None
    if _within(module, "disburse") or _within(module, "oracle"):
        return "disburse.analytics imports nothing of disburse but disburse._format"
    return None


RULES: dict[str, tuple[str, Callable[[str, str], str | None]]] = {
    "chain-is-the-bottom-layer": ("disburse", _chain_rule),
    "oracle-stands-on-chain": ("oracle", _oracle_rule),
    "cli-framework-in-disburse-cli": ("disburse", _framework_rule),
    "cli-framework-in-oracle-cli": ("oracle", _framework_rule),
    "no-scripts-in-disburse": ("disburse", _scripts_rule),
    "no-scripts-in-oracle": ("oracle", _scripts_rule),
    "analytics-imports-only-format": ("disburse", _analytics_rule),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_layer_rule(rule: str) -> None:
    package, refused = RULES[rule]
    assert _violations(package, refused) == []


@pytest.mark.parametrize(
    ("rule", "importer", "module"),
    [
        ("chain-is-the-bottom-layer", "disburse.chain.client", "disburse.audit"),
        ("chain-is-the-bottom-layer", "disburse.chain.escrow", "disburse.cli._session"),
        ("oracle-stands-on-chain", "oracle.node", "disburse.plans"),
        ("cli-framework-in-disburse-cli", "disburse.audit", "typer"),
        ("cli-framework-in-oracle-cli", "oracle.node", "click.testing"),
        ("no-scripts-in-disburse", "disburse.cli.audit", "scripts.bench_common"),
        ("analytics-imports-only-format", "disburse.analytics.evm", "disburse.index.store"),
        ("analytics-imports-only-format", "disburse.analytics", "disburse.chain"),
    ],
)
def test_rules_catch_a_violation(rule: str, importer: str, module: str) -> None:
    """Each rule refuses the import it exists to refuse (a rule that refused nothing would
    pass whatever the code did)."""
    assert RULES[rule][1](importer, module)


def test_relative_and_from_imports_are_resolved() -> None:
    source = ROOT / "disburse" / "chain" / "client.py"
    modules = {m for _, m in imports_of(source)}
    assert "disburse.chain.errors" in modules
    assert all(not m.startswith(".") for m in modules)

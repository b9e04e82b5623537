"""Keeps compilation on the project's own compiler: the solc-js shim in `.solcx/`.

`make setup` installs a `.pth` file into the virtual environment that calls `install()` at
interpreter start. It points py-solc-x at the project's `.solcx/` folder (unless
SOLCX_BINARY_PATH is already set) and replaces py-solc-x's download functions with one that
refuses, naming the fix: our users' networks are air-gapped, and a compiler fetched from the
internet is not one anybody reviewed. Without it, py-solc-x would try to download solc whenever
the shim is missing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIM_DIR = PROJECT_ROOT / ".solcx"
_GUARDED = "solcx.install"
_REFUSED = (
    "install_solc",
    "compile_solc",
    "get_installable_solc_versions",
    "import_installed_solc",
)


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    # Imported here, not at the top: this module runs at every interpreter start.
    from disburse.chain.errors import CompilerDownloadRefusedError

    where = os.environ.get("SOLCX_BINARY_PATH", str(SHIM_DIR))
    raise CompilerDownloadRefusedError(
        f"solc is not installed in {where} and this project never downloads a compiler. "
        "Run `make setup` in the project folder: it installs solc-js from npm and the shim "
        "(tools/solc-shim/solc.js) as .solcx/solc-v0.8.37."
    )


def _guard(module: ModuleType) -> None:
    for name in _REFUSED:
        if hasattr(module, name):
            setattr(module, name, _refuse)


class _GuardFinder(importlib.abc.MetaPathFinder):
    """Patches `solcx.install` right after it is first imported."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _GUARDED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            _guard(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Called from the virtual environment's .pth file at interpreter start."""
    os.environ.setdefault("SOLCX_BINARY_PATH", str(SHIM_DIR))
    if _GUARDED in sys.modules:
        _guard(sys.modules[_GUARDED])
        return
    if not any(isinstance(f, _GuardFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _GuardFinder())

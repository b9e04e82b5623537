"""One exception root: every error class the package declares (public ones; a private class
used only for control flow inside one function is not raised to callers) derives from
`DisburseError`, so a caller can catch everything of ours in one clause."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import disburse
import oracle
from disburse.chain.errors import DisburseError


def _modules() -> list[str]:
    names = []
    for package in (disburse, oracle):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name == "disburse._toolchain":
                continue  # runs at interpreter start; its one error is declared in chain.errors
            names.append(info.name)
    return names


def test_every_declared_error_derives_from_disburse_error() -> None:
    strays = []
    declared = 0
    for name in _modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException):
                continue
            if cls.__name__.startswith("_"):
                continue
            declared += 1
            if not issubclass(cls, DisburseError):
                strays.append(f"{name}.{cls.__name__}")
    assert strays == []
    assert declared > 20  # the walk found the package's errors (it would pass if it found none)


def test_builtin_stands_beside_the_root() -> None:
    from disburse.chain.attestations import AttestationError
    from disburse.chain.deployment import DeploymentFileError
    from disburse.chain.errors import CompilerDownloadRefusedError

    assert issubclass(AttestationError, ValueError)
    assert issubclass(DeploymentFileError, ValueError)
    assert issubclass(CompilerDownloadRefusedError, RuntimeError)

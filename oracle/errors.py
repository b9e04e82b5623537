"""The oracle node's exceptions: one root, one subclass per area, all under the package's one
root `disburse.chain.errors.DisburseError`.

Every message says what is wrong and what to do about it, so an operator reading a log line or
an API response does not need the source to act on it.
"""

from __future__ import annotations

from disburse.chain.errors import ConfigurationError, DisburseError, KeystoreError


class OracleError(DisburseError):
    """The root of every error the oracle node raises on purpose."""


class EvidenceError(OracleError):
    """Evidence (or an inspector approval inside it) cannot be used as given."""


class SpecError(OracleError):
    """An evidence specification is unusable: wrong hash, unreadable, or invalid."""


class StoreError(OracleError):
    """The document store refused a document or found one damaged."""


class JournalError(OracleError):
    """The journal refused a step, or its database is not what the node expects."""


class ConfigError(OracleError, ConfigurationError, ValueError):
    """The node's configuration is missing a value or holds an invalid one."""


def raise_if_own(exc: DisburseError, *handled: type[OracleError]) -> None:
    """Re-raises `exc` when it is the node's own error and not one of `handled`: a handler
    written for the chain's failures (`except DisburseError`) keeps handling only those, as it
    did before OracleError joined DisburseError."""
    if isinstance(exc, OracleError) and not isinstance(exc, handled):
        raise exc


__all__ = [
    "ConfigError",
    "EvidenceError",
    "JournalError",
    "KeystoreError",
    "OracleError",
    "SpecError",
    "StoreError",
    "raise_if_own",
]

"""The oracle node's exceptions: one root, one subclass per area.

Every message says what is wrong and what to do about it, so an operator reading a log line or
an API response does not need the source to act on it.
"""

from __future__ import annotations


class OracleError(Exception):
    """The root of every error the oracle node raises on purpose."""


class EvidenceError(OracleError):
    """Evidence (or an inspector approval inside it) cannot be used as given."""


class SpecError(OracleError):
    """An evidence specification is unusable: wrong hash, unreadable, or invalid."""


class StoreError(OracleError):
    """The document store refused a document or found one damaged."""


class JournalError(OracleError):
    """The journal refused a step, or its database is not what the node expects."""


class KeystoreError(OracleError):
    """A keystore cannot be created, read or unlocked."""


class ConfigError(OracleError):
    """The node's configuration is missing a value or holds an invalid one."""

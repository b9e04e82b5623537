"""Exceptions of the shared client, and the decoding of contract custom errors into them.

Every failure a tool can meet on the chain becomes a `DisburseError` whose message says what
happened in words: `Escrow_UnexpectedMilestoneStatus(milestoneId 0x3f2a…9c01, status Registered)`,
never raw revert data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak


class DisburseError(Exception):
    """Root of every error the package raises on purpose: the chain layer's, the tools' and the
    oracle node's. A subclass also derives from the builtin it stands for where there is one
    (`DeploymentFileError(ConfigurationError, ValueError)`), so callers that catch the builtin
    keep working."""


class ConfigurationError(DisburseError):
    """A setting, profile or deployment file is missing or wrong."""


class KeystoreError(ConfigurationError):
    """A keystore cannot be created, read or unlocked."""


class CompilerDownloadRefusedError(ConfigurationError, RuntimeError):
    """A tool asked py-solc-x to download or build a compiler; this project never does."""


class ArtifactError(ConfigurationError):
    """A contract's build artifact (its ABI) is missing."""


class EvidenceSpecError(DisburseError):
    """An evidence specification cannot be used: unreadable, too large or deep, or invalid."""


class ChainError(DisburseError):
    """The chain could not be used as asked."""


class ChainUnavailableError(ChainError):
    """The RPC endpoint did not answer, after the retries of the profile."""


class ChainIdMismatchError(ChainError):
    """The node serves another chain than the profile names."""


class SenderNotAuthorisedError(ChainError):
    """The permissioned chain refuses this account (Besu -32007); retrying cannot help."""


class GasPriceTooLowError(ChainError):
    """The node's minimum gas price is above the profile's (Besu -32009)."""


class LogRangeTooLargeError(ChainError):
    """The node refuses an eth_getLogs range this large (Besu -32005)."""


class BlockGasLimitError(ChainError):
    """The node refused a transaction whose gas limit is above the block gas limit: send less
    in one transaction (split the batch)."""


class NonceError(ChainError):
    """The node reports the nonce too low or too high (Besu -32001/-32006)."""


class TransactionError(DisburseError):
    """A transaction failed."""


class TransactionTimeoutError(TransactionError):
    """A transaction was accepted but not mined within the profile's receipt timeout."""

    def __init__(self, tx_hash: str, timeout_s: float) -> None:
        super().__init__(f"transaction {tx_hash} was not mined within {timeout_s:g} s")
        self.tx_hash = tx_hash


@dataclass(frozen=True)
class DecodedError:
    """A custom error decoded by its selector."""

    name: str
    args: tuple[tuple[str, Any], ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(f'{k} {_show(v)}' for k, v in self.args)})"


class ContractRevertError(TransactionError):
    """The contract refused the call; `error` holds the decoded custom error when known."""

    def __init__(
        self, message: str, *, error: DecodedError | None = None, data: bytes = b""
    ) -> None:
        super().__init__(message)
        self.error = error
        self.data = data

    @property
    def name(self) -> str | None:
        return self.error.name if self.error else None


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        text = "0x" + value.hex()
        return text if len(value) <= 8 else f"{text[:6]}…{text[-4:]}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class _ErrorAbi:
    name: str
    types: tuple[str, ...]
    names: tuple[str, ...]
    enums: tuple[str | None, ...]


def _canonical_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


class ErrorDecoder:
    """Decodes revert data by the 4-byte selectors of the custom errors in the given ABIs."""

    _PANIC = keccak(text="Panic(uint256)")[:4]
    _ERROR = keccak(text="Error(string)")[:4]

    def __init__(self, abis: Iterable[Sequence[Mapping[str, Any]]]) -> None:
        self._by_selector: dict[bytes, _ErrorAbi] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                inputs = item.get("inputs", [])
                types = tuple(_canonical_type(p) for p in inputs)
                signature = f"{item['name']}({','.join(types)})"
                enums = tuple(
                    str(p.get("internalType", ""))[5:]
                    if str(p.get("internalType", "")).startswith("enum ")
                    else None
                    for p in inputs
                )
                self._by_selector[keccak(text=signature)[:4]] = _ErrorAbi(
                    str(item["name"]),
                    types,
                    tuple(str(p.get("name") or f"arg{i}") for i, p in enumerate(inputs)),
                    enums,
                )

    def decode(self, data: bytes) -> DecodedError | None:
        """The decoded error, or None for data of no known error."""
        if len(data) < 4:
            return None
        selector, body = data[:4], data[4:]
        if selector == self._ERROR:
            return DecodedError("Error", (("reason", decode(["string"], body)[0]),))
        if selector == self._PANIC:
            return DecodedError("Panic", (("code", hex(decode(["uint256"], body)[0])),))
        spec = self._by_selector.get(selector)
        if spec is None:
            return None
        try:
            values = decode(list(spec.types), body)
        except Exception:  # malformed data for this selector: report it undecoded
            return None
        shown: list[tuple[str, Any]] = []
        for name, kind, enum, value in zip(spec.names, spec.types, spec.enums, values, strict=True):
            if enum is not None:
                labels = _enum_labels(enum.split(".")[-1])
                value = labels[value] if labels and 0 <= value < len(labels) else value
            elif kind == "address":
                value = to_checksum_address(value)
            shown.append((name, value))
        return DecodedError(spec.name, tuple(shown))

    def revert_error(self, data: bytes, *, context: str = "") -> ContractRevertError:
        """A ContractRevertError for revert data, decoded where possible."""
        decoded = self.decode(data)
        what = (
            str(decoded)
            if decoded
            else (f"unknown error 0x{data.hex()}" if data else "reverted without data")
        )
        prefix = f"{context}: " if context else ""
        return ContractRevertError(prefix + what, error=decoded, data=data)


def _enum_labels(name: str) -> tuple[str, ...]:
    # Imported here: contracts.py raises this module's ArtifactError.
    from disburse.chain.contracts import enum_labels

    try:
        return enum_labels(name)
    except ArtifactError:
        return ()  # shown as its number

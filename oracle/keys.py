"""The node's signing key in an encrypted keystore: `disburse.chain.keystore` (the one home of
keystores and of `KeystoreError`), with the password and key registered for log redaction. A
missing or empty password source is the node's `ConfigError` (also a ConfigurationError)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from disburse.chain import keystore as _keystore
from disburse.chain.errors import ConfigurationError, KeystoreError
from oracle.errors import ConfigError
from oracle.logs import register_private_key, register_secret

SCRYPT_N = _keystore.SCRYPT_N


@contextmanager
def _as_oracle_errors() -> Iterator[None]:
    try:
        yield
    except KeystoreError:
        raise
    except ConfigurationError as exc:
        raise ConfigError(str(exc)) from None


def new_keystore(path: Path | str, password: str, *, scrypt_n: int = SCRYPT_N) -> ChecksumAddress:
    """Creates a fresh random key encrypted under `password`; refuses to overwrite a file."""
    with _as_oracle_errors():
        return _keystore.new_keystore(path, password, scrypt_n=scrypt_n)


def import_keystore(
    path: Path | str, private_key: bytes | str, password: str, *, scrypt_n: int = SCRYPT_N
) -> ChecksumAddress:
    """Encrypts an existing private key under `password`; refuses to overwrite a file."""
    with _as_oracle_errors():
        return _keystore.import_keystore(path, private_key, password, scrypt_n=scrypt_n)


def load_account(path: Path | str, password: str) -> LocalAccount:
    """Decrypts the keystore; a wrong password raises KeystoreError naming the file. From then
    on the key is masked in every log line."""
    with _as_oracle_errors():
        account = _keystore.load_account(path, password)
    register_private_key(bytes(account.key))
    return account


def read_password(*, file: Path | str | None, env_var: str | None) -> str:
    """The password from exactly one source (a file or an environment variable); from then on
    it is masked in every log line."""
    with _as_oracle_errors():
        password = _keystore.read_password(file=file, env_var=env_var)
    register_secret(password)
    return password


__all__: list[str] = [
    "SCRYPT_N",
    "import_keystore",
    "load_account",
    "new_keystore",
    "read_password",
]

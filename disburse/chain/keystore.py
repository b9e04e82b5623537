"""Signing keys in encrypted keystores (Web3 Secret Storage v3, scrypt), for every tool: an
oracle node's key and the keys of program managers and overseers alike.

The key exists in the clear only in memory. The keystore file is created with mode 0600 and
never overwritten; its password comes from a file or an environment variable, never from a
command-line argument (which any user can read in the process list) and never from a log line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Final

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from disburse.chain.errors import ConfigurationError as ConfigError
from disburse.chain.errors import KeystoreError

SCRYPT_N: Final = 2**18
"""scrypt work factor of new keystores (geth's "standard" strength: about a second to unlock)."""

_log = logging.getLogger(__name__)


def new_keystore(path: Path | str, password: str, *, scrypt_n: int = SCRYPT_N) -> ChecksumAddress:
    """Creates a fresh random key encrypted under `password` at `path`; returns its address.

    Refuses to overwrite an existing file. `scrypt_n` below the default is for tests only.
    """
    account = Account.create()
    return _write_keystore(Path(path), account.key, password, scrypt_n)


def import_keystore(
    path: Path | str, private_key: bytes | str, password: str, *, scrypt_n: int = SCRYPT_N
) -> ChecksumAddress:
    """Encrypts an existing private key (32 bytes, or 64 hex digits with or without 0x) under
    `password` at `path`; returns its address. Refuses to overwrite an existing file."""
    return _write_keystore(Path(path), _private_key_bytes(private_key), password, scrypt_n)


def load_account(path: Path | str, password: str) -> LocalAccount:
    """Decrypts the keystore at `path`. A wrong password raises KeystoreError naming the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise KeystoreError(
            f"no keystore at {path}; create one with `oracle keys new` (a node's key) or "
            "`disburse keys new` (a person's), or import one with `… keys import`"
        ) from exc
    except OSError as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning(
            "keystore is readable by other users; restrict it with chmod 600",
            extra={"keystore": str(path), "mode": oct(stat.S_IMODE(mode))},
        )
    try:
        document: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeystoreError(f"{path} is not a keystore: not JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("crypto"), dict):
        raise KeystoreError(f"{path} is not a keystore: it has no 'crypto' section")
    try:
        key = Account.decrypt(document, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise KeystoreError(f"wrong password for keystore {path}") from None
        raise KeystoreError(f"cannot decrypt keystore {path}: {exc}") from None
    except KeyError as exc:
        raise KeystoreError(f"{path} is not a usable keystore: it lacks {exc.args[0]!r}") from None
    except (TypeError, NotImplementedError) as exc:
        raise KeystoreError(f"{path} is not a usable keystore: {exc}") from None
    account: LocalAccount = Account.from_key(key)
    stored = document.get("address")
    if isinstance(stored, str) and stored.lower().removeprefix("0x") != account.address[2:].lower():
        raise KeystoreError(
            f"keystore {path} says address 0x{stored} but holds the key of {account.address}; "
            "the file was altered"
        )
    return account


def read_password(*, file: Path | str | None, env_var: str | None) -> str:
    """The keystore password from exactly one source: a file, or an environment variable.

    One trailing newline ("\\n" or "\\r\\n", as editors and `echo` leave) is stripped; any other
    whitespace is part of the password. An empty password is refused.
    """
    if (file is None) == (env_var is None):
        raise ConfigError(
            "give the keystore password through exactly one of a password file or an "
            "environment variable"
        )
    if file is not None:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ConfigError(f"password file {path} does not exist") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read password file {path}: {exc}") from None
        source = f"password file {path}"
    else:
        assert env_var is not None
        value = os.environ.get(env_var)
        if value is None:
            raise ConfigError(
                f"environment variable {env_var} is not set; it must hold the password"
            )
        text = value
        source = f"environment variable {env_var}"
    password = _strip_newline(text)
    if not password:
        raise ConfigError(f"{source} holds an empty password; put the keystore password in it")
    return password


def _strip_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def _private_key_bytes(private_key: bytes | str) -> bytes:
    """Validates a private key without ever putting it in an error message."""
    if isinstance(private_key, str):
        digits = private_key.strip().removeprefix("0x").removeprefix("0X")
        if len(digits) != 64:
            raise KeystoreError(
                f"a private key is 64 hex digits (optionally 0x-prefixed); got {len(digits)} "
                "characters"
            )
        try:
            key = bytes.fromhex(digits)
        except ValueError:
            raise KeystoreError("the private key holds characters that are not hex") from None
    else:
        key = bytes(private_key)
        if len(key) != 32:
            raise KeystoreError(f"a private key is 32 bytes; got {len(key)}")
    try:
        Account.from_key(key)
    except (ValueError, TypeError):
        raise KeystoreError("the private key is not a valid secp256k1 key") from None
    return key


def _write_keystore(path: Path, key: bytes, password: str, scrypt_n: int) -> ChecksumAddress:
    if not password:
        raise KeystoreError("refusing to encrypt a keystore with an empty password")
    if scrypt_n < 2 or scrypt_n & (scrypt_n - 1):
        raise KeystoreError(f"scrypt work factor must be a power of two, got {scrypt_n}")
    if path.exists() or path.is_symlink():
        raise KeystoreError(
            f"{path} already exists; refusing to overwrite a keystore (move it away first)"
        )
    document = Account.encrypt(key, password, kdf="scrypt", iterations=scrypt_n)
    data = json.dumps(document, indent=2).encode("utf-8") + b"\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeystoreError(f"cannot create directory {path.parent}: {exc.strerror}") from exc
    # Written in full to a private temporary file and linked into place: the keystore appears
    # complete or not at all, and link() refuses to replace a file created meanwhile.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeystoreError(f"cannot write keystore {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise KeystoreError(
                f"{path} already exists; refusing to overwrite a keystore (move it away first)"
            ) from None
        _fsync_directory(path.parent)
    except OSError as exc:
        raise KeystoreError(f"cannot write keystore {path}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    address: ChecksumAddress = Account.from_key(key).address
    return address


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

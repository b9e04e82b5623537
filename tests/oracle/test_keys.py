"""Encrypted keystores and the password that unlocks them.

new_keystore / import_keystore
├── fresh path: scrypt keystore, mode 0600, address returned, no temporary left behind
├── existing path: refused, file unchanged
└── malformed private key or empty password: refused, the key never in the message
load_account
├── right password: the same account
├── wrong password: KeystoreError "wrong password for keystore <path>"
└── missing, not JSON, not a keystore, address altered: KeystoreError naming the file
read_password
├── exactly one of file / environment variable, else ConfigError
├── one trailing newline stripped, other whitespace kept
└── empty (or missing) refused
Keystores are real scrypt keystores; tests use a light work factor (n = 2**10) to stay fast.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from oracle.errors import ConfigError, KeystoreError
from oracle.keys import SCRYPT_N, import_keystore, load_account, new_keystore, read_password

LIGHT = 2**10
PASSWORD = "correct horse battery staple"
# A fixed key for import tests; the address is the one eth-account derives from it.
PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
ADDRESS = Account.from_key(PRIVATE_KEY).address


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "node.json"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_keystore_unlocks_to_the_address_it_reported(keystore: Path) -> None:
    address = new_keystore(keystore, PASSWORD, scrypt_n=LIGHT)
    account = load_account(keystore, PASSWORD)
    assert account.address == address
    assert address.startswith("0x") and address != address.lower()  # checksummed


def test_two_new_keystores_hold_different_keys(tmp_path: Path) -> None:
    a = new_keystore(tmp_path / "a.json", PASSWORD, scrypt_n=LIGHT)
    b = new_keystore(tmp_path / "b.json", PASSWORD, scrypt_n=LIGHT)
    assert a != b


def test_a_keystore_is_a_scrypt_v3_keystore_with_the_requested_work_factor(keystore: Path) -> None:
    new_keystore(keystore, PASSWORD, scrypt_n=LIGHT)
    document = json.loads(keystore.read_text())
    assert document["version"] == 3
    assert document["crypto"]["kdf"] == "scrypt"
    assert document["crypto"]["kdfparams"]["n"] == LIGHT


def test_keystores_use_strong_scrypt_unless_told_otherwise(
    keystore: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    encrypt = Account.encrypt

    def spy(key: Any, password: str, kdf: Any = None, iterations: Any = None) -> Any:
        seen.update(kdf=kdf, iterations=iterations)
        return encrypt(key, password, kdf=kdf, iterations=LIGHT)  # keep the test fast

    monkeypatch.setattr(Account, "encrypt", spy)
    new_keystore(keystore, PASSWORD)
    assert seen == {"kdf": "scrypt", "iterations": SCRYPT_N}
    assert SCRYPT_N >= 2**18


@pytest.mark.parametrize(
    "key",
    [
        PRIVATE_KEY,
        PRIVATE_KEY[2:],
        PRIVATE_KEY.upper().replace("0X", "0x"),
        bytes.fromhex(PRIVATE_KEY[2:]),
    ],
    ids=["0x-hex", "bare-hex", "upper-hex", "bytes"],
)
def test_an_imported_key_round_trips(keystore: Path, key: str | bytes) -> None:
    assert import_keystore(keystore, key, PASSWORD, scrypt_n=LIGHT) == ADDRESS
    account = load_account(keystore, PASSWORD)
    assert account.address == ADDRESS
    assert account.key == bytes.fromhex(PRIVATE_KEY[2:])


def test_the_keystore_holds_neither_key_nor_password_in_clear(keystore: Path) -> None:
    import_keystore(keystore, PRIVATE_KEY, PASSWORD, scrypt_n=LIGHT)
    text = keystore.read_text()
    assert PRIVATE_KEY[2:] not in text.lower()
    assert PASSWORD not in text


def test_a_wrong_password_is_refused_naming_the_file(keystore: Path) -> None:
    new_keystore(keystore, PASSWORD, scrypt_n=LIGHT)
    with pytest.raises(KeystoreError) as refused:
        load_account(keystore, "Correct horse battery staple")
    assert str(refused.value) == f"wrong password for keystore {keystore}"
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


@pytest.mark.parametrize("create", [new_keystore, import_keystore], ids=["new", "import"])
def test_an_existing_keystore_is_never_overwritten(keystore: Path, create: Any) -> None:
    address = new_keystore(keystore, PASSWORD, scrypt_n=LIGHT)
    before = keystore.read_bytes()
    args = (keystore, PASSWORD) if create is new_keystore else (keystore, PRIVATE_KEY, PASSWORD)
    with pytest.raises(KeystoreError, match="already exists; refusing to overwrite"):
        create(*args, scrypt_n=LIGHT)
    assert keystore.read_bytes() == before
    assert load_account(keystore, PASSWORD).address == address


def test_a_keystore_file_is_readable_by_its_owner_only_whatever_the_umask(
    keystore: Path, permissive_umask: None
) -> None:
    new_keystore(keystore, PASSWORD, scrypt_n=LIGHT)
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600


def test_writing_a_keystore_leaves_no_temporary_file(keystore: Path) -> None:
    new_keystore(keystore, PASSWORD, scrypt_n=LIGHT)
    assert [p.name for p in keystore.parent.iterdir()] == [keystore.name]


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ("0x" + "12" * 31, "64 hex digits"),
        ("0x" + "zz" * 32, "not hex"),
        (b"\x01" * 31, "32 bytes"),
        ("0x" + "00" * 32, "not a valid secp256k1 key"),
        ("0x" + "ff" * 32, "not a valid secp256k1 key"),
    ],
    ids=["short", "not-hex", "short-bytes", "zero", "above-curve-order"],
)
def test_a_malformed_private_key_is_refused_without_echoing_it(
    keystore: Path, key: str | bytes, match: str
) -> None:
    with pytest.raises(KeystoreError, match=match) as refused:
        import_keystore(keystore, key, PASSWORD, scrypt_n=LIGHT)
    if isinstance(key, str):
        assert key[2:] not in str(refused.value)
    assert not keystore.exists()


def test_an_empty_password_is_refused_when_creating_a_keystore(keystore: Path) -> None:
    with pytest.raises(KeystoreError, match="empty password"):
        new_keystore(keystore, "", scrypt_n=LIGHT)
    assert not keystore.exists()


def test_a_missing_keystore_is_refused_with_how_to_make_one(keystore: Path) -> None:
    with pytest.raises(KeystoreError, match=f"no keystore at {keystore}.*oracle keys new"):
        load_account(keystore, PASSWORD)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\x00garbage", "not JSON"),
        (b"[1, 2]", "no 'crypto' section"),
        (b'{"crypto": {}}', "not a usable keystore: it lacks 'version'"),
    ],
    ids=["binary", "json-list", "empty-crypto"],
)
def test_a_file_that_is_not_a_keystore_is_refused_naming_it(
    keystore: Path, content: bytes, match: str
) -> None:
    keystore.parent.mkdir()
    keystore.write_bytes(content)
    with pytest.raises(KeystoreError, match=match) as refused:
        load_account(keystore, PASSWORD)
    assert str(keystore) in str(refused.value)


def test_a_keystore_whose_address_was_altered_is_refused(keystore: Path) -> None:
    import_keystore(keystore, PRIVATE_KEY, PASSWORD, scrypt_n=LIGHT)
    document = json.loads(keystore.read_text())
    document["address"] = "00" * 20
    keystore.write_text(json.dumps(document))
    with pytest.raises(KeystoreError, match="altered"):
        load_account(keystore, PASSWORD)


# read_password


def test_a_password_file_gives_its_content_without_the_trailing_newline(tmp_path: Path) -> None:
    file = tmp_path / "password"
    file.write_text(PASSWORD + "\n")
    assert read_password(file=file, env_var=None) == PASSWORD


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("secret\r\n", "secret"),
        ("secret", "secret"),
        ("secret\n\n", "secret\n"),
        ("  spaced secret \n", "  spaced secret "),
    ],
    ids=["crlf", "no-newline", "only-one-newline", "spaces-kept"],
)
def test_only_one_trailing_newline_is_stripped(tmp_path: Path, content: str, expected: str) -> None:
    file = tmp_path / "password"
    file.write_bytes(content.encode())
    assert read_password(file=file, env_var=None) == expected


def test_an_environment_variable_gives_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ORACLE_PASSWORD", PASSWORD + "\n")
    assert read_password(file=None, env_var="TEST_ORACLE_PASSWORD") == PASSWORD


def test_giving_both_sources_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "password"
    file.write_text(PASSWORD)
    monkeypatch.setenv("TEST_ORACLE_PASSWORD", PASSWORD)
    with pytest.raises(ConfigError, match="exactly one"):
        read_password(file=file, env_var="TEST_ORACLE_PASSWORD")


def test_giving_no_source_is_refused() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        read_password(file=None, env_var=None)


@pytest.mark.parametrize("content", ["", "\n", "\r\n"], ids=["empty", "newline", "crlf"])
def test_an_empty_password_file_is_refused(tmp_path: Path, content: str) -> None:
    file = tmp_path / "password"
    file.write_bytes(content.encode())
    with pytest.raises(ConfigError, match=f"password file {file} holds an empty password"):
        read_password(file=file, env_var=None)


def test_an_empty_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ORACLE_PASSWORD", "")
    with pytest.raises(ConfigError, match="TEST_ORACLE_PASSWORD holds an empty password"):
        read_password(file=None, env_var="TEST_ORACLE_PASSWORD")


def test_an_unset_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_ORACLE_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="TEST_ORACLE_PASSWORD is not set"):
        read_password(file=None, env_var="TEST_ORACLE_PASSWORD")


def test_a_missing_password_file_is_refused_naming_it(tmp_path: Path) -> None:
    file = tmp_path / "nope"
    with pytest.raises(ConfigError, match=f"password file {file} does not exist"):
        read_password(file=file, env_var=None)


def test_a_password_read_from_a_file_unlocks_the_keystore(keystore: Path, tmp_path: Path) -> None:
    address = new_keystore(keystore, PASSWORD, scrypt_n=LIGHT)
    file = tmp_path / "password"
    file.write_text(PASSWORD + "\n")
    assert load_account(keystore, read_password(file=file, env_var=None)).address == address

"""Structured JSON-lines logging and the redaction that keeps secrets out of it.

configure_logging
├── every record: one line that json.loads reads, with ts, level, logger, msg and the extras
├── below the level: dropped; an unknown level: ConfigError
└── called again: replaces its handler (no duplicate lines)
redaction (messages, %-arguments, extras at any depth, exception text)
├── private keys: the node's own (registered when its keystore is unlocked) in any form, and
│   any 64 hex digits introduced as a key or secret
├── passwords: fields named like secrets, name=value pairs, registered passwords in free text
├── API keys: ok_..., also behind "Bearer"
└── not over-eager: hashes (in messages, errors and *_hash / *_id fields) and names like
    `keystore` stay readable
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from oracle.errors import ConfigError
from oracle.keys import import_keystore, load_account, read_password
from oracle.logs import (
    REDACTED,
    configure_logging,
    is_sensitive_name,
    redact_text,
    register_private_key,
)

PRIVATE_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
PASSWORD = "tr0ub4dor&3-staple"
API_KEY = "ok_Zm9vYmFyYmF6cXV4LXRoaXMtaXMtYS10ZXN0LWtleQ"
EVIDENCE_HASH = "0x" + "ab" * 32
log = logging.getLogger("oracle.test")
# The node's own key, as `load_account` registers it when the keystore is unlocked.
register_private_key(PRIVATE_KEY)


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _assert_absent(stream: io.StringIO, *secrets: str) -> None:
    text = stream.getvalue()
    assert text, "nothing was logged"
    for secret in secrets:
        assert secret not in text
        assert secret.lower() not in text.lower()
    assert REDACTED in text


# The format


def test_every_record_is_a_json_line_with_ts_level_logger_msg_and_extras(
    output: io.StringIO,
) -> None:
    log.info("evidence %s received", 7, extra={"evidence_id": 7, "by": "inspectorate"})
    log.warning("chain slow")
    first, second = _lines(output)
    assert first["level"] == "info"
    assert first["logger"] == "oracle.test"
    assert first["msg"] == "evidence 7 received"
    assert (first["evidence_id"], first["by"]) == (7, "inspectorate")
    assert second["level"] == "warning"
    assert set(second) == {"ts", "level", "logger", "msg"}


def test_timestamps_are_utc_iso_8601_with_milliseconds(output: io.StringIO) -> None:
    log.info("tick")
    ts = _lines(output)[0]["ts"]
    assert ts.endswith("Z")
    parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    offset = parsed.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert len(ts.split(".")[1]) == len("123Z")


def test_a_multi_line_message_and_an_exception_stay_on_one_line(output: io.StringIO) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("first line\nsecond line")
    [record] = _lines(output)
    assert record["msg"] == "first line\nsecond line"
    assert "RuntimeError: boom" in record["exc"]
    assert "Traceback" in record["exc"]


def test_values_that_are_not_json_are_logged_as_text(output: io.StringIO) -> None:
    log.info("paths", extra={"where": Path("/var/lib/oracle"), "many": (1, "two"), "x": {3: 4}})
    [record] = _lines(output)
    assert record["where"] == "/var/lib/oracle"
    assert record["many"] == [1, "two"]
    assert record["x"] == {"3": 4}


def test_a_log_call_whose_arguments_do_not_fit_its_format_still_logs_a_line(
    output: io.StringIO,
) -> None:
    log.info("two %s %s", "only-one")
    [record] = _lines(output)
    assert "two %s %s" in record["msg"]


def test_records_below_the_configured_level_are_dropped(output: io.StringIO) -> None:
    configure_logging("warning", output)
    log.info("quiet")
    log.error("loud")
    assert [r["msg"] for r in _lines(output)] == ["loud"]


def test_configuring_again_replaces_the_handler_instead_of_adding_one(
    output: io.StringIO,
) -> None:
    configure_logging("INFO", output)
    configure_logging(logging.INFO, output)
    log.info("once")
    assert [r["msg"] for r in _lines(output)] == ["once"]


@pytest.mark.parametrize("level", ["loud", "", True])
def test_an_unknown_level_is_refused(level: Any) -> None:
    with pytest.raises(ConfigError, match="unknown log level"):
        configure_logging(level, io.StringIO())


# Redaction: private keys

_KEY_BYTES = bytes.fromhex(PRIVATE_KEY)
_KEY_WAYS: dict[str, Callable[[], None]] = {
    "in-the-message": lambda: log.info(f"loaded key 0x{PRIVATE_KEY}"),
    "bare-hex-in-the-message": lambda: log.info(f"key={PRIVATE_KEY}."),
    "upper-case": lambda: log.info(f"key {PRIVATE_KEY.upper()}"),
    "as-an-argument": lambda: log.info("loaded key %s", "0x" + PRIVATE_KEY),
    "as-bytes-argument": lambda: log.info("loaded key %s", _KEY_BYTES),
    "as-bytes-repr-argument": lambda: log.info("loaded key %r", _KEY_BYTES),
    "as-mapping-argument": lambda: log.info("key %(k)s", {"k": PRIVATE_KEY}),
    "extra-private_key": lambda: log.info("account", extra={"private_key": "0x" + PRIVATE_KEY}),
    "extra-innocent-name": lambda: log.info("account", extra={"value": PRIVATE_KEY}),
    "extra-bytes": lambda: log.info("account", extra={"blob": _KEY_BYTES}),
    "extra-nested": lambda: log.info("cfg", extra={"cfg": {"node": [{"signer": PRIVATE_KEY}]}}),
    "extra-eth-keys-object": lambda: log.info(
        "account", extra={"account": Account.from_key(_KEY_BYTES)._private_key}
    ),
}


@pytest.mark.parametrize("way", list(_KEY_WAYS), ids=list(_KEY_WAYS))
def test_a_private_key_never_reaches_the_log(output: io.StringIO, way: str) -> None:
    _KEY_WAYS[way]()
    _assert_absent(output, PRIVATE_KEY)


def test_a_private_key_in_an_exception_never_reaches_the_log(output: io.StringIO) -> None:
    try:
        raise ValueError(f"cannot use key 0x{PRIVATE_KEY}")
    except ValueError:
        log.exception("signing failed")
    _assert_absent(output, PRIVATE_KEY)
    assert "ValueError: cannot use key" in _lines(output)[0]["exc"]


# Redaction: passwords

_PASSWORD_WAYS: dict[str, Callable[[], None]] = {
    "extra-password": lambda: log.info("unlock", extra={"password": PASSWORD}),
    "extra-camel-case": lambda: log.info("unlock", extra={"keystorePassword": PASSWORD}),
    "extra-nested-secret": lambda: log.info("cfg", extra={"cfg": {"db": {"secret": PASSWORD}}}),
    "extra-token": lambda: log.info("auth", extra={"token": PASSWORD}),
    "name-equals-value": lambda: log.info(f"retrying with password={PASSWORD} now"),
    "name-colon-value": lambda: log.info(f"passphrase: {PASSWORD}"),
    "json-in-message": lambda: log.info(json.dumps({"user": "n1", "password": PASSWORD})),
    "argument-after-name": lambda: log.info("password=%s", PASSWORD),
}


@pytest.mark.parametrize("way", list(_PASSWORD_WAYS), ids=list(_PASSWORD_WAYS))
def test_a_password_never_reaches_the_log(output: io.StringIO, way: str) -> None:
    _PASSWORD_WAYS[way]()
    _assert_absent(output, PASSWORD)


def test_a_password_read_for_a_keystore_is_masked_even_in_free_text(
    output: io.StringIO, tmp_path: Path
) -> None:
    file = tmp_path / "password"
    unusual = "violet-quokka-97!"
    file.write_text(unusual + "\n")
    password = read_password(file=file, env_var=None)
    log.info("operator typed %s at the prompt", password)
    log.info("something", extra={"note": f"it was {password}"})
    _assert_absent(output, unusual)


def test_a_keystore_unlocked_and_logged_carelessly_leaks_neither_key_nor_password(
    output: io.StringIO, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "indigo-heron-loves-sqlite"
    monkeypatch.setenv("TEST_ORACLE_PASSWORD", password)
    keystore = tmp_path / "node.json"
    import_keystore(keystore, PRIVATE_KEY, password, scrypt_n=2**10)
    account = load_account(keystore, read_password(file=None, env_var="TEST_ORACLE_PASSWORD"))
    log.info("unlocked %s with %s: key %s", account.address, password, account.key)
    log.debug("account", extra={"key": account.key, "hex": account.key.hex(), "pw": password})
    _assert_absent(output, PRIVATE_KEY, password)
    assert account.address in output.getvalue()


# Redaction: API keys

_API_KEY_WAYS: dict[str, Callable[[], None]] = {
    "in-the-message": lambda: log.info(f"submitter authenticated with {API_KEY}"),
    "as-an-argument": lambda: log.info("key %s refused", API_KEY),
    "extra-api_key": lambda: log.info("auth", extra={"api_key": API_KEY}),
    "extra-header-name": lambda: log.info("auth", extra={"X-API-Key": API_KEY}),
    "extra-innocent-name": lambda: log.info("auth", extra={"header": API_KEY}),
    "bearer": lambda: log.info("Authorization: Bearer " + API_KEY),
}


@pytest.mark.parametrize("way", list(_API_KEY_WAYS), ids=list(_API_KEY_WAYS))
def test_an_api_key_never_reaches_the_log(output: io.StringIO, way: str) -> None:
    _API_KEY_WAYS[way]()
    _assert_absent(output, API_KEY, API_KEY[3:])


# Not over-eager


def test_hashes_in_fields_named_for_hashes_stay_readable(output: io.StringIO) -> None:
    log.info(
        "attestation sent",
        extra={
            "evidence_hash": EVIDENCE_HASH,
            "tx_hash": EVIDENCE_HASH,
            "milestone_id": EVIDENCE_HASH,
        },
    )
    [record] = _lines(output)
    assert record["evidence_hash"] == record["tx_hash"] == record["milestone_id"] == EVIDENCE_HASH


def test_a_hash_written_into_the_message_stays_readable(output: io.StringIO) -> None:
    # Changed by issue 11 item 16: hashes used to be masked like keys, so errors naming a
    # transaction read [REDACTED].
    log.info(f"attested {EVIDENCE_HASH}")
    assert _lines(output)[0]["msg"] == f"attested {EVIDENCE_HASH}"


def test_a_transaction_hash_in_an_error_stays_readable_beside_a_masked_key(
    output: io.StringIO,
) -> None:
    tx_hash = "0x" + "5e" * 32
    try:
        raise RuntimeError(f"transaction {tx_hash} reverted (signed with 0x{PRIVATE_KEY})")
    except RuntimeError as exc:
        log.warning("attestation failed", extra={"error": str(exc)})
    [record] = _lines(output)
    assert record["error"] == f"transaction {tx_hash} reverted (signed with {REDACTED})"


def test_an_unregistered_key_is_masked_where_it_is_introduced_as_one(output: io.StringIO) -> None:
    other = "7" * 64
    log.info(f"imported private key 0x{other}; secret={other}; block hash 0x{other[:-1]}8")
    [record] = _lines(output)
    assert other not in record["msg"]
    assert record["msg"].endswith(f"block hash 0x{other[:-1]}8")


def test_ordinary_fields_and_addresses_are_left_alone(output: io.StringIO) -> None:
    address = Account.from_key(_KEY_BYTES).address
    log.info(
        "started",
        extra={"keystore": "/etc/oracle/node.json", "oracle": address, "epoch": 3, "ok": True},
    )
    [record] = _lines(output)
    assert record["keystore"] == "/etc/oracle/node.json"
    assert record["oracle"] == address
    assert (record["epoch"], record["ok"]) == (3, True)


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("password", True),
        ("api_key", True),
        ("apiKey", True),
        ("X-Api-Key", True),
        ("privateKey", True),
        ("Authorization", True),
        ("client_secret", True),
        ("key", True),
        ("keystore", False),
        ("evidence_hash", False),
        ("tokenomics", False),
        ("monkey", False),
    ],
)
def test_field_names_are_judged_by_their_words(name: str, sensitive: bool) -> None:
    assert is_sensitive_name(name) is sensitive


def test_redacting_text_twice_changes_nothing_more() -> None:
    once = redact_text(f"password={PASSWORD} key 0x{PRIVATE_KEY} {API_KEY}")
    assert redact_text(once) == once
    assert once == f"password={REDACTED} key {REDACTED} {REDACTED}"

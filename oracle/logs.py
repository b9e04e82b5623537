"""Structured logging: one JSON object per line, with secrets masked before anything is written.

Each line is `{"ts", "level", "logger", "msg", ...extra}`, where `extra` is what the call passed
as `extra={...}`. Redaction masks, in messages, extra fields and exception text alike:

- the value of any field named like a secret (password, secret, private_key, api_key, key,
  token, authorization, ...), at any depth;
- `name=value` / `name: value` pairs in free text when the name is one of those, and
  `Bearer <credential>`;
- API keys (`ok_` followed by at least 16 key characters);
- private keys: every key given to `register_private_key` (the node's own, once its keystore is
  unlocked), as 64 hex digits in any case, with or without 0x; and any 64-hex-digit string right
  after a word that names a key or secret (`private key 0x…`, `secret=…`). Other 64-hex strings
  are hashes (transactions, evidence, milestones) and stay readable: an error naming the
  transaction that failed must still name it;
- every value given to `register_secret` (the keystore password, once read).

`bytes` are logged as 0x hex (and so masked when they are 32 bytes) rather than as a `b'...'`
repr that would slip a key through in escaped form.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from oracle.errors import ConfigError

REDACTED: Final = "[REDACTED]"

MIN_REGISTERED_SECRET: Final = 6
"""Shorter registered secrets are not masked in free text: masking every occurrence of, say,
"abc" would garble the log without protecting anything worth protecting."""

_SENSITIVE_WORDS: Final = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pass",
        "pwd",
        "secret",
        "secrets",
        "token",
        "authorization",
        "key",
        "apikey",
        "privatekey",
        "credential",
        "credentials",
        "cookie",
        "mnemonic",
        "seed",
    }
)
_HASH_WORDS: Final = frozenset({"hash", "hashes", "digest", "sha256", "id", "ids"})

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# A 64-hex string introduced as a key or secret is one, registered or not.
_KEYED_HEX64 = re.compile(
    r"""(?ix)
    \b((?:private[_\s-]?)?key|secret|seed|signer)
    (["']?\s*[:=]?\s*["']?)
    (?:0x)?[0-9a-f]{64}(?![0-9a-z])
    """
)
_API_KEY = re.compile(r"(?<![A-Za-z0-9_])ok_[A-Za-z0-9_\-]{16,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=\-]+")
_ASSIGNMENT = re.compile(
    r"""(?ix)
    \b(password|passwd|passphrase|pwd|secret|token|api[_-]?key|private[_-]?key|authorization)
    (["']?\s*[:=]\s*)
    (\[REDACTED\]|"[^"]*"|'[^']*'|[^\s,;}\]]+)
    """
)

_registered: set[str] = set()
_registered_keys: set[str] = set()
_registered_keys_pattern: re.Pattern[str] | None = None
_registered_lock = threading.Lock()

# Every attribute a LogRecord has of its own; anything else on a record came from `extra`.
_RECORD_FIELDS: Final = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "_oracle_redacted"}
)


def register_secret(value: str) -> None:
    """Masks every later occurrence of `value` in any log line (values shorter than
    MIN_REGISTERED_SECRET characters are ignored)."""
    if len(value) >= MIN_REGISTERED_SECRET:
        with _registered_lock:
            _registered.add(value)


def register_private_key(key: bytes | str) -> None:
    """Masks every later occurrence of this private key (32 bytes, or 64 hex digits with or
    without 0x), in any letter case, in any log line."""
    global _registered_keys_pattern
    text = key.hex() if isinstance(key, bytes | bytearray) else str(key).removeprefix("0x")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise ValueError("a private key is 32 bytes (64 hex digits)")
    with _registered_lock:
        _registered_keys.add(text.lower())
        alternatives = "|".join(sorted(_registered_keys))
        _registered_keys_pattern = re.compile(
            rf"(?<![0-9A-Za-z])(?:0[xX])?(?:{alternatives})(?![0-9A-Za-z])", re.IGNORECASE
        )


def is_sensitive_name(name: str) -> bool:
    """Whether a field called `name` holds a secret: `api_key`, `privateKey`, `X-Api-Key`,
    `Authorization`, `password_file`... but not `keystore` or `tokenomics`."""
    words = [w.lower() for w in _WORDS.findall(name)]
    return any(w in _SENSITIVE_WORDS for w in words) or "".join(words) in _SENSITIVE_WORDS


def _keeps_hashes(name: str | None) -> bool:
    if name is None:
        return False
    words = [w.lower() for w in _WORDS.findall(name)]
    return bool(words) and words[-1] in _HASH_WORDS


def redact_text(text: str, *, keep_hashes: bool = False) -> str:
    """`text` with every secret the module recognises replaced by REDACTED."""
    with _registered_lock:
        registered = sorted(_registered, key=len, reverse=True)
        keys = _registered_keys_pattern
    # Keys first: a registered password that happens to be a word ("secret") must not hide the
    # word that introduces a key.
    if keys is not None:
        text = keys.sub(REDACTED, text)
    if not keep_hashes:
        text = _KEYED_HEX64.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    for secret in registered:
        text = text.replace(secret, REDACTED)
    text = _ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _API_KEY.sub(REDACTED, text)
    return text


def redact_value(value: Any, name: str | None = None) -> Any:
    """A JSON-ready copy of `value` (the field `name` of a log record) with secrets masked."""
    if name is not None and is_sensitive_name(name):
        return REDACTED
    if isinstance(value, bytes | bytearray | memoryview):
        value = "0x" + bytes(value).hex()
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value, keep_hashes=_keeps_hashes(name))
    if isinstance(value, Mapping):
        return {str(k): redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, name) for v in value]
    return redact_text(str(value), keep_hashes=_keeps_hashes(name))


def _loggable_arg(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    return value


def _redact_record(record: logging.LogRecord) -> None:
    """Masks secrets in the record in place, once: message (with its arguments merged in),
    extra fields, exception and stack text."""
    if getattr(record, "_oracle_redacted", False):
        return
    args = record.args
    try:
        if isinstance(args, Mapping):
            message = str(record.msg) % {k: _loggable_arg(v) for k, v in args.items()}
        elif args:
            message = str(record.msg) % tuple(_loggable_arg(a) for a in args)
        else:
            message = str(_loggable_arg(record.msg))
    except (TypeError, ValueError, KeyError):
        message = f"{record.msg!r} (log call whose arguments do not fit its format)"
    record.msg = redact_text(message)
    record.args = None
    for name, value in list(vars(record).items()):
        if name not in _RECORD_FIELDS:
            setattr(record, name, redact_value(value, name))
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    record._oracle_redacted = True


class RedactionFilter(logging.Filter):
    """Masks secrets in every record a handler carrying it sees (and, since it changes the record
    in place, in what later handlers see). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line; redacts the record itself first, so it is safe
    even on a handler without RedactionFilter."""

    def format(self, record: logging.LogRecord) -> str:
        _redact_record(record)
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS:
                payload[name if name not in payload else f"extra_{name}"] = value
        if record.exc_text:
            payload["exc"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


_HANDLER_MARK: Final = "_oracle_json_handler"


def configure_logging(level: int | str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Sends every log record at `level` or above to `stream` (default stderr) as redacted JSON
    lines, through a handler on the root logger; returns that handler.

    Calling it again replaces the handler it installed before; handlers installed by others are
    left alone. Python warnings are routed through logging too.
    """
    resolved = _level(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactionFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(resolved)
    logging.captureWarnings(True)
    return handler


def _level(level: int | str) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str):
        number = logging.getLevelNamesMapping().get(level.strip().upper())
        if number is not None:
            return number
    raise ConfigError(
        f"unknown log level {level!r}; use one of debug, info, warning, error, critical"
    )

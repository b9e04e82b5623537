"""How the package writes (and reads back) what people see: times, durations, milestone
references, amounts, tables and shortened hashes. One implementation of each; where commands
print different forms, each form is a named function over that implementation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

# ---------------------------------------------------------------------- times


def _utc(timestamp: int, form: str) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime(form)


def when(timestamp: int) -> str:
    """A Unix time as people read it: "2030-06-30 23:59:59 UTC"."""
    return _utc(timestamp, "%Y-%m-%d %H:%M:%S UTC")


def when_minute(timestamp: int) -> str:
    """A Unix time to the minute, for tables whose header says UTC: "2030-06-30 23:59"."""
    return _utc(timestamp, "%Y-%m-%d %H:%M")


def when_iso(timestamp: int | None) -> str:
    """A Unix time in the audit's form, "2030-06-30 23:59:59Z"; "-" for none."""
    return "-" if timestamp is None else _utc(timestamp, "%Y-%m-%d %H:%M:%SZ")


def day(timestamp: int) -> str:
    """The UTC day of a Unix time: "2030-06-30"."""
    return _utc(timestamp, "%Y-%m-%d")


# ---------------------------------------------------------------------- durations

_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3600, "m": 60, "s": 1}
_DURATION_PART = re.compile(r"([0-9]+)([wdhms])")


def duration_seconds(text: str) -> int | None:
    """Seconds of "7d", "36h", "1d12h", "1d 12h", "90m", "45s" or a plain number of seconds;
    None when the text is not a duration (each caller words its own refusal)."""
    value = "".join(text.split()).lower()
    if value.isascii() and value.isdigit():
        return int(value)
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def _duration_parts(seconds: int) -> list[tuple[int, str]]:
    parts = []
    rest = seconds
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append((count, unit))
    return parts


def duration_words(seconds: int) -> str:
    """A duration in words: "1 day", "2 days 3 h", "90 s" (council proposals, watch)."""
    if seconds == 0:
        return "0 s"
    words = {"h": " h", "m": " min", "s": " s"}
    return " ".join(
        f"{count} day" + ("s" if count != 1 else "") if unit == "d" else f"{count}{words[unit]}"
        for count, unit in _duration_parts(seconds)
    )


def duration_hours(seconds: int) -> str:
    """A duration in the audit's form: whole days ("3 days"), hours ("36 h", "1.5 h"), minutes
    and seconds ("2 min 5 s") or seconds ("45 s")."""
    if seconds % 86_400 == 0 and seconds:
        days = seconds // 86_400
        return f"{days} day" + ("s" if days != 1 else "")
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600} h"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def duration_compact(seconds: int) -> str:
    """A duration with its exact seconds: "2d 3h (183,600 s)" (program commands)."""
    if seconds == 0:
        return "none (0 s)"
    shown = " ".join(f"{count}{unit}" for count, unit in _duration_parts(seconds))
    return f"{shown} ({seconds:,} s)"


# ---------------------------------------------------------------------- hashes and references


def short(value: bytes | str) -> str:
    """A hash or address shortened for people: "0x3f2a…9c01"."""
    text = value if isinstance(value, str) else "0x" + bytes(value).hex()
    return text if len(text) <= 14 else f"{text[:6]}…{text[-4:]}"


def reference(raw: bytes) -> str | None:
    """A milestone's bytes32 external reference as the manager wrote it, or None when it is not
    printable UTF-8 text."""
    trimmed = bytes(raw).rstrip(b"\0")
    try:
        text = trimmed.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text and text.isprintable() else None


def ref_text(raw: bytes, *, full_hex: bool = False) -> str:
    """A milestone's reference as text when it is text, else its bytes in hex: shortened
    ("0x3f2a…9c01"), or all of them with `full_hex` (the audit's records)."""
    text = reference(raw)
    if text is not None:
        return text
    return "0x" + bytes(raw).hex() if full_hex else short(bytes(raw))


def ref_full(raw: bytes) -> str:
    """A milestone's reference as text when it is text, else all its bytes in hex (the audit's
    records and exports, where nothing may be shortened)."""
    return ref_text(raw, full_hex=True)


# ---------------------------------------------------------------------- amounts

MAX_AMOUNT = 2**128 - 1
"""The largest amount the escrow holds (uint128), in the token's smallest unit."""
_AMOUNT = re.compile(r"^(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]+))?$")


def parse_amount(text: str, decimals: int) -> int:
    """A human amount ("1,000,000.50") in the token's smallest unit; ValueError says why not."""
    value = text.strip()
    if not value:
        raise ValueError("no amount given")
    if value.startswith("-"):
        raise ValueError(f"{value} is negative; an amount must be above zero")
    if any(c.isdigit() and not c.isascii() for c in value):
        raise ValueError(
            f"{value!r} holds digits other than ASCII 0-9 (full-width or another script's); "
            "write the amount with the digits 0-9"
        )
    found = _AMOUNT.match(value.removeprefix("+"))
    if found is None:
        raise ValueError(
            f"{value!r} is not an amount: write digits with an optional decimal point, commas "
            "only between groups of three digits (e.g. 1,000,000.50)"
        )
    whole = int(found["int"].replace(",", ""))
    fraction = found["frac"] or ""
    significant = fraction.rstrip("0")
    if len(significant) > decimals:
        raise ValueError(f"{value} has {len(significant)} decimal places; the token has {decimals}")
    units = whole * int(10**decimals) + (
        int(significant.ljust(decimals, "0")) if significant else 0
    )
    if units == 0:
        raise ValueError("the amount must be above zero")
    if units > MAX_AMOUNT:
        raise ValueError(f"{value} is too large (more than 2^128 - 1 in the token's units)")
    return units


def format_amount(units: int, decimals: int) -> str:
    """The exact human form of an amount in the smallest unit: 1000000500000 -> "1,000,000.5"."""
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), int(10**decimals))
    text = f"{sign}{whole:,}"
    if fraction and decimals:
        text += "." + str(fraction).rjust(decimals, "0").rstrip("0")
    return text


# ---------------------------------------------------------------------- tables


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, align: str = "") -> str:
    """A plain-text table, left-aligned; a cell may hold several lines. Nothing is cut or
    wrapped. `align` sets the columns' alignment in order, one character each: "<" left, ">"
    right (amounts; the audit's tables are "<>>…"); columns beyond it are left-aligned."""
    cells = [[cell.splitlines() or [""] for cell in row] for row in rows]
    widths = [
        max([len(h), *(len(line) for row in cells for line in row[i])])
        for i, h in enumerate(headers)
    ]
    right = [i < len(align) and align[i] == ">" for i in range(len(headers))]

    def line(parts: Sequence[str]) -> str:
        text = "  ".join(
            part.rjust(w) if r else part.ljust(w)
            for part, w, r in zip(parts, widths, right, strict=True)
        )
        # Only a left-aligned last column pads the end of the line.
        return text if right[-1] else text.rstrip()

    out = [line(headers)]
    for row in cells:
        for k in range(max(len(cell) for cell in row)):
            out.append(line([cell[k] if k < len(cell) else "" for cell in row]))
    return "\n".join(out)

"""Pages from templates: one Jinja2 environment (autoescape on, undefined names an error) and
`render(request, viewer, template, **context)`.

Every template gets, besides its own context:
- `t(key, **kw)`: the label in the viewer's language (cookie `lang`, set by POST /lang);
  `label(key, fallback)` for a key named by data (an alert's kind) that may be missing;
- `lang`, `tz` (the viewer's time zone: cookie `tz` set by console.js from the browser, else
  Asia/Tokyo for Japanese and UTC for English), `viewer`, `path`, `fresh` (the freshness banner);
- filters `money(units, decimals, symbol)` (exact, from integers, thousands separators),
  `when` (a <time datetime="ISO UTC"> whose text is in the viewer's zone), `short` (a hash),
  `percent` (a ratio as a per-cent figure, or n/a).
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from disburse._format import format_amount
from disburse._format import short as short_hash
from disburse.console.auth import Viewer
from disburse.console.i18n import DEFAULT_LANG, LANGS, label, t

TEMPLATES: Final = Path(__file__).parent / "templates"
LANG_COOKIE: Final = "lang"
TZ_COOKIE: Final = "tz"
DEFAULT_TZ: Final = {"en": "UTC", "ja": "Asia/Tokyo"}


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def request_lang(request: Request) -> str:
    """The viewer's language: the `lang` cookie, else Japanese when the browser prefers it."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGS:
        return str(chosen)
    accept = request.headers.get("accept-language", "")[:200].lower()
    return "ja" if accept.startswith("ja") else DEFAULT_LANG


def request_tz(request: Request, lang: str) -> str:
    """The viewer's IANA time zone (a cookie naming no known zone is ignored)."""
    zone = request.cookies.get(TZ_COOKIE, "")
    return zone if len(zone) <= 64 and zone in _zones() else DEFAULT_TZ[lang]


def money(units: int, decimals: int, symbol: str = "") -> str:
    """An amount in a token's base units as people read it: "1,234.5 JPYC" (never a float)."""
    text = format_amount(int(units), int(decimals))
    return f"{text} {symbol}" if symbol else text


def iso_utc(timestamp: int) -> str:
    return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_text(timestamp: int, zone: str) -> str:
    moment = datetime.fromtimestamp(int(timestamp), tz=zoneinfo.ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or zone)


@pass_context
def _when(ctx: Context, timestamp: int | None) -> Markup:
    if timestamp is None:
        return Markup("-")
    return Markup('<time datetime="{}">{}</time>').format(
        iso_utc(timestamp), local_text(timestamp, ctx["tz"])
    )


@pass_context
def _t(ctx: Context, key: str, **kw: object) -> str:
    return t(ctx["lang"], key, **kw)


@pass_context
def _label(ctx: Context, key: str, fallback: str) -> str:
    return label(ctx["lang"], key, fallback)


@pass_context
def _percent(ctx: Context, value: float | None, digits: int = 1) -> str:
    if value is None:
        return t(ctx["lang"], "portfolio.na")
    return t(ctx["lang"], "portfolio.percent", value=f"{value * 100:.{digits}f}")


def _short(value: str | bytes | None) -> str:
    return "-" if value is None else short_hash(value)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = _t
    env.globals["label"] = _label
    env.globals["LANGS"] = LANGS
    env.filters["money"] = money
    env.filters["when"] = _when
    env.filters["short"] = _short
    env.filters["percent"] = _percent
    env.filters["iso"] = iso_utc
    return env


ENV: Final = _environment()


def context_for(request: Request, viewer: Viewer | None) -> dict[str, Any]:
    """What every template sees (see the module's docstring)."""
    lang = request_lang(request)
    reader = getattr(request.app.state, "reader", None)
    return {
        "request": request,
        "viewer": viewer,
        "lang": lang,
        "tz": request_tz(request, lang),
        "path": request.url.path,
        "fresh": reader.freshness() if reader is not None and viewer is not None else None,
    }


def render(
    request: Request,
    viewer: Viewer | None,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The template rendered for this viewer, as an HTML response."""
    body = ENV.get_template(template).render(**context_for(request, viewer), **context)
    return HTMLResponse(body, status_code=status_code, headers=headers)


__all__ = ["ENV", "money", "render", "request_lang", "request_tz"]

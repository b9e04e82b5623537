"""What the detail pages (program, milestone, council, alerts, events, oracles) share: the
reader and its views, parameters checked into 400s that name the problem, and chart data as a
JSON block the page can carry under its content security policy (no inline code: the numbers
are data, read by /static/charts.js)."""

from __future__ import annotations

import json
from typing import Any, Final, Protocol

from fastapi import HTTPException, Request
from markupsafe import Markup

from disburse._format import short
from disburse.analytics.alerts import Thresholds
from disburse.console.auth import Viewer
from disburse.console.data import IndexReader
from disburse.console.i18n import CATALOG, t
from disburse.console.render import local_text, money, request_lang, request_tz
from disburse.console.views._events import Arg, EventView
from disburse.console.views.context import Views, views_of
from disburse.console.views.council import ProposalView
from disburse.council import ADMIN_ROLE, PROGRAM_MANAGER_ROLE
from disburse.report.facts import TokenFacts

ID_DIGITS: Final = 20
"""A program id longer than this is no id (2**64 has 20 digits)."""
NOT_FOUND: Final = "no such program"
"""The one answer for a program that does not exist and one the viewer may not see."""


def reader_of(request: Request) -> IndexReader:
    reader: IndexReader = request.app.state.reader
    return reader


def views(request: Request) -> Views:
    return views_of(reader_of(request))


def thresholds(request: Request) -> Thresholds:
    """The thresholds the index's alerts use (the analytics' defaults unless configured)."""
    return reader_of(request).queries.thresholds or Thresholds()


def program_id(text: str) -> int:
    """A program id from a URL; 400 naming the problem."""
    value = text.strip()
    if not value or len(value) > ID_DIGITS or not value.isascii() or not value.isdigit():
        raise HTTPException(400, f"a program id is a whole number, not {value[:40]!r}")
    return int(value)


def visible_programs(request: Request, viewer: Viewer) -> frozenset[int] | None:
    """The programs a viewer may see; None for a viewer who sees everything."""
    if viewer.sees_everything:
        return None
    return frozenset(
        row.program_id for row in reader_of(request).programs() if viewer.may_see(row.manager)
    )


def json_block(data: Any) -> Markup:
    """`data` as JSON safe inside <script type="application/json">: <, > and & escaped as
    \\u sequences so no text can close the element."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for a JSON data block


def duration(lang: str, seconds: int) -> str:
    """A duration in the viewer's language: days, hours, minutes and seconds, the zero parts
    left out ("1 d 2 h", "1日 2時間")."""
    left = max(0, int(seconds))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(t(lang, f"dur.{unit}", n=f"{count:,}"))
    return " ".join(parts) if parts else t(lang, "dur.s", n="0")


_ROLES: Final = {
    "0x" + PROGRAM_MANAGER_ROLE.hex(): "say.role.program_manager",
    "0x" + ADMIN_ROLE.hex(): "say.role.admin",
}


class _Told(Protocol):
    """What a sentence reads besides the arguments: an event's or a proposal's token and
    milestone reference."""

    @property
    def token(self) -> TokenFacts | None: ...

    @property
    def milestone_ref(self) -> str | None: ...


def _said(lang: str, zone: str, e: _Told, a: Arg) -> str:
    """One argument as a sentence says it: amounts in the program's token, addresses and hashes
    shortened (the details beside give them whole), the milestone by its reference."""
    if a.kind == "amount":
        return money(a.value, e.token.decimals, e.token.symbol) if e.token else money(a.value, 0)
    if a.kind == "address":
        if a.name == "token" and e.token is not None:
            return f"{e.token.symbol} ({short(a.value)})"
        return short(a.value)
    if a.kind == "addresses":
        return ", ".join(short(v) for v in a.value)
    if a.kind == "hash" and a.name == "milestoneId":
        return t(lang, "say.milestone", ref=e.milestone_ref or short(a.value))
    if a.kind == "hash" and a.name in ("role", "previousAdminRole", "newAdminRole"):
        key = _ROLES.get(a.value)
        return t(lang, key) if key else short(a.value)
    if a.kind == "hash":
        return short(a.value)
    if a.kind == "duration":
        return duration(lang, a.value)
    if a.kind == "time":
        return local_text(a.value, zone)
    return str(a.value)


def sentence(lang: str, zone: str, e: EventView) -> str:
    """The event in one sentence of the viewer's language (`say.NAME`, whose fields are the
    event's argument names); its kind's name for an event the catalog does not phrase."""
    template = CATALOG[lang].get(f"say.{e.name}")
    if template is None:
        return t(lang, f"ev.{e.name}")
    values = {a.name: _said(lang, zone, e, a) for a in e.args}
    try:
        return template.format(**values)
    except (KeyError, IndexError):  # a phrase naming an argument this ABI lacks
        return t(lang, f"ev.{e.name}")


def proposal_sentence(lang: str, zone: str, p: ProposalView) -> str | None:
    """A proposal's call in one sentence of the viewer's language (`propose.ACTION`); None for a
    call that is none of the council's actions."""
    if p.action is None:
        return None
    values = {a.name: _said(lang, zone, p, a) for a in p.args}
    try:
        return (
            t(lang, f"propose.{p.action}", **values) if values else t(lang, f"propose.{p.action}")
        )
    except (KeyError, IndexError):
        return None


def page_context(request: Request) -> dict[str, Any]:
    """Helpers every detail template gets: durations and event sentences in the viewer's
    language (and time zone)."""
    lang = request_lang(request)
    zone = request_tz(request, lang)
    return {
        "duration": lambda seconds: duration(lang, seconds),
        "say": lambda event: sentence(lang, zone, event),
        "propose": lambda proposal: proposal_sentence(lang, zone, proposal),
    }

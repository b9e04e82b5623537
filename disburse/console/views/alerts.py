"""The alerts page: every program's alerts (`IndexReader.all_alerts`, computed once per cursor
from `IndexQueries.alerts`), narrowed to the programs the viewer may see, most severe first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from disburse.analytics.alerts import Alert

SEVERITY_RANK: Final = {"red": 0, "amber": 1}
PAGE_SIZE: Final = 200
"""Alerts on one page (a thousand programs raise thousands: the most severe come first)."""


def visible_alerts(alerts: Iterable[Alert], visible: frozenset[int] | None) -> tuple[Alert, ...]:
    """The alerts about programs in `visible` (None: every alert), red before amber, then by
    program and milestone (stable: the analytics' order within)."""
    shown = [
        a
        for a in alerts
        if visible is None or (a.program_id is not None and a.program_id in visible)
    ]
    return tuple(
        sorted(
            shown,
            key=lambda a: (
                SEVERITY_RANK.get(a.severity, 2),
                a.program_id or 0,
                a.milestone_id or "",
            ),
        )
    )


def page_of(alerts: tuple[Alert, ...], page: int) -> tuple[tuple[Alert, ...], int]:
    """The alerts of page `page` (from 1) and the number of pages (at least 1)."""
    pages = max(1, -(-len(alerts) // PAGE_SIZE))
    start = (min(page, pages) - 1) * PAGE_SIZE
    return alerts[start : start + PAGE_SIZE], pages

"""Builders of hand-written facts for the analytics tests: a program and its milestones with
defaults that make a healthy program, each test changing only what it is about."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from disburse.analytics.model import DAY, Attestation, MilestoneFacts, ProgramFacts, fiscal_bounds

FY = 2030
FY_START, FY_END = fiscal_bounds(FY)
T0 = FY_START
"""The program's start: the first second of fiscal year 2030 (1 April 2030, JST)."""


def program(**changes: Any) -> ProgramFacts:
    base = ProgramFacts(
        program_id=1,
        title="Radar upgrade",
        organisation="ATLA",
        category="research",
        fiscal_year=FY,
        baseline_original=1000,
        baseline_current=1000,
        funded=1000,
        committed=600,
        paid=400,
        withdrawn=0,
        token_symbol="JPYC",
        token_decimals=0,
        created_time=T0,
        idle_since=T0 + 100 * DAY,
        fiscal_year_start=FY_START,
        fiscal_year_end=FY_END,
    )
    return replace(base, **changes)


def milestone(n: int, **changes: Any) -> MilestoneFacts:
    """Milestone n of program 1: amount 100, due on day 30 * n, beneficiary "B<n mod 4>"."""
    base = MilestoneFacts(
        milestone_id=f"0x{n:064x}",
        program_id=1,
        beneficiary=f"B{n % 4}",
        amount=100,
        deadline=T0 + 30 * n * DAY,
        registered_time=T0,
        verified_time=None,
        released_time=None,
        forced=False,
        status="Registered",
        disputed_ever=False,
        attestations=(),
    )
    return replace(base, **changes)


def done(
    n: int, *, late_days: float = -1, paid_after_days: float = 2, **changes: Any
) -> MilestoneFacts:
    """Milestone n verified `late_days` after its deadline (negative: early) and released
    `paid_after_days` later."""
    m = milestone(n)
    verified = m.deadline + int(late_days * DAY)
    hashes = (Attestation("O1", "0xaa", verified), Attestation("O2", "0xaa", verified))
    return replace(
        m,
        verified_time=verified,
        released_time=verified + int(paid_after_days * DAY),
        status="Released",
        attestations=hashes,
        **changes,
    )

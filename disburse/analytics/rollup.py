"""Money roll-ups: per program, and grouped by organisation, category, fiscal year and
beneficiary.

Execution rate is paid / current baseline (None for a zero baseline). The share of the fiscal
year elapsed is measured at `now` against the program's fiscal year bounds, clipped to 0..1.
A beneficiary's paid amount is the sum of its released milestones; top recipients are the n
largest by paid, ties broken by name so the order is stable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from disburse.analytics.model import OPEN_STATUSES, MilestoneFacts, ProgramFacts

GroupBy = Literal["organisation", "category", "fiscal_year"]


@dataclass(frozen=True)
class Recipient:
    """A beneficiary's paid amount within a program or a group."""

    beneficiary: str
    paid: int
    share: float | None
    """paid / the program's or group's paid; None when nothing was paid."""


@dataclass(frozen=True)
class Totals:
    """The money of a program or of a group of programs (base units)."""

    programs: int
    baseline: int
    """The current baseline."""
    funded: int
    committed: int
    paid: int
    refunded: int
    available: int
    execution_rate: float | None
    """paid / baseline; None for a zero baseline."""
    year_elapsed: float | None
    """The share of the fiscal year elapsed at `now` (a group's mean over its programs)."""
    top_recipients: tuple[Recipient, ...]


@dataclass(frozen=True)
class ProgramRollup:
    program_id: int
    title: str
    totals: Totals


@dataclass(frozen=True)
class GroupRollup:
    key: str
    """The group's organisation, category or fiscal year (as text)."""
    program_ids: tuple[int, ...]
    totals: Totals


@dataclass(frozen=True)
class BeneficiaryRollup:
    beneficiary: str
    programs: int
    milestones: int
    paid: int
    """Released milestones' amounts."""
    open_amount: int
    """Amounts of milestones not yet verified (Registered or Disputed)."""


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator; None when the denominator is zero."""
    return None if denominator == 0 else numerator / denominator


def year_elapsed(program: ProgramFacts, now: int) -> float | None:
    """The share of the program's fiscal year elapsed at `now`, clipped to 0..1; None for an
    empty year."""
    return elapsed_share(program.fiscal_year_start, program.fiscal_year_end, now)


def elapsed_share(start: int, end: int, now: int) -> float | None:
    """The share of the period [start, end) elapsed at `now`, clipped to 0..1; None for an empty
    period."""
    share = ratio(now - start, end - start)
    return None if share is None else min(1.0, max(0.0, share))


def paid_by_beneficiary(milestones: Iterable[MilestoneFacts]) -> dict[str, int]:
    """Each beneficiary's sum of released milestones."""
    paid: dict[str, int] = defaultdict(int)
    for m in milestones:
        if m.released_time is not None:
            paid[m.beneficiary] += m.amount
    return dict(paid)


def top_recipients(milestones: Iterable[MilestoneFacts], n: int) -> tuple[Recipient, ...]:
    """The n beneficiaries paid most, largest first."""
    paid = paid_by_beneficiary(milestones)
    total = sum(paid.values())
    ranked = sorted(paid.items(), key=lambda item: (-item[1], item[0]))[:n]
    return tuple(Recipient(b, amount, ratio(amount, total)) for b, amount in ranked)


def _totals(
    programs: Sequence[ProgramFacts], milestones: Sequence[MilestoneFacts], now: int, top_n: int
) -> Totals:
    baseline = sum(p.baseline_current for p in programs)
    paid = sum(p.paid for p in programs)
    shares = [s for s in (year_elapsed(p, now) for p in programs) if s is not None]
    return Totals(
        programs=len(programs),
        baseline=baseline,
        funded=sum(p.funded for p in programs),
        committed=sum(p.committed for p in programs),
        paid=paid,
        refunded=sum(p.refunded for p in programs),
        available=sum(p.available for p in programs),
        execution_rate=ratio(paid, baseline),
        year_elapsed=sum(shares) / len(shares) if shares else None,
        top_recipients=top_recipients(milestones, top_n),
    )


def rollup_programs(
    programs: Sequence[ProgramFacts],
    milestones: Sequence[MilestoneFacts],
    *,
    now: int,
    top_n: int = 5,
) -> tuple[ProgramRollup, ...]:
    """One roll-up per program, in program id order."""
    by_program = _milestones_by_program(milestones)
    return tuple(
        ProgramRollup(
            p.program_id, p.title, _totals([p], by_program.get(p.program_id, []), now, top_n)
        )
        for p in sorted(programs, key=lambda p: p.program_id)
    )


_KEYS: dict[GroupBy, Callable[[ProgramFacts], str]] = {
    "organisation": lambda p: p.organisation,
    "category": lambda p: p.category,
    "fiscal_year": lambda p: str(p.fiscal_year),
}


def rollup_groups(
    programs: Sequence[ProgramFacts],
    milestones: Sequence[MilestoneFacts],
    *,
    by: GroupBy,
    now: int,
    top_n: int = 5,
) -> tuple[GroupRollup, ...]:
    """The programs grouped by organisation, category or fiscal year, in key order."""
    by_program = _milestones_by_program(milestones)
    groups: dict[str, list[ProgramFacts]] = defaultdict(list)
    for p in programs:
        groups[_KEYS[by](p)].append(p)
    out = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda p: p.program_id)
        ms = [m for p in members for m in by_program.get(p.program_id, [])]
        out.append(
            GroupRollup(key, tuple(p.program_id for p in members), _totals(members, ms, now, top_n))
        )
    return tuple(out)


def rollup_beneficiaries(milestones: Sequence[MilestoneFacts]) -> tuple[BeneficiaryRollup, ...]:
    """Per beneficiary: programs, milestones, paid and open amounts; largest paid first."""
    grouped: dict[str, list[MilestoneFacts]] = defaultdict(list)
    for m in milestones:
        grouped[m.beneficiary].append(m)
    rows = [
        BeneficiaryRollup(
            beneficiary=b,
            programs=len({m.program_id for m in ms}),
            milestones=len(ms),
            paid=sum(m.amount for m in ms if m.released_time is not None),
            open_amount=sum(m.amount for m in ms if m.status in OPEN_STATUSES),
        )
        for b, ms in grouped.items()
    ]
    return tuple(sorted(rows, key=lambda r: (-r.paid, r.beneficiary)))


def _milestones_by_program(
    milestones: Iterable[MilestoneFacts],
) -> dict[int, list[MilestoneFacts]]:
    by_program: dict[int, list[MilestoneFacts]] = defaultdict(list)
    for m in milestones:
        by_program[m.program_id].append(m)
    return by_program

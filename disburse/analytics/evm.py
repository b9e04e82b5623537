"""Earned value on the 0/100 weighted-milestone method (ANSI/EIA-748; DoD EVMS Interpretation
Guide): a milestone's whole amount is planned at its deadline and earned at its verification,
nothing in between.

- BAC: the budget at completion, original and current (`ProgramFacts.baseline_*`); EAC, VAC and
  TCPI use the current one.
- PV(t): the amounts of baseline milestones whose deadline is at or before t.
- EV(t): the amounts of baseline milestones verified at or before t. A force-released milestone
  earns no value: the council paid without the oracles' verification, so no work is shown done.
- AC(t): the amounts paid (released) at or before t, forced releases included: money went out.
- SV = EV - PV, SPI = EV / PV, CV = EV - AC, CPI = EV / AC.
- Earned schedule: ES is the time at which PV, drawn as straight lines between the program's
  start (PV 0) and each deadline, reached today's EV; AT is the time elapsed since the start.
  SV(t) = ES - AT (seconds), SPI(t) = ES / AT. When EV reaches the whole planned value, ES is the
  last deadline.
- BEI = milestones done (verified, not forced) by t / milestones due (deadline at or before t),
  the DCMA 14-point assessment's baseline execution index.
- EAC = BAC / CPI (computed as BAC * AC // EV, exact in base units), VAC = BAC - EAC,
  TCPI = (BAC - EV) / (BAC - AC).

Every ratio whose denominator is zero is None (no PV yet, nothing paid, nothing due, no time
elapsed, the whole budget spent), never an infinity or a zero.

Cancelled milestones leave the baseline: their amount returned to the program, so they are
neither planned nor earned (a cancelled milestone still counted as planned would show a
schedule slip nobody can recover). Every other state stays in it: an expired milestone is
planned and never earned, which is the slip it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from disburse.analytics.model import MilestoneFacts, ProgramFacts
from disburse.analytics.rollup import ratio


@dataclass(frozen=True)
class EvmPoint:
    """A program's earned value figures at time `time` (amounts in base units, times in Unix
    seconds, durations in seconds)."""

    time: int
    bac_original: int
    bac_current: int
    pv: int
    ev: int
    ac: int
    sv: int
    spi: float | None
    cv: int
    cpi: float | None
    es: int | None
    """Earned schedule: seconds after the program's start; None before the start."""
    sv_t: int | None
    """SV(t) = ES - AT in seconds (negative: behind)."""
    spi_t: float | None
    done: int
    """Milestones verified (not forced) by `time`."""
    due: int
    """Milestones whose deadline is at or before `time`."""
    bei: float | None
    eac: int | None
    """In base units, exact: BAC / CPI = BAC * AC / EV, rounded down."""
    vac: int | None
    tcpi: float | None


def baseline(milestones: Sequence[MilestoneFacts]) -> list[MilestoneFacts]:
    """The milestones that count in the baseline: all but the cancelled ones."""
    return [m for m in milestones if m.status != "Cancelled"]


def earned(m: MilestoneFacts, t: int) -> bool:
    """True when milestone m has earned its value by t (verified by the oracles, not forced)."""
    return not m.forced and m.verified_time is not None and m.verified_time <= t


def _earned_schedule(
    start: int, milestones: Sequence[MilestoneFacts], ev: int, t: int
) -> int | None:
    if t < start or not milestones:
        return None  # before the start, or nothing planned: no schedule to have earned
    points = [(start, 0)]
    total = 0
    for m in sorted(milestones, key=lambda m: m.deadline):
        total += m.amount
        points.append((max(start, m.deadline), total))
    if ev <= 0:
        return 0
    for (t0, v0), (t1, v1) in pairwise(points):
        if v1 >= ev:
            if v1 == v0:
                return t1 - start
            return round(t0 + (t1 - t0) * (ev - v0) / (v1 - v0)) - start
    return points[-1][0] - start


def evm_at(program: ProgramFacts, milestones: Sequence[MilestoneFacts], t: int) -> EvmPoint:
    """The program's earned value at time t, from its milestones (of this program only)."""
    base = baseline(milestones)
    pv = sum(m.amount for m in base if m.deadline <= t)
    ev = sum(m.amount for m in base if earned(m, t))
    ac = sum(m.amount for m in milestones if m.released_time is not None and m.released_time <= t)
    done = sum(1 for m in base if earned(m, t))
    due = sum(1 for m in base if m.deadline <= t)
    start = program.created_time
    es = _earned_schedule(start, base, ev, t)
    at = t - start
    bac = program.baseline_current
    cpi = ratio(ev, ac)
    eac = None if cpi is None or ev == 0 else bac * ac // ev
    return EvmPoint(
        time=t,
        bac_original=program.baseline_original,
        bac_current=bac,
        pv=pv,
        ev=ev,
        ac=ac,
        sv=ev - pv,
        spi=ratio(ev, pv),
        cv=ev - ac,
        cpi=cpi,
        es=es,
        sv_t=None if es is None else es - at,
        spi_t=None if es is None else ratio(es, at),
        done=done,
        due=due,
        bei=ratio(done, due),
        eac=eac,
        vac=None if eac is None else bac - eac,
        tcpi=ratio(bac - ev, bac - ac),
    )


def evm_series(
    program: ProgramFacts, milestones: Sequence[MilestoneFacts], times: Sequence[int]
) -> tuple[EvmPoint, ...]:
    """The program's earned value at each of `times` (an S-curve's samples), in that order."""
    return tuple(evm_at(program, milestones, t) for t in times)

"""Will an open milestone miss its deadline? A forecast from the history the ledger holds,
simple enough to explain in a sentence. Advice only: nothing here changes a milestone.

The model. A milestone's lateness is its verification time minus its deadline (negative when
early). What is known at `now` about past milestones:

- verified by `now` (not forced): its lateness;
- expired: missed, lateness unbounded (infinite);
- still open past its deadline: late by at least `now - deadline` (counted at that lower bound);
- force-released or cancelled: nothing (no verification to measure).

Three records of lateness: the contractor's (the beneficiary's, over all programs), the
program's, and everyone's (global). Each is an empirical distribution, and the contractor's
is shrunk toward the program's, and the program's toward the global, Bayesian fashion with
`prior_strength` pseudo-observations: with n of its own observations a record weighs
n / (n + prior_strength) and lends the rest to the next record up. So a contractor with no
history is forecast from the program's record, a program with none from everyone's.

Time already elapsed conditions the distribution: a milestone still open at `now`, with `left`
seconds to its deadline, has a lateness above -left, so

    P(miss) = P(lateness > 0 | lateness > -left),

computed over the blended distribution's observations above -left. The expected completion is
the deadline plus the median lateness of those same observations (None when that median is an
expiry: the record says it may never finish). A milestone already past its deadline has missed
it (probability 1). Probabilities from history are kept within [`floor`, 1 - `floor`]: history
never makes a future outcome certain.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from disburse._format import day
from disburse.analytics.model import DAY, OPEN_STATUSES, MilestoneFacts


@dataclass(frozen=True)
class ForecastModel:
    """The forecast's parameters."""

    prior_strength: float = 3.0
    """Pseudo-observations a record borrows from the record above it (contractor from
    program, program from everyone's)."""
    floor: float = 0.02
    """The least probability history gives either outcome."""
    no_history: float = 0.5
    """P(miss) when nobody has any history yet."""


@dataclass(frozen=True)
class Record:
    """A lateness record: what is known of a contractor's, a program's or everyone's milestones."""

    name: str
    """"contractor B1", "program 3", "all programs"."""
    lateness_s: tuple[float, ...]
    """One value per milestone with an outcome; math.inf for an expired one."""
    expired: int
    overdue: int
    """Milestones still open past their deadline (their lateness is a lower bound)."""

    @property
    def count(self) -> int:
        return len(self.lateness_s)

    @cached_property
    def ordered_s(self) -> tuple[float, ...]:
        """The lateness values in ascending order: the record's distribution, which every
        forecast reads by bisection (a record of the whole history has one value per milestone,
        and each open milestone is forecast from it)."""
        return tuple(sorted(self.lateness_s))

    def above(self, bound: float) -> int:
        """How many values are above `bound`."""
        return self.count - bisect_right(self.ordered_s, bound)

    @property
    def late(self) -> int:
        return self.above(0)

    def median_late_s(self) -> float | None:
        """The median lateness of the late ones (math.inf when most of them expired)."""
        ordered = self.ordered_s
        first, n = len(ordered) - self.late, self.late
        if n == 0:
            return None
        middle = first + n // 2
        return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    def words(self) -> str:
        """ "contractor B1 finished 4 of 6 milestones late, by 12 days on median"."""
        if not self.lateness_s:
            return f"{self.name} has no finished milestone yet"
        text = f"{self.name} finished {self.late} of {self.count} milestones late"
        typical = self.median_late_s()
        if typical is not None and math.isfinite(typical):
            text += f", by {_days(typical)} on median"
        extra = []
        if self.expired:
            extra.append(f"{self.expired} expired")
        if self.overdue:
            extra.append(f"{self.overdue} still open past the deadline")
        return text + (f" ({', '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Forecast:
    milestone_id: str
    program_id: int
    beneficiary: str
    deadline: int
    now: int
    p_miss: float
    expected_completion: int | None
    """Unix time; None when the record says the milestone may never finish."""
    reasons: tuple[str, ...]
    """The forecast in words: the records used, their weights, the time left."""


def _days(seconds: float) -> str:
    n = round(seconds / DAY)
    return f"{n} day" + ("" if n == 1 else "s")


def lateness_known(m: MilestoneFacts, now: int) -> tuple[float, str] | None:
    """(lateness in seconds, how it is known) of a past milestone as known at `now`; None when
    nothing is known (still running, forced, cancelled)."""
    if m.status == "Cancelled" or m.forced:
        return None
    if m.verified_time is not None and m.verified_time <= now:
        return float(m.verified_time - m.deadline), "verified"
    if m.status == "Expired":
        return math.inf, "expired"
    if m.status in OPEN_STATUSES and m.deadline < now:
        return float(now - m.deadline), "overdue"
    return None


def record(name: str, known: Sequence[tuple[float, str]]) -> Record:
    """The record named `name` of lateness values as `lateness_known` gives them."""
    return Record(
        name=name,
        lateness_s=tuple(v for v, _ in known),
        expired=sum(1 for _, how in known if how == "expired"),
        overdue=sum(1 for _, how in known if how == "overdue"),
    )


@dataclass(frozen=True)
class Records:
    """Every record known at one time, built once for many forecasts."""

    contractors: dict[str, Record]
    programs: dict[int, Record]
    everyone: Record


def records_at(milestones: Sequence[MilestoneFacts], now: int) -> Records:
    """The contractors', programs' and everyone's records as known at `now`."""
    by_contractor: dict[str, list[tuple[float, str]]] = defaultdict(list)
    by_program: dict[int, list[tuple[float, str]]] = defaultdict(list)
    everyone: list[tuple[float, str]] = []
    for m in milestones:
        known = lateness_known(m, now)
        if known is None:
            continue
        by_contractor[m.beneficiary].append(known)
        by_program[m.program_id].append(known)
        everyone.append(known)
    return Records(
        contractors={b: record(f"contractor {b}", k) for b, k in by_contractor.items()},
        programs={p: record(f"program {p}", k) for p, k in by_program.items()},
        everyone=record("all programs", everyone),
    )


def _weights(chain: Sequence[Record], strength: float) -> list[float]:
    """Each record's weight: n / (n + strength) of what the records below it left."""
    weights = []
    rest = 1.0
    for i, r in enumerate(chain):
        own = 1.0 if i == len(chain) - 1 else r.count / (r.count + strength)
        weights.append(rest * own)
        rest -= rest * own
    return weights


@dataclass(frozen=True)
class _Mixture:
    """The records' values pooled, each value of record r weighing `weight_r` (the record's
    weight over its count): masses and the weighted median read by bisection of each record's
    ordered values, never by walking every value."""

    parts: tuple[tuple[Record, float], ...]

    def mass(self, above: float) -> float:
        """The weight of the values above `above`."""
        return sum(w * r.above(above) for r, w in self.parts)

    def _upto(self, value: float, above: float) -> float:
        """The weight of the values in (above, value]."""
        return sum(
            w * (bisect_right(r.ordered_s, value) - bisect_right(r.ordered_s, above))
            for r, w in self.parts
        )

    def median(self, above: float) -> float | None:
        """The weighted median of the values above `above` (the least value at which half of
        their weight is reached); None when there are none."""
        half = self.mass(above) / 2
        found: float | None = None
        highest: float | None = None
        for r, _ in self.parts:
            ordered = r.ordered_s
            lo, hi = bisect_right(ordered, above), len(ordered)
            if lo == hi:
                continue
            highest = ordered[-1] if highest is None else max(highest, ordered[-1])
            while lo < hi:
                mid = (lo + hi) // 2
                if self._upto(ordered[mid], above) >= half:
                    hi = mid
                else:
                    lo = mid + 1
            if lo < len(ordered) and (found is None or ordered[lo] < found):
                found = ordered[lo]
        return found if found is not None else highest


def forecast_milestone(
    m: MilestoneFacts, records: Records, *, now: int, model: ForecastModel | None = None
) -> Forecast:
    """The forecast of one open milestone at `now` from the records known then."""
    cfg = model or ForecastModel()
    chain = [
        records.contractors.get(m.beneficiary, record(f"contractor {m.beneficiary}", [])),
        records.programs.get(m.program_id, record(f"program {m.program_id}", [])),
        records.everyone,
    ]
    reasons = [r.words() for r in chain]
    left = m.deadline - now
    reasons.append(
        f"{_days(left)} left (deadline {day(m.deadline)})"
        if left >= 0
        else f"the deadline {day(m.deadline)} passed {_days(-left)} ago"
    )

    def done(p: float, completion: int | None) -> Forecast:
        return Forecast(
            m.milestone_id,
            m.program_id,
            m.beneficiary,
            m.deadline,
            now,
            p,
            completion,
            tuple(reasons),
        )

    weights = _weights(chain, cfg.prior_strength)
    used = [(r, w) for r, w in zip(chain, weights, strict=True) if r.count and w > 0]
    if not used:
        reasons.append("no history yet: even odds")
        return done(cfg.no_history, None if left < 0 else m.deadline)
    total = sum(w for _, w in used)
    reasons.append("weights: " + ", ".join(f"{r.name} {w / total:.0%}" for r, w in used))
    mix = _Mixture(tuple((r, w / total / r.count) for r, w in used))
    # Still open at `now`: its lateness will be above -left.
    if left < 0:
        typical = mix.median(above=-left)
        completion = (
            None if typical is None or math.isinf(typical) else max(now, m.deadline + int(typical))
        )
        return done(1.0, completion)
    lower = float(-left)
    if mix.mass(above=lower) == 0:
        reasons.append("still open later than every milestone in the records finished")
        lower = -math.inf
    p = mix.mass(above=0) / mix.mass(above=lower)
    p = min(1 - cfg.floor, max(cfg.floor, p))
    typical = mix.median(above=lower)
    assert typical is not None  # the records used hold values above `lower`
    completion = None if math.isinf(typical) else max(now, m.deadline + int(typical))
    return done(p, completion)


def forecast_open(
    milestones: Sequence[MilestoneFacts],
    *,
    now: int,
    model: ForecastModel | None = None,
    records: Records | None = None,
) -> tuple[Forecast, ...]:
    """A forecast for every open milestone (Registered or Disputed, not verified) at `now`,
    from everything known then; in deadline order. `records` are the records to forecast from
    (default: those of `milestones` themselves; the index's read API gives one program's
    milestones with the records of the whole history, read by aggregate queries)."""
    if records is None:
        records = records_at(milestones, now)
    open_ = [
        m
        for m in milestones
        if m.status in OPEN_STATUSES
        and (m.verified_time is None or m.verified_time > now)
        and m.registered_time <= now
    ]
    return tuple(
        forecast_milestone(m, records, now=now, model=model)
        for m in sorted(open_, key=lambda m: (m.deadline, m.milestone_id))
    )

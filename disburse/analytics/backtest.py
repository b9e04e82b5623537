"""The forecast checked against a synthetic history whose outcomes are known.

History. Contractors of different reliability (each with its own mean lateness and spread,
drawn from a seeded RNG) work on programs spread over several years; each program has a few
contractors and a run of milestones, registered at the program's start and due one after the
other. A milestone's lateness is the contractor's mean plus the program's own offset plus
noise; one later than `expiry_days` is never verified and expires then.

Backtest. At cut-offs every `step_days`, the ledger is rebuilt as it stood then (what was
verified, expired or still open at the cut-off, nothing later), and every milestone still open
with its deadline ahead is forecast from that alone. Each forecast is scored against the known
outcome (missed: verified after the deadline or expired) with the Brier score, beside the
naive forecast: everyone's late rate known at the cut-off. Reliability bins (tenths of the
forecast probability) show the calibration.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace

from disburse.analytics.forecast import ForecastModel, forecast_milestone, records_at
from disburse.analytics.model import DAY, MilestoneFacts, MilestoneStatus


@dataclass(frozen=True)
class HistorySettings:
    """The synthetic history's shape."""

    seed: int = 12
    years: int = 4
    programs: int = 40
    contractors: int = 12
    contractors_per_program: int = 3
    milestones_per_program: int = 12
    spacing_days: tuple[int, int] = (20, 60)
    """A milestone is due this many days (uniformly drawn) after the one before."""
    expiry_days: int = 30
    """A milestone this many days past its deadline expires instead."""
    start: int = 1_901_199_600
    """The history's first second (1 April 2030, JST)."""


@dataclass(frozen=True)
class Outcome:
    """A synthetic milestone and what became of it."""

    facts: MilestoneFacts
    """The milestone as registered (open, nothing verified yet)."""
    verified_time: int | None
    """When it was verified; None when it expired."""
    expired_time: int | None

    @property
    def missed(self) -> bool:
        return self.verified_time is None or self.verified_time > self.facts.deadline


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    mean_forecast: float | None
    observed_rate: float | None


@dataclass(frozen=True)
class BacktestReport:
    settings: HistorySettings
    milestones: int
    late_rate: float
    """The share of all synthetic milestones that missed their deadline."""
    forecasts: int
    brier_model: float
    brier_naive: float
    skill: float
    """1 - brier_model / brier_naive: above 0 the model beats the naive forecast."""
    bins: tuple[Bin, ...]

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def synthetic_history(settings: HistorySettings | None = None) -> list[Outcome]:
    """The history: every milestone with its known outcome, from the settings' seed."""
    s = settings or HistorySettings()
    rng = random.Random(s.seed)  # noqa: S311 - synthetic data, not security
    # Reliability: a mean lateness in days (negative: early) and a spread.
    contractors = [
        (f"C{i:02d}", rng.choice([-12.0, -6.0, -2.0, 3.0, 10.0, 20.0]), rng.uniform(2.0, 8.0))
        for i in range(s.contractors)
    ]
    span = s.years * 365 * DAY
    outcomes = []
    for program_id in range(1, s.programs + 1):
        offset = rng.gauss(0.0, 3.0)
        team = rng.sample(contractors, s.contractors_per_program)
        registered = s.start + rng.randrange(0, span - 365 * DAY)
        deadline = registered
        for n in range(s.milestones_per_program):
            name, mean, spread = rng.choice(team)
            deadline += rng.randint(*s.spacing_days) * DAY
            lateness = rng.gauss(mean + offset, spread) * DAY
            facts = MilestoneFacts(
                milestone_id=f"0x{program_id:032x}{n:032x}",
                program_id=program_id,
                beneficiary=name,
                amount=100,
                deadline=deadline,
                registered_time=registered,
                verified_time=None,
                released_time=None,
                forced=False,
                status="Registered",
                disputed_ever=False,
            )
            if lateness > s.expiry_days * DAY:
                outcomes.append(Outcome(facts, None, deadline + s.expiry_days * DAY))
            else:
                outcomes.append(Outcome(facts, deadline + int(lateness), None))
    return outcomes


def as_of(outcome: Outcome, cutoff: int) -> MilestoneFacts:
    """The milestone as the ledger showed it at `cutoff`."""
    m = outcome.facts
    if outcome.verified_time is not None and outcome.verified_time <= cutoff:
        released = outcome.verified_time + DAY
        status: MilestoneStatus = "Released" if released <= cutoff else "Verified"
        return replace(
            m,
            verified_time=outcome.verified_time,
            released_time=released if released <= cutoff else None,
            status=status,
        )
    if outcome.expired_time is not None and outcome.expired_time <= cutoff:
        return replace(m, status="Expired", expired_time=outcome.expired_time)
    return m


def _bins(pairs: list[tuple[float, bool]], count: int = 10) -> tuple[Bin, ...]:
    out = []
    for i in range(count):
        low, high = i / count, (i + 1) / count
        inside = [(p, y) for p, y in pairs if low <= p < high or (i == count - 1 and p == 1.0)]
        out.append(
            Bin(
                low,
                high,
                len(inside),
                sum(p for p, _ in inside) / len(inside) if inside else None,
                sum(1 for _, y in inside if y) / len(inside) if inside else None,
            )
        )
    return tuple(out)


def backtest(
    settings: HistorySettings | None = None,
    *,
    model: ForecastModel | None = None,
    first_cutoff_days: int = 365,
    step_days: int = 60,
) -> BacktestReport:
    """Forecast the history at each cut-off from what was known then, and score it."""
    s = settings or HistorySettings()
    outcomes = synthetic_history(s)
    end = max(o.facts.deadline for o in outcomes)
    scored: list[tuple[float, float, bool]] = []
    cutoff = s.start + first_cutoff_days * DAY
    while cutoff < end:
        known = [as_of(o, cutoff) for o in outcomes if o.facts.registered_time <= cutoff]
        records = records_at(known, cutoff)
        late = records.everyone.late
        naive = late / records.everyone.count if records.everyone.count else 0.5
        for o, m in zip(
            (o for o in outcomes if o.facts.registered_time <= cutoff), known, strict=True
        ):
            if m.status == "Registered" and m.deadline > cutoff:
                f = forecast_milestone(m, records, now=cutoff, model=model)
                scored.append((f.p_miss, naive, o.missed))
        cutoff += step_days * DAY
    if not scored:
        raise ValueError("the history has no milestone open at any cut-off: make it longer")
    brier_model = sum((p - y) ** 2 for p, _, y in scored) / len(scored)
    brier_naive = sum((q - y) ** 2 for _, q, y in scored) / len(scored)
    return BacktestReport(
        settings=s,
        milestones=len(outcomes),
        late_rate=sum(1 for o in outcomes if o.missed) / len(outcomes),
        forecasts=len(scored),
        brier_model=brier_model,
        brier_naive=brier_naive,
        skill=1 - brier_model / brier_naive if brier_naive else 0.0,
        bins=_bins([(p, y) for p, _, y in scored]),
    )

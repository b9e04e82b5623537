"""Alerts: the analytics' figures held against thresholds (one `Thresholds` object), each alert
amber or red, naming the program (and milestone) and the numbers behind it.

Every alert is silent on a healthy program (tests/analytics/test_alerts.py holds both sides of
every threshold). Alerts are advice for overseers; nothing here acts on the chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Literal

from disburse._format import duration_words, format_amount, when
from disburse.analytics.evm import EvmPoint, evm_at
from disburse.analytics.model import DAY, MilestoneFacts, ProgramFacts
from disburse.analytics.rollup import paid_by_beneficiary, ratio, year_elapsed

Severity = Literal["amber", "red"]
FactValue = int | float | str | None


@dataclass(frozen=True)
class Alert:
    kind: str
    """What is wrong: "spi", "cpi", "tcpi", "bei", "spi_t", "baseline_growth", "cost_growth",
    "overdue", "idle_funds", "low_execution", "concentration", "force_release_rate",
    "dispute_rate", "oracle_disagreement"."""
    severity: Severity
    program_id: int | None
    """None for an alert about an organisation or an oracle."""
    milestone_id: str | None
    message: str
    """One sentence with the numbers behind the alert."""
    facts: dict[str, FactValue] = field(default_factory=dict)
    """The same numbers, by name, for machines."""


@dataclass(frozen=True)
class Thresholds:
    """Every threshold the alerts use, with its default and where the default comes from."""

    index_green_low: float = 0.95
    """SPI and CPI at or above this are green (FEMA EVM dashboard: green 0.95-1.05)."""
    index_green_high: float = 1.05
    """SPI and CPI at or below this are green (FEMA EVM dashboard)."""
    index_amber_low: float = 0.90
    """SPI and CPI below green down to this are amber, below it red (FEMA EVM dashboard)."""
    index_amber_high: float = 1.10
    """SPI and CPI above green up to this are amber, above it red (FEMA EVM dashboard: an
    index far above 1 says the baseline is wrong, not that all is well)."""
    tcpi_max: float = 1.10
    """TCPI above this is amber: the remaining work must be done more efficiently than planned
    (DCMA 14-point assessment practice, as issue 12 gives it: TCPI above 1.10)."""
    bei_min: float = 0.95
    """BEI below this is amber (DCMA 14-point assessment, check 14: BEI >= 0.95)."""
    spi_t_amber: float = 0.95
    """SPI(t) below this is amber (the FEMA bands applied to earned schedule)."""
    spi_t_red: float = 0.90
    """SPI(t) below this is red (the FEMA bands applied to earned schedule)."""
    growth_current_significant: float = 0.15
    """EAC at or above this much over the current baseline is amber (Nunn-McCurdy, 10 U.S.C.
    4371: significant breach, 15 % over the current baseline estimate)."""
    growth_current_critical: float = 0.25
    """EAC at or above this much over the current baseline is red (Nunn-McCurdy critical
    breach, 25 % over the current baseline)."""
    growth_original_significant: float = 0.30
    """Current baseline at or above this much over the original is amber (Nunn-McCurdy:
    significant breach, 30 % over the original baseline)."""
    growth_original_critical: float = 0.50
    """Current baseline at or above this much over the original is red (Nunn-McCurdy critical
    breach, 50 % over the original baseline)."""
    overdue_red_days: float = 30
    """An open milestone past its deadline is amber, red after this many days (ours: a month
    nobody expired it is a month the money sat committed for nothing)."""
    idle_days: float = 90
    """An available balance that has not moved for more than this many days is amber (ours: a
    quarter, the budget execution reviews' period)."""
    low_execution_rate: float = 0.50
    """Executed (paid / baseline) below this share ... (ours, issue 12's example: under half
    executed late in the fiscal year)."""
    low_execution_year_elapsed: float = 0.75
    """... with more than this share of the fiscal year elapsed is amber (ours, issue 12's
    example: the last quarter of the year)."""
    concentration_max: float = 0.50
    """One beneficiary's share of a program's or an organisation's payments above this is
    amber (ours, issue 12: one beneficiary above half)."""
    force_release_rate_max: float = 0.10
    """Force-released milestones above this share of a program's milestones is amber (ours:
    a council override is meant to be the exception)."""
    dispute_rate_max: float = 0.10
    """Milestones ever disputed above this share of a program's milestones is amber (ours)."""
    oracle_disagreement_factor: float = 2.0
    """An oracle whose rate of attesting a hash other than the verified one exceeds this many
    times the median rate of its peers is amber (ours)."""
    oracle_min_attestations: int = 5
    """... counted only for an oracle with at least this many attestations of verified
    milestones (ours: below it one slip is too much of a rate)."""


def _band(value: float | None, t: Thresholds) -> Severity | None:
    if value is None:
        return None
    if value < t.index_amber_low or value > t.index_amber_high:
        return "red"
    if value < t.index_green_low or value > t.index_green_high:
        return "amber"
    return None


def _amount(program: ProgramFacts, units: float) -> str:
    text = format_amount(round(units), program.token_decimals)
    return f"{text} {program.token_symbol}"


def _evm_alerts(program: ProgramFacts, e: EvmPoint, t: Thresholds) -> list[Alert]:
    pid = program.program_id
    out: list[Alert] = []
    severity = _band(e.spi, t)
    if severity and e.spi is not None:
        out.append(
            Alert(
                "spi",
                severity,
                pid,
                None,
                f"program {pid}: SPI {e.spi:.2f} (EV {_amount(program, e.ev)} of PV "
                f"{_amount(program, e.pv)}) is outside {t.index_green_low:.2f}-"
                f"{t.index_green_high:.2f}",
                {"spi": e.spi, "ev": e.ev, "pv": e.pv},
            )
        )
    severity = _band(e.cpi, t)
    if severity and e.cpi is not None:
        out.append(
            Alert(
                "cpi",
                severity,
                pid,
                None,
                f"program {pid}: CPI {e.cpi:.2f} (EV {_amount(program, e.ev)} for AC "
                f"{_amount(program, e.ac)}) is outside {t.index_green_low:.2f}-"
                f"{t.index_green_high:.2f}",
                {"cpi": e.cpi, "ev": e.ev, "ac": e.ac},
            )
        )
    if e.tcpi is not None and e.tcpi > t.tcpi_max:
        out.append(
            Alert(
                "tcpi",
                "amber",
                pid,
                None,
                f"program {pid}: TCPI {e.tcpi:.2f} is above {t.tcpi_max:.2f}: the remaining "
                f"{_amount(program, e.bac_current - e.ev)} of work must be done with "
                f"{_amount(program, e.bac_current - e.ac)} of budget",
                {"tcpi": e.tcpi, "bac": e.bac_current, "ev": e.ev, "ac": e.ac},
            )
        )
    if e.bei is not None and e.bei < t.bei_min:
        out.append(
            Alert(
                "bei",
                "amber",
                pid,
                None,
                f"program {pid}: BEI {e.bei:.2f} ({e.done} milestones done of {e.due} due) is "
                f"below {t.bei_min:.2f}",
                {"bei": e.bei, "done": e.done, "due": e.due},
            )
        )
    if e.spi_t is not None and e.spi_t < t.spi_t_amber and e.sv_t is not None:
        out.append(
            Alert(
                "spi_t",
                "red" if e.spi_t < t.spi_t_red else "amber",
                pid,
                None,
                f"program {pid}: SPI(t) {e.spi_t:.2f} is below {t.spi_t_amber:.2f}: the work "
                f"earned was planned {duration_words(-e.sv_t)} before now",
                {"spi_t": e.spi_t, "sv_t_s": e.sv_t, "es_s": e.es},
            )
        )
    out.extend(_growth_alerts(program, e, t))
    return out


def _growth_alerts(program: ProgramFacts, e: EvmPoint, t: Thresholds) -> list[Alert]:
    pid = program.program_id
    out: list[Alert] = []
    over_original = ratio(
        program.baseline_current - program.baseline_original, program.baseline_original
    )
    if over_original is not None and over_original >= t.growth_original_significant:
        critical = over_original >= t.growth_original_critical
        out.append(
            Alert(
                "baseline_growth",
                "red" if critical else "amber",
                pid,
                None,
                f"program {pid}: the current baseline {_amount(program, program.baseline_current)}"
                f" is {over_original:.0%} over the original "
                f"{_amount(program, program.baseline_original)} (Nunn-McCurdy "
                f"{'critical' if critical else 'significant'}: "
                f"{t.growth_original_critical if critical else t.growth_original_significant:.0%})",
                {
                    "growth": over_original,
                    "baseline_current": program.baseline_current,
                    "baseline_original": program.baseline_original,
                },
            )
        )
    over_current = None if e.eac is None else ratio(e.eac - e.bac_current, e.bac_current)
    if over_current is not None and over_current >= t.growth_current_significant:
        critical = over_current >= t.growth_current_critical
        out.append(
            Alert(
                "cost_growth",
                "red" if critical else "amber",
                pid,
                None,
                f"program {pid}: EAC {_amount(program, e.eac or 0)} is {over_current:.0%} over "
                f"the current baseline {_amount(program, e.bac_current)} (Nunn-McCurdy "
                f"{'critical' if critical else 'significant'}: "
                f"{t.growth_current_critical if critical else t.growth_current_significant:.0%})",
                {"growth": over_current, "eac": e.eac, "bac": e.bac_current},
            )
        )
    return out


def _milestone_alerts(
    program: ProgramFacts, milestones: Sequence[MilestoneFacts], now: int, t: Thresholds
) -> list[Alert]:
    pid = program.program_id
    out: list[Alert] = []
    for m in sorted(milestones, key=lambda m: (m.deadline, m.milestone_id)):
        if m.unexpired_overdue(now):
            late = now - m.deadline
            out.append(
                Alert(
                    "overdue",
                    "red" if late > t.overdue_red_days * DAY else "amber",
                    pid,
                    m.milestone_id,
                    f"program {pid}: milestone {m.milestone_id} ({m.status}, "
                    f"{_amount(program, m.amount)} to {m.beneficiary}) passed its deadline "
                    f"{when(m.deadline)} {duration_words(late)} ago and nobody expired it",
                    {"deadline": m.deadline, "overdue_s": late, "amount": m.amount},
                )
            )
    total = len(milestones)
    for kind, count, limit in (
        ("force_release_rate", sum(1 for m in milestones if m.forced), t.force_release_rate_max),
        ("dispute_rate", sum(1 for m in milestones if m.disputed_ever), t.dispute_rate_max),
    ):
        rate = ratio(count, total)
        if rate is not None and rate > limit:
            what = "force-released" if kind == "force_release_rate" else "disputed"
            out.append(
                Alert(
                    kind,
                    "amber",
                    pid,
                    None,
                    f"program {pid}: {count} of {total} milestones {what} ({rate:.0%}, above "
                    f"{limit:.0%})",
                    {"rate": rate, "count": count, "milestones": total},
                )
            )
    return out


def _money_alerts(
    program: ProgramFacts, milestones: Sequence[MilestoneFacts], now: int, t: Thresholds
) -> list[Alert]:
    pid = program.program_id
    out: list[Alert] = []
    idle = now - program.idle_since
    if program.available > 0 and idle > t.idle_days * DAY:
        out.append(
            Alert(
                "idle_funds",
                "amber",
                pid,
                None,
                f"program {pid}: {_amount(program, program.available)} available has not moved "
                f"since {when(program.idle_since)} ({duration_words(idle)}, more than "
                f"{t.idle_days:g} days)",
                {"available": program.available, "idle_s": idle},
            )
        )
    executed = ratio(program.paid, program.baseline_current)
    elapsed = year_elapsed(program, now)
    if (
        executed is not None
        and elapsed is not None
        and executed < t.low_execution_rate
        and elapsed > t.low_execution_year_elapsed
    ):
        out.append(
            Alert(
                "low_execution",
                "amber",
                pid,
                None,
                f"program {pid}: {executed:.0%} executed ({_amount(program, program.paid)} of "
                f"{_amount(program, program.baseline_current)}) with {elapsed:.0%} of fiscal year "
                f"{program.fiscal_year} elapsed",
                {"execution_rate": executed, "year_elapsed": elapsed},
            )
        )
    concentration = _concentration(milestones, t)
    if concentration is not None:
        beneficiary, share, paid, total = concentration
        out.append(
            Alert(
                "concentration",
                "amber",
                pid,
                None,
                f"program {pid}: {beneficiary} received {share:.0%} of the payments "
                f"({_amount(program, paid)} of {_amount(program, total)}), above "
                f"{t.concentration_max:.0%}",
                {"beneficiary": beneficiary, "share": share, "paid": paid, "total": total},
            )
        )
    return out


def _concentration(
    milestones: Sequence[MilestoneFacts], t: Thresholds
) -> tuple[str, float, int, int] | None:
    paid = paid_by_beneficiary(milestones)
    total = sum(paid.values())
    if not paid or total == 0:
        return None
    beneficiary, top = min(paid.items(), key=lambda item: (-item[1], item[0]))
    share = top / total
    return (beneficiary, share, top, total) if share > t.concentration_max else None


def program_alerts(
    program: ProgramFacts,
    milestones: Sequence[MilestoneFacts],
    *,
    now: int,
    thresholds: Thresholds | None = None,
) -> tuple[Alert, ...]:
    """The alerts of one program at `now`, from its milestones (of this program only)."""
    t = thresholds or Thresholds()
    e = evm_at(program, milestones, now)
    return tuple(
        [
            *_evm_alerts(program, e, t),
            *_milestone_alerts(program, milestones, now, t),
            *_money_alerts(program, milestones, now, t),
        ]
    )


def organisation_alerts(
    programs: Sequence[ProgramFacts],
    milestones: Sequence[MilestoneFacts],
    *,
    thresholds: Thresholds | None = None,
) -> tuple[Alert, ...]:
    """Concentration over each organisation's programs (an organisation with one program is
    left to that program's own alert)."""
    t = thresholds or Thresholds()
    orgs: dict[str, set[int]] = defaultdict(set)
    for p in programs:
        orgs[p.organisation].add(p.program_id)
    out = []
    for org in sorted(orgs):
        if len(orgs[org]) < 2:
            continue
        found = _concentration([m for m in milestones if m.program_id in orgs[org]], t)
        if found is not None:
            beneficiary, share, paid, total = found
            out.append(
                Alert(
                    "concentration",
                    "amber",
                    None,
                    None,
                    f"organisation {org}: {beneficiary} received {share:.0%} of the payments "
                    f"of its {len(orgs[org])} programs ({paid:,} of {total:,} base units), "
                    f"above {t.concentration_max:.0%}",
                    {"organisation": org, "beneficiary": beneficiary, "share": share},
                )
            )
    return tuple(out)


def verified_hash(m: MilestoneFacts) -> str | None:
    """The hash the quorum verified: `m.verified_hash`, else the hash most oracles attested
    (None on a tie or when the milestone was never verified)."""
    if m.verified_time is None:
        return None
    if m.verified_hash is not None:
        return m.verified_hash
    counts: dict[str, int] = defaultdict(int)
    for a in m.attestations:
        counts[a.evidence_hash] += 1
    ranked = sorted(counts.values(), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[0] == ranked[1]):
        return None
    return max(counts, key=lambda h: counts[h])


def oracle_rates(milestones: Sequence[MilestoneFacts]) -> dict[str, tuple[int, int]]:
    """Per oracle: (attestations of verified milestones, those whose hash differs from the
    verified hash)."""
    seen: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for m in milestones:
        verified = verified_hash(m)
        if verified is None:
            continue
        for a in m.attestations:
            seen[a.oracle][0] += 1
            seen[a.oracle][1] += a.evidence_hash != verified
    return {oracle: (n, bad) for oracle, (n, bad) in seen.items()}


def oracle_alerts(
    milestones: Sequence[MilestoneFacts], *, thresholds: Thresholds | None = None
) -> tuple[Alert, ...]:
    """Oracles that disagree with the verified hash more than `oracle_disagreement_factor`
    times the median rate of their peers (peers with too few attestations left out)."""
    t = thresholds or Thresholds()
    counted = {
        o: (n, bad)
        for o, (n, bad) in oracle_rates(milestones).items()
        if n >= t.oracle_min_attestations
    }
    out = []
    for oracle in sorted(counted):
        n, bad = counted[oracle]
        peers = [b / k for o, (k, b) in counted.items() if o != oracle]
        if not peers or bad == 0:
            continue
        rate = bad / n
        peer_median = median(peers)
        if rate > t.oracle_disagreement_factor * peer_median:
            out.append(
                Alert(
                    "oracle_disagreement",
                    "amber",
                    None,
                    None,
                    f"oracle {oracle} attested another hash than the verified one {bad} times in "
                    f"{n} ({rate:.0%}), more than {t.oracle_disagreement_factor:g}x its peers' "
                    f"median {peer_median:.0%}",
                    {"oracle": oracle, "rate": rate, "peer_median": peer_median, "count": bad},
                )
            )
    return tuple(out)


def all_alerts(
    programs: Sequence[ProgramFacts],
    milestones: Sequence[MilestoneFacts],
    *,
    now: int,
    thresholds: Thresholds | None = None,
) -> tuple[Alert, ...]:
    """Every alert at `now`: each program's, then the organisations', then the oracles'."""
    by_program: dict[int, list[MilestoneFacts]] = defaultdict(list)
    for m in milestones:
        by_program[m.program_id].append(m)
    out: list[Alert] = []
    for p in sorted(programs, key=lambda p: p.program_id):
        out.extend(
            program_alerts(p, by_program.get(p.program_id, []), now=now, thresholds=thresholds)
        )
    out.extend(organisation_alerts(programs, milestones, thresholds=thresholds))
    out.extend(oracle_alerts(milestones, thresholds=thresholds))
    return tuple(out)

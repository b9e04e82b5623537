"""The oracles page: per oracle, its attestations, its disagreements and its latency, in one
GROUP BY over the `attestations` table joined with the milestones (bounded by the oracles,
never by the history's length in memory).

- disagreements: attestations of a milestone the quorum verified whose evidence hash differs
  from the verified one (what `disburse.analytics.alerts.oracle_rates` counts), and the
  MilestoneDisputed events the oracle's attestation raised;
- latency: the attestation's time minus the milestone's registration time (how long after the
  work was registered the oracle spoke): mean and longest, in seconds.

One pass over the attestations (no distinct count: at a million events sorting the milestone
ids alone took two seconds); the page computes it once per cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, case, func, select

from disburse.index import schema

MAX_ORACLES: Final = 1_000


@dataclass(frozen=True, slots=True)
class OracleLine:
    oracle: str
    attestations: int
    on_verified: int
    """Its attestations of milestones the quorum verified."""
    disagreements: int
    """Of those, attesting another evidence hash than the verified one."""
    disputes: int
    """MilestoneDisputed events its attestations raised."""
    latency_mean_s: int | None
    latency_max_s: int | None
    first_time: int | None
    last_time: int | None

    @property
    def disagreement_rate(self) -> float | None:
        return None if self.on_verified == 0 else self.disagreements / self.on_verified


def _disputes(conn: Connection, programs: frozenset[int] | None) -> dict[str, int]:
    """MilestoneDisputed events by the oracle they name (its second indexed argument: the event
    is (milestoneId indexed, oracle indexed, evidenceHash, conflictingHash))."""
    e, m = schema.events, schema.milestones
    query = select(e.c.topics).where(e.c.name == "MilestoneDisputed")
    if programs is not None:
        query = query.join(m, m.c.milestone_id == e.c.milestone_id).where(
            m.c.program_id.in_(sorted(programs))
        )
    counts: dict[str, int] = {}
    for (topics,) in conn.execute(query):
        oracle = "0x" + str(topics).split(",")[2][-40:].lower()
        counts[oracle] = counts.get(oracle, 0) + 1
    return counts


def oracle_lines(
    conn: Connection, programs: frozenset[int] | None = None
) -> tuple[OracleLine, ...]:
    """Every oracle that attested (most attestations first, ties by address), over the
    milestones of `programs` (None: all)."""
    a, m = schema.attestations, schema.milestones
    verified = m.c.evidence_hash.is_not(None)
    latency = a.c.time - m.c.registered_time
    query = (
        select(
            a.c.oracle,
            func.count(),
            func.sum(case((verified, 1), else_=0)),
            func.sum(case((verified & (a.c.evidence_hash != m.c.evidence_hash), 1), else_=0)),
            func.sum(latency),
            func.max(latency),
            func.min(a.c.time),
            func.max(a.c.time),
        )
        .join(m, m.c.milestone_id == a.c.milestone_id)
        .group_by(a.c.oracle)
        .limit(MAX_ORACLES)
    )
    if programs is not None:
        query = query.where(m.c.program_id.in_(sorted(programs)))
    disputes = _disputes(conn, programs)
    lines = []
    for oracle, n, on_verified, bad, total, longest, first, last in conn.execute(query):
        count = int(n)
        lines.append(
            OracleLine(
                oracle=str(oracle),
                attestations=count,
                on_verified=int(on_verified or 0),
                disagreements=int(bad or 0),
                disputes=disputes.get(str(oracle).lower(), 0),
                latency_mean_s=None if total is None else round(int(total) / count),
                latency_max_s=None if longest is None else int(longest),
                first_time=None if first is None else int(first),
                last_time=None if last is None else int(last),
            )
        )
    return tuple(sorted(lines, key=lambda line: (-line.attestations, line.oracle)))

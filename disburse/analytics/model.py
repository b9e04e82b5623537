"""The facts the analytics read: one `ProgramFacts` per program, one `MilestoneFacts` per
milestone, as the ledger index knows them at a given time. Amounts are in the token's base units
(ints), times are Unix seconds (ints)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

MilestoneStatus = Literal[
    "Registered", "Verified", "Disputed", "Frozen", "Released", "Cancelled", "Expired"
]
"""The milestone's state as the escrow's view reports it (the label, not the enum number)."""

OPEN_STATUSES: frozenset[str] = frozenset({"Registered", "Disputed"})
"""States in which the work is not yet verified and the deadline still matters."""

DAY = 86_400
"""Seconds in a day."""


@dataclass(frozen=True)
class FiscalCalendar:
    """When fiscal years start, in a local time zone. The default is Japan's: 1 April to 31
    March, in JST (UTC+9); fiscal year 2030 runs from 1 April 2030 to 31 March 2031."""

    start_month: int = 4
    """The month (1-12) a fiscal year starts in."""
    start_day: int = 1
    """The day of that month a fiscal year starts on."""
    utc_offset_s: int = 9 * 3600
    """The calendar's time zone as seconds east of UTC (JST: 32,400)."""

    def _zone(self) -> timezone:
        return timezone(timedelta(seconds=self.utc_offset_s))

    def start(self, fiscal_year: int) -> int:
        """The Unix time fiscal year `fiscal_year` starts (local midnight)."""
        local = datetime(fiscal_year, self.start_month, self.start_day, tzinfo=self._zone())
        return int(local.astimezone(UTC).timestamp())

    def end(self, fiscal_year: int) -> int:
        """The Unix time fiscal year `fiscal_year` ends: the next one's start (exclusive)."""
        return self.start(fiscal_year + 1)

    def year_of(self, timestamp: int) -> int:
        """The fiscal year a Unix time falls in."""
        local = datetime.fromtimestamp(timestamp, tz=self._zone())
        year = local.year
        return year if timestamp >= self.start(year) else year - 1


JAPAN = FiscalCalendar()
"""Japan's fiscal year: 1 April to 31 March, JST."""


@dataclass(frozen=True)
class ProgramFacts:
    """One program's money and identity. `available` is what the escrow holds for it."""

    program_id: int
    title: str
    organisation: str
    category: str
    fiscal_year: int
    baseline_original: int
    """The budget at completion first approved (base units)."""
    baseline_current: int
    """The budget at completion approved now, after any re-baselining (base units)."""
    funded: int
    committed: int
    """Amounts of milestones registered and not yet paid or cancelled (base units)."""
    paid: int
    withdrawn: int
    """Refunded to the funder (base units)."""
    token_symbol: str
    token_decimals: int
    created_time: int
    idle_since: int
    """When the available balance last moved (funding, payment or refund)."""
    fiscal_year_start: int
    fiscal_year_end: int
    """The fiscal year's end, exclusive (the next year's start)."""

    @property
    def available(self) -> int:
        """What the escrow holds for the program: funded - paid - withdrawn."""
        return self.funded - self.paid - self.withdrawn

    @property
    def refunded(self) -> int:
        """The refunded amount (the escrow calls it withdrawn)."""
        return self.withdrawn


def fiscal_bounds(fiscal_year: int, calendar: FiscalCalendar = JAPAN) -> tuple[int, int]:
    """(start, end) of a fiscal year in Unix time, to fill `ProgramFacts.fiscal_year_start` and
    `fiscal_year_end`; the end is exclusive."""
    return calendar.start(fiscal_year), calendar.end(fiscal_year)


@dataclass(frozen=True)
class Attestation:
    """One oracle's attestation of a milestone's evidence."""

    oracle: str
    evidence_hash: str
    time: int


@dataclass(frozen=True)
class MilestoneFacts:
    """One milestone as the ledger knows it."""

    milestone_id: str
    """The milestone's id in hex."""
    program_id: int
    beneficiary: str
    amount: int
    deadline: int
    registered_time: int
    verified_time: int | None
    """When the oracle quorum verified it; None if never (a forced release has none, or keeps
    the time the council's release followed a verification)."""
    released_time: int | None
    """When it was paid; None if not paid."""
    forced: bool
    """True when the council force-released it (paid without an oracle quorum)."""
    status: MilestoneStatus
    disputed_ever: bool
    attestations: tuple[Attestation, ...] = ()
    verified_hash: str | None = None
    """The evidence hash the quorum verified; None lets the analytics take the hash most
    oracles attested."""
    expired_time: int | None = None
    """When someone called `expire` (the amount went back to the program). The escrow's view
    reads a registered milestone past its deadline as Expired before anyone calls it: an
    Expired milestone with no expired_time still holds its amount committed."""

    def unexpired_overdue(self, now: int) -> bool:
        """True when the milestone is past its deadline unverified and nobody expired it: still
        open (Registered or Disputed), or read as Expired with no `expire` call."""
        if self.verified_time is not None or self.deadline >= now:
            return False
        return self.status in OPEN_STATUSES or (
            self.status == "Expired" and self.expired_time is None
        )

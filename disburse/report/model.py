"""The budget report's model: roll-ups, earned value, alerts and forecasts computed from the
index's facts at its cursor, with the stamp of what it describes. Renderers (`render`) read only
this model."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from disburse.analytics.alerts import Alert, Thresholds, all_alerts
from disburse.analytics.evm import EvmPoint, evm_at, evm_series
from disburse.analytics.forecast import Forecast, forecast_open
from disburse.analytics.model import MilestoneFacts, ProgramFacts
from disburse.analytics.rollup import (
    BeneficiaryRollup,
    GroupRollup,
    ProgramRollup,
    rollup_beneficiaries,
    rollup_groups,
    rollup_programs,
)
from disburse.report.facts import IndexFacts

SERIES_POINTS = 40
"""Samples of each program's S-curves, from its creation to its last deadline (or now)."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """What the report describes: the chain, the index's block, and when it was made."""

    chain_id: int
    escrow: str
    block: int
    block_hash: str
    block_time: int
    made_at: int
    chain_head: int | None


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The reconciliation of the index's ledger against the chain at the index's block."""

    checked: bool
    ok: bool
    note: str
    differences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProgramView:
    facts: ProgramFacts
    rollup: ProgramRollup
    now: EvmPoint
    series: tuple[EvmPoint, ...]
    milestones: tuple[MilestoneFacts, ...]


@dataclass(frozen=True, slots=True)
class BudgetReport:
    stamp: Stamp
    programs: tuple[ProgramView, ...]
    by_organisation: tuple[GroupRollup, ...]
    by_category: tuple[GroupRollup, ...]
    by_fiscal_year: tuple[GroupRollup, ...]
    by_beneficiary: tuple[BeneficiaryRollup, ...]
    alerts: tuple[Alert, ...]
    forecasts: tuple[Forecast, ...]
    reconciliation: Reconciled | None
    thresholds: Thresholds

    def program(self, program_id: int) -> ProgramView:
        for view in self.programs:
            if view.facts.program_id == program_id:
                return view
        raise KeyError(program_id)

    def decimals_of(self, program_ids: Sequence[int]) -> tuple[int, str] | None:
        """The token (decimals, symbol) the programs share, or None when they differ."""
        tokens = {
            (v.facts.token_decimals, v.facts.token_symbol)
            for v in self.programs
            if v.facts.program_id in program_ids
        }
        return next(iter(tokens)) if len(tokens) == 1 else None


def _sample_times(
    program: ProgramFacts, milestones: Sequence[MilestoneFacts], now: int
) -> list[int]:
    end = max([now, *(m.deadline for m in milestones)])
    start = min([program.created_time, *(m.registered_time for m in milestones)])
    if end <= start:
        return [now]
    step = (end - start) / (SERIES_POINTS - 1)
    return sorted({*(int(start + i * step) for i in range(SERIES_POINTS)), now})


def build_report(
    facts: IndexFacts,
    *,
    chain_id: int,
    escrow: str,
    chain_head: int | None,
    reconciliation: Reconciled | None,
    thresholds: Thresholds | None = None,
    made_at: int | None = None,
) -> BudgetReport:
    """The report at the index's cursor: "now" is the time of the index's last block, so the
    same index gives the same report whenever it is made."""
    t = thresholds or Thresholds()
    now = facts.cursor.timestamp
    programs, milestones = facts.programs, facts.milestones
    rollups = {r.program_id: r for r in rollup_programs(programs, milestones, now=now)}
    by_program: dict[int, list[MilestoneFacts]] = {p.program_id: [] for p in programs}
    for m in milestones:
        by_program.setdefault(m.program_id, []).append(m)
    views = tuple(
        ProgramView(
            facts=p,
            rollup=rollups[p.program_id],
            now=evm_at(p, by_program[p.program_id], now),
            series=evm_series(
                p, by_program[p.program_id], _sample_times(p, by_program[p.program_id], now)
            ),
            milestones=tuple(by_program[p.program_id]),
        )
        for p in programs
    )
    return BudgetReport(
        stamp=Stamp(
            chain_id=chain_id,
            escrow=escrow,
            block=facts.cursor.number,
            block_hash=facts.cursor.hash,
            block_time=now,
            made_at=int(time.time()) if made_at is None else made_at,
            chain_head=chain_head,
        ),
        programs=views,
        by_organisation=rollup_groups(programs, milestones, by="organisation", now=now),
        by_category=rollup_groups(programs, milestones, by="category", now=now),
        by_fiscal_year=rollup_groups(programs, milestones, by="fiscal_year", now=now),
        by_beneficiary=rollup_beneficiaries(milestones),
        alerts=all_alerts(programs, milestones, now=now, thresholds=t),
        forecasts=forecast_open(milestones, now=now),
        reconciliation=reconciliation,
        thresholds=t,
    )

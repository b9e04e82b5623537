"""The index's read API: the overseers' questions answered in SQL at the index's cursor, each
reading only the rows it needs, so that an answer takes milliseconds at a million events where
the report (`disburse.report.facts.load_facts`) loads the whole index.

- `rollup(by=...)`: funded, committed, paid, refunded, available per organisation, category or
  fiscal year, with each group's top recipients: GROUP BY with `uint_sum` (exact integers) over
  `programs` and the `recipients` summary (disburse.index.summary), never over every payment;
- `recipients(n)`: the n beneficiaries paid most over the whole index;
- `program(id)`: one program's facts, milestones, roll-up and earned value now;
- `alerts(id)`: `disburse.analytics.alerts.program_alerts` on that program's facts only;
- `forecast(id)`: `disburse.analytics.forecast` for its open milestones, with the contractors'
  records read by beneficiary (their milestones in every program, through the beneficiary
  index) and everyone's record built once per cursor (it depends on the whole history and
  changes only when the cursor moves).

Every answer carries the cursor it describes (`At.cursor`), read in the same transaction. The
results are the analytics' own types and equal what the analytics compute from the whole index
(tests/index/test_queries.py holds them equal on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar, get_args

from sqlalchemy import (
    ColumnElement,
    Connection,
    case,
    collate,
    func,
    literal,
    or_,
    select,
)

from disburse.analytics.alerts import Alert, Thresholds, program_alerts
from disburse.analytics.evm import EvmPoint, evm_at
from disburse.analytics.forecast import (
    Forecast,
    ForecastModel,
    Record,
    Records,
    forecast_open,
    lateness_known,
    record,
    records_at,
)
from disburse.analytics.model import JAPAN, FiscalCalendar, MilestoneFacts, ProgramFacts
from disburse.analytics.rollup import (
    GroupBy,
    GroupRollup,
    ProgramRollup,
    Recipient,
    Totals,
    elapsed_share,
    ratio,
    rollup_programs,
)
from disburse.audit.model import status_values
from disburse.chain.escrow import milestone_statuses
from disburse.index import schema
from disburse.index.store import Cursor, IndexStore, IndexStoreError
from disburse.report.facts import (
    NOT_RECORDED,
    TokenLookup,
    load_program,
    milestone_facts,
    ready_cursor,
)

T = TypeVar("T")

GROUPS: Final = frozenset(get_args(GroupBy))
_STREAM: Final = 5_000
"""Rows fetched at a time when a record is built from the whole history."""


class UnknownProgramError(IndexStoreError):
    """The index holds no program of that id."""


@dataclass(frozen=True, slots=True)
class At(Generic[T]):
    """An answer and the block it describes."""

    cursor: Cursor
    value: T


@dataclass(frozen=True, slots=True)
class ProgramAnswer:
    """One program: its facts, milestones (id order), roll-up and earned value now."""

    facts: ProgramFacts
    milestones: tuple[MilestoneFacts, ...]
    rollup: ProgramRollup
    evm: EvmPoint


class IndexQueries:
    """Questions to one index. Keeps nothing but everyone's forecast record of the latest cursor
    it answered at (a few bytes per milestone)."""

    def __init__(
        self,
        store: IndexStore,
        *,
        token: TokenLookup,
        calendar: FiscalCalendar = JAPAN,
        thresholds: Thresholds | None = None,
        model: ForecastModel | None = None,
    ) -> None:
        self.store = store
        self.token = token
        self.calendar = calendar
        self.thresholds = thresholds
        self.model = model
        self._labels = milestone_statuses()
        status = status_values()
        self._uncommitted = (status["CANCELLED"], status["EXPIRED"])
        self._everyone: tuple[Cursor, Record] | None = None

    # ------------------------------------------------------------------ roll-ups

    def rollup(self, *, by: GroupBy, top_n: int = 5) -> At[tuple[GroupRollup, ...]]:
        """The programs grouped by organisation, category or fiscal year (key order), as
        `disburse.analytics.rollup.rollup_groups` gives them."""
        if by not in GROUPS:
            raise ValueError(f"a roll-up is by {', '.join(sorted(GROUPS))}, not {by!r}")
        _positive(top_n, "top_n")
        p, r = schema.programs, schema.recipients
        with self.store.engine.connect() as conn, conn.begin():
            cursor = ready_cursor(self.store, conn)
            year = self._fiscal_year(conn)
            key = year if by == "fiscal_year" else _recorded(p.c[by])
            members = conn.execute(select(p.c.program_id, key, year).order_by(p.c.program_id)).all()
            recorded = case((self._unrecorded_baseline(), None), else_=p.c.baseline_current)
            grouped = select(
                key.label("key"),
                recorded.label("baseline"),
                p.c.funded,
                p.c.committed,
                p.c.paid,
                p.c.withdrawn,
            ).subquery("grouped")
            money = {
                row[0]: row[1:]
                for row in conn.execute(
                    select(
                        grouped.c.key,
                        schema.uint_sum(grouped.c.baseline),
                        schema.uint_sum(grouped.c.funded),
                        schema.uint_sum(grouped.c.committed),
                        schema.uint_sum(grouped.c.paid),
                        schema.uint_sum(grouped.c.withdrawn),
                    ).group_by(grouped.c.key)
                )
            }
            m = schema.milestones
            obligated: dict[Any, Any] = dict(
                conn.execute(
                    select(key, schema.uint_sum(m.c.amount))
                    .join(m, m.c.program_id == p.c.program_id)
                    .where(self._unrecorded_baseline(), m.c.status.not_in(self._uncommitted))
                    .group_by(key)
                ).all()
            )
            paid_to = (
                select(key.label("key"), r.c.beneficiary, r.c.paid)
                .join(p, p.c.program_id == r.c.program_id)
                .subquery("paid_to")
            )
            top = conn.execute(_top(paid_to, paid_to.c.key, top_n, conn)).all()
        # A group's payments sum to its programs' paid (the fold adds each payment to both).
        recipients: dict[Any, list[Recipient]] = defaultdict(list)
        for group, beneficiary, paid in top:
            total = int(money[group][3])
            recipients[group].append(Recipient(beneficiary, int(paid), ratio(int(paid), total)))
        ids: dict[Any, list[int]] = defaultdict(list)
        shares: dict[Any, list[float]] = defaultdict(list)
        elapsed: dict[int, float | None] = {}
        for program_id, group, fiscal_year in members:
            ids[group].append(int(program_id))
            fy = int(fiscal_year)
            if fy not in elapsed:  # a few years for a thousand programs
                elapsed[fy] = elapsed_share(
                    self.calendar.start(fy), self.calendar.end(fy), cursor.timestamp
                )
            share = elapsed[fy]
            if share is not None:
                shares[group].append(share)
        out = []
        for group in sorted(ids, key=str):
            recorded_total, funded, committed, paid, withdrawn = (int(v) for v in money[group])
            baseline = recorded_total + int(obligated.get(group, 0))
            s = shares[group]
            out.append(
                GroupRollup(
                    str(group),
                    tuple(ids[group]),
                    Totals(
                        programs=len(ids[group]),
                        baseline=baseline,
                        funded=funded,
                        committed=committed,
                        paid=paid,
                        refunded=withdrawn,
                        available=funded - paid - withdrawn,
                        execution_rate=ratio(paid, baseline),
                        year_elapsed=sum(s) / len(s) if s else None,
                        top_recipients=tuple(recipients[group]),
                    ),
                )
            )
        return At(cursor, tuple(out))

    def recipients(self, n: int = 10) -> At[tuple[Recipient, ...]]:
        """The n beneficiaries paid most by all programs, largest first (ties by address), as
        `disburse.analytics.rollup.top_recipients` over every milestone gives them."""
        _positive(n, "n")
        r = schema.recipients
        with self.store.engine.connect() as conn, conn.begin():
            cursor = ready_cursor(self.store, conn)
            total = int(conn.execute(select(schema.uint_sum(r.c.paid))).scalar_one())
            paid_to = select(literal(1).label("key"), r.c.beneficiary, r.c.paid).subquery()
            rows = conn.execute(_top(paid_to, paid_to.c.key, n, conn)).all()
        return At(
            cursor, tuple(Recipient(b, int(paid), ratio(int(paid), total)) for _, b, paid in rows)
        )

    # ------------------------------------------------------------------ one program

    def program(self, program_id: int, *, top_n: int = 5) -> At[ProgramAnswer]:
        """One program's facts, milestones, roll-up and earned value at the cursor."""
        _positive(top_n, "top_n")
        with self.store.engine.connect() as conn, conn.begin():
            cursor, facts, milestones = self._program(conn, program_id)
        rollup = rollup_programs([facts], milestones, now=cursor.timestamp, top_n=top_n)[0]
        evm = evm_at(facts, milestones, cursor.timestamp)
        return At(cursor, ProgramAnswer(facts, milestones, rollup, evm))

    def alerts(self, program_id: int) -> At[tuple[Alert, ...]]:
        """The program's alerts at the cursor (`program_alerts`, from its own rows only)."""
        with self.store.engine.connect() as conn, conn.begin():
            cursor, facts, milestones = self._program(conn, program_id)
        alerts = program_alerts(facts, milestones, now=cursor.timestamp, thresholds=self.thresholds)
        return At(cursor, alerts)

    def forecast(self, program_id: int) -> At[tuple[Forecast, ...]]:
        """A forecast for each of the program's open milestones at the cursor, in deadline
        order: what `forecast_open` gives from the whole index, for this program."""
        m = schema.milestones
        with self.store.engine.connect() as conn, conn.begin():
            cursor, _facts, milestones = self._program(conn, program_id)
            now = cursor.timestamp
            beneficiaries = sorted({f.beneficiary for f in milestones})
            theirs = [
                milestone_facts(row, labels=self._labels)
                for row in conn.execute(
                    select(m)
                    .where(m.c.beneficiary.in_(beneficiaries))
                    .order_by(m.c.program_id, m.c.milestone_id)
                ).mappings()
            ]
            everyone = self._everyone_at(conn, cursor)
        own = records_at(milestones, now)
        records = Records(
            contractors=records_at(theirs, now).contractors,
            programs=own.programs,
            everyone=everyone,
        )
        return At(cursor, forecast_open(milestones, now=now, model=self.model, records=records))

    # ------------------------------------------------------------------ helpers

    def _program(
        self, conn: Connection, program_id: int
    ) -> tuple[Cursor, ProgramFacts, tuple[MilestoneFacts, ...]]:
        if isinstance(program_id, bool) or not isinstance(program_id, int) or program_id < 0:
            raise ValueError(f"a program id is a non-negative integer, not {program_id!r}")
        cursor = ready_cursor(self.store, conn)
        found = load_program(conn, program_id, token=self.token, calendar=self.calendar)
        if found is None:
            p = schema.programs
            low, high, count = conn.execute(
                select(func.min(p.c.program_id), func.max(p.c.program_id), func.count())
            ).one()
            held = f"programs {low} to {high} ({count})" if count else "no program"
            raise UnknownProgramError(
                f"the index at {self.store.url} holds no program {program_id} at block "
                f"{cursor.number}: it holds {held}"
            )
        facts, milestones = found
        return cursor, facts, milestones

    def _everyone_at(self, conn: Connection, cursor: Cursor) -> Record:
        """Everyone's lateness record at `cursor`: built from every milestone, streamed, once
        per cursor."""
        if self._everyone is not None and self._everyone[0] == cursor:
            return self._everyone[1]
        m = schema.milestones
        known: list[tuple[float, str]] = []
        rows = conn.execution_options(yield_per=_STREAM).execute(
            select(m).order_by(m.c.program_id, m.c.milestone_id)
        )
        for row in rows.mappings():
            found = lateness_known(milestone_facts(row, labels=self._labels), cursor.timestamp)
            if found is not None:
                known.append(found)
        everyone = record("all programs", known)
        self._everyone = (cursor, everyone)
        return everyone

    def _unrecorded_baseline(self) -> ColumnElement[bool]:
        """Programs whose baseline `program_facts` takes from what their milestones obligate
        (cancelled and expired ones left out): none recorded, or zero."""
        p = schema.programs
        return or_(p.c.baseline_current.is_(None), p.c.baseline_current == 0)

    def _fiscal_year(self, conn: Connection) -> ColumnElement[Any]:
        """A program's fiscal year as `fiscal_year_of` gives it: recorded, else the year of its
        creation, as a CASE over the bounds of the years programs without one were created in."""
        p = schema.programs
        low, high = conn.execute(
            select(func.min(p.c.created_time), func.max(p.c.created_time)).where(
                p.c.fiscal_year.is_(None)
            )
        ).one()
        if low is None:
            return p.c.fiscal_year
        first, last = self.calendar.year_of(int(low)), self.calendar.year_of(int(high))
        if first == last:
            return func.coalesce(p.c.fiscal_year, first)
        years = [(p.c.created_time >= self.calendar.start(y), y) for y in range(last, first, -1)]
        return func.coalesce(p.c.fiscal_year, case(*years, else_=first))


def _recorded(column: Any) -> ColumnElement[Any]:
    """An organisation or category as `program_facts` takes it (empty or NULL: not recorded)."""
    return case((or_(column.is_(None), column == ""), NOT_RECORDED), else_=column)


def _top(paid_to: Any, key: Any, n: int, conn: Connection) -> Any:
    """The n beneficiaries paid most in each group of `paid_to` (key, beneficiary, paid):
    largest first, ties by address compared as bytes (as Python compares them)."""
    by_key = (
        select(
            key.label("key"), paid_to.c.beneficiary, schema.uint_sum(paid_to.c.paid).label("paid")
        )
        .group_by(key, paid_to.c.beneficiary)
        .subquery("by_key")
    )
    beneficiary: ColumnElement[Any] = by_key.c.beneficiary
    if conn.dialect.name == "postgresql":
        beneficiary = collate(beneficiary, "C")
    ranked = select(
        by_key.c.key,
        by_key.c.beneficiary,
        by_key.c.paid,
        func.row_number()
        .over(partition_by=by_key.c.key, order_by=(by_key.c.paid.desc(), beneficiary))
        .label("rank"),
    ).subquery("ranked")
    return (
        select(ranked.c.key, ranked.c.beneficiary, ranked.c.paid)
        .where(ranked.c.rank <= n)
        .order_by(ranked.c.key, ranked.c.rank)
    )


def _positive(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} is a positive integer, not {value!r}")


__all__ = ["At", "IndexQueries", "ProgramAnswer", "UnknownProgramError"]

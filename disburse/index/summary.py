"""Summaries kept beside the derived tables, in the same transaction, for the read API
(`disburse.index.queries`): answers about the whole history that must not read the whole
history.

`recipients`: per (program, beneficiary), the sum and number of payments. A roll-up's top
recipients then group a few rows per program rather than every payment ever made (at a million
events, summing the payments themselves takes SQLite about half a second).

It is tallied from the same decoded batch the fold reads (`MilestoneReleased`: milestone,
program, beneficiary, amount), by the store, after the fold, wherever the fold runs (a new
window, a refold, a rollback's refold), so it always describes exactly the events stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, delete, select, tuple_

from disburse.index import schema
from disburse.index.fold import FoldEvent

_CHUNK = 400
"""Keys per statement (well under SQLite's 32,766 bound parameters)."""


def tally(conn: Connection, batch: Sequence[FoldEvent]) -> None:
    """Adds a batch's payments to `recipients`, on the caller's transaction."""
    added: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for e in batch:
        if e.name == "MilestoneReleased":
            _mid, program_id, beneficiary, amount = e.values
            row = added[(int(program_id), str(beneficiary))]
            row[0] += int(amount)
            row[1] += 1
    if not added:
        return
    r = schema.recipients
    keys = list(added)
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        match = tuple_(r.c.program_id, r.c.beneficiary).in_(chunk)
        for program_id, beneficiary, paid, payments in conn.execute(
            select(r.c.program_id, r.c.beneficiary, r.c.paid, r.c.payments).where(match)
        ):
            row = added[(int(program_id), beneficiary)]
            row[0] += int(paid)
            row[1] += int(payments)
        conn.execute(delete(r).where(match))
    schema.bulk_insert(conn, r, [(p, b, paid, n) for (p, b), (paid, n) in added.items()])

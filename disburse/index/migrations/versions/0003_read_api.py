"""What the read API (`disburse.index.queries`) needs to answer at a million events in
milliseconds: `recipients`, each beneficiary's payments summed per program (the roll-ups' top
recipients), and an index of the events by (program, name) (one program's last money movement
and its expiries).

An index built before this revision already holds the payments' events; `recipients` is filled
by refolding them when it is next opened (meta `refold` is set here).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disburse.index.schema import Uint256

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recipients",
        sa.Column("program_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("beneficiary", sa.String(42), primary_key=True),
        sa.Column("paid", Uint256, nullable=False),
        sa.Column("payments", sa.Integer, nullable=False),
    )
    op.create_index("ix_events_program_name", "events", ["program_id", "name"])
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(sa.delete(meta).where(meta.c.key == "refold"))
    op.bulk_insert(meta, [{"key": "refold", "value": "0003"}])


def downgrade() -> None:
    op.drop_index("ix_events_program_name", "events")
    op.drop_table("recipients")

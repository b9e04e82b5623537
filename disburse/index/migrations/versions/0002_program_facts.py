"""Program facts and baselines, and what earned value needs of a milestone.

programs: title, organisation, category, fiscal_year (ProgramDescribed), baseline_original and
baseline_current (ProgramDescribed, then BaselineChanged); a `baselines` table keeps every
change. milestones: original_amount and original_deadline (the terms at registration: the
planned value of earned-value analysis) and `disputed` (ever disputed).

An index built before this revision already holds the events; the derived tables are refolded
from them when it is next opened (meta `refold` is set here).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disburse.index.schema import Uint256

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("title", sa.Text))
        batch.add_column(sa.Column("organisation", sa.Text))
        batch.add_column(sa.Column("category", sa.Text))
        batch.add_column(sa.Column("fiscal_year", sa.Integer))
        batch.add_column(sa.Column("baseline_original", Uint256))
        batch.add_column(sa.Column("baseline_current", Uint256))
    with op.batch_alter_table("milestones") as batch:
        batch.add_column(sa.Column("original_amount", Uint256))
        batch.add_column(sa.Column("original_deadline", sa.BigInteger))
        batch.add_column(
            sa.Column("disputed", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "baselines",
        sa.Column("block", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("program_id", sa.BigInteger, nullable=False),
        sa.Column("previous", Uint256, nullable=False),
        sa.Column("baseline", Uint256, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_baselines_program", "baselines", ["program_id"])
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(sa.delete(meta).where(meta.c.key == "refold"))
    op.bulk_insert(meta, [{"key": "refold", "value": "0002"}])


def downgrade() -> None:
    op.drop_index("ix_baselines_program", "baselines")
    op.drop_table("baselines")
    with op.batch_alter_table("milestones") as batch:
        batch.drop_column("disputed")
        batch.drop_column("original_deadline")
        batch.drop_column("original_amount")
    with op.batch_alter_table("programs") as batch:
        for column in (
            "baseline_current",
            "baseline_original",
            "fiscal_year",
            "category",
            "organisation",
            "title",
        ):
            batch.drop_column(column)

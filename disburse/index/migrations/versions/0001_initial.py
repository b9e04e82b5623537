"""The first schema of the index: events, blocks, cursor, meta and the derived tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disburse.index.schema import Uint256

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

HASH, ADDRESS = 66, 42


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "cursor",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(HASH), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "blocks",
        sa.Column("number", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(HASH), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("block", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("tx_hash", sa.String(HASH), nullable=False),
        sa.Column("address", sa.String(ADDRESS), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("topics", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("sender", sa.String(ADDRESS)),
        sa.Column("program_id", sa.BigInteger),
        sa.Column("milestone_id", sa.String(HASH)),
        sa.Column("proposal_id", sa.BigInteger),
    )
    op.create_index("ix_events_name", "events", ["name"])
    op.create_index("ix_events_program", "events", ["program_id"])
    op.create_index("ix_events_milestone", "events", ["milestone_id"])
    op.create_index("ix_events_proposal", "events", ["proposal_id"])
    op.create_table(
        "programs",
        sa.Column("program_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("manager", sa.String(ADDRESS), nullable=False),
        sa.Column("token", sa.String(ADDRESS), nullable=False),
        sa.Column("treasury", sa.String(ADDRESS), nullable=False),
        sa.Column("challenge_window", sa.BigInteger, nullable=False),
        sa.Column("created_block", sa.BigInteger, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False),
        *(
            sa.Column(name, Uint256, nullable=False)
            for name in (
                "funded",
                "committed",
                "paid",
                "force_paid",
                "withdrawn",
                "returned_cancelled",
                "returned_expired",
            )
        ),
        sa.Column("milestones", sa.Integer, nullable=False),
    )
    op.create_table(
        "milestones",
        sa.Column("milestone_id", sa.String(HASH), primary_key=True),
        sa.Column("program_id", sa.BigInteger, nullable=False),
        sa.Column("ref", sa.String(HASH), nullable=False),
        sa.Column("beneficiary", sa.String(ADDRESS), nullable=False),
        sa.Column("amount", Uint256, nullable=False),
        sa.Column("deadline", sa.BigInteger, nullable=False),
        sa.Column("spec_hash", sa.String(HASH), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("registered_block", sa.BigInteger, nullable=False),
        sa.Column("registered_time", sa.BigInteger, nullable=False),
        sa.Column("attestations", sa.Integer, nullable=False),
        sa.Column("evidence_hash", sa.String(HASH)),
        sa.Column("verified_time", sa.BigInteger),
        sa.Column("released_time", sa.BigInteger),
        sa.Column("forced", sa.Boolean, nullable=False),
    )
    op.create_index("ix_milestones_program", "milestones", ["program_id"])
    op.create_index("ix_milestones_beneficiary", "milestones", ["beneficiary"])
    op.create_table(
        "attestations",
        sa.Column("block", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("milestone_id", sa.String(HASH), nullable=False),
        sa.Column("oracle", sa.String(ADDRESS), nullable=False),
        sa.Column("evidence_hash", sa.String(HASH), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_attestations_milestone", "attestations", ["milestone_id"])
    op.create_index("ix_attestations_oracle", "attestations", ["oracle"])
    op.create_table(
        "payments",
        sa.Column("block", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("milestone_id", sa.String(HASH), nullable=False),
        sa.Column("program_id", sa.BigInteger, nullable=False),
        sa.Column("beneficiary", sa.String(ADDRESS), nullable=False),
        sa.Column("amount", Uint256, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
    )
    op.create_index("ix_payments_program", "payments", ["program_id"])
    op.create_index("ix_payments_beneficiary", "payments", ["beneficiary"])
    op.create_table(
        "proposals",
        sa.Column("proposal_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("proposer", sa.String(ADDRESS), nullable=False),
        sa.Column("target", sa.String(ADDRESS), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("expiry", sa.BigInteger, nullable=False),
        sa.Column("created_block", sa.BigInteger, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("approvals", sa.Integer, nullable=False),
        sa.Column("executed_block", sa.BigInteger),
        sa.Column("executed_time", sa.BigInteger),
        sa.Column("executor", sa.String(ADDRESS)),
    )


def downgrade() -> None:
    for table in (
        "proposals",
        "payments",
        "attestations",
        "milestones",
        "programs",
        "events",
        "blocks",
        "cursor",
        "meta",
    ):
        op.drop_table(table)

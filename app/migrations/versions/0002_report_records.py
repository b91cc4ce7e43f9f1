"""Report records: evaluated opioid orders and returned cards (docs/reports.md).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_orders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("call_id", sa.String(32), nullable=False, index=True),
        sa.Column("hook", sa.String(50), nullable=False),
        sa.Column("practice_agb", sa.String(20), nullable=True, index=True),
        sa.Column("prescriber_pseudonym", sa.String(64), nullable=True),
        sa.Column("prescriber_role", sa.String(20), nullable=False),
        sa.Column("substance", sa.String(100), nullable=True),
        sa.Column("strength", sa.String(10), nullable=True),
        sa.Column("release_type", sa.String(20), nullable=False),
        sa.Column("route", sa.String(30), nullable=True),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.Column("duration_indefinite", sa.Boolean(), nullable=False),
        sa.Column("doses_per_day", sa.Float(), nullable=True),
        sa.Column("ome_mg_per_day", sa.Float(), nullable=True),
        sa.Column("has_indication", sa.Boolean(), nullable=False),
        sa.Column("repeats_allowed", sa.Integer(), nullable=False),
        sa.Column("gp_max_days", sa.Integer(), nullable=True),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
    )
    op.create_table(
        "report_cards",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("hook", sa.String(50), nullable=False),
        sa.Column("practice_agb", sa.String(20), nullable=True),
        sa.Column("card_uuid", sa.String(100), nullable=False, index=True),
        sa.Column("rule_id", sa.String(100), nullable=False),
    )
    # The report finds feedback by time; 0001 indexed it only by card.
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_received_at", table_name="feedback")
    op.drop_table("report_cards")
    op.drop_table("report_orders")

"""Feedback, card events (audit) and seen JWT ids.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(64), nullable=False, unique=True),
        sa.Column("service_id", sa.String(100), nullable=False, index=True),
        sa.Column("card_uuid", sa.String(100), nullable=False, index=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=False),
        sa.Column("override_reason_system", sa.String(255), nullable=True),
        sa.Column("override_reason_code", sa.String(100), nullable=True),
        sa.Column("has_user_comment", sa.Boolean(), nullable=False),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "card_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("hook", sa.String(50), nullable=False),
        sa.Column("hook_instance", sa.String(100), nullable=False),
        sa.Column("patient_pseudonym", sa.String(64), nullable=True, index=True),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("card_uuids", sa.JSON(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
    )
    op.create_table(
        "seen_jwt_ids",
        sa.Column("jti_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("seen_jwt_ids")
    op.drop_table("card_events")
    op.drop_table("feedback")

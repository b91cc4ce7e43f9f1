"""The audit journal's shipped segments: what makes shipping a segment happen once.

A segment's name is stored in the transaction that stores its events, so a segment whose
file outlived that commit (the process was killed in between) is recognised and not stored
twice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_journal_segments",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("audit_journal_segments")

"""The replay store's table unlogged on PostgreSQL: a `jti` INSERT without a WAL flush.

A signed call waited for the commit's WAL flush (3.3 ms on the development machine). An
unlogged table writes no WAL; what it gives up is that PostgreSQL empties it after a crash
and a standby does not have it, so after a database crash or fail-over a token seen before
could be replayed until it expires (minutes). SQLite has no such tables (its replay store
commits without fsync instead: app/replay_store.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-14
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE seen_jwt_ids SET UNLOGGED")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE seen_jwt_ids SET LOGGED")

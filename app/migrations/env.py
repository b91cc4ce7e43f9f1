"""Alembic environment: migrations always run on a connection handed in by app.db."""

from __future__ import annotations

from alembic import context

from app.db import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `opioid-cds migrate` (app.db.migrate)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

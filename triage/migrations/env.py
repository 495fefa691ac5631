"""Alembic environment: migrations run on the connection that `triage.migrate` hands over."""

from __future__ import annotations

from alembic import context

from triage.store import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `triage db upgrade` runs migrations
    raise RuntimeError("run migrations with `triage db upgrade` (triage.migrate.upgrade), not the alembic command")

# SQLite cannot ALTER most things in place: batch mode copies the table instead.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

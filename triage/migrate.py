"""Schema migrations with Alembic: `triage db upgrade`, also run when the service starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

# The revision that matches the schema the first release made with create_all;
# a database from then has the tables but no alembic_version row.
BASELINE = "0001"
UNVERSIONED = "unversioned (first release)"


def _config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "triage:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """Return the newest revision this code knows."""
    return ScriptDirectory.from_config(_config(None)).get_current_head()  # type: ignore[arg-type]


def current(engine: Engine) -> str | None:
    """Return the revision a database is at (None for an empty or pre-migration database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _exclusive(conn: Connection) -> Iterator[None]:
    # Several hosts may start at once on one PostgreSQL: one migrates, the others wait.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(74021)"))
    yield


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Bring the database to ``revision``; return (revision before, revision after)."""
    with engine.begin() as conn, _exclusive(conn):
        before = MigrationContext.configure(conn).get_current_revision()
        cfg = _config(conn)
        if before is None and inspect(conn).has_table("inquiries"):
            # Made by the first release's create_all: it is the baseline schema.
            command.stamp(cfg, BASELINE)
            before = UNVERSIONED
        command.upgrade(cfg, revision)
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after or ""

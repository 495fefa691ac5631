"""Schema migrations: a database of the first release upgrades in place, and models match migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import MetaData, Table, create_engine, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from triage import migrate
from triage.cli import cli
from triage.migrations import columns, ops
from triage.store import Base, Store

FIRST_RELEASE = Path(__file__).parent / "data" / "first_release.sql"


def _first_release_db(path: Path) -> str:
    """Make a SQLite database exactly as the first release's create_all did, with one inquiry."""
    conn = sqlite3.connect(path)
    conn.executescript(FIRST_RELEASE.read_text(encoding="utf-8"))
    conn.execute(
        "insert into inquiries (source, external_id, text, received_at, label, confidence, probabilities,"
        " needs_review, model_version, classified_at, handled) values ('api', 'old-1', '補償はありますか',"
        " '2026-11-21 09:00:00', 'compensation', 0.9, '{}', 0, 'v1', '2026-11-21 09:00:00', 0)"
    )
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def _diffs(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        engine.dispose()


def test_first_release_database_upgrades_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    url = _first_release_db(tmp_path / "old.sqlite")
    store = Store(url)
    assert migrate.current(store.engine) is None
    store.create_schema()
    assert migrate.current(store.engine) == migrate.head()
    row = store.find_external("api", "old-1")
    assert row is not None and row.text == "補償はありますか"
    store.engine.dispose()
    assert _diffs(url) == []


def test_empty_database_gets_the_newest_schema_and_repeats_are_no_ops(database_url: str) -> None:
    store = Store(database_url)
    before, after = migrate.upgrade(store.engine)
    assert before is None and after == migrate.head()
    assert migrate.upgrade(store.engine) == (after, after)
    assert {"inquiries", "corrections", "users", "alembic_version"} <= set(inspect(store.engine).get_table_names())
    # A column added to a model without a migration would show up here.
    assert _diffs(database_url) == []
    store.engine.dispose()


def test_db_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _first_release_db(tmp_path / "cli.sqlite")
    monkeypatch.setenv("TRIAGE_DATABASE_URL", url)
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "current"])
    assert result.exit_code == 0, result.output
    assert "not migrated" in result.output
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"to {migrate.head()}" in result.output
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0 and "nothing to do" in result.output, result.output
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from inquiries")).scalar() == 1
    engine.dispose()


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (sqlite.dialect(), "id INTEGER NOT NULL, at DATETIME, who VARCHAR(80) NOT NULL, digest VARCHAR(64), PRIMARY KEY (id)"),
        (postgresql.dialect(), "id SERIAL NOT NULL, at TIMESTAMP WITH TIME ZONE, who VARCHAR(80) NOT NULL, "
         "digest VARCHAR(64), PRIMARY KEY (id)"),
    ],
)
def test_column_kinds_are_frozen(dialect: object, expected: str) -> None:
    # Revisions call these: a change to one would make new databases differ from migrated ones.
    table = Table("t", MetaData(), columns.key(), columns.moment("at"), columns.account("who", nullable=False),
                  columns.sha256("digest"))
    ddl = " ".join(str(CreateTable(table).compile(dialect=dialect)).split())
    assert ddl == f"CREATE TABLE t ( {expected} )"


def test_columns_added_to_a_table_in_use_must_be_nullable() -> None:
    with pytest.raises(ValueError, match="must be nullable"):
        ops.add_columns("inquiries", columns.moment("due_at", nullable=False))

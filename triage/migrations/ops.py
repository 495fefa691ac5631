"""What the revisions do again and again: add or drop columns of a table, create or drop its indexes.

Batch mode throughout, so that SQLite (which cannot alter most of a table in place) gets the same
revisions as PostgreSQL. Index names follow the models' naming convention: ``ix_<table>_<column>``.
Frozen, like ``columns.py``: a revision must do the same whenever it runs, so what a function here
does never changes once a revision calls it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def add_columns(table: str, *columns: sa.Column) -> None:
    """Add the columns to the table, in order; each must be nullable (the rows already there have no value)."""
    not_null = [c.name for c in columns if not c.nullable and c.server_default is None]
    if not_null:
        # NOT NULL without a default fails on a table that holds rows, so only on a database in use.
        raise ValueError(f"columns added to {table} must be nullable or have a server default: {not_null}")
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.add_column(column)


def drop_columns(table: str, *names: str) -> None:
    """Drop the columns of the table, in order."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name in names:
            batch_op.drop_column(name)


def create_indexes(table: str, *columns: str) -> None:
    """Create the (non-unique) index ix_<table>_<column> of each column."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def drop_indexes(table: str, *columns: str) -> None:
    """Drop the index ix_<table>_<column> of each column."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))

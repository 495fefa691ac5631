"""What the revisions do again and again: add or drop columns of a table, create or drop its indexes.

Batch mode throughout, so that SQLite (which cannot alter most of a table in place) gets the same
revisions as PostgreSQL. Index names follow the models' naming convention: ``ix_<table>_<column>``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def add_columns(table: str, *columns: sa.Column) -> None:
    """Add the columns to the table, in order."""
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

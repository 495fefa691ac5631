"""Column kinds that several tables share, so that a revision says what a column holds, not its type again.

FROZEN. A revision must make the same schema every time it runs, on a new database as on one
migrated years ago: once a revision calls a function here, that function never changes. A new
kind, or another length, is a new function, and the revision that moves columns to it alters them.
Each call returns a new Column (a Column belongs to one table); as with ``sa.Column``, it is nullable
unless ``nullable=False``.
"""

from __future__ import annotations

import sqlalchemy as sa


def key() -> sa.Column:
    """The table's integer primary key ``id`` (a sequence on PostgreSQL, the rowid on SQLite)."""
    return sa.Column("id", sa.Integer(), primary_key=True)


def moment(name: str, nullable: bool = True) -> sa.Column:
    """A point in time, with its time zone (the service writes UTC)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def account(name: str, nullable: bool = True) -> sa.Column:
    """The name of an account: who did something (as long as ``users.name``, 80 characters)."""
    return sa.Column(name, sa.String(length=80), nullable=nullable)


def sha256(name: str, nullable: bool = True) -> sa.Column:
    """A SHA-256 digest as 64 hexadecimal digits."""
    return sa.Column(name, sa.String(length=64), nullable=nullable)

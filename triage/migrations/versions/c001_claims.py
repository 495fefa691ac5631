"""claims: the amounts, dates, references and requests extracted from each inquiry

Nullable: rows stored before this revision have no claim; the pages and the
export extract one from the stored text when they need it.
"""

from __future__ import annotations

import sqlalchemy as sa

from triage.migrations.ops import add_columns, drop_columns

revision = "c001"
down_revision = "0001"


def upgrade() -> None:
    """Apply this revision."""
    add_columns("inquiries", sa.Column("claim", sa.JSON()))


def downgrade() -> None:
    """Revert this revision."""
    drop_columns("inquiries", "claim")

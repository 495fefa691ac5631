"""desk: the escalation reason found at intake, and the agent an inquiry is assigned to

Nullable: rows stored before this revision have no reason (the queue orders
them with "other") and nobody assigned.
"""

from __future__ import annotations

import sqlalchemy as sa

from triage.migrations.columns import account
from triage.migrations.ops import add_columns, drop_columns

revision = "d001"
down_revision = "o001"


def upgrade() -> None:
    """Apply this revision."""
    add_columns("inquiries", sa.Column("reason", sa.String(length=32)), account("assignee"))


def downgrade() -> None:
    """Revert this revision."""
    drop_columns("inquiries", "assignee", "reason")

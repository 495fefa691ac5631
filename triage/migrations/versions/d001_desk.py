"""desk: the escalation reason found at intake, and the agent an inquiry is assigned to

Revision ID: d001
Revises: o001
Create Date: 2026-12-04

Nullable: rows stored before this revision have no reason (the queue orders
them with "other") and nobody assigned.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d001"
down_revision = "o001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("assignee", sa.String(length=80), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.drop_column("assignee")
        batch_op.drop_column("reason")

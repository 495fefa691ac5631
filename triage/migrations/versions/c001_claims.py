"""claims: the amounts, dates, references and requests extracted from each inquiry

Revision ID: c001
Revises: 0001
Create Date: 2026-12-02

Nullable: rows stored before this revision have no claim; the pages and the
export extract one from the stored text when they need it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.drop_column("claim")

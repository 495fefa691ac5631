"""insight columns: best FAQ score and topic words of each inquiry

Revision ID: s001
Revises: h001
Create Date: 2026-12-02

Both are filled at intake from now on; rows stored before stay NULL (insight
makes their topic words from the text when it first reads them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 's001'
down_revision = 'h001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('faq_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('topic_terms', sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.drop_column('topic_terms')
        batch_op.drop_column('faq_score')

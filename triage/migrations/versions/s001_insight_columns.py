"""insight columns: best FAQ score and topic words of each inquiry

Both are filled at intake from now on; rows stored before stay NULL (insight
makes their topic words from the text when it first reads them).
"""

from __future__ import annotations

import sqlalchemy as sa

from triage.migrations.ops import add_columns, drop_columns

revision = 's001'
down_revision = 'h001'


def upgrade() -> None:
    """Apply this revision."""
    add_columns('inquiries', sa.Column('faq_score', sa.Float()), sa.Column('topic_terms', sa.Text()))


def downgrade() -> None:
    """Revert this revision."""
    drop_columns('inquiries', 'topic_terms', 'faq_score')

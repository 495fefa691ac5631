"""ops: an admin's review (accepted / rejected) of each agent correction before it is exported for training"""

from __future__ import annotations

import sqlalchemy as sa

from triage.migrations.columns import account, moment
from triage.migrations.ops import add_columns, create_indexes, drop_columns, drop_indexes

revision = 'o001'
down_revision = 'r001'


def upgrade() -> None:
    """Apply this revision."""
    add_columns('corrections', sa.Column('review', sa.String(length=16)), account('reviewed_by'), moment('reviewed_at'))
    create_indexes('corrections', 'review')


def downgrade() -> None:
    """Revert this revision."""
    drop_indexes('corrections', 'review')
    drop_columns('corrections', 'reviewed_at', 'reviewed_by', 'review')

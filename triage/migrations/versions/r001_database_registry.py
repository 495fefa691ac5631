"""database registry: model versions (joblib bytes, metadata, report) and their history/audit"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from triage.migrations.columns import account, key, moment, sha256
from triage.migrations.ops import create_indexes, drop_indexes

revision = 'r001'
down_revision = 's001'


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('model_versions',
    sa.Column('version', sa.String(length=64), nullable=False),
    moment('created_at', nullable=False),
    sha256('sha256', nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('model', sa.LargeBinary(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.Column('misclassified', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    create_indexes('model_versions', 'created_at')

    op.create_table('model_events',
    key(),
    moment('at', nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    account('actor', nullable=False),
    sa.Column('version', sa.String(length=64)),
    sa.Column('previous', sa.String(length=64)),
    sa.Column('detail', sa.JSON())
    )
    create_indexes('model_events', 'at')


def downgrade() -> None:
    """Revert this revision."""
    drop_indexes('model_events', 'at')
    op.drop_table('model_events')
    drop_indexes('model_versions', 'created_at')
    op.drop_table('model_versions')

"""database registry: model versions (joblib bytes, metadata, report) and their history/audit"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from triage.migrations.ops import create_indexes, drop_indexes

revision = 'r001'
down_revision = 's001'


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('model_versions',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('model', sa.LargeBinary(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.Column('misclassified', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    create_indexes('model_versions', 'created_at')

    op.create_table('model_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=True),
    sa.Column('previous', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    create_indexes('model_events', 'at')


def downgrade() -> None:
    """Revert this revision."""
    drop_indexes('model_events', 'at')
    op.drop_table('model_events')
    drop_indexes('model_versions', 'created_at')
    op.drop_table('model_versions')

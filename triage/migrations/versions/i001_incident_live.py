"""incident set-up: FAQ versions, incident profiles, and the live pointers every worker polls"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from triage.migrations.columns import account, key, moment, sha256
from triage.migrations.ops import create_indexes, drop_indexes

revision = 'i001'
down_revision = 'c001'


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('live_pointers',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    moment('updated_at', nullable=False),
    account('updated_by', nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('live_events',
    key(),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=200)),
    sa.Column('previous', sa.String(length=200)),
    account('actor', nullable=False),
    moment('at', nullable=False),
    sa.Column('detail', sa.JSON())
    )
    create_indexes('live_events', 'at', 'name')

    op.create_table('faq_versions',
    key(),
    moment('created_at', nullable=False),
    account('created_by', nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sha256('sha256', nullable=False),
    sa.Column('encoding', sa.String(length=16), nullable=False),
    sa.Column('n_entries', sa.Integer(), nullable=False),
    sa.Column('entries', sa.JSON(), nullable=False)
    )
    op.create_table('incident_profiles',
    key(),
    moment('created_at', nullable=False),
    account('created_by', nullable=False),
    sa.Column('data', sa.JSON(), nullable=False)
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table('incident_profiles')
    op.drop_table('faq_versions')
    drop_indexes('live_events', 'name', 'at')

    op.drop_table('live_events')
    op.drop_table('live_pointers')

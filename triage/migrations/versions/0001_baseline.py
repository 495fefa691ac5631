"""baseline: the schema of the first release

A database made by the first release's create_all is stamped with this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from triage.migrations.columns import account, key, moment, sha256
from triage.migrations.ops import create_indexes, drop_indexes

revision = '0001'
down_revision = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('api_tokens',
    key(),
    sa.Column('name', sa.String(length=80), nullable=False),
    sha256('token_hash', nullable=False),
    moment('created_at', nullable=False),
    moment('revoked_at'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('inquiries',
    key(),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=200)),
    sa.Column('text', sa.Text(), nullable=False),
    moment('received_at', nullable=False),
    sa.Column('label', sa.String(length=16), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('probabilities', sa.JSON(), nullable=False),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('model_version', sa.String(length=80), nullable=False),
    moment('classified_at', nullable=False),
    sa.Column('handled', sa.Boolean(), nullable=False),
    moment('handled_at'),
    account('handled_by'),
    sa.UniqueConstraint('source', 'external_id', name='uq_inquiry_source_external_id')
    )
    create_indexes('inquiries', 'handled', 'label', 'received_at', 'source')

    op.create_table('training_jobs',
    key(),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Text(), nullable=False),
    account('started_by', nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    moment('created_at', nullable=False),
    moment('finished_at'),
    sa.Column('version', sa.String(length=80)),
    sa.Column('result', sa.JSON()),
    sa.Column('error', sa.Text())
    )
    op.create_table('users',
    key(),
    account('name', nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    moment('created_at', nullable=False),
    sa.UniqueConstraint('name')
    )
    op.create_table('corrections',
    key(),
    sa.Column('inquiry_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=16), nullable=False),
    account('agent', nullable=False),
    moment('created_at', nullable=False),
    sa.ForeignKeyConstraint(['inquiry_id'], ['inquiries.id'], ondelete='CASCADE')
    )
    create_indexes('corrections', 'created_at', 'inquiry_id')



def downgrade() -> None:
    """Revert this revision."""
    drop_indexes('corrections', 'inquiry_id', 'created_at')

    op.drop_table('corrections')
    op.drop_table('users')
    op.drop_table('training_jobs')
    drop_indexes('inquiries', 'source', 'received_at', 'label', 'handled')

    op.drop_table('inquiries')
    op.drop_table('api_tokens')

"""hardening: server-side sessions, shared login-failure counts, job owners, webhook payload hashes

- auth_sessions: sessions the server can end (logout, disable, password change).
- login_failures: failed logins per account and per address, shared by every worker.
- training_jobs.pid/host/heartbeat_at/upload_path: the `triage train` process of a job,
  so that a job whose process died is marked failed and its upload deleted.
- inquiries.payload_sha256: a webhook id resent with another body is reported.

Only new tables and nullable columns: existing rows stay as they are (SQLite adds
the columns in place, without copying the inquiries table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from triage.migrations.columns import key, moment, sha256
from triage.migrations.ops import add_columns, create_indexes, drop_columns, drop_indexes

revision = 'h001'
down_revision = 'i001'


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('login_failures',
    key(),
    sa.Column('key', sa.String(length=120), nullable=False),
    moment('created_at', nullable=False)
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failures_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_login_failures_key_created_at', ['key', 'created_at'], unique=False)

    op.create_table('auth_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    moment('created_at', nullable=False),
    moment('last_seen_at', nullable=False),
    moment('revoked_at'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    create_indexes('auth_sessions', 'user_id')

    add_columns('inquiries', sha256('payload_sha256'))

    add_columns(
        'training_jobs',
        sa.Column('pid', sa.Integer()),
        sa.Column('host', sa.String(length=255)),
        moment('heartbeat_at'),
        sa.Column('upload_path', sa.Text()),
    )


def downgrade() -> None:
    """Revert this revision."""
    drop_columns('training_jobs', 'upload_path', 'heartbeat_at', 'host', 'pid')

    drop_columns('inquiries', 'payload_sha256')

    drop_indexes('auth_sessions', 'user_id')

    op.drop_table('auth_sessions')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_key_created_at')
        batch_op.drop_index(batch_op.f('ix_login_failures_created_at'))

    op.drop_table('login_failures')

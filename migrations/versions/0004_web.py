"""web app: passwords, session epochs and sign-in throttling on users; an index for My work's due-date order

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_hash', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('password_changed_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('failed_sign_ins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('sign_in_blocked_until', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_open_unassigned_due', ['practice', 'role', 'due_at', 'created_at', 'id'],
                              unique=False, postgresql_where=sa.text("status = 'open' AND assignee IS NULL"),
                              sqlite_where=sa.text("status = 'open' AND assignee IS NULL"))
        batch_op.create_index('ix_human_task_open_unassigned_undated', ['practice', 'role', 'created_at', 'id'],
                              unique=False,
                              postgresql_where=sa.text("status = 'open' AND assignee IS NULL AND due_at IS NULL"),
                              sqlite_where=sa.text("status = 'open' AND assignee IS NULL AND due_at IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_open_unassigned_undated',
                            postgresql_where=sa.text("status = 'open' AND assignee IS NULL AND due_at IS NULL"),
                            sqlite_where=sa.text("status = 'open' AND assignee IS NULL AND due_at IS NULL"))
        batch_op.drop_index('ix_human_task_open_unassigned_due',
                            postgresql_where=sa.text("status = 'open' AND assignee IS NULL"),
                            sqlite_where=sa.text("status = 'open' AND assignee IS NULL"))
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('sign_in_blocked_until')
        batch_op.drop_column('failed_sign_ins')
        batch_op.drop_column('session_epoch')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('password_hash')

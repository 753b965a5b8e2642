"""external tasks; a default role per process version

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:10:00
"""

from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('external_task',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('business_key', sa.String(length=32), nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('practice', sa.String(length=50), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('status', sa.Enum('open', 'completed', 'failed', 'cancelled', name='externaltaskstatus',
                                native_enum=False, length=30), nullable=False),
    sa.Column('worker_id', sa.String(length=200), nullable=True),
    sa.Column('locked_by', sa.String(length=100), nullable=True),
    sa.Column('lock_expires_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('retries', sa.Integer(), nullable=True),
    sa.Column('retry_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'],
                            name=op.f('fk_external_task_instance_id_process_instance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_task'))
    )
    op.create_index('ix_external_task_instance', 'external_task', ['instance_id', 'status'], unique=False)
    op.create_index('ix_external_task_queue', 'external_task', ['topic', 'practice', 'role', 'created_at'], unique=False,
                    postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
    with op.batch_alter_table('process_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_role', sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('process_version', schema=None) as batch_op:
        batch_op.drop_column('default_role')
    op.drop_index('ix_external_task_queue', table_name='external_task',
                  postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
    op.drop_index('ix_external_task_instance', table_name='external_task')
    op.drop_table('external_task')

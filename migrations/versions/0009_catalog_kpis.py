"""change-model catalog and KPIs: the change_template table; closed instances by practice and end time

Revision ID: 0009
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'change_template',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('practice', sa.String(length=50), nullable=False),
        sa.Column('status', sa.Enum('active', 'superseded', 'retired', name='templatestatus', native_enum=False,
                                    length=20), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('service', sa.String(length=200), nullable=False),
        sa.Column('implementation_plan', sa.Text(), nullable=False),
        sa.Column('backout_plan', sa.Text(), nullable=False),
        sa.Column('test_plan', sa.Text(), nullable=False),
        sa.Column('max_risk', sa.String(length=10), nullable=False),
        sa.Column('allowed_windows', JSON_DOCUMENT, nullable=False),
        sa.Column('source_changes', JSON_DOCUMENT, nullable=False),
        sa.Column('published_by', sa.String(length=100), nullable=False),
        sa.Column('published_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.Column('retired_by', sa.String(length=100), nullable=True),
        sa.Column('retired_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_change_template')),
        sa.UniqueConstraint('key', 'version', name=op.f('uq_change_template_key_version')),
    )
    with op.batch_alter_table('change_template', schema=None) as batch_op:
        batch_op.create_index('ix_change_template_status', ['practice', 'status', 'key'], unique=False)
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index('ix_process_instance_closed', ['practice', 'ended_at', 'process_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instance_closed')
    with op.batch_alter_table('change_template', schema=None) as batch_op:
        batch_op.drop_index('ix_change_template_status')
    op.drop_table('change_template')

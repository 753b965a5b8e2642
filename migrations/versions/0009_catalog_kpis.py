"""change-model catalog and KPIs: change_template; kpi_record; closed instances by practice and end time

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
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
    op.create_table(
        'kpi_record',
        sa.Column('instance_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('practice', sa.String(length=50), nullable=False),
        sa.Column('process_key', sa.String(length=100), nullable=False),
        sa.Column('ended_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.Column('closure_hours', sa.Float(), nullable=False),
        sa.Column('implemented', sa.Integer(), nullable=False),
        sa.Column('successful', sa.Integer(), nullable=False),
        sa.Column('backed_out', sa.Integer(), nullable=False),
        sa.Column('rolled_back', sa.Integer(), nullable=False),
        sa.Column('authorized', sa.Integer(), nullable=False),
        sa.Column('authorization_hours', sa.Float(), nullable=True),
        sa.Column('sla_breach', sa.Integer(), nullable=False),
        sa.Column('reworked', sa.Integer(), nullable=False),
        sa.Column('release_outcome', sa.String(length=30), nullable=True),
        sa.Column('linked_changes', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('instance_id', name=op.f('pk_kpi_record')),
    )
    with op.batch_alter_table('kpi_record', schema=None) as batch_op:
        batch_op.create_index('ix_kpi_record_closed', ['practice', 'ended_at'], unique=False)
    op.create_table(
        'kpi_period',
        sa.Column('practice', sa.String(length=50), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('label', sa.String(length=10), nullable=False),
        sa.Column('start', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.Column('end', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.Column('metrics', JSON_DOCUMENT, nullable=False),
        sa.Column('computed_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('practice', 'kind', 'label', name=op.f('pk_kpi_period')),
    )


def downgrade() -> None:
    op.drop_table('kpi_period')
    with op.batch_alter_table('kpi_record', schema=None) as batch_op:
        batch_op.drop_index('ix_kpi_record_closed')
    op.drop_table('kpi_record')
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instance_closed')
    with op.batch_alter_table('change_template', schema=None) as batch_op:
        batch_op.drop_index('ix_change_template_status')
    op.drop_table('change_template')

"""schedule: services, blackouts, the forward schedule, lead-time policies, calendar tokens, release links

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blackout_window',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=True),
    sa.Column('starts_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blackout_window'))
    )
    with op.batch_alter_table('blackout_window', schema=None) as batch_op:
        batch_op.create_index('ix_blackout_window_starts_at', ['starts_at'], unique=False)

    op.create_table('calendar_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=True),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_token_token_hash'))
    )
    with op.batch_alter_table('calendar_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_token_username'), ['username'], unique=False)

    op.create_table('release_link',
    sa.Column('release_key', sa.String(length=40), nullable=False),
    sa.Column('change_key', sa.String(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('linked_by', sa.String(length=100), nullable=False),
    sa.Column('linked_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('release_key', 'change_key', name=op.f('pk_release_link'))
    )
    with op.batch_alter_table('release_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_release_link_change_key'), ['change_key'], unique=False)

    op.create_table('schedule_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_key', sa.String(length=40), nullable=False),
    sa.Column('practice', sa.String(length=50), nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=True),
    sa.Column('starts_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('requested', 'authorized', 'delivered', 'implemented', 'withdrawn', name='entrystate', native_enum=False, length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('delivered_by', sa.String(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=True),
    sa.Column('updated_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_entry')),
    sa.UniqueConstraint('business_key', name=op.f('uq_schedule_entry_business_key'))
    )
    with op.batch_alter_table('schedule_entry', schema=None) as batch_op:
        batch_op.create_index('ix_schedule_entry_service_starts_at', ['service', 'starts_at'], unique=False)
        batch_op.create_index('ix_schedule_entry_starts_at', ['starts_at'], unique=False)

    op.create_table('schedule_policy',
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('lead_time_hours', sa.Integer(), nullable=False),
    sa.Column('exempt', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('process_key', name=op.f('pk_schedule_policy'))
    )
    op.create_table('service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('practice', sa.String(length=50), nullable=False),
    sa.Column('criticality', sa.Enum('low', 'medium', 'high', 'critical', name='criticality', native_enum=False, length=20), nullable=False),
    sa.Column('maintenance_windows', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service')),
    sa.UniqueConstraint('name', name=op.f('uq_service_name'))
    )


def downgrade() -> None:
    op.drop_table('service')
    op.drop_table('schedule_policy')
    with op.batch_alter_table('schedule_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_schedule_entry_starts_at')
        batch_op.drop_index('ix_schedule_entry_service_starts_at')

    op.drop_table('schedule_entry')
    with op.batch_alter_table('release_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_release_link_change_key'))

    op.drop_table('release_link')
    with op.batch_alter_table('calendar_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_token_username'))

    op.drop_table('calendar_token')
    with op.batch_alter_table('blackout_window', schema=None) as batch_op:
        batch_op.drop_index('ix_blackout_window_starts_at')

    op.drop_table('blackout_window')

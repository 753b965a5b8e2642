"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 10:09:18.242220
"""

from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('business_key_sequence',
    sa.Column('prefix', sa.String(length=10), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_business_key_sequence'))
    )
    op.create_table('process_model',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('practice', sa.String(length=50), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_model')),
    sa.UniqueConstraint('key', name=op.f('uq_process_model_key'))
    )
    op.create_table('process_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=200), nullable=False),
    sa.Column('bpmn_xml', sa.Text(), nullable=False),
    sa.Column('decisions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('forms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('start_role', sa.String(length=50), nullable=True),
    sa.Column('start_form_key', sa.String(length=200), nullable=True),
    sa.Column('deployed_by', sa.String(length=100), nullable=False),
    sa.Column('deployed_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['process_model.id'], name=op.f('fk_process_version_model_id_process_model')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_version')),
    sa.UniqueConstraint('model_id', 'number', name=op.f('uq_process_version_model_id_number')),
    sa.UniqueConstraint('model_id', 'sha256', name=op.f('uq_process_version_model_id_sha256'))
    )
    op.create_table('process_instance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_key', sa.String(length=32), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('practice', sa.String(length=50), nullable=False),
    sa.Column('status', sa.Enum('running', 'waiting', 'suspended', 'completed', 'cancelled', 'error', name='instancestatus', native_enum=False, length=30), nullable=False),
    sa.Column('started_by', sa.String(length=100), nullable=False),
    sa.Column('started_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('serializer_version', sa.String(length=20), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('next_timer_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['process_version.id'], name=op.f('fk_process_instance_version_id_process_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_instance')),
    sa.UniqueConstraint('business_key', name=op.f('uq_process_instance_business_key'))
    )
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_instance_next_timer_at'), ['next_timer_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_process_key'), ['process_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_started_by'), ['started_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_status'), ['status'], unique=False)

    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('type', sa.Enum('deployed', 'started', 'claimed', 'unclaimed', 'assigned', 'completed', 'timer_fired', 'message_received', 'error', 'retried', 'suspended', 'resumed', 'cancelled', 'instance_completed', 'release_outcome', name='eventtype', native_enum=False, length=30), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_event_instance_id_process_instance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index('ix_event_instance', ['instance_id', 'id'], unique=False)

    op.create_table('human_task',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('business_key', sa.String(length=32), nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('practice', sa.String(length=50), nullable=False),
    sa.Column('status', sa.Enum('open', 'suspended', 'completed', 'cancelled', name='taskstatus', native_enum=False, length=30), nullable=False),
    sa.Column('assignee', sa.String(length=100), nullable=True),
    sa.Column('due_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('form_key', sa.String(length=200), nullable=True),
    sa.Column('instructions', sa.Text(), nullable=True),
    sa.Column('separation', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_by', sa.String(length=100), nullable=True),
    sa.Column('completed_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_human_task_instance_id_process_instance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_human_task'))
    )
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_assignee', ['assignee', 'status', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_human_task_instance', ['instance_id', 'status'], unique=False)
        batch_op.create_index('ix_human_task_open_count', ['practice', 'role', 'assignee', 'process_key'], unique=False, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.create_index('ix_human_task_open_queue', ['practice', 'role', 'assignee', 'created_at', 'id'], unique=False, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.create_index('ix_human_task_practice', ['status', 'practice', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_human_task_process', ['status', 'process_key', 'created_at', 'id'], unique=False)

    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('element_id', sa.String(length=200), nullable=True),
    sa.Column('error_type', sa.String(length=100), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_incident_instance_id_process_instance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident'))
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index('ix_incident_instance', ['instance_id', 'resolved_at'], unique=False)

    op.create_table('message_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('message_name', sa.String(length=200), nullable=False),
    sa.Column('correlation', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_message_subscription_instance_id_process_instance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_subscription'))
    )
    with op.batch_alter_table('message_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_subscription_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index('ix_message_subscription_lookup', ['message_name', 'correlation'], unique=False)

    op.create_table('task_exclusion',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['human_task.id'], name=op.f('fk_task_exclusion_task_id_human_task')),
    sa.PrimaryKeyConstraint('task_id', 'username', name=op.f('pk_task_exclusion'))
    )
    with op.batch_alter_table('task_exclusion', schema=None) as batch_op:
        batch_op.create_index('ix_task_exclusion_username', ['username', 'task_id'], unique=False)

    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_api_token_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('role_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('practice', sa.String(length=50), nullable=False),
    sa.Column('granted_by', sa.String(length=100), nullable=False),
    sa.Column('granted_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_role_assignment_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_assignment')),
    sa.UniqueConstraint('user_id', 'role', 'practice', name=op.f('uq_role_assignment_user_id_role_practice'))
    )
    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_assignment_user_id'), ['user_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Task lists count open tasks with index-only scans, which need the visibility map that VACUUM
        # maintains; human_task churns all day, so vacuum it well before the default 20% of rows change.
        op.execute("ALTER TABLE human_task SET (autovacuum_vacuum_scale_factor = 0.02, "
                   "autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)")


def downgrade() -> None:
    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_assignment_user_id'))

    op.drop_table('role_assignment')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    op.drop_table('app_user')
    with op.batch_alter_table('task_exclusion', schema=None) as batch_op:
        batch_op.drop_index('ix_task_exclusion_username')

    op.drop_table('task_exclusion')
    with op.batch_alter_table('message_subscription', schema=None) as batch_op:
        batch_op.drop_index('ix_message_subscription_lookup')
        batch_op.drop_index(batch_op.f('ix_message_subscription_instance_id'))

    op.drop_table('message_subscription')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_instance')

    op.drop_table('incident')
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_process')
        batch_op.drop_index('ix_human_task_practice')
        batch_op.drop_index('ix_human_task_open_queue', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_human_task_open_count', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_human_task_instance')
        batch_op.drop_index('ix_human_task_assignee')

    op.drop_table('human_task')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_instance')

    op.drop_table('event')
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_instance_status'))
        batch_op.drop_index(batch_op.f('ix_process_instance_started_by'))
        batch_op.drop_index(batch_op.f('ix_process_instance_process_key'))
        batch_op.drop_index(batch_op.f('ix_process_instance_next_timer_at'))

    op.drop_table('process_instance')
    op.drop_table('process_version')
    op.drop_table('process_model')
    op.drop_table('business_key_sequence')

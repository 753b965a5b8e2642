"""change templates refer to their service in the catalog (change_template.service_id); outbox: tasks whose
opening waits to be announced (notification_pending_task)

Each template version gets the id of the service it names, matched by name. A template naming a service the
catalog lacks stops the upgrade before anything changes, with the templates and how to add the services listed:
add them, then upgrade again.

Revision ID: 0012
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc

revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


class UnknownServices(RuntimeError):
    """Stored templates name services the catalog lacks: the reference cannot be made."""


def _check_every_service_is_known() -> None:
    missing = op.get_bind().execute(sa.text(
        "SELECT key, version, status, service FROM change_template"
        " WHERE service NOT IN (SELECT name FROM service) ORDER BY service, key, version")).all()
    if not missing:
        return
    templates = "; ".join(f"{key} version {version} ({status}) names '{service}'"
                          for key, version, status, service in missing)
    commands = " ".join(f"flask --app app services add '{name}';" for name in dict.fromkeys(row[3] for row in missing))
    raise UnknownServices(
        f"Migration 0012 cannot link the standard change templates to the service catalog: {templates}. Nothing "
        f"was changed. Add the missing services to the catalog ({commands} or POST /api/services), then run the "
        "migration again. Afterwards a service that no active template names may leave the catalog again.")


def upgrade() -> None:
    _check_every_service_is_known()  # before any change: SQLite does not roll DDL back with the transaction
    with op.batch_alter_table('change_template', schema=None) as batch_op:
        batch_op.add_column(sa.Column('service_id', sa.Integer(), nullable=True))
    op.execute("UPDATE change_template SET service_id ="
               " (SELECT service.id FROM service WHERE service.name = change_template.service)")
    with op.batch_alter_table('change_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_template_service_id'), ['service_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_change_template_service_id_service'), 'service', ['service_id'],
                                    ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint('ck_change_template_active_service',
                                         "status <> 'active' OR service_id IS NOT NULL")
    op.create_table(
        'notification_pending_task',
        sa.Column('task_id', sa.String(length=64), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_notification_pending_task')),
    )
    with op.batch_alter_table('notification_pending_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_pending_task_instance_id'), ['instance_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification_pending_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_pending_task_instance_id'))
    op.drop_table('notification_pending_task')
    with op.batch_alter_table('change_template', schema=None) as batch_op:
        batch_op.drop_constraint('ck_change_template_active_service', type_='check')
        batch_op.drop_constraint(batch_op.f('fk_change_template_service_id_service'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_change_template_service_id'))
        batch_op.drop_column('service_id')

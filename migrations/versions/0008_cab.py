"""cab: the CAB rule (quorum, decision rule, vote deadline) of each change model

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'cab_rule',
        sa.Column('process_key', sa.String(length=100), nullable=False),
        sa.Column('quorum', sa.Integer(), nullable=False),
        sa.Column('decision_rule', sa.String(length=30), nullable=False),
        sa.Column('vote_hours', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(length=100), nullable=False),
        sa.Column('updated_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('process_key', name=op.f('pk_cab_rule')),
    )


def downgrade() -> None:
    op.drop_table('cab_rule')

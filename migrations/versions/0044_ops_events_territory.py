"""Event outbox: each event carries the territory of what changed (its live views only are shown
it); the events already there stay install-wide (no territory)

Revision ID: 0044_ops_events_territory
Revises: 0030_ops_events_layer
"""

from alembic import op
import sqlalchemy as sa


revision = "0044_ops_events_territory"
down_revision = "0030_ops_events_layer"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("territory_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("territory_id")

"""Event outbox: index the layer with the id (the newest event of a layer, read per layer request).

Revision ID: 0030_ops_events_layer
Revises: 0012_ops_names
"""

from alembic import op

revision = "0030_ops_events_layer"
down_revision = "0012_ops_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_layer_id", "events", ["layer", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_layer_id", table_name="events")

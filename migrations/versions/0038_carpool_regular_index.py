"""Carpool: an index for the regular ads of a search, keyed by grid cells then the start of the time
window (``ix_carpool_ads_cells_regular``), so a search reads only the regular ads whose window opens
before its own ends instead of every regular ad around both ends.

Revision ID: 0038_carpool_regular_index
Revises: 0035_carpool_callbacks
"""

from alembic import op

revision = "0038_carpool_regular_index"
down_revision = "0035_carpool_callbacks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_carpool_ads_cells_regular",
        "carpool_ads",
        [
            "status",
            "role",
            "frequency",
            "to_cell",
            "from_cell",
            "window_start",
            "to_lat",
            "to_lon",
            "from_lat",
            "from_lon",
            "days_mask",
            "window_end",
            "seats_left",
            "valid_until",
        ],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_carpool_ads_cells_regular", table_name="carpool_ads")

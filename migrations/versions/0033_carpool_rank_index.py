"""Carpool: the search's index also holds the end of validity of regular ads, so the candidates are
filtered and ranked from the index alone (only the ranked batch reads its rows).

Revision ID: 0033_carpool_rank_index
Revises: 0032_carpool_interop
"""

from alembic import op

revision = "0033_carpool_rank_index"
down_revision = "0032_carpool_interop"
branch_labels = None
depends_on = None

COLUMNS = [
    "status",
    "role",
    "frequency",
    "to_cell",
    "from_cell",
    "departure_at",
    "to_lat",
    "to_lon",
    "from_lat",
    "from_lon",
    "days_mask",
    "window_start",
    "window_end",
    "seats_left",
]


def upgrade() -> None:
    op.drop_index("ix_carpool_ads_cells", table_name="carpool_ads")
    op.create_index("ix_carpool_ads_cells", "carpool_ads", [*COLUMNS, "valid_until"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_carpool_ads_cells", table_name="carpool_ads")
    op.create_index("ix_carpool_ads_cells", "carpool_ads", COLUMNS, unique=False)

"""Carpool: grid cells of each ad's start and end, indexed, for the search's spatial prefilter.

Revision ID: 0030_carpool_cells
Revises: 0023_carpool_one_request
"""

import sqlalchemy as sa
from alembic import op

from app.geo import grid_cell

revision = "0030_carpool_cells"
down_revision = "0023_carpool_one_request"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("carpool_ads", sa.Column("from_cell", sa.Integer(), nullable=True))
    op.add_column("carpool_ads", sa.Column("to_cell", sa.Integer(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, from_lat, from_lon, to_lat, to_lon FROM carpool_ads")
    ).all()
    update = sa.text("UPDATE carpool_ads SET from_cell = :f, to_cell = :t WHERE id = :id")
    for start in range(0, len(rows), 1000):
        conn.execute(
            update,
            [
                {"id": r[0], "f": grid_cell(r[1], r[2]), "t": grid_cell(r[3], r[4])}
                for r in rows[start : start + 1000]
            ],
        )
    op.create_index(
        "ix_carpool_ads_cells",
        "carpool_ads",
        [
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
        ],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_carpool_ads_cells", table_name="carpool_ads")
    with op.batch_alter_table("carpool_ads") as batch_op:
        batch_op.drop_column("to_cell")
        batch_op.drop_column("from_cell")

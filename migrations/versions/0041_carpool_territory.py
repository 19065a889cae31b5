"""Carpool: an ad and a saved search belong to a territory (the one whose host they were made on),
the rows already there to the first; the search's two cell indexes carry the territory so it is
checked on their entries; ``carpool_shares``: the territories whose offers each one shares

Revision ID: 0041_carpool_territory
Revises: 0038_carpool_regular_index
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0041_carpool_territory"
down_revision = "0038_carpool_regular_index"
branch_labels = None
depends_on = "0039_core_territory_data"

TABLES = ("carpool_ads", "carpool_searches")
CELLS = [
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
    "valid_until",
]
CELLS_REGULAR = [
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
]


def _indexes(extra: list[str]) -> None:
    op.drop_index("ix_carpool_ads_cells", table_name="carpool_ads")
    op.drop_index("ix_carpool_ads_cells_regular", table_name="carpool_ads")
    op.create_index("ix_carpool_ads_cells", "carpool_ads", CELLS + extra, unique=False)
    op.create_index(
        "ix_carpool_ads_cells_regular", "carpool_ads", CELLS_REGULAR + extra, unique=False
    )


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("territory_id", sa.Integer(), nullable=True))
        op.execute(f"UPDATE {table} SET territory_id = (SELECT min(id) FROM territories)")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_territory_id_territories"),
                "territories",
                ["territory_id"],
                ["id"],
            )
            batch_op.create_index(
                batch_op.f(f"ix_{table}_territory_id"), ["territory_id"], unique=False
            )
    _indexes(["territory_id"])
    op.create_table(
        "carpool_shares",
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_carpool_shares_territory_id_territories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["territories.id"],
            name=op.f("fk_carpool_shares_partner_id_territories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("territory_id", "partner_id", name=op.f("pk_carpool_shares")),
    )


def downgrade() -> None:
    op.drop_table("carpool_shares")
    _indexes([])
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_territory_id"))
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_territory_id_territories"), type_="foreignkey"
            )
            batch_op.drop_column("territory_id")

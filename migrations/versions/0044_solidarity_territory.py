"""Solidarity: every beneficiary, usual destination, volunteer, booking and trip belongs to a
territory (a beneficiary, volunteer and booking to their commune's, a destination to its commune's,
a trip to its booking's; what has none, to the first territory)

Revision ID: 0044_solidarity_territory
Revises: 0035_solidarity
"""

from alembic import op
import sqlalchemy as sa


revision = "0044_solidarity_territory"
down_revision = "0035_solidarity"
branch_labels = None
depends_on = "0039_core_territory_data"

BY_COMMUNE = (
    "solidarity_beneficiaries",
    "solidarity_places",
    "solidarity_volunteers",
    "solidarity_bookings",
)
TABLES = (*BY_COMMUNE, "solidarity_trips")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("territory_id", sa.Integer(), nullable=True))
    for table in BY_COMMUNE:
        op.execute(
            f"UPDATE {table} SET territory_id = (SELECT communes.territory_id "
            f"FROM communes WHERE communes.insee = {table}.commune_insee)"
        )
    op.execute(
        "UPDATE solidarity_trips SET territory_id = (SELECT solidarity_bookings.territory_id "
        "FROM solidarity_bookings WHERE solidarity_bookings.id = solidarity_trips.booking_id)"
    )
    for table in TABLES:
        op.execute(
            f"UPDATE {table} SET territory_id = (SELECT min(id) FROM territories) "
            "WHERE territory_id IS NULL"
        )
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


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_territory_id"))
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_territory_id_territories"), type_="foreignkey"
            )
            batch_op.drop_column("territory_id")

"""Sensors: each sensor belongs to a territory (its commune's, filled from it for the sensors already
there; the default territory, the first, for a sensor without one)

Revision ID: 0040_sensors_territory
Revises: 0038_sensors_solar_targets
"""

from alembic import op
import sqlalchemy as sa


revision = "0040_sensors_territory"
down_revision = "0038_sensors_solar_targets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sensors", sa.Column("territory_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE sensors SET territory_id = (SELECT communes.territory_id FROM communes "
        "WHERE communes.insee = sensors.commune_insee)"
    )
    op.execute(
        "UPDATE sensors SET territory_id = (SELECT min(id) FROM territories) "
        "WHERE territory_id IS NULL"
    )
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_sensors_territory_id_territories"),
            "territories",
            ["territory_id"],
            ["id"],
        )
        batch_op.create_index(batch_op.f("ix_sensors_territory_id"), ["territory_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sensors_territory_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_sensors_territory_id_territories"), type_="foreignkey"
        )
        batch_op.drop_column("territory_id")

"""Sensors: the LoRaWAN device EUI by which a network server's uplinks find their device.

Revision ID: 0035_sensors_lorawan
Revises: 0001_foundation
Depends on: 0012_lighting_names (the sensors table and its constraint names)
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0035_sensors_lorawan"
down_revision = "0001_foundation"
branch_labels = ("sensors",)
depends_on = ("0012_lighting_names",)


def upgrade() -> None:
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dev_eui", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.create_unique_constraint(batch_op.f("uq_sensors_dev_eui"), ["dev_eui"])


def downgrade() -> None:
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sensors_dev_eui"), type_="unique")
        batch_op.drop_column("dev_eui")

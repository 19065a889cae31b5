"""Sensors: a solar production target per territory and year (the targets already there are the
default territory's, the first)

Revision ID: 0045_sensors_solar_territory
Revises: 0040_sensors_territory
"""

from alembic import op
import sqlalchemy as sa


revision = "0045_sensors_solar_territory"
down_revision = "0040_sensors_territory"
branch_labels = None
depends_on = None

FIRST = "(SELECT min(id) FROM territories)"
FK = "fk_solar_targets_territory_id_territories"


def upgrade() -> None:
    op.add_column("solar_targets", sa.Column("territory_id", sa.Integer(), nullable=True))
    op.execute(f"UPDATE solar_targets SET territory_id = {FIRST}")
    with op.batch_alter_table("solar_targets", schema=None) as batch_op:
        batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint("pk_solar_targets", type_="primary")
        batch_op.create_primary_key("pk_solar_targets", ["territory_id", "year"])
        batch_op.create_foreign_key(FK, "territories", ["territory_id"], ["id"])


def downgrade() -> None:
    # Back to one target per year: the default territory's stay, the others' go.
    op.execute(f"DELETE FROM solar_targets WHERE territory_id <> {FIRST}")
    with op.batch_alter_table("solar_targets", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.drop_constraint("pk_solar_targets", type_="primary")
        batch_op.create_primary_key("pk_solar_targets", ["year"])
        batch_op.drop_column("territory_id")

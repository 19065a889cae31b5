"""Lighting: cabinets, groups, lights, programs, calendars and device alarms each belong to a
territory (the commune's for the inventory, filled from it; the device's for an alarm; the default
territory, the first, for the rest); indexes for a territory's groups, lamps and alarms

Revision ID: 0040_lighting_territory
Revises: 0035_lighting_talq
"""

from alembic import op
import sqlalchemy as sa


revision = "0040_lighting_territory"
down_revision = "0035_lighting_talq"
branch_labels = None
depends_on = None

DEFAULT = "(SELECT min(id) FROM territories)"
TABLES = (
    "light_cabinets",
    "light_groups",
    "streetlights",
    "light_programs",
    "light_calendars",
    "light_alarms",
)
BY_COMMUNE = ("light_cabinets", "light_groups", "streetlights")
INDEXED = ("light_cabinets", "light_groups", "light_programs", "light_calendars")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("territory_id", sa.Integer(), nullable=True))
    for table in BY_COMMUNE:
        op.execute(
            f"UPDATE {table} SET territory_id = (SELECT communes.territory_id FROM communes "
            f"WHERE communes.insee = {table}.commune_insee)"
        )
    op.execute(
        "UPDATE light_alarms SET territory_id = (SELECT streetlights.territory_id "
        "FROM streetlights WHERE streetlights.device_id = light_alarms.device_id)"
    )
    for table in TABLES:
        op.execute(f"UPDATE {table} SET territory_id = {DEFAULT} WHERE territory_id IS NULL")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_territory_id_territories"),
                "territories",
                ["territory_id"],
                ["id"],
            )
            if table in INDEXED:
                batch_op.create_index(
                    batch_op.f(f"ix_{table}_territory_id"), ["territory_id"], unique=False
                )
    op.create_index(
        "ix_light_groups_territory_name",
        "light_groups",
        ["territory_id", "commune_insee", "name", "id"],
    )
    op.create_index(
        "ix_streetlights_territory_technology", "streetlights", ["territory_id", "technology"]
    )
    op.create_index(
        "ix_light_alarms_territory_open",
        "light_alarms",
        ["territory_id", "cleared_at", "raised_at"],
    )
    op.create_index(
        "ix_light_alarms_territory_raised", "light_alarms", ["territory_id", "raised_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_light_alarms_territory_raised", table_name="light_alarms")
    op.drop_index("ix_light_alarms_territory_open", table_name="light_alarms")
    op.drop_index("ix_streetlights_territory_technology", table_name="streetlights")
    op.drop_index("ix_light_groups_territory_name", table_name="light_groups")
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in INDEXED:
                batch_op.drop_index(batch_op.f(f"ix_{table}_territory_id"))
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_territory_id_territories"), type_="foreignkey"
            )
            batch_op.drop_column("territory_id")

"""Lighting: a program's or calendar's name is unique within its territory, not on the whole install
(two territories may each have their "Nuit"; a territory copied from another on the same install
keeps its names)

Revision ID: 0044_lighting_names_territory
Revises: 0043_lighting_energy_sources
"""

from alembic import op


revision = "0044_lighting_names_territory"
down_revision = "0043_lighting_energy_sources"
branch_labels = None
depends_on = None

TABLES = ("light_programs", "light_calendars")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_name", type_="unique")
            batch_op.create_unique_constraint(
                f"uq_{table}_territory_id_name", ["territory_id", "name"]
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_territory_id_name", type_="unique")
            batch_op.create_unique_constraint(f"uq_{table}_name", ["name"])

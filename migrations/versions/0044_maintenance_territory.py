"""Maintenance: rules, alarms, work orders, teams and watches belong to a territory (every row
already there to the first territory)

Revision ID: 0044_maintenance_territory
Revises: 0032_maintenance_teams_choices
"""

from alembic import op
import sqlalchemy as sa


revision = "0044_maintenance_territory"
down_revision = "0032_maintenance_teams_choices"
branch_labels = None
depends_on = "0039_core_territory_data"

TABLES = (
    "maintenance_rules",
    "maintenance_alarms",
    "maintenance_work_orders",
    "maintenance_teams",
    "maintenance_watches",
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


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_territory_id"))
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_territory_id_territories"), type_="foreignkey"
            )
            batch_op.drop_column("territory_id")

"""Participation: a budget and a consultation belong to a territory (a commune's budget to its
commune's; the others, and every consultation already there, to the first territory)

Revision ID: 0041_participation_territory
Revises: 0036_participation_photos
"""

from alembic import op
import sqlalchemy as sa


revision = "0041_participation_territory"
down_revision = "0036_participation_photos"
branch_labels = None
depends_on = "0039_core_territory_data"

TABLES = ("participation_budgets", "participation_consultations")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("territory_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE participation_budgets SET territory_id = (SELECT communes.territory_id "
        "FROM communes WHERE communes.insee = participation_budgets.commune_insee)"
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

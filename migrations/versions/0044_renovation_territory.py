"""renovation: a local aid belongs to the territory whose staff wrote it
(renovation_rules.territory_id, none for national rules), an appointment request to the territory
whose host it was made on (renovation_appointments.territory_id: its commune's for those already
there, else the first territory's; the local aids already there to the first territory)

Revision ID: 0044_renovation_territory
Revises: 0035_renovation
"""

from alembic import op
import sqlalchemy as sa


revision = "0044_renovation_territory"
down_revision = "0035_renovation"
branch_labels = None
depends_on = "0039_core_territory_data"

FIRST = "(SELECT min(id) FROM territories)"


def upgrade() -> None:
    op.add_column("renovation_rules", sa.Column("territory_id", sa.Integer(), nullable=True))
    op.execute(f"UPDATE renovation_rules SET territory_id = {FIRST} WHERE scope = 'local'")
    with op.batch_alter_table("renovation_rules", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_renovation_rules_territory_id_territories"),
            "territories",
            ["territory_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_renovation_rules_territory_id"), ["territory_id"], unique=False
        )
    op.add_column("renovation_appointments", sa.Column("territory_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE renovation_appointments SET territory_id = (SELECT communes.territory_id "
        "FROM communes WHERE communes.insee = renovation_appointments.commune_insee)"
    )
    op.execute(
        f"UPDATE renovation_appointments SET territory_id = {FIRST} WHERE territory_id IS NULL"
    )
    with op.batch_alter_table("renovation_appointments", schema=None) as batch_op:
        batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_renovation_appointments_territory_id_territories"),
            "territories",
            ["territory_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_renovation_appointments_territory_id"), ["territory_id"], unique=False
        )
        batch_op.create_index(
            "ix_renovation_appointments_territory",
            ["territory_id", "status", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("renovation_appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_renovation_appointments_territory")
        batch_op.drop_index(batch_op.f("ix_renovation_appointments_territory_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_renovation_appointments_territory_id_territories"), type_="foreignkey"
        )
        batch_op.drop_column("territory_id")
    with op.batch_alter_table("renovation_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renovation_rules_territory_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_renovation_rules_territory_id_territories"), type_="foreignkey"
        )
        batch_op.drop_column("territory_id")

"""insights: figures kept per territory (insights_monthly.territory_id, in its key), an energy
baseline belongs to its cabinet's territory (insights_energy_baselines.territory_id)

Revision ID: 0044_insights_territory
Revises: 0035_insights
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0044_insights_territory"
down_revision = "0035_insights"
branch_labels = None
depends_on = "0040_lighting_territory"


def _monthly(with_territory: bool) -> None:
    """The kept figures, a cache computed again on the next view: made anew, empty."""
    op.drop_table("insights_monthly")
    key = ["figure", "month", "commune"]
    columns = [sa.Column("territory_id", sa.Integer(), nullable=False)] if with_territory else []
    op.create_table(
        "insights_monthly",
        *columns,
        sa.Column("figure", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("commune", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("computed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            *(["territory_id"] if with_territory else []), *key, name=op.f("pk_insights_monthly")
        ),
    )


def upgrade() -> None:
    _monthly(with_territory=True)
    op.add_column(
        "insights_energy_baselines", sa.Column("territory_id", sa.Integer(), nullable=True)
    )
    op.execute(
        "UPDATE insights_energy_baselines SET territory_id = (SELECT light_cabinets.territory_id "
        "FROM light_cabinets WHERE light_cabinets.id = insights_energy_baselines.cabinet_id)"
    )
    op.execute(
        "UPDATE insights_energy_baselines SET territory_id = (SELECT min(id) FROM territories) "
        "WHERE territory_id IS NULL"
    )
    with op.batch_alter_table("insights_energy_baselines", schema=None) as batch_op:
        batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_insights_energy_baselines_territory_id_territories"),
            "territories",
            ["territory_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_insights_energy_baselines_territory_id"), ["territory_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("insights_energy_baselines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insights_energy_baselines_territory_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_insights_energy_baselines_territory_id_territories"),
            type_="foreignkey",
        )
        batch_op.drop_column("territory_id")
    _monthly(with_territory=False)

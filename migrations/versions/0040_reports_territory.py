"""Reports: each report belongs to a territory (its commune's), filled from the commune of the
reports already there (the default territory, the first, for a report without one); an index for
a territory's lists newest first

Revision ID: 0040_reports_territory
Revises: 0037_reports_month_counts
"""

from alembic import op
import sqlalchemy as sa


revision = "0040_reports_territory"
down_revision = "0037_reports_month_counts"
branch_labels = None
depends_on = None


def _triggers() -> list[str]:
    """SQLite's triggers on ``reports`` (0037): a batch that copies the table drops them."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    return [
        row[0]
        for row in bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'reports'")
        )
    ]


def upgrade() -> None:
    triggers = _triggers()
    op.add_column("reports", sa.Column("territory_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE reports SET territory_id = (SELECT communes.territory_id FROM communes "
        "WHERE communes.insee = reports.commune_insee)"
    )
    op.execute(
        "UPDATE reports SET territory_id = (SELECT min(id) FROM territories) "
        "WHERE territory_id IS NULL"
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_reports_territory_id_territories"),
            "territories",
            ["territory_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_reports_territory_created", ["territory_id", "created_at"], unique=False
        )
    for sql in triggers:
        op.execute(sql)


def downgrade() -> None:
    triggers = _triggers()
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_territory_created")
        batch_op.drop_constraint(
            batch_op.f("fk_reports_territory_id_territories"), type_="foreignkey"
        )
        batch_op.drop_column("territory_id")
    for sql in triggers:
        op.execute(sql)

"""Reports: the body inside the territory that handles a report (NULL: the territory itself)

Revision ID: 0041_reports_body
Revises: 0040_reports_territory
"""

from alembic import op
import sqlalchemy as sa


revision = "0041_reports_body"
down_revision = "0040_reports_territory"
branch_labels = None
depends_on = "0041_core_bodies"


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
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_reports_body_id_bodies"),
            "bodies",
            ["body_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_reports_body_id"), ["body_id"], unique=False)
    for sql in triggers:
        op.execute(sql)


def downgrade() -> None:
    triggers = _triggers()
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_body_id"))
        batch_op.drop_constraint(batch_op.f("fk_reports_body_id_bodies"), type_="foreignkey")
        batch_op.drop_column("body_id")
    for sql in triggers:
        op.execute(sql)

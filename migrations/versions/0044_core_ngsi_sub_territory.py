"""Core: an NGSI-LD subscription belongs to the territory whose host it was made on (every one
already there to the first territory): it is listed, read and changed there only, and notifies of
that territory's entities only

Revision ID: 0044_core_ngsi_sub_territory
Revises: 0043_core_territory_smtp
"""

from alembic import op
import sqlalchemy as sa


revision = "0044_core_ngsi_sub_territory"
down_revision = "0043_core_territory_smtp"
branch_labels = None
depends_on = None

DEFAULT = "(SELECT min(id) FROM territories)"


def upgrade() -> None:
    op.add_column("ngsi_subscriptions", sa.Column("territory_id", sa.Integer(), nullable=True))
    op.execute(f"UPDATE ngsi_subscriptions SET territory_id = {DEFAULT}")
    with op.batch_alter_table("ngsi_subscriptions", schema=None) as batch_op:
        batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_ngsi_subscriptions_territory_id_territories"),
            "territories",
            ["territory_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_ngsi_subscriptions_territory_id"), ["territory_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ngsi_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ngsi_subscriptions_territory_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_ngsi_subscriptions_territory_id_territories"), type_="foreignkey"
        )
        batch_op.drop_column("territory_id")

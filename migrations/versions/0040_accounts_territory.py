"""Accounts: a person (staff, admin) belongs to a territory; none means the install's default
territory (the first), which every account made before is

Revision ID: 0040_accounts_territory
Revises: 0012_accounts_names
"""

from alembic import op
import sqlalchemy as sa


revision = "0040_accounts_territory"
down_revision = "0012_accounts_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("territory_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_users_territory_id_territories"), "territories", ["territory_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_users_territory_id"), ["territory_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_territory_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_users_territory_id_territories"), type_="foreignkey"
        )
        batch_op.drop_column("territory_id")

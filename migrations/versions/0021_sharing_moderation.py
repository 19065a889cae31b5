"""Sharing: a hidden ad keeps why staff hid it, when and by whom (app.moderation).

Revision ID: 0021_sharing_moderation
Revises: 0007_sharing_shops
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0021_sharing_moderation"
down_revision = "0007_sharing_shops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sharing_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "moderation_reason",
                sqlmodel.sql.sqltypes.AutoString(length=400),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column("moderated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("moderated_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sharing_items_moderated_by_users"),
            "users",
            ["moderated_by"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("sharing_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_sharing_items_moderated_by_users"), type_="foreignkey"
        )
        batch_op.drop_column("moderated_by")
        batch_op.drop_column("moderated_at")
        batch_op.drop_column("moderation_reason")

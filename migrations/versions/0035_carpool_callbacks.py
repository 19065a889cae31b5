"""Carpool: operators' callback address and token (booking changes sent to them, per the standard).

Revision ID: 0035_carpool_callbacks
Revises: 0033_carpool_rank_index
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0035_carpool_callbacks"
down_revision = "0033_carpool_rank_index"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("carpool_operators") as batch:
        batch.add_column(sa.Column("callback_url", String(length=500), nullable=True))
        batch.add_column(sa.Column("callback_token", String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("carpool_operators") as batch:
        batch.drop_column("callback_token")
        batch.drop_column("callback_url")

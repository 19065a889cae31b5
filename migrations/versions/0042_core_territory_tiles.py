"""Core: a territory's own map tiles and their attribution (empty: the install's)

Revision ID: 0042_core_territory_tiles
Revises: 0041_core_bodies
"""

from alembic import op
import sqlalchemy as sa


revision = "0042_core_territory_tiles"
down_revision = "0041_core_bodies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("territories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tile_url", sa.String(length=300), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("tile_attribution", sa.String(length=200), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("territories", schema=None) as batch_op:
        batch_op.drop_column("tile_attribution")
        batch_op.drop_column("tile_url")

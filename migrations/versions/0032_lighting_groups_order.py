"""Lighting: the groups in the overview's order (commune, name), read a page at a time.

Revision ID: 0032_lighting_groups_order
Revises: 0030_lighting_state_index
"""

from alembic import op

revision = "0032_lighting_groups_order"
down_revision = "0030_lighting_state_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_light_groups_commune_name",
        "light_groups",
        ["commune_insee", "name", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_light_groups_commune_name", table_name="light_groups")

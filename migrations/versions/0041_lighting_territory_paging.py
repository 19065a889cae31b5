"""Lighting: indexes for a territory's lights in id order (NGSI-LD pages) and per group and wattage
(the energy page), so neither sorts nor reads the whole fleet's rows

Revision ID: 0041_lighting_territory_paging
Revises: 0040_lighting_territory
"""

from alembic import op


revision = "0041_lighting_territory_paging"
down_revision = "0040_lighting_territory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_streetlights_territory_id_id", "streetlights", ["territory_id", "id"], unique=False
    )
    op.create_index(
        "ix_streetlights_territory_group_nominal",
        "streetlights",
        ["territory_id", "group_id", "nominal_w"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_streetlights_territory_group_nominal", table_name="streetlights")
    op.drop_index("ix_streetlights_territory_id_id", table_name="streetlights")

"""Lighting: the energy page's figures read from indexes alone: the lights per group and wattage
(modelled energy), per technology, and the measured energy of a month.

Revision ID: 0033_lighting_energy_index
Revises: 0032_lighting_groups_order
"""

from alembic import op

revision = "0033_lighting_energy_index"
down_revision = "0032_lighting_groups_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_streetlights_group_nominal", "streetlights", ["group_id", "nominal_w"], unique=False
    )
    op.create_index("ix_streetlights_technology", "streetlights", ["technology"], unique=False)
    op.create_index(
        "ix_light_energy_months_month_wh",
        "light_energy_months",
        ["month", "energy_wh"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_light_energy_months_month_wh", table_name="light_energy_months")
    op.drop_index("ix_streetlights_technology", table_name="streetlights")
    op.drop_index("ix_streetlights_group_nominal", table_name="streetlights")

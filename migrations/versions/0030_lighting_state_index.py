"""Lighting: a covering index of the lights' state per commune (the operations centre's counts).

Revision ID: 0030_lighting_state_index
Revises: 0024_lighting_program_archive
"""

from alembic import op

revision = "0030_lighting_state_index"
down_revision = "0024_lighting_program_archive"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_streetlights_commune_state",
        "streetlights",
        ["commune_insee", "status", "offline", "actual_level"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_streetlights_commune_state", table_name="streetlights")

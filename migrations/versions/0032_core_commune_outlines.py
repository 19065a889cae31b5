"""Core: the communes' outlines (CAP polygons of the areas Eclor exports)

Revision ID: 0032_core_commune_outlines
Revises: 0022_worker_heartbeats
"""

from alembic import op
import sqlalchemy as sa


revision = "0032_core_commune_outlines"
down_revision = "0022_worker_heartbeats"
branch_labels = None
depends_on = None

# Approximate outlines of the first territory's communes (CAP polygon text, "lat,lon" points,
# closed): cells around each commune centre within the territory's frame, not surveyed limits.
# An install replaces them with the official outlines (IGN ADMIN EXPRESS) when it has them.
OUTLINES = {
    "57038": "49.4447,5.9533 49.4432,5.9704 49.4824,6.0183 49.4763,5.9389 49.4447,5.9533",
    "57041": "49.4432,5.9704 49.4447,5.9533 49.4375,5.8978 49.4307,5.875 49.394,5.875 49.4042,5.9982 49.4432,5.9704",
    "57097": "49.36,5.875 49.36,6.045 49.3817,6.045 49.4042,5.9982 49.394,5.875 49.36,5.875",
    "57529": "49.3817,6.045 49.4992,6.045 49.4824,6.0183 49.4432,5.9704 49.4042,5.9982 49.3817,6.045",
    "57565": "49.51,5.9504 49.51,5.875 49.493,5.875 49.4799,5.9228 49.4813,5.931 49.51,5.9504",
    "57602": "49.4992,6.045 49.51,6.045 49.51,5.9504 49.4813,5.931 49.4763,5.9389 49.4824,6.0183 49.4992,6.045",
    "54523": "49.4799,5.9228 49.493,5.875 49.4307,5.875 49.4375,5.8978 49.4799,5.9228",
    "54580": "49.4447,5.9533 49.4763,5.9389 49.4813,5.931 49.4799,5.9228 49.4375,5.8978 49.4447,5.9533",
}


def upgrade() -> None:
    op.add_column("communes", sa.Column("outline", sa.Text(), nullable=True))
    communes = sa.table("communes", sa.column("insee", sa.String), sa.column("outline", sa.Text))
    for insee, outline in OUTLINES.items():
        op.execute(communes.update().where(communes.c.insee == insee).values(outline=outline))


def downgrade() -> None:
    op.drop_column("communes", "outline")

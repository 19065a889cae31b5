"""Participation: the photo of a proposal

Revision ID: 0036_participation_photos
Revises: 0035_participation_consultations
Create Date: 2026-12-07 01:03:34.801716
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0036_participation_photos"
down_revision = "0035_participation_consultations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participation_proposal_photos",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("thumb_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["participation_proposals.id"],
            name="fk_participation_proposal_photos_proposal_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("proposal_id", name=op.f("pk_participation_proposal_photos")),
    )


def downgrade() -> None:
    op.drop_table("participation_proposal_photos")

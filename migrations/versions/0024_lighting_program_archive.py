"""Lighting: programs can be archived (no longer offered; groups and calendars using them keep working).

Revision ID: 0024_lighting_program_archive
Revises: 0012_lighting_names
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0024_lighting_program_archive"
down_revision = "0012_lighting_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("light_programs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("archived_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("light_programs", schema=None) as batch_op:
        batch_op.drop_column("archived_at")

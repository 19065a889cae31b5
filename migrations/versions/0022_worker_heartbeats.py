"""Worker heartbeats: the last sign of life of each running worker, for /healthz.

Revision ID: 0022_worker_heartbeats
Revises: 0012_core_names
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0022_worker_heartbeats"
down_revision = "0012_core_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("beat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeats")

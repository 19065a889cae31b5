"""Core: job claim and retention indexes, session expiry index, monthly counts of purged rows.

Revision ID: 0008_core_scale
Revises: 0001_foundation
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008_core_scale"
down_revision = "0001_foundation"
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_due")
        batch_op.create_index("ix_jobs_due", ["status", "run_at", "id"], unique=False)
        batch_op.create_index("ix_jobs_lease", ["status", "lease_until"], unique=False)
        batch_op.create_index("ix_jobs_finished", ["finished_at"], unique=False)
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "history_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "month", "key", name="uq_history_months"),
    )


def downgrade() -> None:
    op.drop_table("history_months")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_finished")
        batch_op.drop_index("ix_jobs_lease")
        batch_op.drop_index("ix_jobs_due")
        batch_op.create_index("ix_jobs_due", ["status", "run_at"], unique=False)

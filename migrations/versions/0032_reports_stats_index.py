"""Reports: a covering index for the statistics (counts per state, category, commune and month of
a window, and the resolution times), read from the index alone.

Revision ID: 0032_reports_stats_index
Revises: 0030_reports_updated
"""

from alembic import op

revision = "0032_reports_stats_index"
down_revision = "0030_reports_updated"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_reports_stats",
        "reports",
        ["status", "created_at", "category", "commune_insee", "resolved_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_reports_stats", table_name="reports")

"""Reports: index the time of the last change (the operations centre's reports layer and its version),
the open reports per commune and the resolution times (its KPIs).

Revision ID: 0030_reports_updated
Revises: 0012_reports_names
"""

from alembic import op

revision = "0030_reports_updated"
down_revision = "0012_reports_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reports_updated", "reports", ["updated_at"], unique=False)
    op.create_index(
        "ix_reports_status_commune", "reports", ["status", "commune_insee"], unique=False
    )
    op.create_index(
        "ix_reports_status_resolved",
        "reports",
        ["status", "resolved_at", "commune_insee", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_reports_status_resolved", table_name="reports")
    op.drop_index("ix_reports_status_commune", table_name="reports")
    op.drop_index("ix_reports_updated", table_name="reports")

"""Reports: an index on (territory_id, status, created_at), so that a territory's reports in one
state are one index range (the staff board counts each state)

Revision ID: 0042_reports_territory_status
Revises: 0041_reports_body
"""

from alembic import op


revision = "0042_reports_territory_status"
down_revision = "0041_reports_body"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_reports_territory_status",
        "reports",
        ["territory_id", "status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_reports_territory_status", table_name="reports")

"""Reports: index the creation time (lists newest first, statistics since a date).

Revision ID: 0012_reports_scale
Revises: 0003_reports
"""

from alembic import op

revision = "0012_reports_scale"
down_revision = "0003_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reports_created", "reports", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reports_created", table_name="reports")

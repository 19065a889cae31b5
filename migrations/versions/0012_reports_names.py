"""Constraint names for dump-site reports: the naming convention applied to the constraints created unnamed.

Revision ID: 0012_reports_names
Revises: 0012_reports_scale
"""

from migrations.naming import name_constraints

revision = "0012_reports_names"
down_revision = "0012_reports_scale"
branch_labels = None
depends_on = None

TABLES = [
    "report_reject_reasons",
    "report_response_templates",
    "report_api_keys",
    "reports",
    "report_events",
    "report_follows",
    "report_photos",
    "report_thanks",
]


def upgrade() -> None:
    name_constraints(TABLES)


def downgrade() -> None:
    pass  # the names are kept: harmless to the earlier schema (see migrations/naming.py)

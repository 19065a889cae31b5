"""Constraint names for the core tables (jobs, territories, communes, users, sessions, monthly history): the naming convention applied to the constraints created unnamed.

Revision ID: 0012_core_names
Revises: 0008_core_scale
"""

from migrations.naming import name_constraints

revision = "0012_core_names"
down_revision = "0008_core_scale"
branch_labels = None
depends_on = None

TABLES = [
    "jobs",
    "territories",
    "communes",
    "users",
    "web_sessions",
    "history_months",
]


def upgrade() -> None:
    name_constraints(TABLES)


def downgrade() -> None:
    pass  # the names are kept: harmless to the earlier schema (see migrations/naming.py)

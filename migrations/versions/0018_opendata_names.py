"""Constraint names for open data: the naming convention applied to the constraints created unnamed.

Revision ID: 0018_opendata_names
Revises: 0017_opendata
"""

from migrations.naming import name_constraints

revision = "0018_opendata_names"
down_revision = "0017_opendata"
branch_labels = None
depends_on = None

TABLES = [
    "opendata_settings",
    "opendata_snapshots",
    "opendata_uploads",
    "opendata_downloads",
    "opendata_issues",
]


def upgrade() -> None:
    name_constraints(TABLES)


def downgrade() -> None:
    pass  # the names are kept: harmless to the earlier schema (see migrations/naming.py)

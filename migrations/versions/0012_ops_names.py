"""Constraint names for the operations centre (events, measures): the naming convention applied to the constraints created unnamed.

Revision ID: 0012_ops_names
Revises: 0009_ops_measures
"""

from migrations.naming import name_constraints

revision = "0012_ops_names"
down_revision = "0009_ops_measures"
branch_labels = None
depends_on = None

TABLES = [
    "events",
    "measure_hourly",
    "measure_daily",
]


def upgrade() -> None:
    name_constraints(TABLES)


def downgrade() -> None:
    pass  # the names are kept: harmless to the earlier schema (see migrations/naming.py)

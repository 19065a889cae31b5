"""Constraint names for carpooling: the naming convention applied to the constraints created unnamed.

Revision ID: 0012_carpool_names
Revises: 0006_carpool
"""

from migrations.naming import name_constraints

revision = "0012_carpool_names"
down_revision = "0006_carpool"
branch_labels = None
depends_on = None

TABLES = [
    "carpool_places",
    "carpool_ads",
    "carpool_blocks",
    "carpool_profiles",
    "carpool_searches",
    "carpool_alerts_sent",
    "carpool_bookings",
    "carpool_reports",
    "carpool_messages",
]


def upgrade() -> None:
    name_constraints(TABLES)


def downgrade() -> None:
    pass  # the names are kept: harmless to the earlier schema (see migrations/naming.py)

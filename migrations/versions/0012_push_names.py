"""Constraint names for push alerts and notification preferences: the naming convention applied to the constraints created unnamed.

Revision ID: 0012_push_names
Revises: 0011_push_preferences
"""

from migrations.naming import name_constraints

revision = "0012_push_names"
down_revision = "0011_push_preferences"
branch_labels = None
depends_on = None

TABLES = [
    "alerts",
    "push_subscriptions",
    "push_deliveries",
    "notification_preferences",
    "notification_digest_items",
]


def upgrade() -> None:
    name_constraints(TABLES)


def downgrade() -> None:
    pass  # the names are kept: harmless to the earlier schema (see migrations/naming.py)

"""Constraint names for neighbour sharing and local shops: the naming convention applied to the constraints created unnamed.

Revision ID: 0012_sharing_shops_names
Revises: 0021_sharing_moderation
"""

from migrations.naming import name_constraints

revision = "0012_sharing_shops_names"
down_revision = "0021_sharing_moderation"
branch_labels = None
depends_on = None

TABLES = [
    "sharing_items",
    "sharing_wanted",
    "sharing_watches",
    "shops",
    "sharing_item_reports",
    "sharing_loans",
    "sharing_photos",
    "shop_hours",
    "shop_hours_exceptions",
    "shop_orders",
    "shop_photos",
    "shop_products",
    "sharing_messages",
    "sharing_reminders",
    "shop_order_lines",
]


def upgrade() -> None:
    name_constraints(TABLES)


def downgrade() -> None:
    pass  # the names are kept: harmless to the earlier schema (see migrations/naming.py)

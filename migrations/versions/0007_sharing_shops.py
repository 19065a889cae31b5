"""Neighbour sharing and local shops: shared objects, loans, requests; shops, hours, products, orders.

Revision ID: 0007_sharing_shops
Revises: 0001_foundation
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007_sharing_shops"
down_revision = "0001_foundation"
branch_labels = ("sharing_shops",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sharing_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("condition", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("max_days", sa.Integer(), nullable=False),
        sa.Column("availability", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("renewed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["communes.insee"],
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sharing_items", schema=None) as batch_op:
        batch_op.create_index("ix_sharing_items_browse", ["status", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sharing_items_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "sharing_wanted",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["communes.insee"],
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sharing_wanted", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sharing_wanted_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sharing_watches",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "category"),
    )
    op.create_table(
        "shops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("click_collect", sa.Boolean(), nullable=False),
        sa.Column("closed_on_holidays", sa.Boolean(), nullable=False),
        sa.Column("low_stock_threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["communes.insee"],
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shops_commune_insee"), ["commune_insee"], unique=False)
        batch_op.create_index(batch_op.f("ix_shops_owner_id"), ["owner_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_shops_slug"), ["slug"], unique=True)

    op.create_table(
        "sharing_item_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["sharing_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "reporter_id", name="uq_sharing_item_reports_once"),
    )
    with op.batch_alter_table("sharing_item_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sharing_item_reports_item_id"), ["item_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sharing_item_reports_reporter_id"), ["reporter_id"], unique=False
        )

    op.create_table(
        "sharing_loans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=True),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("picked_up_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("returned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["borrower_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["sharing_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sharing_loans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sharing_loans_borrower_id"), ["borrower_id"], unique=False
        )
        batch_op.create_index(
            "ix_sharing_loans_calendar", ["item_id", "status", "start_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sharing_loans_item_id"), ["item_id"], unique=False)

    op.create_table(
        "sharing_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("thumb_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["sharing_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sharing_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sharing_photos_item_id"), ["item_id"], unique=False)

    op.create_table(
        "shop_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name="ck_shop_hours_weekday"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shop_hours", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_hours_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "shop_hours_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=True),
        sa.Column("closes", sa.Time(), nullable=True),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "on_date", name="uq_shop_hours_exceptions_day"),
    )
    with op.batch_alter_table("shop_hours_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shop_hours_exceptions_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "shop_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("customer_name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("pickup_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ready_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shop_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shop_orders_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_shop_orders_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index("ix_shop_orders_shop_pickup", ["shop_id", "pickup_at"], unique=False)

    op.create_table(
        "shop_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("thumb_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shop_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_photos_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "shop_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("thumb_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("price_cents >= 0", name="ck_shop_products_price"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="ck_shop_products_stock"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shop_products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_products_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "sharing_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["sharing_loans.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sharing_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sharing_messages_loan_id"), ["loan_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sharing_messages_sender_id"), ["sender_id"], unique=False
        )

    op.create_table(
        "sharing_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("for_date", sa.Date(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["sharing_loans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("loan_id", "kind", "for_date", name="uq_sharing_reminders_once"),
    )
    with op.batch_alter_table("sharing_reminders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sharing_reminders_loan_id"), ["loan_id"], unique=False)

    op.create_table(
        "shop_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("stock_kept", sa.Boolean(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_shop_order_lines_quantity"),
        sa.ForeignKeyConstraint(["order_id"], ["shop_orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["product_id"], ["shop_products.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shop_order_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shop_order_lines_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shop_order_lines_product_id"), ["product_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("shop_order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_order_lines_product_id"))
        batch_op.drop_index(batch_op.f("ix_shop_order_lines_order_id"))

    op.drop_table("shop_order_lines")
    with op.batch_alter_table("sharing_reminders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_reminders_loan_id"))

    op.drop_table("sharing_reminders")
    with op.batch_alter_table("sharing_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_messages_sender_id"))
        batch_op.drop_index(batch_op.f("ix_sharing_messages_loan_id"))

    op.drop_table("sharing_messages")
    with op.batch_alter_table("shop_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_products_shop_id"))

    op.drop_table("shop_products")
    with op.batch_alter_table("shop_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_photos_shop_id"))

    op.drop_table("shop_photos")
    with op.batch_alter_table("shop_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_orders_shop_pickup")
        batch_op.drop_index(batch_op.f("ix_shop_orders_shop_id"))
        batch_op.drop_index(batch_op.f("ix_shop_orders_customer_id"))

    op.drop_table("shop_orders")
    with op.batch_alter_table("shop_hours_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_hours_exceptions_shop_id"))

    op.drop_table("shop_hours_exceptions")
    with op.batch_alter_table("shop_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_hours_shop_id"))

    op.drop_table("shop_hours")
    with op.batch_alter_table("sharing_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_photos_item_id"))

    op.drop_table("sharing_photos")
    with op.batch_alter_table("sharing_loans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_loans_item_id"))
        batch_op.drop_index("ix_sharing_loans_calendar")
        batch_op.drop_index(batch_op.f("ix_sharing_loans_borrower_id"))

    op.drop_table("sharing_loans")
    with op.batch_alter_table("sharing_item_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_item_reports_reporter_id"))
        batch_op.drop_index(batch_op.f("ix_sharing_item_reports_item_id"))

    op.drop_table("sharing_item_reports")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shops_slug"))
        batch_op.drop_index(batch_op.f("ix_shops_owner_id"))
        batch_op.drop_index(batch_op.f("ix_shops_commune_insee"))

    op.drop_table("shops")
    op.drop_table("sharing_watches")
    with op.batch_alter_table("sharing_wanted", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_wanted_user_id"))

    op.drop_table("sharing_wanted")
    with op.batch_alter_table("sharing_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_items_owner_id"))
        batch_op.drop_index("ix_sharing_items_browse")

    op.drop_table("sharing_items")

"""Local shops: merchant pages, opening hours, products and click & collect orders."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import utcnow

ORDER_STATES = ("placed", "accepted", "ready", "collected", "cancelled", "refused")
OPEN_ORDER_STATES = ("placed", "accepted", "ready")


class Shop(SQLModel, table=True):
    """A shop of the territory, kept by one merchant."""

    __tablename__ = "shops"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", unique=True, index=True, ondelete="CASCADE")
    slug: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=120)
    category: str = Field(max_length=32)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    address: str = Field(max_length=200)
    commune_insee: str = Field(foreign_key="communes.insee", max_length=5, index=True)
    lat: float | None = None
    lon: float | None = None
    phone: str = Field(default="", max_length=30)
    click_collect: bool = Field(default=True)
    closed_on_holidays: bool = Field(default=True)
    low_stock_threshold: int = Field(default=3)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ShopPhoto(SQLModel, table=True):
    __tablename__ = "shop_photos"

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True, ondelete="CASCADE")
    display_name: str = Field(max_length=40)
    thumb_name: str = Field(max_length=40)
    width: int
    height: int
    position: int = Field(default=0)


class ShopHours(SQLModel, table=True):
    """One opening interval of a weekday (0 = Monday). ``closes <= opens`` runs past midnight."""

    __tablename__ = "shop_hours"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="ck_shop_hours_weekday"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True, ondelete="CASCADE")
    weekday: int
    opens: time
    closes: time


class ShopHoursException(SQLModel, table=True):
    """Special hours for one date: closed (no times) or open with other times (holidays, events)."""

    __tablename__ = "shop_hours_exceptions"
    __table_args__ = (UniqueConstraint("shop_id", "on_date", name="uq_shop_hours_exceptions_day"),)

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True, ondelete="CASCADE")
    on_date: date
    opens: time | None = None
    closes: time | None = None
    label: str = Field(default="", max_length=80)


class Product(SQLModel, table=True):
    """Something a shop sells. ``stock`` None means "on request" (no stock is kept)."""

    __tablename__ = "shop_products"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR stock >= 0", name="ck_shop_products_stock"),
        CheckConstraint("price_cents >= 0", name="ck_shop_products_price"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    description: str = Field(default="", max_length=500)
    price_cents: int
    unit: str = Field(default="", max_length=24)  # "la pièce", "le kg"...
    stock: int | None = None
    is_active: bool = Field(default=True)
    display_name: str | None = Field(default=None, max_length=40)
    thumb_name: str | None = Field(default=None, max_length=40)
    basket: bool = Field(default=False)  # a producer's weekly basket
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ShopPickupPoint(SQLModel, table=True):
    """Where and when a producer (farm, AMAP, market stall) hands over orders: a place away from the
    shop, one weekly window (weekday 0 = Monday, times of its territory)."""

    __tablename__ = "shop_pickup_points"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="ck_shop_pickup_points_weekday"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    address: str = Field(default="", max_length=200)
    commune_insee: str = Field(foreign_key="communes.insee", max_length=5)
    weekday: int
    opens: time
    closes: time
    is_active: bool = Field(default=True)


class ShopOrder(SQLModel, table=True):
    """A click & collect order, paid at the counter."""

    __tablename__ = "shop_orders"
    __table_args__ = (Index("ix_shop_orders_shop_pickup", "shop_id", "pickup_at"),)

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True, ondelete="CASCADE")
    customer_id: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    customer_name: str = Field(default="", max_length=80)
    status: str = Field(default="placed", max_length=12)
    pickup_at: datetime
    pickup_point_id: int | None = Field(
        default=None, foreign_key="shop_pickup_points.id", ondelete="SET NULL"
    )
    note: str = Field(default="", max_length=500)
    total_cents: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    ready_at: datetime | None = None
    closed_at: datetime | None = None


class OrderLine(SQLModel, table=True):
    __tablename__ = "shop_order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_shop_order_lines_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="shop_orders.id", index=True, ondelete="CASCADE")
    product_id: int = Field(foreign_key="shop_products.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    unit_price_cents: int
    quantity: int
    stock_kept: bool = Field(default=True)  # stock was taken (and is given back on cancel)

"""Who may see a shop's or a product's photo.

Shop pages are public, so their photos are. A product's photo is public while
the product is on sale; once withdrawn, only its shopkeeper and staff see it.
A stored name no shop row names (another domain's photo, an orphan) is
nobody's here.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.auth import CurrentUser
from app.models.shops import Product, Shop, ShopPhoto

Visibility = Literal["public", "private", "none"]


def photo_visibility(db: Session, name: str, user: CurrentUser | None) -> Visibility:
    """``public`` (anyone, cacheable), ``private`` (this viewer only) or ``none`` (404)."""
    if db.scalars(
        select(col(ShopPhoto.id)).where(
            or_(col(ShopPhoto.display_name) == name, col(ShopPhoto.thumb_name) == name)
        )
    ).first():
        return "public"
    product = db.scalars(
        select(Product).where(
            or_(col(Product.display_name) == name, col(Product.thumb_name) == name)
        )
    ).first()
    if product is None:
        return "none"
    if product.is_active:
        return "public"
    if user is None:
        return "none"
    if user.is_staff:
        return "private"
    owner = db.scalar(select(col(Shop.owner_id)).where(col(Shop.id) == product.shop_id))
    return "private" if owner == user.id else "none"

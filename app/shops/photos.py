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
from app.shops.scope import in_territory

Visibility = Literal["public", "private", "none"]


def photo_visibility(
    db: Session, name: str, user: CurrentUser | None, territory_id: int = 0
) -> Visibility:
    """``public`` (anyone, cacheable), ``private`` (this viewer only) or ``none`` (404); a photo of
    a shop outside ``territory_id`` (0: any) is ``none``."""
    here = in_territory(territory_id)
    if db.scalars(
        select(col(ShopPhoto.id))
        .join(Shop, col(Shop.id) == col(ShopPhoto.shop_id))
        .where(or_(col(ShopPhoto.display_name) == name, col(ShopPhoto.thumb_name) == name), *here)
    ).first():
        return "public"
    product = db.scalars(
        select(Product)
        .join(Shop, col(Shop.id) == col(Product.shop_id))
        .where(or_(col(Product.display_name) == name, col(Product.thumb_name) == name), *here)
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

"""What the shop pages share: the signed-in user and their shop, uploaded photos, the forms, and the photo route."""

from __future__ import annotations

from datetime import time
from typing import Any

from litestar import Request, get
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import File
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlmodel import Session, col

from app import images
from app import photo_store
from app.auth import PUBLIC, CurrentUser, current_user
from app.i18n import gettext as _
from app.models.shops import (
    OrderLine,
    Shop,
    ShopOrder,
    ShopPickupPoint,
)
from app.models.territory import Commune
from app.shops import orders as logic
from app.shops import photos as shop_photos
from app.shops.scope import in_territory
from app.territories import request_territory

PHOTO_CACHE = "public, max-age=31536000, immutable"
MAX_SHOP_PHOTOS = 6


# --- helpers ------------------------------------------------------------------------------------


def signed_in(request: Request[Any, Any, Any]) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access rule guarantees it
    return user


def territory(request: Request[Any, Any, Any]) -> int:
    """The request's territory id (0: an install without territories, nothing to keep apart)."""
    return request_territory(request).id


def commune_choices(db: Session, territory_id: int) -> dict[str, str]:
    """The communes of the territory (a shop, and a pick-up point, is in one of its communes)."""
    stmt = select(Commune).order_by(Commune.name)
    if territory_id:
        stmt = stmt.where(col(Commune.territory_id) == territory_id)
    return {c.insee: c.name for c in db.scalars(stmt).all()}


def shop_in(db: Session, request: Request[Any, Any, Any], *where: Any) -> Shop | None:
    """The shop matching ``where`` if it is in the host's territory."""
    return db.scalars(select(Shop).where(*where, *in_territory(territory(request)))).first()


def shop_of_user(db: Session, request: Request[Any, Any, Any]) -> Shop | None:
    """The signed-in merchant's shop. Its pages are on its territory's host: on another's, the
    merchant is told so (403) rather than offered a second shop (a merchant keeps one)."""
    user = signed_in(request)
    shop = db.scalars(select(Shop).where(col(Shop.owner_id) == user.id)).first()
    if shop is not None and shop_in(db, request, col(Shop.id) == shop.id) is None:
        raise PermissionDeniedException(
            _("Votre commerce est géré sur le site de son territoire, pas sur celui-ci.")
        )
    return shop


def require_shop(db: Session, request: Request[Any, Any, Any]) -> Shop:
    shop = shop_of_user(db, request)
    if shop is None:
        raise NotFoundException(_("Créez d'abord la page de votre commerce."))
    return shop


def photo_url_of(name: str | None) -> str | None:
    return f"/shops/photos/{name}" if name else None


def upload_bytes(value: Any) -> bytes | None:
    """The bytes of one uploaded file field, or None when the field was left empty."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, UploadFile):
        return None
    value.file.seek(0)
    data = value.file.read()
    return data or None


def process_photo(request: Request[Any, Any, Any], data: bytes) -> images.ProcessedPhoto:
    """The photo checked and re-encoded: slow, so always before the write transaction opens."""
    return images.process(data, max_bytes=request.app.state.settings.max_upload_bytes)


def form_text(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, str)}


def time_or_none(value: str) -> time | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return time.fromisoformat(value[:5])
    except ValueError:
        raise ValueError(_("Heure invalide : %(v)s (format HH:MM).") % {"v": value}) from None


# --- forms --------------------------------------------------------------------------------------


class ShopForm(BaseModel):
    name: str = Field(min_length=2, max_length=120)
    category: str
    description: str = Field(default="", max_length=3000)
    address: str = Field(min_length=4, max_length=200)
    commune_insee: str = Field(min_length=5, max_length=5)
    phone: str = Field(default="", max_length=30)
    lat: float | None = Field(default=None, ge=48.0, le=51.0)
    lon: float | None = Field(default=None, ge=4.0, le=8.0)
    click_collect: bool = False
    closed_on_holidays: bool = False
    low_stock_threshold: int = Field(default=3, ge=0, le=1000)

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in logic.CATEGORIES:
            raise ValueError("Choisissez une catégorie.")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value and not all(ch.isdigit() or ch in " +.()-" for ch in value):
            raise ValueError("Numéro de téléphone invalide.")
        return value


class ProductForm(BaseModel):
    name: str = Field(min_length=2, max_length=120)
    price: str = Field(max_length=12)
    unit: str = Field(default="", max_length=24)
    description: str = Field(default="", max_length=500)
    stock: int | None = Field(default=None, ge=0, le=100_000)
    on_request: bool = False
    basket: bool = False  # a producer's weekly basket (other shops: ignored)

    @field_validator("price")
    @classmethod
    def _price(cls, value: str) -> str:
        logic.parse_price(value)
        return value


class QuickEditForm(BaseModel):
    price: str = Field(max_length=12)
    stock: int | None = Field(default=None, ge=0, le=100_000)
    on_request: bool = False
    is_active: bool = False
    basket: bool = False  # a producer's weekly basket (other shops: ignored)

    @field_validator("price")
    @classmethod
    def _price(cls, value: str) -> str:
        logic.parse_price(value)
        return value


# --- photos -------------------------------------------------------------------------------------


@get(
    "/shops/photos/{name:str}",
    opt=PUBLIC,
    sync_to_thread=True,
    name="shops_photo",
    include_in_schema=False,
)
def photo(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> File:
    """A shop's or product's photo, only to those who may see it (never another domain's photo,
    nor another territory's shop's)."""
    seen = shop_photos.photo_visibility(db, name, current_user(request), territory(request))
    if seen == "none":
        raise NotFoundException()
    return photo_store.served(
        name,
        request.app.state.settings.resolved_media_dir,
        cache_control=PHOTO_CACHE if seen == "public" else "private, no-store",
    )


def order_lines(db: Session, order: ShopOrder) -> list[OrderLine]:
    return list(
        db.scalars(
            select(OrderLine).where(col(OrderLine.order_id) == order.id).order_by(col(OrderLine.id))
        ).all()
    )


def pickup_point_of(db: Session, order: ShopOrder) -> ShopPickupPoint | None:
    """The producer's pick-up point an order is collected at (None: at the shop)."""
    return db.get(ShopPickupPoint, order.pickup_point_id) if order.pickup_point_id else None

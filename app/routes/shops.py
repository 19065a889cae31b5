"""Local shops: browse, shop pages (schema.org LocalBusiness), click & collect, merchant dashboard."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect, Template
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, or_, select
from sqlmodel import Session

from app import images
from app.auth import MERCHANT, PUBLIC, SIGNED_IN, CurrentUser, current_user
from app.db import utcnow
from app.deps import late_write, start_writing
from app.forms import Form, Multipart, parse_form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link, Panel
from app.models.accounts import User
from app.models.shops import (
    OPEN_ORDER_STATES,
    OrderLine,
    Product,
    Shop,
    ShopHours,
    ShopHoursException,
    ShopOrder,
    ShopPhoto,
)
from app.models.territory import Commune
from app.photo_store import PendingPhotos
from app.shops import orders as logic
from app.shops import photos as shop_photos
from app.templating import page

PHOTO_CACHE = "public, max-age=31536000, immutable"
MAX_SHOP_PHOTOS = 6


# --- helpers ------------------------------------------------------------------------------------


def _user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access rule guarantees it
    return user


def _communes(db: Session) -> dict[str, str]:
    return {c.insee: c.name for c in db.scalars(select(Commune).order_by(Commune.name)).all()}


def _my_shop(db: Session, user: CurrentUser) -> Shop | None:
    return db.scalars(select(Shop).where(Shop.owner_id == user.id)).first()


def _require_shop(db: Session, user: CurrentUser) -> Shop:
    shop = _my_shop(db, user)
    if shop is None:
        raise NotFoundException(_("Créez d'abord la page de votre commerce."))
    return shop


def _photo_url(name: str | None) -> str | None:
    return f"/shops/photos/{name}" if name else None


def _upload_bytes(value: Any) -> bytes | None:
    """The bytes of one uploaded file field, or None when the field was left empty."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, UploadFile):
        return None
    value.file.seek(0)
    data = value.file.read()
    return data or None


def _process_photo(request: Request[Any, Any, Any], data: bytes) -> images.ProcessedPhoto:
    """The photo checked and re-encoded: slow, so always before the write transaction opens."""
    return images.process(data, max_bytes=request.app.state.settings.max_upload_bytes)


def _form_text(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _time_or_none(value: str) -> time | None:
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
    """A shop's or product's photo, only to those who may see it (never another domain's photo)."""
    seen = shop_photos.photo_visibility(db, name, current_user(request))
    if seen == "none":
        raise NotFoundException()
    try:
        path = images.open_path(name, request.app.state.settings.resolved_media_dir)
    except (images.InvalidPhotoName, FileNotFoundError):
        raise NotFoundException() from None
    return File(
        path=path,
        media_type=images.OUTPUT_MIME,
        content_disposition_type="inline",
        headers={"cache-control": PHOTO_CACHE if seen == "public" else "private, no-store"},
    )


# --- residents ----------------------------------------------------------------------------------


def _shop_cards(db: Session, shops: list[Shop], now: datetime) -> list[dict[str, Any]]:
    if not shops:
        return []
    photos: dict[int, str] = {}
    for ph in db.scalars(
        select(ShopPhoto)
        .where(ShopPhoto.shop_id.in_([s.id for s in shops]))  # type: ignore[attr-defined]
        .order_by(ShopPhoto.position, ShopPhoto.id)
    ).all():
        photos.setdefault(ph.shop_id, ph.thumb_name)
    schedules = logic.Schedule.load_many(db, shops)
    cards = []
    for shop in shops:
        status = schedules[shop.id].status(now)  # type: ignore[index]
        cards.append({"shop": shop, "status": status, "thumb": _photo_url(photos.get(shop.id))})  # type: ignore[arg-type]
    return cards


@get("/shops", opt=PUBLIC, sync_to_thread=True, name="shops_index")
def index(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    q: FromQuery[str] = "",
    commune: FromQuery[str] = "",
    category: FromQuery[str] = "",
    open_now: FromQuery[str] = "",
) -> Template:
    now = utcnow()
    stmt = select(Shop).order_by(Shop.name)
    if commune:
        stmt = stmt.where(Shop.commune_insee == commune)
    if category in logic.CATEGORIES:
        stmt = stmt.where(Shop.category == category)
    q = q.strip()[:80]
    products: list[tuple[Product, Shop]] = []
    if q:
        like = f"%{q.lower()}%"
        products = [
            (p, s)
            for p, s in db.execute(
                select(Product, Shop)
                .join(Shop, Shop.id == Product.shop_id)
                .where(
                    Product.is_active,
                    or_(
                        func.lower(Product.name).like(like),
                        func.lower(Product.description).like(like),
                    ),
                )
                .where(*([Shop.commune_insee == commune] if commune else []))
                .order_by(Product.name)
                .limit(40)
            ).all()
        ]
        stmt = stmt.where(
            or_(
                func.lower(Shop.name).like(like),
                func.lower(Shop.description).like(like),
                Shop.id.in_([s.id for _p, s in products]),
            )
        )  # type: ignore[union-attr]
    cards = _shop_cards(db, list(db.scalars(stmt).all()), now)
    if open_now:
        cards = [c for c in cards if c["status"]["open"]]
    cards.sort(key=lambda c: (not c["status"]["open"], c["shop"].name.lower()))
    return page(
        request,
        "shops/index.html",
        section="shops",
        cards=cards,
        products=products,
        communes=_communes(db),
        categories=logic.CATEGORIES,
        filters={"q": q, "commune": commune, "category": category, "open_now": bool(open_now)},
        euros=logic.euros,
        photo_url=_photo_url,
    )


def _shop_page_context(db: Session, request: Request[Any, Any, Any], shop: Shop) -> dict[str, Any]:
    now = utcnow()
    schedule = logic.Schedule.load(db, shop)
    photos = db.scalars(
        select(ShopPhoto)
        .where(ShopPhoto.shop_id == shop.id)
        .order_by(ShopPhoto.position, ShopPhoto.id)
    ).all()
    products = db.scalars(
        select(Product).where(Product.shop_id == shop.id, Product.is_active).order_by(Product.name)
    ).all()
    today = now.astimezone(logic.PARIS).date()
    special = []
    for offset in range(30):
        day = today + timedelta(days=offset)
        if day in schedule.exceptions:
            opens, closes, label = schedule.exceptions[day]
            special.append({"day": day, "label": label, "times": schedule.day_times(day)})
        elif shop.closed_on_holidays and logic.holiday_name(day, shop.commune_insee):
            holiday = logic.holiday_name(day, shop.commune_insee) or ""
            special.append({"day": day, "label": _(holiday), "times": []})
    weekly: dict[int, list[tuple[time, time]]] = {wd: [] for wd in range(7)}
    for wd, opens, closes in schedule.weekly:
        weekly[wd].append((opens, closes))
    ld = logic.json_ld(
        shop,
        schedule,
        base_url=request.app.state.settings.base_url,
        photo_urls=[f"/shops/photos/{p.display_name}" for p in photos],
        today=today,
    )
    return {
        "shop": shop,
        "status": schedule.status(now),
        "photos": photos,
        "products": products,
        "weekly": weekly,
        "special": special,
        "slots": logic.pickup_slots(schedule, now) if shop.click_collect else [],
        "json_ld": json.dumps(ld, ensure_ascii=False).replace("<", "\\u003c"),
        "commune_name": _communes(db).get(shop.commune_insee, ""),
        "weekdays": logic.WEEKDAYS,
        "category_label": logic.CATEGORIES.get(shop.category, ""),
        "euros": logic.euros,
        "photo_url": _photo_url,
    }


@get("/shops/{slug:str}", opt=PUBLIC, sync_to_thread=True, name="shops_shop")
def shop_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], slug: FromPath[str]
) -> Template:
    shop = db.scalars(select(Shop).where(Shop.slug == slug)).first()
    if shop is None:
        raise NotFoundException()
    return page(
        request,
        "shops/shop.html",
        section="shops",
        errors={},
        form={},
        **_shop_page_context(db, request, shop),
    )


@post("/shops/{slug:str}/order", opt=SIGNED_IN, sync_to_thread=True, name="shops_order")
def place_order(
    request: Request[Any, Any, Any], db: NamedDependency[Session], slug: FromPath[str], data: Form
) -> Template | Redirect:
    user = _user(request)
    shop = db.scalars(select(Shop).where(Shop.slug == slug)).first()
    if shop is None:
        raise NotFoundException()
    errors: dict[str, str] = {}
    quantities: dict[int, int] = {}
    for key, value in data.items():
        if key.startswith("qty-") and str(value).strip():
            try:
                quantities[int(key[4:])] = int(str(value).strip())
            except ValueError:
                errors["__all__"] = _("Quantité invalide (entre 1 et 99).")
    pickup: datetime | None = None
    try:
        pickup = datetime.fromisoformat(str(data.get("pickup_at", "")))
        if pickup.tzinfo is None:
            raise ValueError
    except ValueError:
        errors["pickup_at"] = _("Choisissez un créneau de retrait.")
    if shop.owner_id == user.id:
        errors["__all__"] = _("Vous ne pouvez pas commander dans votre propre commerce.")
    if not errors and pickup is not None:
        try:
            order = logic.place_order(
                db, shop, user.id, user.name, quantities, pickup, str(data.get("note", ""))[:500]
            )
        except logic.OrderError as exc:
            db.rollback()
            errors["__all__"] = str(exc)
        else:
            db.commit()
            return Redirect(f"/shops/orders/{order.id}?placed=1", status_code=303)
    db.rollback()
    return page(
        request,
        "shops/shop.html",
        section="shops",
        status_code=400,
        errors=errors,
        form=_form_text(data),
        **_shop_page_context(db, request, shop),
    )


def _order_lines(db: Session, order: ShopOrder) -> list[OrderLine]:
    return list(
        db.scalars(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)
        ).all()
    )


@get("/shops/orders", opt=SIGNED_IN, sync_to_thread=True, name="shops_my_orders")
def my_orders(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    user = _user(request)
    rows = db.execute(
        select(ShopOrder, Shop)
        .join(Shop, Shop.id == ShopOrder.shop_id)
        .where(ShopOrder.customer_id == user.id)
        .order_by(ShopOrder.created_at.desc())
        .limit(100)
    ).all()  # type: ignore[attr-defined]
    return page(
        request,
        "shops/orders.html",
        section="shops",
        rows=rows,
        labels=logic.ORDER_LABELS,
        euros=logic.euros,
    )


@get("/shops/orders/{order_id:int}", opt=SIGNED_IN, sync_to_thread=True, name="shops_my_order")
def my_order(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    order_id: FromPath[int],
    placed: FromQuery[str] = "",
) -> Template:
    user = _user(request)
    order = db.get(ShopOrder, order_id)
    if order is None or order.customer_id != user.id:
        raise NotFoundException()
    shop = db.get(Shop, order.shop_id)
    return page(
        request,
        "shops/order.html",
        section="shops",
        order=order,
        shop=shop,
        lines=_order_lines(db, order),
        labels=logic.ORDER_LABELS,
        euros=logic.euros,
        merchant_view=False,
        placed=bool(placed),
        errors={},
    )


@post(
    "/shops/orders/{order_id:int}/cancel",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="shops_cancel_order",
)
def cancel_order(
    request: Request[Any, Any, Any], db: NamedDependency[Session], order_id: FromPath[int]
) -> Template | Redirect:
    user = _user(request)
    order = db.get(ShopOrder, order_id)
    if order is None or order.customer_id != user.id:
        raise NotFoundException()
    try:
        logic.customer_cancel(db, order)
    except logic.OrderError as exc:
        db.rollback()
        shop = db.get(Shop, order.shop_id)
        return page(
            request,
            "shops/order.html",
            section="shops",
            status_code=409,
            order=order,
            shop=shop,
            lines=_order_lines(db, order),
            labels=logic.ORDER_LABELS,
            euros=logic.euros,
            merchant_view=False,
            placed=False,
            errors={"__all__": str(exc)},
        )
    db.commit()
    return Redirect(f"/shops/orders/{order_id}", status_code=303)


# --- merchants ----------------------------------------------------------------------------------


@get("/shops/manage", opt=MERCHANT, sync_to_thread=True, name="shops_manage")
def manage(
    request: Request[Any, Any, Any], db: NamedDependency[Session], saved: FromQuery[str] = ""
) -> Template | Redirect:
    user = _user(request)
    shop = _my_shop(db, user)
    if shop is None:
        return Redirect("/shops/manage/shop", status_code=303)
    now = utcnow()
    start, end = logic.local_today_bounds(now)
    today = db.scalars(
        select(ShopOrder)
        .where(
            ShopOrder.shop_id == shop.id,
            or_(
                ShopOrder.status.in_(("placed", "accepted")),  # type: ignore[attr-defined]
                (ShopOrder.pickup_at >= start) & (ShopOrder.pickup_at < end),
            ),  # type: ignore[operator]
        )
        .order_by(ShopOrder.pickup_at)
    ).all()
    products = db.scalars(
        select(Product)
        .where(Product.shop_id == shop.id)
        .order_by(Product.is_active.desc(), Product.name)
    ).all()  # type: ignore[attr-defined]
    counts = {
        oid: n
        for oid, n in db.execute(
            select(OrderLine.order_id, func.sum(OrderLine.quantity))
            .where(OrderLine.order_id.in_([o.id for o in today]))
            .group_by(OrderLine.order_id)
        ).all()
    }  # type: ignore[attr-defined]
    return page(
        request,
        "shops/manage.html",
        section="shops",
        shop=shop,
        orders=today,
        counts=counts,
        low=logic.low_stock(db, shop),
        products=products,
        labels=logic.ORDER_LABELS,
        status=logic.Schedule.load(db, shop).status(now),
        euros=logic.euros,
        photo_url=_photo_url,
        saved=saved,
        errors={},
        edit_errors={},
    )


def _shop_form_page(
    request: Request[Any, Any, Any],
    db: Session,
    shop: Shop | None,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Template:
    photos = db.scalars(select(ShopPhoto).where(ShopPhoto.shop_id == shop.id)).all() if shop else []
    return page(
        request,
        "shops/shop_form.html",
        section="shops",
        shop=shop,
        form=form,
        errors=errors,
        communes=_communes(db),
        categories=logic.CATEGORIES,
        photos=photos,
        photo_url=_photo_url,
        status_code=status_code,
    )


@get("/shops/manage/shop", opt=MERCHANT, sync_to_thread=True, name="shops_edit_form")
def edit_shop_form(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    shop = _my_shop(db, _user(request))
    form: dict[str, Any] = (
        shop.model_dump() if shop else {"click_collect": True, "closed_on_holidays": True}
    )
    return _shop_form_page(request, db, shop, form, {})


@post("/shops/manage/shop/save", opt=late_write(MERCHANT), sync_to_thread=True, name="shops_save")
def save_shop(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    user = _user(request)
    text = _form_text(data)
    form, errors = parse_form(ShopForm, text)
    photo_bytes = _upload_bytes(data.get("photo"))
    processed = None
    if photo_bytes:
        try:
            processed = _process_photo(request, photo_bytes)
        except images.ImageRejected as exc:
            errors["photo"] = exc.message
    media = request.app.state.settings.resolved_media_dir
    to_store = [processed] if processed is not None and form is not None and not errors else []
    with PendingPhotos(to_store, media) as pending:
        start_writing(db)
        shop = _my_shop(db, user)
        if form is not None and db.get(Commune, form.commune_insee) is None:
            errors["commune_insee"] = _("Choisissez une commune du territoire.")
        if shop and processed is not None:
            count = (
                db.scalar(
                    select(func.count()).select_from(ShopPhoto).where(ShopPhoto.shop_id == shop.id)
                )
                or 0
            )
            if count >= MAX_SHOP_PHOTOS:
                errors["photo"] = _("Six photos au plus : retirez-en une d'abord.")
        if form is None or errors:
            db.rollback()  # the error page is rendered without the write lock
            return _shop_form_page(request, db, shop, text, errors, status_code=400)
        values = form.model_dump()
        if values["lat"] is None or values["lon"] is None:
            commune = db.get(Commune, form.commune_insee)
            values["lat"], values["lon"] = (commune.lat, commune.lon) if commune else (None, None)
        if shop is None:
            shop = Shop(owner_id=user.id, slug=logic.unique_slug(db, form.name), **values)
        else:
            for key, value in values.items():
                setattr(shop, key, value)
            shop.updated_at = utcnow()
        db.add(shop)
        db.flush()
        if processed is not None and pending.stored:
            stored = pending.stored[0]
            db.add(
                ShopPhoto(
                    shop_id=shop.id,
                    display_name=stored.display_name,
                    thumb_name=stored.thumb_name,  # type: ignore[arg-type]
                    width=processed.width,
                    height=processed.height,
                )
            )
        db.commit()
        pending.keep()
    return Redirect("/shops/manage?saved=shop", status_code=303)


@post(
    "/shops/manage/photos/{photo_id:int}/delete",
    opt=MERCHANT,
    sync_to_thread=True,
    name="shops_photo_delete",
)
def delete_shop_photo(
    request: Request[Any, Any, Any], db: NamedDependency[Session], photo_id: FromPath[int]
) -> Redirect:
    shop = _require_shop(db, _user(request))
    photo_row = db.get(ShopPhoto, photo_id)
    if photo_row is None or photo_row.shop_id != shop.id:
        raise NotFoundException()
    names = [photo_row.display_name, photo_row.thumb_name]
    db.delete(photo_row)
    db.commit()
    images.delete(names, request.app.state.settings.resolved_media_dir)
    return Redirect("/shops/manage/shop", status_code=303)


@get("/shops/manage/hours", opt=MERCHANT, sync_to_thread=True, name="shops_hours_form")
def hours_form(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    shop = _require_shop(db, _user(request))
    return _hours_page(request, db, shop, None, {}, {})


def _hours_page(
    request: Request[Any, Any, Any],
    db: Session,
    shop: Shop,
    form: dict[str, Any] | None,
    errors: dict[str, str],
    exc_form: dict[str, Any],
    status_code: int = 200,
) -> Template:
    if form is None:
        form = {}
        per_day: dict[int, list[ShopHours]] = {}
        for h in db.scalars(
            select(ShopHours)
            .where(ShopHours.shop_id == shop.id)
            .order_by(ShopHours.weekday, ShopHours.opens)
        ).all():
            per_day.setdefault(h.weekday, []).append(h)
        for wd, rows in per_day.items():
            for i, h in enumerate(rows[:2], start=1):
                form[f"h{wd}_o{i}"] = h.opens.strftime("%H:%M")
                form[f"h{wd}_c{i}"] = h.closes.strftime("%H:%M")
    today = utcnow().astimezone(logic.PARIS).date()
    exceptions = db.scalars(
        select(ShopHoursException)
        .where(ShopHoursException.shop_id == shop.id, ShopHoursException.on_date >= today)
        .order_by(ShopHoursException.on_date)
    ).all()
    holidays = [
        (d, n)
        for d, n in logic.public_holidays(
            today.year, logic.in_alsace_moselle(shop.commune_insee)
        ).items()
        if d >= today
    ]
    holidays += [
        (d, n)
        for d, n in logic.public_holidays(
            today.year + 1, logic.in_alsace_moselle(shop.commune_insee)
        ).items()
        if d < today + timedelta(days=180)
    ]
    return page(
        request,
        "shops/hours.html",
        section="shops",
        shop=shop,
        form=form,
        errors=errors,
        exc_form=exc_form,
        exceptions=exceptions,
        holidays=holidays[:8],
        weekdays=logic.WEEKDAYS,
        status_code=status_code,
    )


@post("/shops/manage/hours/save", opt=MERCHANT, sync_to_thread=True, name="shops_hours_save")
def save_hours(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    shop = _require_shop(db, _user(request))
    errors: dict[str, str] = {}
    rows: list[ShopHours] = []
    for wd in range(7):
        for i in (1, 2):
            try:
                opens = _time_or_none(str(data.get(f"h{wd}_o{i}", "")))
                closes = _time_or_none(str(data.get(f"h{wd}_c{i}", "")))
            except ValueError as exc:
                errors[f"h{wd}"] = str(exc)
                continue
            if (opens is None) != (closes is None):
                errors[f"h{wd}"] = _("Indiquez l'ouverture et la fermeture, ou aucune des deux.")
            elif opens is not None and closes is not None:
                rows.append(ShopHours(shop_id=shop.id, weekday=wd, opens=opens, closes=closes))  # type: ignore[arg-type]
    if errors:
        return _hours_page(request, db, shop, _form_text(data), errors, {}, status_code=400)
    for old in db.scalars(select(ShopHours).where(ShopHours.shop_id == shop.id)).all():
        db.delete(old)
    db.flush()
    db.add_all(rows)
    shop.closed_on_holidays = data.get("closed_on_holidays") == "yes"
    db.add(shop)
    db.commit()
    return Redirect("/shops/manage?saved=hours", status_code=303)


@post("/shops/manage/exceptions", opt=MERCHANT, sync_to_thread=True, name="shops_exception_add")
def add_exception(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    shop = _require_shop(db, _user(request))
    errors: dict[str, str] = {}
    on_date: date | None = None
    opens = closes = None
    try:
        on_date = date.fromisoformat(str(data.get("on_date", "")))
        if on_date < utcnow().astimezone(logic.PARIS).date():
            errors["on_date"] = _("Cette date est passée.")
    except ValueError:
        errors["on_date"] = _("Date invalide.")
    closed = data.get("closed") == "yes"
    if not closed:
        try:
            opens = _time_or_none(str(data.get("opens", "")))
            closes = _time_or_none(str(data.get("closes", "")))
        except ValueError as exc:
            errors["opens"] = str(exc)
        if not errors and (opens is None or closes is None):
            errors["opens"] = _("Indiquez les horaires de ce jour, ou cochez « fermé ».")
    label = str(data.get("label", "")).strip()[:80]
    if (
        not errors
        and on_date is not None
        and db.scalars(
            select(ShopHoursException.id).where(
                ShopHoursException.shop_id == shop.id, ShopHoursException.on_date == on_date
            )
        ).first()
    ):
        errors["on_date"] = _("Ce jour a déjà des horaires particuliers : supprimez-les d'abord.")
    if errors:
        return _hours_page(request, db, shop, None, errors, _form_text(data), status_code=400)
    db.add(
        ShopHoursException(
            shop_id=shop.id,
            on_date=on_date,
            opens=None if closed else opens,  # type: ignore[arg-type]
            closes=None if closed else closes,
            label=label,
        )
    )
    db.commit()
    return Redirect("/shops/manage/hours", status_code=303)


@post(
    "/shops/manage/exceptions/{exception_id:int}/delete",
    opt=MERCHANT,
    sync_to_thread=True,
    name="shops_exception_delete",
)
def delete_exception(
    request: Request[Any, Any, Any], db: NamedDependency[Session], exception_id: FromPath[int]
) -> Redirect:
    shop = _require_shop(db, _user(request))
    row = db.get(ShopHoursException, exception_id)
    if row is None or row.shop_id != shop.id:
        raise NotFoundException()
    db.delete(row)
    db.commit()
    return Redirect("/shops/manage/hours", status_code=303)


@get("/shops/manage/products/new", opt=MERCHANT, sync_to_thread=True, name="shops_product_form")
def product_form(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    shop = _require_shop(db, _user(request))
    return page(request, "shops/product_form.html", section="shops", shop=shop, form={}, errors={})


@post(
    "/shops/manage/products",
    opt=late_write(MERCHANT),
    sync_to_thread=True,
    name="shops_product_add",
)
def add_product(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    text = _form_text(data)
    form, errors = parse_form(ProductForm, text)
    if form is not None and not form.on_request and form.stock is None:
        errors["stock"] = _("Indiquez le stock, ou cochez « sur commande ».")
    processed = None
    photo_bytes = _upload_bytes(data.get("photo"))
    if photo_bytes:
        try:
            processed = _process_photo(request, photo_bytes)
        except images.ImageRejected as exc:
            errors["photo"] = exc.message
    media = request.app.state.settings.resolved_media_dir
    to_store = [processed] if processed is not None and form is not None and not errors else []
    with PendingPhotos(to_store, media) as pending:
        start_writing(db)
        shop = _require_shop(db, _user(request))
        if form is None or errors:
            db.rollback()  # the error page is rendered without the write lock
            return page(
                request,
                "shops/product_form.html",
                section="shops",
                shop=shop,
                form=text,
                errors=errors,
                status_code=400,
            )
        product = Product(
            shop_id=shop.id,
            name=form.name,
            description=form.description,
            unit=form.unit,  # type: ignore[arg-type]
            price_cents=logic.parse_price(form.price),
            stock=None if form.on_request else form.stock,
        )
        if pending.stored:
            stored = pending.stored[0]
            product.display_name, product.thumb_name = stored.display_name, stored.thumb_name
        db.add(product)
        db.commit()
        pending.keep()
    return Redirect(f"/shops/manage?saved=product#product-{product.id}", status_code=303)


def _own_product(db: Session, user: CurrentUser, product_id: int) -> tuple[Shop, Product]:
    shop = _require_shop(db, user)
    product = db.get(Product, product_id)
    if product is None or product.shop_id != shop.id:
        raise NotFoundException()
    return shop, product


@post(
    "/shops/manage/products/{product_id:int}/save",
    opt=MERCHANT,
    sync_to_thread=True,
    name="shops_product_edit",
)
def quick_edit(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    product_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    shop, product = _own_product(db, _user(request), product_id)
    form, errors = parse_form(QuickEditForm, data)
    if form is not None and not form.on_request and form.stock is None:
        errors["stock"] = _("Indiquez le stock, ou cochez « sur commande ».")
    if form is None or errors:
        db.rollback()
        return page(
            request,
            "shops/product_edit.html",
            section="shops",
            shop=shop,
            product=product,
            errors=errors,
            form=_form_text(data),
            euros=logic.euros,
            status_code=400,
        )
    product.price_cents = logic.parse_price(form.price)
    product.stock = None if form.on_request else form.stock
    product.is_active = form.is_active
    product.updated_at = utcnow()
    db.add(product)
    db.commit()
    return Redirect(f"/shops/manage?saved=product#product-{product.id}", status_code=303)


@post(
    "/shops/manage/products/{product_id:int}/photo",
    opt=late_write(MERCHANT),
    sync_to_thread=True,
    name="shops_product_photo",
)
def product_photo(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    product_id: FromPath[int],
    data: Multipart,
) -> Template | Redirect:
    photo_bytes = _upload_bytes(data.get("photo"))
    processed: images.ProcessedPhoto | None = None
    error = ""
    try:
        if not photo_bytes:
            raise images.ImageRejected("empty", _("Choisissez une photo."))
        processed = _process_photo(request, photo_bytes)
    except images.ImageRejected as exc:
        error = exc.message
    media = request.app.state.settings.resolved_media_dir
    with PendingPhotos([processed] if processed is not None else [], media) as pending:
        start_writing(db)
        shop, product = _own_product(db, _user(request), product_id)
        if error:
            db.rollback()  # the error page is rendered without the write lock
            return page(
                request,
                "shops/product_edit.html",
                section="shops",
                shop=shop,
                product=product,
                errors={"photo": error},
                form={},
                euros=logic.euros,
                status_code=400,
            )
        stored = pending.stored[0]
        old = [n for n in (product.display_name, product.thumb_name) if n]
        product.display_name, product.thumb_name = stored.display_name, stored.thumb_name
        db.add(product)
        db.commit()
        pending.keep()
    if old:
        images.delete(old, media)
    return Redirect(f"/shops/manage?saved=product#product-{product.id}", status_code=303)


@get(
    "/shops/manage/products/{product_id:int}",
    opt=MERCHANT,
    sync_to_thread=True,
    name="shops_product_page",
)
def product_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], product_id: FromPath[int]
) -> Template:
    shop, product = _own_product(db, _user(request), product_id)
    return page(
        request,
        "shops/product_edit.html",
        section="shops",
        shop=shop,
        product=product,
        errors={},
        form={},
        euros=logic.euros,
    )


def _own_order(db: Session, user: CurrentUser, order_id: int) -> tuple[Shop, ShopOrder]:
    shop = _require_shop(db, user)
    order = db.get(ShopOrder, order_id)
    if order is None or order.shop_id != shop.id:
        raise NotFoundException()
    return shop, order


@get("/shops/manage/orders", opt=MERCHANT, sync_to_thread=True, name="shops_manage_orders")
def manage_orders(
    request: Request[Any, Any, Any], db: NamedDependency[Session], show: FromQuery[str] = "open"
) -> Template:
    shop = _require_shop(db, _user(request))
    stmt = select(ShopOrder).where(ShopOrder.shop_id == shop.id)
    if show == "open":
        stmt = stmt.where(ShopOrder.status.in_(OPEN_ORDER_STATES))  # type: ignore[attr-defined]
    orders = db.scalars(stmt.order_by(ShopOrder.pickup_at.desc()).limit(200)).all()  # type: ignore[attr-defined]
    return page(
        request,
        "shops/manage_orders.html",
        section="shops",
        shop=shop,
        orders=orders,
        show=show,
        labels=logic.ORDER_LABELS,
        euros=logic.euros,
    )


@get(
    "/shops/manage/orders/{order_id:int}",
    opt=MERCHANT,
    sync_to_thread=True,
    name="shops_manage_order",
)
def manage_order(
    request: Request[Any, Any, Any], db: NamedDependency[Session], order_id: FromPath[int]
) -> Template:
    shop, order = _own_order(db, _user(request), order_id)
    customer = db.get(User, order.customer_id) if order.customer_id else None
    return page(
        request,
        "shops/order.html",
        section="shops",
        order=order,
        shop=shop,
        customer=customer,
        lines=_order_lines(db, order),
        labels=logic.ORDER_LABELS,
        euros=logic.euros,
        merchant_view=True,
        placed=False,
        errors={},
    )


@post(
    "/shops/manage/orders/{order_id:int}/{action:str}",
    opt=MERCHANT,
    sync_to_thread=True,
    name="shops_manage_order_move",
)
def move_order(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    order_id: FromPath[int],
    action: FromPath[str],
    data: Form,
) -> Template | Redirect:
    shop, order = _own_order(db, _user(request), order_id)
    if action not in logic.MERCHANT_MOVES:
        raise NotFoundException()
    try:
        logic.merchant_move(db, order, action)
    except logic.OrderError as exc:
        db.rollback()
        return page(
            request,
            "shops/order.html",
            section="shops",
            status_code=409,
            order=order,
            shop=shop,
            customer=None,
            lines=_order_lines(db, order),
            labels=logic.ORDER_LABELS,
            euros=logic.euros,
            merchant_view=True,
            placed=False,
            errors={"__all__": str(exc)},
        )
    db.commit()
    back = str(data.get("next", ""))
    target = (
        back
        if back in ("/shops/manage", "/shops/manage/orders")
        else f"/shops/manage/orders/{order_id}"
    )
    return Redirect(target, status_code=303)


# --- home panel ------------------------------------------------------------------------------


def open_now_panel(session: Session, user: CurrentUser | None) -> dict[str, Any] | None:
    now = utcnow()
    shops = list(session.scalars(select(Shop).order_by(Shop.name).limit(200)).all())
    schedules = logic.Schedule.load_many(session, shops)
    open_shops = [s for s in shops if schedules[s.id].is_open(now)]  # type: ignore[index]
    if not shops:
        return None
    ready = []
    if user is not None:
        ready = list(
            session.execute(
                select(ShopOrder, Shop)
                .join(Shop, Shop.id == ShopOrder.shop_id)
                .where(ShopOrder.customer_id == user.id, ShopOrder.status == "ready")
            ).all()
        )
    # A shopkeeper's home page leads to their own shop.
    my_shop = (
        session.scalars(select(Shop).where(Shop.owner_id == user.id)).first()
        if user is not None
        else None
    )
    return {
        "open_shops": open_shops[:5],
        "open_count": len(open_shops),
        "ready": ready,
        "my_shop": my_shop,
    }


ROUTES = [
    photo,
    index,
    my_orders,
    my_order,
    cancel_order,
    manage,
    edit_shop_form,
    save_shop,
    delete_shop_photo,
    hours_form,
    save_hours,
    add_exception,
    delete_exception,
    product_form,
    add_product,
    quick_edit,
    product_photo,
    product_page,
    manage_orders,
    manage_order,
    move_order,
    shop_page,
    place_order,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    home_panels=(Panel("shops_open_now", 60, "shops/_home_panel.html", open_now_panel),),
    account_links=(
        Link(
            40,
            "/shops/orders",
            "Mes commandes",
            "Click & collect dans les commerces du territoire.",
        ),
        Link(
            41,
            "/shops/manage",
            "Mon commerce",
            "Commandes du jour, stock, horaires.",
            roles=("merchant", "admin"),
        ),
    ),
)

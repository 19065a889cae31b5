"""The merchant's dashboard: the shop's page and photos, opening hours and their exceptions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from app import images
from app.auth import MERCHANT
from app.db import utcnow, saved_id
from app.deps import end_idle_writes, late_write, start_writing
from app.forms import Form, Multipart, parse_form
from app.i18n import gettext as _
from app.models.shops import (
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
from app.shops.pickup_points import PRODUCER_CATEGORIES
from app.routes.shops_context import (
    MAX_SHOP_PHOTOS,
    ShopForm,
    commune_choices,
    form_text,
    photo_url_of,
    process_photo,
    require_shop,
    shop_of_user,
    signed_in,
    time_or_none,
    upload_bytes,
    territory,
)
from app.shops import hours
from app.shops import orders as logic
from app.templating import page
from app.territories import commune_zone

# --- merchants ----------------------------------------------------------------------------------


@get("/shops/manage", opt=MERCHANT, sync_to_thread=True, name="shops_manage")
def manage(
    request: Request[Any, Any, Any], db: NamedDependency[Session], saved: FromQuery[str] = ""
) -> Template | Redirect:
    shop = shop_of_user(db, request)
    if shop is None:
        return Redirect("/shops/manage/shop", status_code=303)
    now = utcnow()
    start, end = hours.local_today_bounds(commune_zone(db, shop.commune_insee), now)
    today = db.scalars(
        select(ShopOrder)
        .where(
            col(ShopOrder.shop_id) == shop.id,
            or_(
                # An open order stays until it is collected, whatever its pick-up day.
                col(ShopOrder.status).in_(("placed", "accepted", "ready")),
                (col(ShopOrder.pickup_at) >= start) & (col(ShopOrder.pickup_at) < end),
            ),
        )
        .order_by(col(ShopOrder.pickup_at))
    ).all()
    products = db.scalars(
        select(Product)
        .where(col(Product.shop_id) == shop.id)
        .order_by(col(Product.is_active).desc(), col(Product.name))
    ).all()
    counts = {
        oid: n
        for oid, n in db.execute(
            select(col(OrderLine.order_id), func.sum(col(OrderLine.quantity)))
            .where(col(OrderLine.order_id).in_([o.id for o in today]))
            .group_by(col(OrderLine.order_id))
        ).all()
    }
    return page(
        request,
        "shops/manage.html",
        producer_categories=PRODUCER_CATEGORIES,
        section="shops",
        shop=shop,
        orders=today,
        counts=counts,
        low=logic.low_stock(db, shop),
        products=products,
        labels=logic.ORDER_LABELS,
        status=hours.Schedule.load(db, shop).status(now),
        euros=logic.euros,
        photo_url=photo_url_of,
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
    photos = (
        db.scalars(select(ShopPhoto).where(col(ShopPhoto.shop_id) == shop.id)).all() if shop else []
    )
    return page(
        request,
        "shops/shop_form.html",
        section="shops",
        shop=shop,
        form=form,
        errors=errors,
        communes=commune_choices(db, territory(request)),
        categories=logic.CATEGORIES,
        photos=photos,
        photo_url=photo_url_of,
        status_code=status_code,
    )


@get("/shops/manage/shop", opt=MERCHANT, sync_to_thread=True, name="shops_edit_form")
def edit_shop_form(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    shop = shop_of_user(db, request)
    form: dict[str, Any] = (
        shop.model_dump() if shop else {"click_collect": True, "closed_on_holidays": True}
    )
    return _shop_form_page(request, db, shop, form, {})


@post("/shops/manage/shop/save", opt=late_write(MERCHANT), sync_to_thread=True, name="shops_save")
def save_shop(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    user = signed_in(request)
    text = form_text(data)
    form, errors = parse_form(ShopForm, text)
    photo_bytes = upload_bytes(data.get("photo"))
    processed = None
    if photo_bytes:
        try:
            processed = process_photo(request, photo_bytes)
        except images.ImageRejected as exc:
            errors["photo"] = exc.message
    media = request.app.state.settings.resolved_media_dir
    to_store = [processed] if processed is not None and form is not None and not errors else []
    with PendingPhotos(to_store, media) as pending:
        start_writing(db)
        shop = shop_of_user(db, request)
        if form is not None and form.commune_insee not in commune_choices(db, territory(request)):
            errors["commune_insee"] = _("Choisissez une commune du territoire.")
        if shop and processed is not None:
            count = (
                db.scalar(
                    select(func.count())
                    .select_from(ShopPhoto)
                    .where(col(ShopPhoto.shop_id) == shop.id)
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
                    shop_id=saved_id(shop),
                    display_name=stored.display_name,
                    thumb_name=stored.thumb_name,
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
    shop = require_shop(db, request)
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
    shop = require_shop(db, request)
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
    end_idle_writes()  # a form sent back wrote nothing: the page is read and drawn without the lock
    if form is None:
        form = {}
        per_day: dict[int, list[ShopHours]] = {}
        for h in db.scalars(
            select(ShopHours)
            .where(col(ShopHours.shop_id) == shop.id)
            .order_by(col(ShopHours.weekday), col(ShopHours.opens))
        ).all():
            per_day.setdefault(h.weekday, []).append(h)
        for wd, rows in per_day.items():
            for i, h in enumerate(rows[:2], start=1):
                form[f"h{wd}_o{i}"] = h.opens.strftime("%H:%M")
                form[f"h{wd}_c{i}"] = h.closes.strftime("%H:%M")
    today = utcnow().astimezone(commune_zone(db, shop.commune_insee)).date()
    exceptions = db.scalars(
        select(ShopHoursException)
        .where(col(ShopHoursException.shop_id) == shop.id, col(ShopHoursException.on_date) >= today)
        .order_by(col(ShopHoursException.on_date))
    ).all()
    holidays = [
        (d, n)
        for d, n in hours.public_holidays(
            today.year, hours.in_alsace_moselle(shop.commune_insee)
        ).items()
        if d >= today
    ]
    holidays += [
        (d, n)
        for d, n in hours.public_holidays(
            today.year + 1, hours.in_alsace_moselle(shop.commune_insee)
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
        weekdays=hours.WEEKDAYS,
        status_code=status_code,
    )


@post("/shops/manage/hours/save", opt=MERCHANT, sync_to_thread=True, name="shops_hours_save")
def save_hours(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    shop = require_shop(db, request)
    errors: dict[str, str] = {}
    rows: list[ShopHours] = []
    for wd in range(7):
        for i in (1, 2):
            try:
                opens = time_or_none(str(data.get(f"h{wd}_o{i}", "")))
                closes = time_or_none(str(data.get(f"h{wd}_c{i}", "")))
            except ValueError as exc:
                errors[f"h{wd}"] = str(exc)
                continue
            if (opens is None) != (closes is None):
                errors[f"h{wd}"] = _("Indiquez l'ouverture et la fermeture, ou aucune des deux.")
            elif opens is not None and closes is not None:
                rows.append(
                    ShopHours(shop_id=saved_id(shop), weekday=wd, opens=opens, closes=closes)
                )
    if errors:
        return _hours_page(request, db, shop, form_text(data), errors, {}, status_code=400)
    for old in db.scalars(select(ShopHours).where(col(ShopHours.shop_id) == shop.id)).all():
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
    shop = require_shop(db, request)
    errors: dict[str, str] = {}
    on_date: date | None = None
    opens = closes = None
    try:
        on_date = date.fromisoformat(str(data.get("on_date", "")))
        if on_date < utcnow().astimezone(commune_zone(db, shop.commune_insee)).date():
            errors["on_date"] = _("Cette date est passée.")
    except ValueError:
        errors["on_date"] = _("Date invalide.")
    closed = data.get("closed") == "yes"
    if not closed:
        try:
            opens = time_or_none(str(data.get("opens", "")))
            closes = time_or_none(str(data.get("closes", "")))
        except ValueError as exc:
            errors["opens"] = str(exc)
        if not errors and (opens is None or closes is None):
            errors["opens"] = _("Indiquez les horaires de ce jour, ou cochez « fermé ».")
    label = str(data.get("label", "")).strip()[:80]
    if (
        not errors
        and on_date is not None
        and db.scalars(
            select(col(ShopHoursException.id)).where(
                col(ShopHoursException.shop_id) == shop.id,
                col(ShopHoursException.on_date) == on_date,
            )
        ).first()
    ):
        errors["on_date"] = _("Ce jour a déjà des horaires particuliers : supprimez-les d'abord.")
    if errors or on_date is None:
        return _hours_page(request, db, shop, None, errors, form_text(data), status_code=400)
    db.add(
        ShopHoursException(
            shop_id=saved_id(shop),
            on_date=on_date,
            opens=None if closed else opens,
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
    shop = require_shop(db, request)
    row = db.get(ShopHoursException, exception_id)
    if row is None or row.shop_id != shop.id:
        raise NotFoundException()
    db.delete(row)
    db.commit()
    return Redirect("/shops/manage/hours", status_code=303)

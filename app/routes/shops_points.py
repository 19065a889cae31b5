"""Shops, a producer's pick-up points: the merchant lists them, adds one (a place, a weekday and a
window) and removes one (kept for the orders that name it, no longer offered)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session

from app.auth import MERCHANT
from app.db import saved_id
from app.forms import Form
from app.i18n import gettext as _
from app.models.shops import Shop, ShopPickupPoint
from app.routes.shops_context import (
    commune_choices,
    form_text,
    require_shop,
    territory,
)
from app.shops import pickup_points
from app.shops.hours import WEEKDAYS
from app.templating import page


def _points_page(
    request: Request[Any, Any, Any],
    db: Session,
    shop: Shop,
    *,
    error: str = "",
    form: dict[str, Any] | None = None,
) -> Template:
    return page(
        request,
        "shops/manage_points.html",
        section="shops",
        status_code=400 if error else 200,
        shop=shop,
        points=pickup_points.active_points(db, saved_id(shop)),
        weekdays=WEEKDAYS,
        communes=commune_choices(db, territory(request)),
        error=error,
        form=form or {"commune_insee": shop.commune_insee},
    )


@get("/shops/manage/pickup-points", opt=MERCHANT, sync_to_thread=True, name="shops_points")
def points_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _points_page(request, db, require_shop(db, request))


@post("/shops/manage/pickup-points", opt=MERCHANT, sync_to_thread=True, name="shops_point_add")
def add_point(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    shop = require_shop(db, request)
    form = form_text(data)
    try:
        if form.get("commune_insee") not in commune_choices(db, territory(request)):
            raise pickup_points.PickupPointError(_("Choisissez une commune du territoire."))
        point = pickup_points.make(
            saved_id(shop),
            form.get("name", ""),
            form.get("address", ""),
            form.get("commune_insee", ""),
            form.get("weekday", ""),
            form.get("opens", ""),
            form.get("closes", ""),
        )
    except pickup_points.PickupPointError as exc:
        db.rollback()
        return _points_page(request, db, shop, error=str(exc), form=form)
    db.add(point)
    db.commit()
    return Redirect("/shops/manage/pickup-points", status_code=303)


@post(
    "/shops/manage/pickup-points/{point_id:int}/delete",
    opt=MERCHANT,
    sync_to_thread=True,
    name="shops_point_delete",
)
def delete_point(
    request: Request[Any, Any, Any], db: NamedDependency[Session], point_id: FromPath[int]
) -> Redirect:
    shop = require_shop(db, request)
    point = db.get(ShopPickupPoint, point_id)
    if point is None or point.shop_id != shop.id:
        raise NotFoundException()
    point.is_active = False
    db.add(point)
    db.commit()
    return Redirect("/shops/manage/pickup-points", status_code=303)


ROUTES = [points_page, add_point, delete_point]

"""The merchant's products (stock, price, photo) and orders (preparing, ready, collected)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlmodel import Session, col

from app import images
from app.auth import MERCHANT
from app.db import utcnow, saved_id
from app.deps import late_write, start_writing
from app.forms import Form, Multipart, parse_form
from app.i18n import gettext as _
from app.models.accounts import User
from app.models.shops import (
    OPEN_ORDER_STATES,
    Product,
    Shop,
    ShopOrder,
)
from app.photo_store import PendingPhotos
from app.shops.pickup_points import PRODUCER_CATEGORIES
from app.routes.shops_context import (
    pickup_point_of,
    ProductForm,
    QuickEditForm,
    form_text,
    order_lines,
    process_photo,
    require_shop,
    upload_bytes,
)
from app.shops import orders as logic
from app.templating import page


@get("/shops/manage/products/new", opt=MERCHANT, sync_to_thread=True, name="shops_product_form")
def product_form(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    shop = require_shop(db, request)
    return page(
        request,
        "shops/product_form.html",
        section="shops",
        shop=shop,
        form={},
        errors={},
        producer_categories=PRODUCER_CATEGORIES,
    )


@post(
    "/shops/manage/products",
    opt=late_write(MERCHANT),
    sync_to_thread=True,
    name="shops_product_add",
)
def add_product(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    text = form_text(data)
    form, errors = parse_form(ProductForm, text)
    if form is not None and not form.on_request and form.stock is None:
        errors["stock"] = _("Indiquez le stock, ou cochez « sur commande ».")
    processed = None
    photo_bytes = upload_bytes(data.get("photo"))
    if photo_bytes:
        try:
            processed = process_photo(request, photo_bytes)
        except images.ImageRejected as exc:
            errors["photo"] = exc.message
    media = request.app.state.settings.resolved_media_dir
    to_store = [processed] if processed is not None and form is not None and not errors else []
    with PendingPhotos(to_store, media) as pending:
        start_writing(db)
        shop = require_shop(db, request)
        if form is None or errors:
            db.rollback()  # the error page is rendered without the write lock
            return page(
                request,
                "shops/product_form.html",
                producer_categories=PRODUCER_CATEGORIES,
                section="shops",
                shop=shop,
                form=text,
                errors=errors,
                status_code=400,
            )
        product = Product(
            shop_id=saved_id(shop),
            name=form.name,
            description=form.description,
            unit=form.unit,
            price_cents=logic.parse_price(form.price),
            stock=None if form.on_request else form.stock,
            basket=form.basket and shop.category in PRODUCER_CATEGORIES,
        )
        if pending.stored:
            stored = pending.stored[0]
            product.display_name, product.thumb_name = stored.display_name, stored.thumb_name
        db.add(product)
        db.commit()
        pending.keep()
    return Redirect(f"/shops/manage?saved=product#product-{product.id}", status_code=303)


def _own_product(
    db: Session, request: Request[Any, Any, Any], product_id: int
) -> tuple[Shop, Product]:
    shop = require_shop(db, request)
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
    shop, product = _own_product(db, request, product_id)
    form, errors = parse_form(QuickEditForm, data)
    if form is not None and not form.on_request and form.stock is None:
        errors["stock"] = _("Indiquez le stock, ou cochez « sur commande ».")
    if form is None or errors:
        db.rollback()
        return page(
            request,
            "shops/product_edit.html",
            producer_categories=PRODUCER_CATEGORIES,
            section="shops",
            shop=shop,
            product=product,
            errors=errors,
            form=form_text(data),
            euros=logic.euros,
            status_code=400,
        )
    product.price_cents = logic.parse_price(form.price)
    product.stock = None if form.on_request else form.stock
    product.is_active = form.is_active
    product.basket = form.basket and shop.category in PRODUCER_CATEGORIES
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
    photo_bytes = upload_bytes(data.get("photo"))
    processed: images.ProcessedPhoto | None = None
    error = ""
    try:
        if not photo_bytes:
            raise images.ImageRejected("empty", _("Choisissez une photo."))
        processed = process_photo(request, photo_bytes)
    except images.ImageRejected as exc:
        error = exc.message
    media = request.app.state.settings.resolved_media_dir
    with PendingPhotos([processed] if processed is not None else [], media) as pending:
        start_writing(db)
        shop, product = _own_product(db, request, product_id)
        if error:
            db.rollback()  # the error page is rendered without the write lock
            return page(
                request,
                "shops/product_edit.html",
                producer_categories=PRODUCER_CATEGORIES,
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
    shop, product = _own_product(db, request, product_id)
    return page(
        request,
        "shops/product_edit.html",
        producer_categories=PRODUCER_CATEGORIES,
        section="shops",
        shop=shop,
        product=product,
        errors={},
        form={},
        euros=logic.euros,
    )


def _own_order(
    db: Session, request: Request[Any, Any, Any], order_id: int
) -> tuple[Shop, ShopOrder]:
    shop = require_shop(db, request)
    order = db.get(ShopOrder, order_id)
    if order is None or order.shop_id != shop.id:
        raise NotFoundException()
    return shop, order


@get("/shops/manage/orders", opt=MERCHANT, sync_to_thread=True, name="shops_manage_orders")
def manage_orders(
    request: Request[Any, Any, Any], db: NamedDependency[Session], show: FromQuery[str] = "open"
) -> Template:
    shop = require_shop(db, request)
    stmt = select(ShopOrder).where(col(ShopOrder.shop_id) == shop.id)
    if show == "open":
        stmt = stmt.where(col(ShopOrder.status).in_(OPEN_ORDER_STATES))
    orders = db.scalars(stmt.order_by(col(ShopOrder.pickup_at).desc()).limit(200)).all()
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
    shop, order = _own_order(db, request, order_id)
    customer = db.get(User, order.customer_id) if order.customer_id else None
    return page(
        request,
        "shops/order.html",
        section="shops",
        order=order,
        shop=shop,
        customer=customer,
        lines=order_lines(db, order),
        point=pickup_point_of(db, order),
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
    shop, order = _own_order(db, request, order_id)
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
            lines=order_lines(db, order),
            point=pickup_point_of(db, order),
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

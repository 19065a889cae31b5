"""Neighbour sharing: ads to lend or give, an item's page and its actions; the domain's routes.

Loans and gifts under way live in ``sharing_loans``, "looking for" requests in
``sharing_wanted``, moderation in ``sharing_staff``; ``sharing_context`` holds
what the pages share. ``ROUTES`` lists them all.
"""

from __future__ import annotations

from datetime import date, timedelta
from collections.abc import Sequence
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect, Template
from sqlalchemy import select
from sqlmodel import Session, col

from app import images
from app import photo_store
from app.auth import PUBLIC, SIGNED_IN, current_user
from app.db import utcnow, saved_id
from app.deps import late_write, start_writing
from app.forms import Form, Multipart, parse_form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link
from app.models.sharing import (
    Loan,
    SharedItem,
    SharedPhoto,
    WantedRequest,
)
from app.photo_store import PendingPhotos
from app.routes.sharing_context import (
    MAX_PHOTOS,
    PHOTO_CACHE,
    ItemForm,
    commune_choices,
    form_text,
    photo_url_of,
    signed_in,
    uploaded_files,
    territory,
)
from app.routes.sharing_loans import loan_action, loan_page, mine, save_watches
from app.routes.sharing_staff import moderate, reports, restore
from app.routes.sharing_wanted import close_wanted, create_wanted, wanted_form, wanted_page
from app.sharing import loans as logic
from app.sharing import scope, visibility
from app.templating import page
from app.territories import request_territory

# --- photos ----------------------------------------------------------------------------------


@get(
    "/sharing/photos/{name:str}",
    opt=PUBLIC,
    sync_to_thread=True,
    name="sharing_photo",
    include_in_schema=False,
)
def photo(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> File:
    """An ad's photo, only to those who may see the ad (never another domain's photo)."""
    item = visibility.item_of_photo(db, name)
    user = current_user(request)
    if item is None or not visibility.can_see(db, item, user, territory(request)):
        raise NotFoundException()
    return photo_store.served(
        name,
        request.app.state.settings.resolved_media_dir,
        cache_control=PHOTO_CACHE if visibility.is_public(item) else "private, no-store",
    )


# --- browse ----------------------------------------------------------------------------------


def _thumbs(db: Session, items: list[SharedItem]) -> dict[int, str]:
    thumbs: dict[int, str] = {}
    if items:
        for ph in db.scalars(
            select(SharedPhoto)
            .where(col(SharedPhoto.item_id).in_([i.id for i in items]))
            .order_by(col(SharedPhoto.position), col(SharedPhoto.id))
        ).all():
            thumbs.setdefault(ph.item_id, ph.thumb_name)
    return thumbs


@get("/sharing", opt=PUBLIC, sync_to_thread=True, name="sharing_index")
def index(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    q: FromQuery[str] = "",
    category: FromQuery[str] = "",
    commune: FromQuery[str] = "",
    kind: FromQuery[str] = "",
) -> Template:
    now = utcnow()
    here = territory(request)
    items = logic.search(
        db, q=q.strip(), category=category, commune=commune, kind=kind, now=now, territory_id=here
    )
    wanted = db.scalars(
        select(WantedRequest)
        .where(
            *scope.wanted_in(here),
            col(WantedRequest.status) == "open",
            col(WantedRequest.expires_at) > now,
        )
        .order_by(col(WantedRequest.created_at).desc())
        .limit(10)
    ).all()
    reserved = set(
        db.scalars(
            select(col(Loan.item_id)).where(
                col(Loan.kind) == "gift", col(Loan.status) == "reserved"
            )
        ).all()
    )
    return page(
        request,
        "sharing/index.html",
        section="sharing",
        items=items,
        thumbs=_thumbs(db, items),
        wanted=wanted,
        reserved=reserved,
        communes=commune_choices(db, territory(request)),
        categories=logic.CATEGORIES,
        filters={"q": q.strip(), "category": category, "commune": commune, "kind": kind},
        photo_url=photo_url_of,
    )


# --- ads ---------------------------------------------------------------------------------------


@get("/sharing/new", opt=SIGNED_IN, sync_to_thread=True, name="sharing_new")
def new_item(
    request: Request[Any, Any, Any], db: NamedDependency[Session], kind: FromQuery[str] = "lend"
) -> Template:
    return page(
        request,
        "sharing/item_form.html",
        section="sharing",
        form={"kind": kind, "max_days": 7},
        errors={},
        communes=commune_choices(db, territory(request)),
        categories=logic.CATEGORIES,
        conditions=logic.CONDITIONS,
    )


def _checked_photos(
    request: Request[Any, Any, Any], value: Any
) -> tuple[list[images.ProcessedPhoto], str | None]:
    """The uploaded photos checked and re-encoded (slow: before any transaction), or the error."""
    uploads = uploaded_files(value)
    if len(uploads) > MAX_PHOTOS:
        return [], _("Quatre photos au plus.")
    processed: list[images.ProcessedPhoto] = []
    for raw in uploads:
        try:
            processed.append(
                images.process(raw, max_bytes=request.app.state.settings.max_upload_bytes)
            )
        except images.ImageRejected as exc:
            return [], exc.message
    return processed, None


@post("/sharing/items", opt=late_write(SIGNED_IN), sync_to_thread=True, name="sharing_create")
def create_item(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    user = signed_in(request)
    text = form_text(data)
    form, errors = parse_form(ItemForm, text)
    processed, photo_error = _checked_photos(request, data.get("photos"))
    if photo_error:
        errors["photos"] = photo_error
    media = request.app.state.settings.resolved_media_dir
    with PendingPhotos(processed if form and not errors else [], media) as pending:
        start_writing(db)
        if form is not None and form.commune_insee not in commune_choices(db, territory(request)):
            errors["commune_insee"] = _("Choisissez une commune du territoire.")
        if form is None or errors:
            db.rollback()  # the error page is rendered without the write lock
            return page(
                request,
                "sharing/item_form.html",
                section="sharing",
                status_code=400,
                form=text,
                errors=errors,
                communes=commune_choices(db, territory(request)),
                categories=logic.CATEGORIES,
                conditions=logic.CONDITIONS,
            )
        item = SharedItem(owner_id=user.id, expires_at=utcnow(), **form.model_dump())
        logic.publish(db, item)
        for position, (ph, stored) in enumerate(zip(processed, pending.stored, strict=True)):
            db.add(
                SharedPhoto(
                    item_id=saved_id(item),
                    display_name=stored.display_name,
                    thumb_name=stored.thumb_name,
                    width=ph.width,
                    height=ph.height,
                    position=position,
                )
            )
        db.commit()
        pending.keep()
    return Redirect(f"/sharing/items/{item.id}?published=1", status_code=303)


def _item_or_404(request: Request[Any, Any, Any], db: Session, item_id: int) -> SharedItem:
    """The ad if the viewer may see it on this host: another territory's is not found here, but
    one's own and those one has a loan on are (one account, several territories)."""
    item = db.get(SharedItem, item_id)
    # A paused or lapsed ad is visible to its owner, to staff and to people with a loan on it.
    if item is None or not visibility.can_see(db, item, current_user(request), territory(request)):
        raise NotFoundException()
    return item


def _item_page(
    request: Request[Any, Any, Any],
    db: Session,
    item: SharedItem,
    *,
    errors: dict[str, str],
    form: dict[str, Any],
    status_code: int = 200,
    notice: str = "",
) -> Template:
    user = current_user(request)
    today = logic.local_today(request_territory(request).zone)
    photos = db.scalars(
        select(SharedPhoto)
        .where(col(SharedPhoto.item_id) == item.id)
        .order_by(col(SharedPhoto.position))
    ).all()
    owner_view = user is not None and user.id == item.owner_id
    loans: Sequence[Loan] = []
    if owner_view:
        loans = db.scalars(
            select(Loan)
            .where(col(Loan.item_id) == item.id)
            .order_by(col(Loan.created_at).desc())
            .limit(30)
        ).all()
    mine: Sequence[Loan] = []
    if user is not None and not owner_view:
        mine = db.scalars(
            select(Loan)
            .where(col(Loan.item_id) == item.id, col(Loan.borrower_id) == user.id)
            .order_by(col(Loan.created_at).desc())
        ).all()
    gift_reserved = (
        db.scalars(
            select(col(Loan.id)).where(
                col(Loan.item_id) == item.id,
                col(Loan.kind) == "gift",
                col(Loan.status) == "reserved",
            )
        ).first()
        is not None
    )
    names = logic.user_names(db, [item.owner_id] + [ln.borrower_id for ln in loans])
    return page(
        request,
        "sharing/item.html",
        section="sharing",
        status_code=status_code,
        item=item,
        photos=photos,
        booked=logic.booked_ranges(db, saved_id(item), today),
        owner_view=owner_view,
        loans=loans,
        mine=mine,
        gift_reserved=gift_reserved,
        names=names,
        errors=errors,
        form=form,
        today=today,
        listed=logic.is_listed(item),
        communes=commune_choices(db, territory(request)),
        categories=logic.CATEGORIES,
        conditions=logic.CONDITIONS,
        labels=logic.LOAN_LABELS,
        photo_url=photo_url_of,
        notice=notice,
        max_end=today + timedelta(days=logic.BOOKING_HORIZON_DAYS),
    )


@get("/sharing/items/{item_id:int}", opt=PUBLIC, sync_to_thread=True, name="sharing_item")
def item_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    item_id: FromPath[int],
    published: FromQuery[str] = "",
    reported: FromQuery[str] = "",
) -> Template:
    item = _item_or_404(request, db, item_id)
    notice = (
        _("Annonce publiée pour 30 jours.")
        if published
        else (_("Merci, l'équipe va examiner cette annonce.") if reported else "")
    )
    return _item_page(request, db, item, errors={}, form={}, notice=notice)


@get("/sharing/items/{item_id:int}/edit", opt=SIGNED_IN, sync_to_thread=True, name="sharing_edit")
def edit_item(
    request: Request[Any, Any, Any], db: NamedDependency[Session], item_id: FromPath[int]
) -> Template:
    item = _item_or_404(request, db, item_id)
    if item.owner_id != signed_in(request).id:
        raise NotFoundException()
    return page(
        request,
        "sharing/item_form.html",
        section="sharing",
        item=item,
        form=item.model_dump(),
        errors={},
        communes=commune_choices(db, territory(request)),
        categories=logic.CATEGORIES,
        conditions=logic.CONDITIONS,
    )


def _save_edit(
    request: Request[Any, Any, Any], db: Session, item: SharedItem, data: dict[str, Any]
) -> Template | Redirect:
    form, errors = parse_form(ItemForm, {**form_text(data), "kind": item.kind})
    if form is not None and form.commune_insee not in commune_choices(db, territory(request)):
        errors["commune_insee"] = _("Choisissez une commune du territoire.")
    if form is None or errors:
        return page(
            request,
            "sharing/item_form.html",
            section="sharing",
            status_code=400,
            item=item,
            form={**form_text(data), "kind": item.kind},
            errors=errors,
            communes=commune_choices(db, territory(request)),
            categories=logic.CATEGORIES,
            conditions=logic.CONDITIONS,
        )
    for key, value in form.model_dump().items():
        setattr(item, key, value)
    db.add(item)
    db.commit()
    return Redirect(f"/sharing/items/{item.id}", status_code=303)


@post(
    "/sharing/items/{item_id:int}/{action:str}",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="sharing_item_action",
)
def item_action(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    item_id: FromPath[int],
    action: FromPath[str],
    data: Form,
) -> Template | Redirect:
    """Owner actions (pause, resume, renew, remove), and others' actions (request, reserve, report)."""
    user = signed_in(request)
    item = _item_or_404(request, db, item_id)
    owner_actions = ("pause", "resume", "renew", "remove", "save")
    if action in owner_actions:
        if item.owner_id != user.id:
            raise NotFoundException()
        if action == "save":
            return _save_edit(request, db, item, data)
        if action == "pause" and item.status == "active":
            item.status = "paused"
        elif action == "resume" and item.status == "paused":
            item.status = "active"
        elif action == "renew":
            try:
                logic.renew(item)
            except logic.SharingError as exc:
                return _item_page(
                    request, db, item, errors={"__all__": str(exc)}, form={}, status_code=409
                )
        elif action == "remove":
            item.status = "removed"
        db.add(item)
        db.commit()
        return Redirect(
            "/sharing/mine" if action == "remove" else f"/sharing/items/{item_id}", status_code=303
        )
    if action == "report":
        reason = str(data.get("reason", "")).strip()
        if len(reason) < 3:
            return _item_page(
                request,
                db,
                item,
                errors={"reason": _("Dites en quelques mots ce qui ne va pas.")},
                form=form_text(data),
                status_code=400,
            )
        logic.report_item(db, item, user.id, reason)
        db.commit()
        return Redirect(f"/sharing/items/{item_id}?reported=1", status_code=303)
    try:
        if action == "request":
            try:
                start = date.fromisoformat(str(data.get("start_on", "")))
                end = date.fromisoformat(str(data.get("end_on", "")))
            except ValueError:
                raise logic.SharingError(_("Indiquez les dates de début et de retour.")) from None
            loan = logic.request_loan(
                db, item_id, user.id, start, end, str(data.get("message", ""))
            )
        elif action == "reserve":
            loan = logic.reserve_gift(db, item_id, user.id, str(data.get("message", "")))
        else:
            raise NotFoundException()
    except logic.SharingError as exc:
        db.rollback()
        return _item_page(
            request, db, item, errors={"__all__": str(exc)}, form=form_text(data), status_code=409
        )
    db.commit()
    return Redirect(f"/sharing/loans/{loan.id}", status_code=303)


ROUTES = [
    photo,
    index,
    new_item,
    create_item,
    item_page,
    edit_item,
    item_action,
    loan_page,
    loan_action,
    mine,
    save_watches,
    wanted_form,
    create_wanted,
    wanted_page,
    close_wanted,
    reports,
    moderate,
    restore,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(
            50,
            "/sharing/reports",
            "Annonces signalées",
            "Partage entre voisins : signalements à examiner.",
        ),
    ),
    account_links=(
        Link(
            30,
            "/sharing/mine",
            "Mes prêts et annonces",
            "Objets prêtés, empruntés, donnés ; catégories suivies.",
        ),
    ),
)

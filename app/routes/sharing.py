"""Neighbour sharing: ads to lend or give, loans and gifts, messages, "looking for" requests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect, Template
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlmodel import Session

from app import images, moderation
from app.auth import PUBLIC, SIGNED_IN, STAFF, CurrentUser, current_user
from app.db import utcnow
from app.deps import late_write, start_writing
from app.forms import Form, Multipart, parse_form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link
from app.models.sharing import (
    CategoryWatch,
    ItemReport,
    Loan,
    LoanMessage,
    SharedItem,
    SharedPhoto,
    WantedRequest,
)
from app.models.territory import Commune
from app.photo_store import PendingPhotos
from app.sharing import loans as logic
from app.sharing import moderation as moderating
from app.sharing import visibility
from app.templating import page

PHOTO_CACHE = "public, max-age=31536000, immutable"
MAX_PHOTOS = 4


def _user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access rule guarantees it
    return user


def _communes(db: Session) -> dict[str, str]:
    return {c.insee: c.name for c in db.scalars(select(Commune).order_by(Commune.name)).all()}


def _photo_url(name: str | None) -> str | None:
    return f"/sharing/photos/{name}" if name else None


def _uploads(value: Any) -> list[bytes]:
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        if isinstance(v, UploadFile):
            v.file.seek(0)
            data = v.file.read()
            if data:
                out.append(data)
    return out


def _text(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, str)}


class ItemForm(BaseModel):
    kind: str
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(default="", max_length=3000)
    category: str
    condition: str = "good"
    commune_insee: str = Field(min_length=5, max_length=5)
    max_days: int = Field(default=7, ge=1, le=60)
    availability: str = Field(default="", max_length=200)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in ("lend", "give"):
            raise ValueError("Choisissez : prêter ou donner.")
        return value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in logic.CATEGORIES:
            raise ValueError("Choisissez une catégorie.")
        return value

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str) -> str:
        if value not in logic.CONDITIONS:
            raise ValueError("Choisissez l'état de l'objet.")
        return value


class WantedForm(BaseModel):
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(default="", max_length=1000)
    category: str
    commune_insee: str = Field(min_length=5, max_length=5)

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in logic.CATEGORIES:
            raise ValueError("Choisissez une catégorie.")
        return value


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
    if item is None or not visibility.can_see(db, item, current_user(request)):
        raise NotFoundException()
    try:
        path = images.open_path(name, request.app.state.settings.resolved_media_dir)
    except (images.InvalidPhotoName, FileNotFoundError):
        raise NotFoundException() from None
    return File(
        path=path,
        media_type=images.OUTPUT_MIME,
        content_disposition_type="inline",
        headers={
            "cache-control": PHOTO_CACHE if visibility.is_public(item) else "private, no-store"
        },
    )


# --- browse ----------------------------------------------------------------------------------


def _thumbs(db: Session, items: list[SharedItem]) -> dict[int, str]:
    thumbs: dict[int, str] = {}
    if items:
        for ph in db.scalars(
            select(SharedPhoto)
            .where(SharedPhoto.item_id.in_([i.id for i in items]))  # type: ignore[attr-defined]
            .order_by(SharedPhoto.position, SharedPhoto.id)
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
    items = logic.search(db, q=q.strip(), category=category, commune=commune, kind=kind, now=now)
    wanted = db.scalars(
        select(WantedRequest)
        .where(WantedRequest.status == "open", WantedRequest.expires_at > now)
        .order_by(WantedRequest.created_at.desc())
        .limit(10)
    ).all()  # type: ignore[attr-defined]
    reserved = set(
        db.scalars(select(Loan.item_id).where(Loan.kind == "gift", Loan.status == "reserved")).all()
    )
    return page(
        request,
        "sharing/index.html",
        section="sharing",
        items=items,
        thumbs=_thumbs(db, items),
        wanted=wanted,
        reserved=reserved,
        communes=_communes(db),
        categories=logic.CATEGORIES,
        filters={"q": q.strip(), "category": category, "commune": commune, "kind": kind},
        photo_url=_photo_url,
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
        communes=_communes(db),
        categories=logic.CATEGORIES,
        conditions=logic.CONDITIONS,
    )


def _checked_photos(
    request: Request[Any, Any, Any], value: Any
) -> tuple[list[images.ProcessedPhoto], str | None]:
    """The uploaded photos checked and re-encoded (slow: before any transaction), or the error."""
    uploads = _uploads(value)
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
    user = _user(request)
    text = _text(data)
    form, errors = parse_form(ItemForm, text)
    processed, photo_error = _checked_photos(request, data.get("photos"))
    if photo_error:
        errors["photos"] = photo_error
    media = request.app.state.settings.resolved_media_dir
    with PendingPhotos(processed if form and not errors else [], media) as pending:
        start_writing(db)
        if form is not None and db.get(Commune, form.commune_insee) is None:
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
                communes=_communes(db),
                categories=logic.CATEGORIES,
                conditions=logic.CONDITIONS,
            )
        item = SharedItem(owner_id=user.id, expires_at=utcnow(), **form.model_dump())
        logic.publish(db, item)
        for position, (ph, stored) in enumerate(zip(processed, pending.stored, strict=True)):
            db.add(
                SharedPhoto(
                    item_id=item.id,
                    display_name=stored.display_name,
                    thumb_name=stored.thumb_name,  # type: ignore[arg-type]
                    width=ph.width,
                    height=ph.height,
                    position=position,
                )
            )
        db.commit()
        pending.keep()
    return Redirect(f"/sharing/items/{item.id}?published=1", status_code=303)


def _item_or_404(db: Session, item_id: int, user: CurrentUser | None) -> SharedItem:
    item = db.get(SharedItem, item_id)
    # A paused or lapsed ad is visible to its owner, to staff and to people with a loan on it.
    if item is None or not visibility.can_see(db, item, user):
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
    today = logic.local_today()
    photos = db.scalars(
        select(SharedPhoto).where(SharedPhoto.item_id == item.id).order_by(SharedPhoto.position)
    ).all()
    owner_view = user is not None and user.id == item.owner_id
    loans = []
    if owner_view:
        loans = db.scalars(
            select(Loan).where(Loan.item_id == item.id).order_by(Loan.created_at.desc()).limit(30)
        ).all()  # type: ignore[attr-defined]
    mine = []
    if user is not None and not owner_view:
        mine = db.scalars(
            select(Loan)
            .where(Loan.item_id == item.id, Loan.borrower_id == user.id)
            .order_by(Loan.created_at.desc())
        ).all()  # type: ignore[attr-defined]
    gift_reserved = (
        db.scalars(
            select(Loan.id).where(
                Loan.item_id == item.id, Loan.kind == "gift", Loan.status == "reserved"
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
        booked=logic.booked_ranges(db, item.id, today),
        owner_view=owner_view,
        loans=loans,
        mine=mine,  # type: ignore[arg-type]
        gift_reserved=gift_reserved,
        names=names,
        errors=errors,
        form=form,
        today=today,
        listed=logic.is_listed(item),
        communes=_communes(db),
        categories=logic.CATEGORIES,
        conditions=logic.CONDITIONS,
        labels=logic.LOAN_LABELS,
        photo_url=_photo_url,
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
    item = _item_or_404(db, item_id, current_user(request))
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
    item = _item_or_404(db, item_id, _user(request))
    if item.owner_id != _user(request).id:
        raise NotFoundException()
    return page(
        request,
        "sharing/item_form.html",
        section="sharing",
        item=item,
        form=item.model_dump(),
        errors={},
        communes=_communes(db),
        categories=logic.CATEGORIES,
        conditions=logic.CONDITIONS,
    )


def _save_edit(
    request: Request[Any, Any, Any], db: Session, item: SharedItem, data: dict[str, Any]
) -> Template | Redirect:
    form, errors = parse_form(ItemForm, {**_text(data), "kind": item.kind})
    if form is not None and db.get(Commune, form.commune_insee) is None:
        errors["commune_insee"] = _("Choisissez une commune du territoire.")
    if form is None or errors:
        return page(
            request,
            "sharing/item_form.html",
            section="sharing",
            status_code=400,
            item=item,
            form={**_text(data), "kind": item.kind},
            errors=errors,
            communes=_communes(db),
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
    user = _user(request)
    item = _item_or_404(db, item_id, user)
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
                form=_text(data),
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
            request, db, item, errors={"__all__": str(exc)}, form=_text(data), status_code=409
        )
    db.commit()
    return Redirect(f"/sharing/loans/{loan.id}", status_code=303)


# --- loans -------------------------------------------------------------------------------------


def _loan_for(db: Session, loan_id: int, user: CurrentUser) -> tuple[Loan, SharedItem]:
    loan = db.get(Loan, loan_id)
    item = db.get(SharedItem, loan.item_id) if loan else None
    if loan is None or item is None or user.id not in (loan.borrower_id, item.owner_id):
        raise NotFoundException()
    return loan, item


def _loan_page(
    request: Request[Any, Any, Any],
    db: Session,
    loan: Loan,
    item: SharedItem,
    *,
    errors: dict[str, str],
    status_code: int = 200,
) -> Template:
    user = _user(request)
    messages = db.scalars(
        select(LoanMessage).where(LoanMessage.loan_id == loan.id).order_by(LoanMessage.created_at)
    ).all()
    names = logic.user_names(db, [loan.borrower_id, item.owner_id])
    photo_row = db.scalars(
        select(SharedPhoto).where(SharedPhoto.item_id == item.id).order_by(SharedPhoto.position)
    ).first()
    can_extend = loan.kind == "loan" and loan.status in ("accepted", "picked_up")
    return page(
        request,
        "sharing/loan.html",
        section="sharing",
        status_code=status_code,
        loan=loan,
        item=item,
        messages=messages,
        names=names,
        is_owner=user.id == item.owner_id,
        errors=errors,
        labels=logic.LOAN_LABELS,
        thumb=_photo_url(photo_row.thumb_name) if photo_row else None,
        can_extend=can_extend,
        today=logic.local_today(),
    )


@get("/sharing/loans/{loan_id:int}", opt=SIGNED_IN, sync_to_thread=True, name="sharing_loan")
def loan_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], loan_id: FromPath[int]
) -> Template:
    loan, item = _loan_for(db, loan_id, _user(request))
    return _loan_page(request, db, loan, item, errors={})


@post(
    "/sharing/loans/{loan_id:int}/{action:str}",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="sharing_loan_action",
)
def loan_action(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    loan_id: FromPath[int],
    action: FromPath[str],
    data: Form,
) -> Template | Redirect:
    user = _user(request)
    loan, item = _loan_for(db, loan_id, user)
    try:
        if action == "messages":
            logic.post_message(db, loan_id, user.id, str(data.get("body", "")))
        elif action == "extend":
            try:
                new_end = date.fromisoformat(str(data.get("end_on", "")))
            except ValueError:
                raise logic.SharingError(_("Indiquez la nouvelle date de retour.")) from None
            logic.extend_loan(db, loan_id, user.id, new_end)
        elif action in logic.TRANSITIONS:
            logic.move_loan(db, loan_id, user.id, action)
        else:
            raise NotFoundException()
    except logic.SharingError as exc:
        db.rollback()
        loan, item = _loan_for(db, loan_id, user)
        return _loan_page(request, db, loan, item, errors={"__all__": str(exc)}, status_code=409)
    db.commit()
    return Redirect(
        f"/sharing/loans/{loan_id}#{'messages' if action == 'messages' else 'state'}",
        status_code=303,
    )


# --- mine, watches, wanted -----------------------------------------------------------------------


@get("/sharing/mine", opt=SIGNED_IN, sync_to_thread=True, name="sharing_mine")
def mine(
    request: Request[Any, Any, Any], db: NamedDependency[Session], saved: FromQuery[str] = ""
) -> Template:
    user = _user(request)
    now = utcnow()
    items = db.scalars(
        select(SharedItem)
        .where(SharedItem.owner_id == user.id, SharedItem.status != "removed")
        .order_by(SharedItem.created_at.desc())
    ).all()  # type: ignore[attr-defined]
    lent = db.execute(
        select(Loan, SharedItem)
        .join(SharedItem, SharedItem.id == Loan.item_id)
        .where(SharedItem.owner_id == user.id)
        .order_by(Loan.updated_at.desc())
        .limit(50)
    ).all()  # type: ignore[attr-defined]
    borrowed = db.execute(
        select(Loan, SharedItem)
        .join(SharedItem, SharedItem.id == Loan.item_id)
        .where(Loan.borrower_id == user.id)
        .order_by(Loan.updated_at.desc())
        .limit(50)
    ).all()  # type: ignore[attr-defined]
    watches = set(
        db.scalars(select(CategoryWatch.category).where(CategoryWatch.user_id == user.id)).all()
    )
    wanted = db.scalars(
        select(WantedRequest)
        .where(WantedRequest.user_id == user.id)
        .order_by(WantedRequest.created_at.desc())
    ).all()  # type: ignore[attr-defined]
    names = logic.user_names(
        db, [ln.borrower_id for ln, _i in lent] + [i.owner_id for _l, i in borrowed]
    )
    return page(
        request,
        "sharing/mine.html",
        section="sharing",
        items=items,
        lent=lent,
        borrowed=borrowed,
        watches=watches,
        wanted=wanted,
        names=names,
        now=now,
        categories=logic.CATEGORIES,
        labels=logic.LOAN_LABELS,
        saved=saved,
    )


@post("/sharing/watches", opt=SIGNED_IN, sync_to_thread=True, name="sharing_watches")
def save_watches(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Redirect:
    chosen = data.get("category", [])
    chosen = chosen if isinstance(chosen, list) else [chosen]
    logic.set_watches(db, _user(request).id, [str(c) for c in chosen])
    db.commit()
    return Redirect("/sharing/mine?saved=watches#watches", status_code=303)


@get("/sharing/wanted/new", opt=SIGNED_IN, sync_to_thread=True, name="sharing_wanted_new")
def wanted_form(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return page(
        request,
        "sharing/wanted_form.html",
        section="sharing",
        form={},
        errors={},
        communes=_communes(db),
        categories=logic.CATEGORIES,
    )


@post("/sharing/wanted", opt=SIGNED_IN, sync_to_thread=True, name="sharing_wanted_create")
def create_wanted(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    user = _user(request)
    form, errors = parse_form(WantedForm, data)
    if form is not None and db.get(Commune, form.commune_insee) is None:
        errors["commune_insee"] = _("Choisissez une commune du territoire.")
    if form is None or errors:
        return page(
            request,
            "sharing/wanted_form.html",
            section="sharing",
            status_code=400,
            form=_text(data),
            errors=errors,
            communes=_communes(db),
            categories=logic.CATEGORIES,
        )
    wanted = WantedRequest(user_id=user.id, expires_at=utcnow(), **form.model_dump())
    logic.post_wanted(db, wanted)
    db.commit()
    return Redirect(f"/sharing/wanted/{wanted.id}", status_code=303)


@get("/sharing/wanted/{wanted_id:int}", opt=PUBLIC, sync_to_thread=True, name="sharing_wanted")
def wanted_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], wanted_id: FromPath[int]
) -> Template:
    wanted = db.get(WantedRequest, wanted_id)
    if wanted is None:
        raise NotFoundException()
    user = current_user(request)
    names = logic.user_names(db, [wanted.user_id])
    matches = logic.search(db, category=wanted.category, limit=6)
    return page(
        request,
        "sharing/wanted.html",
        section="sharing",
        wanted=wanted,
        name=names.get(wanted.user_id, ""),
        mine=user is not None and user.id == wanted.user_id,
        categories=logic.CATEGORIES,
        communes=_communes(db),
        matches=matches,
        open=wanted.status == "open" and wanted.expires_at > utcnow(),
    )


@post(
    "/sharing/wanted/{wanted_id:int}/close",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="sharing_wanted_close",
)
def close_wanted(
    request: Request[Any, Any, Any], db: NamedDependency[Session], wanted_id: FromPath[int]
) -> Redirect:
    wanted = db.get(WantedRequest, wanted_id)
    if wanted is None or wanted.user_id != _user(request).id:
        raise NotFoundException()
    wanted.status = "closed"
    db.add(wanted)
    db.commit()
    return Redirect("/sharing/mine", status_code=303)


# --- staff ---------------------------------------------------------------------------------------


@get("/sharing/reports", opt=STAFF, sync_to_thread=True, name="sharing_reports")
def reports(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _reports_page(request, db)


def _reports_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    errors: dict[int, str] | None = None,
    status_code: int = 200,
) -> Template:
    rows = db.execute(
        select(ItemReport, SharedItem)
        .join(SharedItem, SharedItem.id == ItemReport.item_id)
        .where(ItemReport.status == "open")
        .order_by(ItemReport.created_at)
    ).all()
    return page(
        request,
        "sharing/reports.html",
        section="sharing",
        rows=rows,
        reasons=moderation.REASONS,
        hidden=moderating.hidden_items(db),
        errors=errors or {},
        status_code=status_code,
    )


@post(
    "/sharing/reports/{report_id:int}/{decision:str}",
    opt=STAFF,
    sync_to_thread=True,
    name="sharing_moderate",
)
def moderate(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    decision: FromPath[str],
    data: Form,
) -> Redirect | Template:
    """``hide`` (with a reason; the owner is told, staff can restore it) or ``dismiss`` a reported ad."""
    report = db.get(ItemReport, report_id)
    if report is None or decision not in ("dismiss", "hide"):
        raise NotFoundException()
    item = db.get(SharedItem, report.item_id)
    try:
        if decision == "hide" and item is not None:
            moderating.hide(
                db, item, _user(request).id, str(data.get("reason", "")), str(data.get("note", ""))
            )
        else:
            moderating.dismiss(db, report)
    except moderation.ModerationError as exc:
        db.rollback()
        return _reports_page(request, db, errors={report_id: str(exc)}, status_code=400)
    db.commit()
    return Redirect("/sharing/reports", status_code=303)


@post(
    "/sharing/items/{item_id:int}/restore", opt=STAFF, sync_to_thread=True, name="sharing_restore"
)
def restore(
    request: Request[Any, Any, Any], db: NamedDependency[Session], item_id: FromPath[int]
) -> Redirect:
    item = db.get(SharedItem, item_id)
    if item is None:
        raise NotFoundException()
    if item.status == "hidden":  # restoring twice (two agents, a double click) changes nothing more
        moderating.restore(db, item, _user(request).id)
        db.commit()
    return Redirect("/sharing/reports", status_code=303)


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

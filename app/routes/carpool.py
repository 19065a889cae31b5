"""Carpool pages (/carpool...): a carpooler's profile and photo, the home panel, and the domain's routes.

The pages live by what they do: ``carpool_search`` (search, saved searches, my
trips, blocks), ``carpool_ads`` (ads and bookings), ``carpool_staff``
(moderation and proofs of carpooling), ``carpool_rdex`` (the RDEX+ API,
/api/rdex/journeys); ``carpool_forms`` reads their forms. ``ROUTES`` lists them all.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File, Redirect, Template
from sqlalchemy import or_
from sqlmodel import Session, col, select

from app import photo_store
from app.auth import SIGNED_IN, CurrentUser
from app.carpool import bookings as carpool_bookings
from app.carpool import registry
from app.carpool.trips import CarpoolError
from app.db import utcnow
from app.deps import late_write, start_writing
from app.forms import Multipart, TextForm
from app.i18n import gettext as _
from app.interfaces import Contribution, Link, Panel
from app.models.carpool import (
    CarpoolProfile,
)
from app.routes import carpool_api
from app.routes.carpool_ads import (
    accept,
    ad_page,
    book,
    booking_page,
    cancel,
    close_ad,
    confirm_trip,
    create_ad,
    decline,
    message,
    new_ad,
    report_ad,
)
from app.routes.carpool_forms import PHOTO_MAX_BYTES, me
from app.routes.carpool_rdex import rdex_journeys
from app.routes.carpool_search import (
    block_user,
    delete_search,
    index,
    mine,
    save_search,
    search_page,
    unblock_user,
)
from app.routes.carpool_staff import (
    moderate,
    proofs_csv,
    proofs_json,
    restore_ad,
    staff_page,
    save_shares,
)
from app.photo_store import PendingPhotos
from app.templating import page


@get("/carpool/profile", opt=SIGNED_IN, sync_to_thread=True, name="carpool_profile")
def profile_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    profile = db.get(CarpoolProfile, me(request).id) or CarpoolProfile(user_id=me(request).id)
    return page(
        request, "carpool/profile.html", section="carpool", profile=profile, errors={}, form=None
    )


@post(
    "/carpool/profile",
    opt=late_write(SIGNED_IN),
    sync_to_thread=True,
    name="carpool_save_profile",
)
def save_profile(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    from app import images

    viewer = me(request)
    errors: dict[str, str] = {}
    first_name = str(data.get("first_name") or "").strip()
    phone = str(data.get("phone") or "").strip()
    about = str(data.get("about") or "").strip()
    if len(first_name) > 40:
        errors["first_name"] = _("40 caractères au plus.")
    if phone and (
        len(phone) > 20
        or not all(c.isdigit() or c in "+ .-()" for c in phone)
        or sum(c.isdigit() for c in phone) < 8
    ):
        errors["phone"] = _("Numéro de téléphone invalide.")
    if len(about) > 300:
        errors["about"] = _("300 caractères au plus.")
    upload = data.get("photo")
    processed = None
    if isinstance(upload, UploadFile) and upload.filename:
        raw = upload.file.read(PHOTO_MAX_BYTES + 1)
        if raw:
            try:
                processed = images.process(
                    raw, max_bytes=PHOTO_MAX_BYTES, display_size=512, thumb_size=160
                )
            except images.ImageRejected as exc:
                errors["photo"] = exc.message
    media = request.app.state.settings.resolved_media_dir
    # The photo is re-encoded and written before the write transaction opens.
    with PendingPhotos(
        [processed] if processed is not None and not errors else [], media
    ) as pending:
        start_writing(db)
        profile = db.get(CarpoolProfile, viewer.id) or CarpoolProfile(user_id=viewer.id)
        if errors:
            db.rollback()  # the error page is rendered without the write lock
            form = {"first_name": first_name, "phone": phone, "about": about}
            return page(
                request,
                "carpool/profile.html",
                section="carpool",
                status_code=400,
                profile=profile,
                errors=errors,
                form=form,
            )
        old: list[str] = []
        if processed is not None or data.get("remove_photo"):
            old = [n for n in (profile.photo_name, profile.thumb_name) if n]
            profile.photo_name = profile.thumb_name = None
        if pending.stored:
            stored = pending.stored[0]
            profile.photo_name, profile.thumb_name = stored.display_name, stored.thumb_name
        profile.first_name, profile.phone, profile.about = first_name, phone, about
        profile.updated_at = utcnow()
        db.add(profile)
        db.commit()
        pending.keep()
    if old:
        images.delete(old, media)
    return Redirect("/carpool/profile", status_code=303)


@get("/carpool/photos/{name:str}", opt=SIGNED_IN, sync_to_thread=True, name="carpool_photo")
def photo(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> File:
    known = db.scalars(
        select(col(CarpoolProfile.user_id)).where(
            or_(col(CarpoolProfile.thumb_name) == name, col(CarpoolProfile.photo_name) == name)
        )
    ).first()
    if known is None:
        raise NotFoundException()
    return photo_store.served(
        name, request.app.state.settings.resolved_media_dir, cache_control="private, max-age=86400"
    )


@post(
    "/carpool/profile/proof",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_save_proof_identity",
)
def save_proof_identity(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: TextForm
) -> Template | Redirect:
    """Phone and last name for proofs of carpooling, kept only as the registry's key, with consent."""
    viewer = me(request)
    try:
        if data.get("withdraw"):
            registry.withdraw_proof_identity(db, viewer.id)
        else:
            registry.set_proof_identity(
                db,
                viewer.id,
                data.get("proof_phone", ""),
                data.get("proof_last_name", ""),
                consent=data.get("proof_consent") == "1",
            )
    except CarpoolError as exc:
        db.rollback()
        profile = db.get(CarpoolProfile, viewer.id) or CarpoolProfile(user_id=viewer.id)
        return page(
            request,
            "carpool/profile.html",
            section="carpool",
            status_code=400,
            profile=profile,
            errors={},
            form=None,
            proof_error=str(exc),
            proof_form={
                "proof_phone": data.get("proof_phone", ""),
                "proof_last_name": data.get("proof_last_name", ""),
            },
        )
    db.commit()
    return Redirect("/carpool/profile#proof", status_code=303)


# --- home panel -------------------------------------------------------------------------


def home_trips(session: Session, user: CurrentUser | None) -> dict[str, Any] | None:
    if user is None:
        return None
    trips = carpool_bookings.upcoming_trips(session, user.id, limit=3)
    return {"trips": trips}


ROUTES = [
    index,
    search_page,
    save_search,
    delete_search,
    new_ad,
    create_ad,
    ad_page,
    close_ad,
    book,
    report_ad,
    booking_page,
    accept,
    decline,
    cancel,
    message,
    confirm_trip,
    save_proof_identity,
    block_user,
    unblock_user,
    mine,
    profile_page,
    save_profile,
    photo,
    staff_page,
    save_shares,
    moderate,
    restore_ad,
    proofs_json,
    proofs_csv,
    rdex_journeys,
    *carpool_api.ROUTES,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    home_panels=(Panel("carpool", 30, "carpool/_home_panel.html", home_trips),),
    staff_links=(
        Link(
            40,
            "/carpool/staff",
            "Covoiturage",
            "Statistiques, modération des annonces signalées, export des preuves de covoiturage.",
        ),
    ),
    account_links=(
        Link(
            40,
            "/carpool/profile",
            "Mon profil de covoitureur",
            "Prénom, photo et téléphone montrés aux covoitureurs.",
        ),
    ),
)

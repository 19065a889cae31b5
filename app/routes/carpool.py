"""Carpool pages (/carpool...), the staff moderation and exports, and the RDEX+ API (/api/rdex/journeys)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import File, Redirect, Template
from sqlalchemy import func, or_, select
from sqlmodel import Session

from app import geo
from app.auth import PUBLIC, SIGNED_IN, STAFF, CurrentUser, current_user
from app.carpool import ads as cp
from app.db import utcnow
from app.forms import Multipart
from app.forms import TextForm as Form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link, Panel
from app.models.accounts import User
from app.models.carpool import (
    CarpoolAd,
    CarpoolBlock,
    CarpoolBooking,
    CarpoolMessage,
    CarpoolProfile,
    CarpoolReport,
    CarpoolSearch,
)
from app.templating import page

MARGINS = (0, 10, 15, 30, 45, 60)
RADII = (2000, 5000, 10000)
PRICES = tuple(range(cp.MAX_PRICE_PER_KM_CENTS + 1))
MAX_ADS_PER_DAY = 20
MAX_REQUESTS_PER_HOUR = 30
PHOTO_MAX_BYTES = 10 * 1024 * 1024


def me(request: Request[Any, Any, Any]) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the route's access rule requires a signed-in person
    return user


def _places(db: Session) -> list[cp.Place]:
    return cp.list_places(db)


def _local_dt(day: str | None, at: str | None) -> datetime:
    try:
        d = date.fromisoformat(day or "")
        t = time.fromisoformat(at or "")
    except ValueError:
        raise cp.CarpoolError(_("Date ou heure invalide.")) from None
    return datetime.combine(d, t.replace(second=0, microsecond=0), tzinfo=cp.PARIS).astimezone(UTC)


def _minute(at: str | None, message: str) -> int:
    try:
        return cp.minute_of(time.fromisoformat(at or ""))
    except ValueError:
        raise cp.CarpoolError(message) from None


def _int_choice(value: str | None, choices: tuple[int, ...], default: int) -> int:
    try:
        n = int(value) if value not in (None, "") else default  # type: ignore[arg-type]
    except ValueError:
        raise cp.CarpoolError(_("Valeur invalide.")) from None
    if n not in choices:
        raise cp.CarpoolError(_("Valeur invalide."))
    return n


def _points(db: Session, data: dict[str, Any], errors: dict[str, str]) -> tuple[Any, Any]:
    """Departure and arrival from the form (a listed place or a point from the map)."""
    out = []
    for end in ("from", "to"):
        try:
            out.append(
                cp.resolve_point(
                    db,
                    data.get(f"{end}_place"),
                    data.get(f"{end}_lat"),
                    data.get(f"{end}_lon"),
                    data.get(f"{end}_label"),
                )
            )
        except cp.CarpoolError as exc:
            errors[end] = str(exc)
            out.append(None)
    if out[0] and out[1] and geo.distance_m(out[0][1], out[0][2], out[1][1], out[1][2]) < 800:
        errors["to"] = _("Le départ et l'arrivée sont trop proches.")
    return out[0], out[1]


# --- search -----------------------------------------------------------------------------


def parse_query(
    db: Session, data: dict[str, Any], viewer: CurrentUser | None
) -> tuple[cp.Query | None, dict[str, str]]:
    errors: dict[str, str] = {}
    start, end = _points(db, data, errors)
    role = data.get("role") or "driver"
    frequency = data.get("frequency") or "punctual"
    if role not in ("driver", "passenger"):
        errors["role"] = _("Choix invalide.")
    if frequency not in ("punctual", "regular"):
        errors["frequency"] = _("Choix invalide.")
    when = None
    days_mask = 0
    minute = 450
    try:
        margin = _int_choice(data.get("margin"), MARGINS + (90, 120), 30)
        radius = _int_choice(data.get("radius"), RADII, cp.DEFAULT_RADIUS_M)
    except cp.CarpoolError as exc:
        errors["margin"] = str(exc)
        margin, radius = 30, cp.DEFAULT_RADIUS_M
    try:
        if frequency == "regular":
            days_mask = cp.mask_of(d for d in range(7) if data.get(f"d{d}"))
            if not days_mask:
                errors["days"] = _("Choisissez au moins un jour.")
            minute = _minute(data.get("time"), _("Heure invalide."))
        else:
            when = _local_dt(data.get("date"), data.get("time"))
            if when < utcnow() - timedelta(hours=1):
                errors["date"] = _("Cette date est passée.")
    except cp.CarpoolError as exc:
        errors["date"] = str(exc)
    if errors or start is None or end is None:
        return None, errors
    q = cp.Query(
        start[1],
        start[2],
        end[1],
        end[2],
        role=role,
        frequency=frequency,
        when=when,
        days_mask=days_mask,
        minute=minute,
        margin_min=margin,
        from_radius_m=radius,
        to_radius_m=radius,
        viewer_id=viewer.id if viewer else None,
        exclude_users=cp.blocked_with(db, viewer.id) if viewer else frozenset(),
    )
    return q, {}


def _default_search(db: Session, viewer: CurrentUser | None) -> dict[str, Any]:
    tomorrow = (cp.local(utcnow()) + timedelta(days=1)).date()
    form: dict[str, Any] = {
        "role": "driver",
        "frequency": "punctual",
        "date": tomorrow.isoformat(),
        "time": "07:30",
        "margin": "30",
        "radius": str(cp.DEFAULT_RADIUS_M),
        "to_place": "kirchberg",
    }
    for d in range(5):
        form[f"d{d}"] = "1"
    if viewer is not None:
        insee = db.scalars(select(User.commune_insee).where(User.id == viewer.id)).first()
        if insee:
            form["from_place"] = f"commune-{insee}"
    return form


@get("/carpool", opt=PUBLIC, sync_to_thread=True, name="carpool_index")
def index(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    viewer = current_user(request)
    latest = db.scalars(
        select(CarpoolAd)
        .where(
            CarpoolAd.status == "active",
            CarpoolAd.role == "driver",
            or_(CarpoolAd.frequency == "regular", CarpoolAd.departure_at > utcnow()),
        )
        .order_by(CarpoolAd.created_at.desc())
        .limit(8)  # type: ignore[attribute-defined, union-attr]
    ).all()
    blocked = cp.blocked_with(db, viewer.id) if viewer else frozenset()
    latest = [a for a in latest if a.user_id not in blocked]
    return page(
        request,
        "carpool/index.html",
        tile_url=request.app.state.settings.tile_url,
        section="carpool",
        form=_default_search(db, viewer),
        errors={},
        places=_places(db),
        latest=latest,
        names=cp.display_names(db, [a.user_id for a in latest]),
        cp=cp,
        results=None,
    )


@get("/carpool/search", opt=PUBLIC, sync_to_thread=True, name="carpool_search")
def search_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    viewer = current_user(request)
    data = dict(request.query_params)
    q, errors = parse_query(db, data, viewer)
    results = cp.attach_ads(db, cp.search(db, q)) if q else []
    return page(
        request,
        "carpool/index.html",
        tile_url=request.app.state.settings.tile_url,
        section="carpool",
        status_code=400 if errors else 200,
        form=data,
        errors=errors,
        places=_places(db),
        latest=[],
        names={},
        cp=cp,
        results=results if q else None,
        query=q,
    )


@post("/carpool/searches", opt=SIGNED_IN, sync_to_thread=True, name="carpool_save_search")
def save_search(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    viewer = me(request)
    q, errors = parse_query(db, data, viewer)
    if q is None:
        return page(
            request,
            "carpool/index.html",
            tile_url=request.app.state.settings.tile_url,
            section="carpool",
            status_code=400,
            form=data,
            errors=errors,
            places=_places(db),
            latest=[],
            names={},
            cp=cp,
            results=None,
        )
    if (
        db.scalar(
            select(func.count())
            .select_from(CarpoolSearch)
            .where(CarpoolSearch.user_id == viewer.id)
        )
        >= 20
    ):
        errors["__all__"] = _("Vous avez déjà 20 alertes : supprimez-en une d'abord.")
        return page(
            request,
            "carpool/index.html",
            tile_url=request.app.state.settings.tile_url,
            section="carpool",
            status_code=400,
            form=data,
            errors=errors,
            places=_places(db),
            latest=[],
            names={},
            cp=cp,
            results=None,
        )
    start = cp.resolve_point(db, data.get("from_place"), data.get("from_lat"), data.get("from_lon"))
    end = cp.resolve_point(db, data.get("to_place"), data.get("to_lat"), data.get("to_lon"))
    local_when = q.local_when
    db.add(
        CarpoolSearch(
            user_id=viewer.id,
            role=q.role,
            frequency=q.frequency,
            from_label=start[0],
            from_lat=q.from_lat,
            from_lon=q.from_lon,
            to_label=end[0],
            to_lat=q.to_lat,
            to_lon=q.to_lon,
            on_date=local_when.date() if local_when else None,
            days_mask=q.days_mask,
            minute=q.searched_minute(),
            margin_min=q.margin_min,
            radius_m=q.from_radius_m,
        )
    )
    db.commit()
    return Redirect("/carpool/mine#alerts", status_code=303)


@post(
    "/carpool/searches/{search_id:int}/delete",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_delete_search",
)
def delete_search(
    request: Request[Any, Any, Any], db: NamedDependency[Session], search_id: FromPath[int]
) -> Redirect:
    s = db.get(CarpoolSearch, search_id)
    if s is None or s.user_id != me(request).id:
        raise NotFoundException()
    db.delete(s)
    db.commit()
    return Redirect("/carpool/mine#alerts", status_code=303)


# --- ads --------------------------------------------------------------------------------


def parse_ad(db: Session, data: dict[str, Any]) -> tuple[cp.AdInput | None, dict[str, str]]:
    errors: dict[str, str] = {}
    start, end = _points(db, data, errors)
    role = data.get("role", "")
    frequency = data.get("frequency", "")
    if role not in ("driver", "passenger"):
        errors["role"] = _("Indiquez si vous conduisez ou cherchez une place.")
    if frequency not in ("punctual", "regular"):
        errors["frequency"] = _("Indiquez si le trajet est ponctuel ou régulier.")
    try:
        seats = int(data.get("seats") or 0)
        if not 1 <= seats <= cp.MAX_SEATS:
            raise ValueError
    except ValueError:
        errors["seats"] = _("Entre 1 et %(n)s places.") % {"n": cp.MAX_SEATS}
        seats = 1
    try:
        price = _int_choice(data.get("price"), PRICES, cp.DEFAULT_PRICE_PER_KM_CENTS)
    except cp.CarpoolError:
        errors["price"] = _("La participation est plafonnée à 0,10 € par km et par passager.")
        price = 0
    try:
        margin = _int_choice(data.get("margin"), MARGINS, 15)
    except cp.CarpoolError:
        errors["margin"] = _("Choix invalide.")
        margin = 15
    comment = (data.get("comment") or "").strip()
    if len(comment) > 500:
        errors["comment"] = _("500 caractères au plus.")
    departure = return_at = None
    outward: dict[int, tuple[int, int]] = {}
    returns: dict[int, tuple[int, int]] = {}
    valid_until = None
    if frequency == "punctual":
        try:
            departure = _local_dt(data.get("date"), data.get("time"))
            if departure <= utcnow():
                errors["date"] = _("La date de départ doit être dans le futur.")
        except cp.CarpoolError as exc:
            errors["date"] = str(exc)
        if data.get("return_time"):
            try:
                return_at = _local_dt(
                    data.get("return_date") or data.get("date"), data.get("return_time")
                )
                if departure and return_at <= departure:
                    errors["return"] = _("Le retour doit partir après l'aller.")
            except cp.CarpoolError as exc:
                errors["return"] = str(exc)
    elif frequency == "regular":
        for d in range(7):
            if not data.get(f"d{d}"):
                continue
            try:
                outward[d] = (_minute(data.get(f"out{d}"), _("Heure d'aller invalide.")), margin)
                if data.get(f"ret{d}"):
                    returns[d] = (
                        _minute(data.get(f"ret{d}"), _("Heure de retour invalide.")),
                        margin,
                    )
            except cp.CarpoolError as exc:
                errors["days"] = str(exc)
        if not outward and "days" not in errors:
            errors["days"] = _("Choisissez au moins un jour.")
        if data.get("valid_until"):
            try:
                valid_until = date.fromisoformat(data["valid_until"])
                if valid_until < cp.local(utcnow()).date():
                    errors["valid_until"] = _("Cette date est passée.")
            except ValueError:
                errors["valid_until"] = _("Date invalide.")
    if errors or start is None or end is None:
        return None, errors
    return cp.AdInput(
        role=role,
        frequency=frequency,
        from_label=start[0],
        from_lat=start[1],
        from_lon=start[2],
        to_label=end[0],
        to_lat=end[1],
        to_lon=end[2],
        seats=seats,
        price_per_km_cents=price,
        departure_at=departure,
        return_at=return_at,
        margin_min=margin,
        outward=outward,
        returns=returns,
        valid_until=valid_until,
        comment=comment,
    ), {}


def _ad_form_defaults(db: Session, viewer: CurrentUser) -> dict[str, Any]:
    tomorrow = (cp.local(utcnow()) + timedelta(days=1)).date()
    form: dict[str, Any] = {
        "role": "driver",
        "frequency": "regular",
        "seats": "3",
        "margin": "15",
        "price": str(cp.DEFAULT_PRICE_PER_KM_CENTS),
        "date": tomorrow.isoformat(),
        "time": "07:30",
        "to_place": "kirchberg",
    }
    for d in range(7):
        form[f"out{d}"] = "07:30"
        form[f"ret{d}"] = "17:30"
        if d < 5:
            form[f"d{d}"] = "1"
    insee = db.scalars(select(User.commune_insee).where(User.id == viewer.id)).first()
    if insee:
        form["from_place"] = f"commune-{insee}"
    return form


@get("/carpool/ads/new", opt=SIGNED_IN, sync_to_thread=True, name="carpool_new_ad")
def new_ad(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return page(
        request,
        "carpool/new.html",
        tile_url=request.app.state.settings.tile_url,
        section="carpool",
        form=_ad_form_defaults(db, me(request)),
        errors={},
        places=_places(db),
        cp=cp,
        margins=MARGINS,
        prices=PRICES,
    )


@post("/carpool/ads", opt=SIGNED_IN, sync_to_thread=True, name="carpool_create_ad")
def create_ad(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    viewer = me(request)
    ad_input, errors = parse_ad(db, data)
    recent = db.scalar(
        select(func.count())
        .select_from(CarpoolAd)
        .where(CarpoolAd.user_id == viewer.id, CarpoolAd.created_at > utcnow() - timedelta(days=1))
    )
    if recent >= MAX_ADS_PER_DAY:
        errors["__all__"] = _(
            "Vous avez publié beaucoup d'annonces aujourd'hui : réessayez demain."
        )
    if ad_input is not None and not errors:
        try:
            rows = cp.create_ad(db, viewer.id, ad_input)
        except cp.CarpoolError as exc:
            errors["__all__"] = str(exc)
        else:
            db.commit()
            return Redirect(f"/carpool/ads/{rows[0].id}", status_code=303)
    db.rollback()
    return page(
        request,
        "carpool/new.html",
        tile_url=request.app.state.settings.tile_url,
        section="carpool",
        status_code=400,
        form=data,
        errors=errors,
        places=_places(db),
        cp=cp,
        margins=MARGINS,
        prices=PRICES,
    )


def _ad_page(
    request: Request[Any, Any, Any],
    db: Session,
    ad: CarpoolAd,
    *,
    status_code: int = 200,
    error: str = "",
) -> Template:
    viewer = current_user(request)
    pair = None
    if ad.pair_id:
        pair = db.scalars(
            select(CarpoolAd).where(CarpoolAd.pair_id == ad.pair_id, CarpoolAd.id != ad.id)
        ).first()
    bookings: list[CarpoolBooking] = []
    mine: CarpoolBooking | None = None
    if viewer and viewer.id == ad.user_id:
        bookings = list(
            db.scalars(
                select(CarpoolBooking)
                .where(CarpoolBooking.ad_id == ad.id)
                .order_by(CarpoolBooking.created_at.desc())
            )
        )  # type: ignore[attr-defined]
    elif viewer:
        mine = db.scalars(
            select(CarpoolBooking)
            .where(CarpoolBooking.ad_id == ad.id, CarpoolBooking.requester_id == viewer.id)
            .order_by(CarpoolBooking.id.desc())
        ).first()  # type: ignore[union-attr]
    names = cp.display_names(db, [ad.user_id] + [b.requester_id for b in bookings])
    profile = db.get(CarpoolProfile, ad.user_id)
    return page(
        request,
        "carpool/ad.html",
        section="carpool",
        status_code=status_code,
        ad=ad,
        pair=pair,
        bookings=bookings,
        mine=mine,
        names=names,
        profile=profile,
        cp=cp,
        error=error,
        reasons=cp.REPORT_REASONS,
        price=cp.trip_price_cents(ad.distance_m, ad.price_per_km_cents),
    )


def _ad_or_404(db: Session, ad_id: int, viewer: CurrentUser | None) -> CarpoolAd:
    ad = cp.visible_ad(db, ad_id, viewer)
    if ad is None:
        raise NotFoundException(_("Cette annonce n'existe pas ou n'est plus visible."))
    return ad


@get("/carpool/ads/{ad_id:int}", opt=PUBLIC, sync_to_thread=True, name="carpool_ad")
def ad_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], ad_id: FromPath[int]
) -> Template:
    return _ad_page(request, db, _ad_or_404(db, ad_id, current_user(request)))


@post("/carpool/ads/{ad_id:int}/close", opt=SIGNED_IN, sync_to_thread=True, name="carpool_close_ad")
def close_ad(
    request: Request[Any, Any, Any], db: NamedDependency[Session], ad_id: FromPath[int]
) -> Redirect:
    viewer = me(request)
    ad = _ad_or_404(db, ad_id, viewer)
    if ad.user_id != viewer.id:
        raise PermissionDeniedException(_("Seul l'auteur de l'annonce peut la retirer."))
    cp.close_ad(db, ad, viewer.id)
    db.commit()
    return Redirect("/carpool/mine", status_code=303)


@post("/carpool/ads/{ad_id:int}/book", opt=SIGNED_IN, sync_to_thread=True, name="carpool_book")
def book(
    request: Request[Any, Any, Any], db: NamedDependency[Session], ad_id: FromPath[int], data: Form
) -> Template | Redirect:
    viewer = me(request)
    ad = _ad_or_404(db, ad_id, viewer)
    try:
        seats = int(data.get("seats") or 1)
    except ValueError:
        seats = 0
    recent = db.scalar(
        select(func.count())
        .select_from(CarpoolBooking)
        .where(
            CarpoolBooking.requester_id == viewer.id,
            CarpoolBooking.created_at > utcnow() - timedelta(hours=1),
        )
    )
    try:
        if recent >= MAX_REQUESTS_PER_HOUR:
            raise cp.CarpoolError(_("Trop de demandes en peu de temps : patientez un peu."))
        booking = cp.request_seats(db, ad.id, viewer.id, seats)  # type: ignore[arg-type]
    except cp.CarpoolError as exc:
        db.rollback()
        return _ad_page(
            request, db, db.get(CarpoolAd, ad_id) or ad, status_code=400, error=str(exc)
        )
    message = (data.get("message") or "").strip()
    if message:
        cp.post_message(db, booking, viewer.id, message[:1000])
    db.commit()
    return Redirect(f"/carpool/bookings/{booking.id}", status_code=303)


@post(
    "/carpool/ads/{ad_id:int}/report", opt=SIGNED_IN, sync_to_thread=True, name="carpool_report_ad"
)
def report_ad(
    request: Request[Any, Any, Any], db: NamedDependency[Session], ad_id: FromPath[int], data: Form
) -> Template:
    viewer = me(request)
    ad = _ad_or_404(db, ad_id, viewer)
    try:
        cp.report_ad(db, ad, viewer.id, data.get("reason", ""), data.get("details", ""))
    except cp.CarpoolError as exc:
        db.rollback()
        return _ad_page(request, db, ad, status_code=400, error=str(exc))
    db.commit()
    return page(
        request,
        "carpool/done.html",
        section="carpool",
        title=_("Merci pour votre signalement"),
        message=_("L'équipe de la communauté de communes va examiner cette annonce."),
        back="/carpool",
    )


# --- bookings ---------------------------------------------------------------------------


def _booking_or_404(db: Session, booking_id: int, viewer: CurrentUser) -> CarpoolBooking:
    booking = db.get(CarpoolBooking, booking_id)
    if booking is None or viewer.id not in (booking.owner_id, booking.requester_id):
        raise NotFoundException(_("Cette réservation n'existe pas."))
    return booking


def _booking_page(
    request: Request[Any, Any, Any],
    db: Session,
    booking: CarpoolBooking,
    *,
    status_code: int = 200,
    error: str = "",
) -> Template:
    viewer = me(request)
    ad = db.get(CarpoolAd, booking.ad_id)
    other_id = booking.owner_id if viewer.id == booking.requester_id else booking.requester_id
    names = cp.display_names(db, [booking.owner_id, booking.requester_id])
    messages = db.scalars(
        select(CarpoolMessage)
        .where(CarpoolMessage.booking_id == booking.id)
        .order_by(CarpoolMessage.created_at, CarpoolMessage.id)
    ).all()
    contact = None
    if booking.status == "accepted":
        other = db.get(User, other_id)
        prof = db.get(CarpoolProfile, other_id)
        contact = {"email": other.email if other else "", "phone": prof.phone if prof else ""}
    blocked = db.get(CarpoolBlock, (viewer.id, other_id)) is not None
    driver_id, _passenger = cp.driver_and_passenger(booking, ad)  # type: ignore[arg-type]
    return page(
        request,
        "carpool/booking.html",
        section="carpool",
        status_code=status_code,
        booking=booking,
        ad=ad,
        names=names,
        messages=messages,
        contact=contact,
        other_id=other_id,
        error=error,
        blocked=blocked,
        is_owner=viewer.id == booking.owner_id,
        is_driver=viewer.id == driver_id,
        cp=cp,
        next_departure=cp.next_departure(ad, utcnow()) if ad else None,
    )  # type: ignore[arg-type]


@get(
    "/carpool/bookings/{booking_id:int}", opt=SIGNED_IN, sync_to_thread=True, name="carpool_booking"
)
def booking_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[int]
) -> Template:
    return _booking_page(request, db, _booking_or_404(db, booking_id, me(request)))


def _booking_action(
    request: Request[Any, Any, Any], db: Session, booking_id: int, fn: Any
) -> Template | Redirect:
    viewer = me(request)
    booking = _booking_or_404(db, booking_id, viewer)
    try:
        fn(db, booking, viewer.id)
    except cp.CarpoolError as exc:
        db.rollback()
        return _booking_page(
            request,
            db,
            db.get(CarpoolBooking, booking_id) or booking,
            status_code=400,
            error=str(exc),
        )
    db.commit()
    return Redirect(f"/carpool/bookings/{booking_id}", status_code=303)


@post(
    "/carpool/bookings/{booking_id:int}/accept",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_accept",
)
def accept(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[int]
) -> Template | Redirect:
    return _booking_action(request, db, booking_id, cp.accept)


@post(
    "/carpool/bookings/{booking_id:int}/decline",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_decline",
)
def decline(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[int]
) -> Template | Redirect:
    return _booking_action(request, db, booking_id, cp.decline)


@post(
    "/carpool/bookings/{booking_id:int}/cancel",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_cancel",
)
def cancel(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[int]
) -> Template | Redirect:
    return _booking_action(request, db, booking_id, cp.cancel)


@post(
    "/carpool/bookings/{booking_id:int}/messages",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_message",
)
def message(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    booking_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    body = data.get("body", "")
    return _booking_action(
        request, db, booking_id, lambda s, b, uid: cp.post_message(s, b, uid, body)
    )


# --- trust: blocks, profile, photos -----------------------------------------------------


@post(
    "/carpool/users/{user_id:int}/block", opt=SIGNED_IN, sync_to_thread=True, name="carpool_block"
)
def block_user(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    user_id: FromPath[int],
    data: Form,
) -> Redirect:
    viewer = me(request)
    try:
        cp.block(db, viewer.id, user_id)
    except cp.CarpoolError as exc:
        raise NotFoundException(str(exc)) from None
    db.commit()
    return Redirect("/carpool/mine#blocked", status_code=303)


@post(
    "/carpool/users/{user_id:int}/unblock",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_unblock",
)
def unblock_user(
    request: Request[Any, Any, Any], db: NamedDependency[Session], user_id: FromPath[int]
) -> Redirect:
    cp.unblock(db, me(request).id, user_id)
    db.commit()
    return Redirect("/carpool/mine#blocked", status_code=303)


@get("/carpool/mine", opt=SIGNED_IN, sync_to_thread=True, name="carpool_mine")
def mine(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    viewer = me(request)
    ads = db.scalars(
        select(CarpoolAd)
        .where(CarpoolAd.user_id == viewer.id)
        .order_by(CarpoolAd.status, CarpoolAd.created_at.desc())
    ).all()  # type: ignore[union-attr]
    rows = db.execute(
        select(CarpoolBooking, CarpoolAd)
        .join(CarpoolAd, CarpoolAd.id == CarpoolBooking.ad_id)
        .where(or_(CarpoolBooking.requester_id == viewer.id, CarpoolBooking.owner_id == viewer.id))
        .order_by(CarpoolBooking.updated_at.desc())
        .limit(50)
    ).all()  # type: ignore[union-attr]
    pending = {}
    for ad_id, n in db.execute(
        select(CarpoolBooking.ad_id, func.count())
        .where(CarpoolBooking.owner_id == viewer.id, CarpoolBooking.status == "pending")
        .group_by(CarpoolBooking.ad_id)
    ):
        pending[ad_id] = n
    searches = db.scalars(
        select(CarpoolSearch)
        .where(CarpoolSearch.user_id == viewer.id)
        .order_by(CarpoolSearch.created_at.desc())
    ).all()  # type: ignore[union-attr]
    blocks = db.scalars(select(CarpoolBlock).where(CarpoolBlock.blocker_id == viewer.id)).all()
    names = cp.display_names(
        db,
        [b.owner_id for b, _a in rows]
        + [b.requester_id for b, _a in rows]
        + [b.blocked_id for b in blocks],
    )
    return page(
        request,
        "carpool/mine.html",
        section="carpool",
        ads=ads,
        bookings=rows,
        pending=pending,
        searches=searches,
        blocks=blocks,
        names=names,
        cp=cp,
        upcoming=cp.upcoming_trips(db, viewer.id),
    )


@get("/carpool/profile", opt=SIGNED_IN, sync_to_thread=True, name="carpool_profile")
def profile_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    profile = db.get(CarpoolProfile, me(request).id) or CarpoolProfile(user_id=me(request).id)
    return page(
        request, "carpool/profile.html", section="carpool", profile=profile, errors={}, form=None
    )


@post("/carpool/profile", opt=SIGNED_IN, sync_to_thread=True, name="carpool_save_profile")
def save_profile(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    from app import images

    viewer = me(request)
    profile = db.get(CarpoolProfile, viewer.id) or CarpoolProfile(user_id=viewer.id)
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
    if errors:
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
    media = request.app.state.settings.resolved_media_dir
    old: list[str] = []
    if processed is not None or data.get("remove_photo"):
        old = [n for n in (profile.photo_name, profile.thumb_name) if n]
        profile.photo_name = profile.thumb_name = None
    if processed is not None:
        stored = images.save(processed, media)
        profile.photo_name, profile.thumb_name = stored.display_name, stored.thumb_name
    profile.first_name, profile.phone, profile.about = first_name, phone, about
    profile.updated_at = utcnow()
    db.add(profile)
    db.commit()
    if old:
        images.delete(old, media)
    return Redirect("/carpool/profile", status_code=303)


@get("/carpool/photos/{name:str}", opt=SIGNED_IN, sync_to_thread=True, name="carpool_photo")
def photo(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> File:
    from app import images

    known = db.scalars(
        select(CarpoolProfile.user_id).where(
            or_(CarpoolProfile.thumb_name == name, CarpoolProfile.photo_name == name)
        )
    ).first()
    if known is None:
        raise NotFoundException()
    try:
        path = images.open_path(name, request.app.state.settings.resolved_media_dir)
    except (images.InvalidPhotoName, FileNotFoundError):
        raise NotFoundException() from None
    return File(
        path,
        media_type="image/jpeg",
        content_disposition_type="inline",
        headers={"cache-control": "private, max-age=86400", "x-content-type-options": "nosniff"},
    )


# --- staff ------------------------------------------------------------------------------


@get("/carpool/staff", opt=STAFF, sync_to_thread=True, name="carpool_staff")
def staff_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    reports = db.execute(
        select(CarpoolReport, CarpoolAd)
        .join(CarpoolAd, CarpoolAd.id == CarpoolReport.ad_id)
        .where(CarpoolReport.status == "open")
        .order_by(CarpoolReport.created_at)
    ).all()
    hidden = db.scalars(
        select(CarpoolAd)
        .where(CarpoolAd.status == "hidden")
        .order_by(CarpoolAd.updated_at.desc())
        .limit(50)
    ).all()  # type: ignore[union-attr]
    today = cp.local(utcnow()).date()
    return page(
        request,
        "carpool/staff.html",
        section="staff",
        stats=cp.statistics(db),
        reports=reports,
        hidden=hidden,
        reasons=cp.REPORT_REASONS,
        cp=cp,
        names=cp.display_names(db, [a.user_id for _r, a in reports] + [a.user_id for a in hidden]),
        default_from=(today.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat(),
        default_to=today.isoformat(),
    )


@post(
    "/carpool/staff/reports/{report_id:int}",
    opt=STAFF,
    sync_to_thread=True,
    name="carpool_moderate",
)
def moderate(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect:
    report = db.get(CarpoolReport, report_id)
    if report is None:
        raise NotFoundException()
    try:
        cp.moderate(db, report, me(request).id, data.get("action", ""))
    except cp.CarpoolError as exc:
        from litestar.exceptions import ClientException

        raise ClientException(str(exc)) from None
    db.commit()
    return Redirect("/carpool/staff", status_code=303)


@post(
    "/carpool/staff/ads/{ad_id:int}/restore",
    opt=STAFF,
    sync_to_thread=True,
    name="carpool_restore_ad",
)
def restore_ad(
    request: Request[Any, Any, Any], db: NamedDependency[Session], ad_id: FromPath[int]
) -> Redirect:
    ad = db.get(CarpoolAd, ad_id)
    if ad is None or ad.status != "hidden":
        raise NotFoundException()
    cp.restore(db, ad)
    db.commit()
    return Redirect("/carpool/staff", status_code=303)


def _period(request: Request[Any, Any, Any]) -> tuple[datetime, datetime]:
    from litestar.exceptions import ClientException

    params = request.query_params
    today = cp.local(utcnow()).date()
    try:
        start = date.fromisoformat(params.get("from") or (today - timedelta(days=30)).isoformat())
        end = date.fromisoformat(params.get("to") or today.isoformat())
    except ValueError:
        raise ClientException(_("Dates invalides (format AAAA-MM-JJ).")) from None
    if end < start or (end - start).days > 366:
        raise ClientException(_("La période doit aller d'une date à une autre, un an au plus."))

    def to_utc(d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=cp.PARIS).astimezone(UTC)

    return to_utc(start), to_utc(end + timedelta(days=1))


@get("/carpool/staff/proofs.json", opt=STAFF, sync_to_thread=True, name="carpool_proofs_json")
def proofs_json(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    start, end = _period(request)
    items = cp.proofs(db, start, end, request.app.state.settings.secret_key)
    return Response(
        json.dumps(items, ensure_ascii=False, indent=1).encode(),
        media_type="application/json",
        headers={
            "content-disposition": 'attachment; filename="eclor-covoiturage-preuves.json"',
            "cache-control": "no-store",
        },
    )


@get("/carpool/staff/proofs.csv", opt=STAFF, sync_to_thread=True, name="carpool_proofs_csv")
def proofs_csv(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    start, end = _period(request)
    items = cp.proofs(db, start, end, request.app.state.settings.secret_key)
    return Response(
        cp.proofs_csv(items).encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": 'attachment; filename="eclor-covoiturage-preuves.csv"',
            "cache-control": "no-store",
        },
    )


# --- RDEX+ ------------------------------------------------------------------------------


def _rdex_error(message: str) -> Response[Any]:
    return Response({"status_code": 400, "detail": message}, status_code=400)


def _float(params: Any, name: str) -> float | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    return float(value)


def rdex_journey(ad: CarpoolAd, name: str, base: str, secret: str) -> dict[str, Any]:
    duration = int(ad.distance_m / 1000 / cp.SPEED_KMH * 3600)
    journey: dict[str, Any] = {
        "id": f"eclor-{ad.id}",
        "webUrl": f"{base}/carpool/ads/{ad.id}",
        "type": "planned",
        "operator": "Eclor",
        "carpoolerType": ad.role,
        "user": {
            "id": cp.pseudonym(secret, ad.user_id),
            "alias": name,
            "grade": None,
            "picture": None,
            "gender": None,
        },
        "from": {
            "latitude": ad.from_lat,
            "longitude": ad.from_lon,
            "address": ad.from_label,
            "country": cp.country_of(ad.from_lat, ad.from_lon),
        },
        "to": {
            "latitude": ad.to_lat,
            "longitude": ad.to_lon,
            "address": ad.to_label,
            "country": cp.country_of(ad.to_lat, ad.to_lon),
        },
        "duration": duration,
        "distance": ad.distance_m,
        "journeyPolyline": cp.encode_polyline([(ad.from_lat, ad.from_lon), (ad.to_lat, ad.to_lon)]),
        "frequency": ad.frequency,
    }
    if ad.role == "driver":
        journey["availableSeats"] = ad.seats_left
        amount = cp.trip_price_cents(ad.distance_m, ad.price_per_km_cents) / 100
        journey["price"] = {
            "amount": amount,
            "type": "variable" if amount else "free",
            "currency": "EUR",
        }
    else:
        journey["requestedSeats"] = ad.seats_left
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    outward: dict[str, Any] = {}
    if ad.frequency == "punctual" and ad.departure_at:
        dep = ad.departure_at
        outward["mindate"] = outward["maxdate"] = dep.date().isoformat()
    else:
        outward["mindate"] = cp.local(ad.created_at).date().isoformat()
        outward["maxdate"] = ad.valid_until.isoformat() if ad.valid_until else None
    for d, (m, g) in cp.parse_schedule(ad.schedule).items():
        utc_day = datetime.combine(date.today(), time(m // 60, m % 60), tzinfo=cp.PARIS).astimezone(
            UTC
        )
        lo, hi = utc_day - timedelta(minutes=g), utc_day + timedelta(minutes=g)
        outward[days[d]] = {"mintime": lo.strftime("%H:%M:%S"), "maxtime": hi.strftime("%H:%M:%S")}
    journey["outward"] = outward
    return journey


@get("/api/rdex/journeys", opt=PUBLIC, sync_to_thread=True, name="rdex_journeys")
def rdex_journeys(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[Any]:
    """Carpool ads as RDEX+ journeys.

    Search parameters: ``departureLat``, ``departureLng``, ``arrivalLat``,
    ``arrivalLng`` (all four, or none for every active offer), ``carpoolerType``
    (driver, passenger or both; default driver), ``frequency`` (punctual,
    regular or both), ``departureDate`` (ISO date or date-time, Europe/Paris
    when no offset), ``timeDelta`` (seconds, default 900), ``departureRadius``
    and ``arrivalRadius`` (km, default 1).
    """
    p = request.query_params
    try:
        coords = [
            _float(p, n) for n in ("departureLat", "departureLng", "arrivalLat", "arrivalLng")
        ]
        dep_radius = float(p.get("departureRadius") or 1) * 1000
        arr_radius = float(p.get("arrivalRadius") or 1) * 1000
        delta = int(p.get("timeDelta") or cp.RDEX_TIME_DELTA_S)
    except ValueError:
        return _rdex_error("Paramètres numériques invalides.")
    ctype = p.get("carpoolerType") or "driver"
    freq = p.get("frequency") or "both"
    if ctype not in ("driver", "passenger", "both") or freq not in ("punctual", "regular", "both"):
        return _rdex_error("carpoolerType ou frequency invalide.")
    if not (0 < dep_radius <= 50_000 and 0 < arr_radius <= 50_000 and 0 <= delta <= 86_400):
        return _rdex_error("Rayon (0–50 km) ou timeDelta (0–86400 s) hors limites.")
    when = None
    if p.get("departureDate"):
        try:
            when = datetime.fromisoformat(p["departureDate"])
        except ValueError:
            return _rdex_error("departureDate invalide (ISO 8601).")
        if when.tzinfo is None:
            when = when.replace(tzinfo=cp.PARIS)
        if len(p["departureDate"]) <= 10:
            when = when.replace(hour=12)
            delta = max(delta, 12 * 3600)
        when = when.astimezone(UTC)
    roles = ("driver", "passenger") if ctype == "both" else (ctype,)
    base = request.app.state.settings.base_url.rstrip("/")
    secret = request.app.state.settings.secret_key
    ads: list[CarpoolAd] = []
    if any(c is not None for c in coords):
        if any(c is None for c in coords):
            return _rdex_error(
                "departureLat, departureLng, arrivalLat et arrivalLng vont ensemble."
            )
        for role in roles:
            for frequency in ("punctual", "regular") if freq == "both" else (freq,):
                if frequency == "punctual" and when is None:
                    continue
                q = cp.Query(
                    coords[0],
                    coords[1],
                    coords[2],
                    coords[3],
                    role=role,  # type: ignore[arg-type]
                    frequency=frequency,
                    when=when,
                    days_mask=127 if when is None else 0,
                    minute=cp.minute_of(cp.local(when).time()) if when else 720,
                    margin_min=min(cp.MAX_SEARCH_MARGIN_MIN * 6, delta // 60) if when else 720,
                    from_radius_m=int(dep_radius),
                    to_radius_m=int(arr_radius),
                )
                matches = cp.search(db, q, limit=100)
                loaded = {
                    a.id: a
                    for a in db.scalars(
                        select(CarpoolAd).where(CarpoolAd.id.in_([m.ad_id for m in matches]))
                    )
                }  # type: ignore[union-attr]
                ads.extend(loaded[m.ad_id] for m in matches if m.ad_id in loaded)
    else:
        stmt = select(CarpoolAd).where(
            CarpoolAd.status == "active",
            CarpoolAd.role.in_(roles),  # type: ignore[attr-defined]
            or_(CarpoolAd.departure_at.is_(None), CarpoolAd.departure_at > utcnow()),
        )  # type: ignore[union-attr]
        if freq != "both":
            stmt = stmt.where(CarpoolAd.frequency == freq)
        ads = list(db.scalars(stmt.order_by(CarpoolAd.id).limit(500)))
    seen: set[int] = set()
    unique = [a for a in ads if not (a.id in seen or seen.add(a.id))]  # type: ignore[func-returns-value]
    names = cp.display_names(db, [a.user_id for a in unique])
    body = [rdex_journey(a, names.get(a.user_id, ""), base, secret) for a in unique]
    return Response(body, headers={"cache-control": "public, max-age=60"})


# --- home panel -------------------------------------------------------------------------


def home_trips(session: Session, user: CurrentUser | None) -> dict[str, Any] | None:
    if user is None:
        return None
    trips = cp.upcoming_trips(session, user.id, limit=3)
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
    block_user,
    unblock_user,
    mine,
    profile_page,
    save_profile,
    photo,
    staff_page,
    moderate,
    restore_ad,
    proofs_json,
    proofs_csv,
    rdex_journeys,
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

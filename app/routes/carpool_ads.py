"""Carpool pages: publishing an ad, an ad's page, booking seats and a booking's conversation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.auth import PUBLIC, SIGNED_IN, CurrentUser, current_user
from app.carpool import ads as cp
from app.carpool import bookings as carpool_bookings
from app.carpool import matching, registry
from app.carpool import trips as carpool_trips
from app.db import saved_id, utcnow
from app.forms import TextForm as Form
from app.i18n import gettext as _
from app.models.accounts import User
from app.models.carpool import (
    CarpoolAd,
    CarpoolBlock,
    CarpoolBooking,
    CarpoolMessage,
    CarpoolProfile,
)
from app.routes.carpool_forms import (
    MARGINS,
    MAX_ADS_PER_DAY,
    MAX_REQUESTS_PER_HOUR,
    PRICES,
    ad_form_defaults,
    me,
    parse_ad,
    place_choices,
    searched,
    territory,
)
from app.templating import page


@get("/carpool/ads/new", opt=SIGNED_IN, sync_to_thread=True, name="carpool_new_ad")
def new_ad(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return page(
        request,
        "carpool/new.html",
        tile_url=request.app.state.settings.tile_url,
        section="carpool",
        form=ad_form_defaults(db, me(request)),
        errors={},
        places=place_choices(db),
        cp=carpool_trips,
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
        .where(
            col(CarpoolAd.user_id) == viewer.id,
            col(CarpoolAd.created_at) > utcnow() - timedelta(days=1),
        )
    )
    if (recent or 0) >= MAX_ADS_PER_DAY:
        errors["__all__"] = _(
            "Vous avez publié beaucoup d'annonces aujourd'hui : réessayez demain."
        )
    if ad_input is not None and not errors:
        try:
            rows = cp.create_ad(db, viewer.id, ad_input, territory_id=territory(request))
        except carpool_trips.CarpoolError as exc:
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
        places=place_choices(db),
        cp=carpool_trips,
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
            select(CarpoolAd).where(
                col(CarpoolAd.pair_id) == ad.pair_id, col(CarpoolAd.id) != ad.id
            )
        ).first()
    bookings: list[CarpoolBooking] = []
    mine: CarpoolBooking | None = None
    if viewer and viewer.id == ad.user_id:
        bookings = list(
            db.scalars(
                select(CarpoolBooking)
                .where(col(CarpoolBooking.ad_id) == ad.id)
                .order_by(col(CarpoolBooking.created_at).desc())
            )
        )
    elif viewer:
        mine = db.scalars(
            select(CarpoolBooking)
            .where(
                col(CarpoolBooking.ad_id) == ad.id, col(CarpoolBooking.requester_id) == viewer.id
            )
            .order_by(col(CarpoolBooking.id).desc())
        ).first()
    names = matching.display_names(db, [ad.user_id] + [b.requester_id for b in bookings])
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
        cp=carpool_trips,
        error=error,
        reasons=carpool_trips.REPORT_REASONS,
        price=carpool_trips.trip_price_cents(ad.distance_m, ad.price_per_km_cents),
    )


def _ad_or_404(request: Request[Any, Any, Any], db: Session, ad_id: int) -> CarpoolAd:
    """The ad if the host's search finds it (its territory's, or one sharing with it both ways),
    or if it is the viewer's own or one they asked to share (on every host)."""
    ad = cp.visible_ad(db, ad_id, current_user(request), searched(db, request))
    if ad is None:
        raise NotFoundException(_("Cette annonce n'existe pas ou n'est plus visible."))
    return ad


@get("/carpool/ads/{ad_id:int}", opt=PUBLIC, sync_to_thread=True, name="carpool_ad")
def ad_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], ad_id: FromPath[int]
) -> Template:
    return _ad_page(request, db, _ad_or_404(request, db, ad_id))


@post("/carpool/ads/{ad_id:int}/close", opt=SIGNED_IN, sync_to_thread=True, name="carpool_close_ad")
def close_ad(
    request: Request[Any, Any, Any], db: NamedDependency[Session], ad_id: FromPath[int]
) -> Redirect:
    viewer = me(request)
    ad = _ad_or_404(request, db, ad_id)
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
    ad = _ad_or_404(request, db, ad_id)
    try:
        seats = int(data.get("seats") or 1)
    except ValueError:
        seats = 0
    recent = db.scalar(
        select(func.count())
        .select_from(CarpoolBooking)
        .where(
            col(CarpoolBooking.requester_id) == viewer.id,
            col(CarpoolBooking.created_at) > utcnow() - timedelta(hours=1),
        )
    )
    try:
        if (recent or 0) >= MAX_REQUESTS_PER_HOUR:
            raise carpool_trips.CarpoolError(
                _("Trop de demandes en peu de temps : patientez un peu.")
            )
        booking = carpool_bookings.request_seats(db, saved_id(ad), saved_id(viewer), seats)
    except carpool_trips.CarpoolError as exc:
        db.rollback()
        return _ad_page(
            request, db, db.get(CarpoolAd, ad_id) or ad, status_code=400, error=str(exc)
        )
    message = (data.get("message") or "").strip()
    if message:
        carpool_bookings.post_message(db, booking, viewer.id, message[:1000])
    db.commit()
    return Redirect(f"/carpool/bookings/{booking.id}", status_code=303)


@post(
    "/carpool/ads/{ad_id:int}/report", opt=SIGNED_IN, sync_to_thread=True, name="carpool_report_ad"
)
def report_ad(
    request: Request[Any, Any, Any], db: NamedDependency[Session], ad_id: FromPath[int], data: Form
) -> Template:
    viewer = me(request)
    ad = _ad_or_404(request, db, ad_id)
    try:
        cp.report_ad(db, ad, viewer.id, data.get("reason", ""), data.get("details", ""))
    except carpool_trips.CarpoolError as exc:
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
    ad = db.get_one(CarpoolAd, booking.ad_id)
    other_id = booking.owner_id if viewer.id == booking.requester_id else booking.requester_id
    names = matching.display_names(db, [booking.owner_id, booking.requester_id])
    messages = db.scalars(
        select(CarpoolMessage)
        .where(col(CarpoolMessage.booking_id) == booking.id)
        .order_by(col(CarpoolMessage.created_at), col(CarpoolMessage.id))
    ).all()
    contact = None
    if booking.status == "accepted":
        other = db.get(User, other_id)
        prof = db.get(CarpoolProfile, other_id)
        contact = {"email": other.email if other else "", "phone": prof.phone if prof else ""}
    blocked = db.get(CarpoolBlock, (viewer.id, other_id)) is not None
    driver_id, _passenger = carpool_trips.driver_and_passenger(booking, ad)
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
        cp=carpool_trips,
        next_departure=carpool_trips.next_departure(ad, utcnow()) if ad else None,
        trip=_trip_state(db, booking, ad, viewer.id),
    )


def _trip_state(
    db: Session, booking: CarpoolBooking, ad: CarpoolAd, viewer_id: int
) -> dict[str, Any] | None:
    """The trip under way that the viewer can confirm (proof of carpooling), with what is confirmed."""
    if booking.status != "accepted":
        return None
    departure = registry.current_departure(ad, utcnow())
    if departure is None:
        return None
    checks = registry.trip_checks(db, saved_id(booking), departure)
    mine = next((c for c in checks if c.user_id == viewer_id), None)
    profile = db.get(CarpoolProfile, viewer_id)
    return {
        "departure": departure,
        "started": mine is not None and mine.started_at is not None,
        "ended": mine is not None and mine.ended_at is not None,
        "both_ended": len([c for c in checks if c.ended_at]) == 2,
        "has_identity": bool(profile and profile.proof_identity_key),
    }


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
    except carpool_trips.CarpoolError as exc:
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
    return _booking_action(request, db, booking_id, carpool_bookings.accept)


@post(
    "/carpool/bookings/{booking_id:int}/decline",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_decline",
)
def decline(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[int]
) -> Template | Redirect:
    return _booking_action(request, db, booking_id, carpool_bookings.decline)


@post(
    "/carpool/bookings/{booking_id:int}/cancel",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_cancel",
)
def cancel(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[int]
) -> Template | Redirect:
    return _booking_action(request, db, booking_id, carpool_bookings.cancel)


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
        request, db, booking_id, lambda s, b, uid: carpool_bookings.post_message(s, b, uid, body)
    )


@post(
    "/carpool/bookings/{booking_id:int}/trip",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_confirm_trip",
)
def confirm_trip(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    booking_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """Confirm the start or the end of the trip under way (with the phone's position if it gave one)."""
    step = data.get("step", "")
    try:
        lat = float(data["lat"]) if data.get("lat") else None
        lon = float(data["lon"]) if data.get("lon") else None
    except ValueError:
        lat = lon = float("nan")  # refused by confirm_trip with a clear message
    secret = request.app.state.settings.secret_key
    return _booking_action(
        request,
        db,
        booking_id,
        lambda s, b, uid: registry.confirm_trip(s, b, uid, step, lat, lon, secret=secret),
    )

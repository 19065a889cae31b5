"""Solidarity transport, the volunteers' side: what the service is, signing up as a volunteer
driver (area, weekly slots), the requests that fit, accepting one, proving a trip; and the
booking page, read by the commune's social worker and the accepted driver only. The social
worker's pages are in ``solidarity_ccas``."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import Session

from app.auth import PUBLIC, SIGNED_IN, current_user, signed_in_user
from app.db import saved_id, utcnow
from app.forms import Form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link
from app.models.solidarity import Beneficiary, Booking, Trip
from app.routes import solidarity_ccas as ccas
from app.routes.solidarity_context import (
    shared,
    communes,
    many,
    one,
    own_volunteer,
    readable_booking,
)
from app.solidarity import bookings, proofs, volunteers
from app.solidarity.scope import is_here
from app.solidarity.schedule import WEEKDAYS, SolidarityError, hhmm, parse_hhmm, parse_weekdays
from app.templating import page


@get("/solidarity", opt=PUBLIC, sync_to_thread=True, name="solidarity_index")
def index(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    user = current_user(request)
    return page(
        request,
        "solidarity/index.html",
        section="solidarity",
        **shared(),
        is_worker=bool(user and user.role == "social_worker"),
        is_volunteer=bool(user and own_volunteer(request, db)),
    )


def _slots_of_form(data: dict[str, Any]) -> tuple[list[volunteers.SlotInput], dict[str, str]]:
    slots: list[volunteers.SlotInput] = []
    errors: dict[str, str] = {}
    for day in range(7):
        if not one(data, f"day_{day}"):
            continue
        start, end = parse_hhmm(one(data, f"from_{day}")), parse_hhmm(one(data, f"to_{day}"))
        if start is None or end is None:
            errors[f"from_{day}"] = _(
                "Indiquez les heures du %(day)s (par exemple 09:00 et 12:00)."
            ) % {"day": _(WEEKDAYS[day])}
            continue
        slots.append(volunteers.SlotInput(day, start, end))
    return slots, errors


def _volunteer_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Template:
    volunteer = own_volunteer(request, db)
    now = utcnow()
    if form is None:
        form = {"phone": "", "commune_insee": "", "area": "communes", "radius_km": "10"}
        if volunteer is not None:
            form = {
                "phone": volunteer.phone,
                "commune_insee": volunteer.commune_insee,
                "area": "radius" if volunteer.radius_km else "communes",
                "radius_km": str(volunteer.radius_km or 10),
                "area_communes": volunteer.area_communes.split(","),
            }
            for s in volunteers.slots_of(db, saved_id(volunteer)):
                form[f"day_{s.weekday}"] = "on"
                form[f"from_{s.weekday}"] = hhmm(s.start_min)
                form[f"to_{s.weekday}"] = hhmm(s.end_min)
    offers: list[Booking] = []
    driven: list[tuple[Booking, Beneficiary, list[Trip]]] = []
    if volunteer is not None:
        offers = bookings.offered(db, volunteer, now)
        for b in bookings.driven_by(db, volunteer):
            person = db.get(Beneficiary, b.beneficiary_id)
            if person is not None:
                driven.append((b, person, bookings.trips_of(db, saved_id(b))))
    return page(
        request,
        "solidarity/volunteer.html",
        section="solidarity",
        **shared(),
        status_code=status_code,
        volunteer=volunteer,
        form=form,
        errors=errors or {},
        notice=notice,
        communes=communes(db),
        weekdays=WEEKDAYS,
        offers=offers,
        driven=driven,
        now=now,
        hhmm=hhmm,
        parse_weekdays=parse_weekdays,
    )


@get("/solidarity/volunteer", opt=SIGNED_IN, sync_to_thread=True, name="solidarity_volunteer")
def volunteer_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], done: FromQuery[str] = ""
) -> Template:
    notices = {
        "saved": _("Vos disponibilités sont enregistrées."),
        "accepted": _(
            "Merci ! Le trajet est à vous : les coordonnées de la personne sont ci-dessous."
        ),
        "withdrawn": _("Vous vous êtes désisté : le trajet est proposé à d’autres bénévoles."),
        "proof": _("Merci, le trajet est indiqué comme fait."),
    }
    return _volunteer_page(request, db, notice=notices.get(done, ""))


@post("/solidarity/volunteer", opt=SIGNED_IN, sync_to_thread=True, name="solidarity_sign_up")
def sign_up(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    slots, errors = _slots_of_form(data)
    radius = 0
    if one(data, "area") == "radius":
        text = one(data, "radius_km")
        if not text.isdigit() or not 1 <= int(text) <= volunteers.MAX_RADIUS_KM:
            errors["radius_km"] = _("Le rayon va de 1 à 60 km.")
        else:
            radius = int(text)
    if not errors:
        try:
            volunteers.sign_up(
                db,
                signed_in_user(request).id,
                phone=one(data, "phone"),
                commune_insee=one(data, "commune_insee"),
                area_communes=[] if radius else many(data, "area_communes"),
                radius_km=radius,
                slots=slots,
            )
        except SolidarityError as exc:
            errors["__all__"] = str(exc)
    if errors:
        db.rollback()
        form = {k: v for k, v in data.items() if k != "_csrf_token"}
        form["area_communes"] = many(data, "area_communes")
        return _volunteer_page(request, db, form=form, errors=errors, status_code=400)
    db.commit()
    return Redirect("/solidarity/volunteer?done=saved", status_code=303)


@post(
    "/solidarity/bookings/{booking_id:int}/accept",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="solidarity_accept",
)
def accept(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[int]
) -> Template | Redirect:
    volunteer = own_volunteer(request, db)
    if not is_here(db, db.get(Booking, booking_id)):
        raise NotFoundException()
    try:
        if volunteer is None:
            raise SolidarityError(_("Inscrivez-vous d’abord comme conducteur bénévole."))
        bookings.accept(db, booking_id, volunteer, utcnow())
    except SolidarityError as exc:
        db.rollback()
        return _volunteer_page(request, db, errors={"__all__": str(exc)}, status_code=409)
    db.commit()
    return Redirect("/solidarity/volunteer?done=accepted", status_code=303)


@post(
    "/solidarity/bookings/{booking_id:int}/withdraw",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="solidarity_withdraw",
)
def withdraw(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[int]
) -> Redirect:
    booking = db.get(Booking, booking_id)
    volunteer = own_volunteer(request, db)
    if (
        booking is None
        or not is_here(db, booking)
        or not bookings.driver_may_see(booking, volunteer)
    ):
        raise NotFoundException()
    assert volunteer is not None
    bookings.withdraw(db, booking, volunteer)
    db.commit()
    return Redirect("/solidarity/volunteer?done=withdrawn", status_code=303)


@post(
    "/solidarity/trips/{trip_id:int}/done",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="solidarity_done",
)
def trip_done(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    trip_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    trip = db.get(Trip, trip_id)
    volunteer = own_volunteer(request, db)
    if not is_here(db, trip) or trip is None or volunteer is None or trip.driver_id != volunteer.id:
        raise NotFoundException()
    try:
        proofs.mark_done(db, trip, volunteer, proofs.parse_km(one(data, "km")), utcnow())
    except SolidarityError as exc:
        db.rollback()
        return _volunteer_page(request, db, errors={f"km-{trip_id}": str(exc)}, status_code=400)
    db.commit()
    return Redirect("/solidarity/volunteer?done=proof", status_code=303)


@get(
    "/solidarity/bookings/{booking_id:int}",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="solidarity_booking",
)
def booking_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    booking_id: FromPath[int],
    error: FromQuery[str] = "",
) -> Template:
    booking, person, viewer = readable_booking(request, db, booking_id)
    driver = ccas.driver_of(db, booking) if viewer == "worker" else None
    return page(
        request,
        "solidarity/booking.html",
        section="solidarity",
        **shared(),
        booking=booking,
        person=person,
        viewer=viewer,
        driver=driver,
        trips=bookings.trips_of(db, booking_id),
        communes=communes(db),
        weekdays=WEEKDAYS,
        parse_weekdays=parse_weekdays,
        hhmm=hhmm,
        now=utcnow(),
        confirm_error=error == "confirm",
    )


ROUTES = [
    index,
    volunteer_page,
    sign_up,
    accept,
    withdraw,
    trip_done,
    booking_page,
    *ccas.ROUTES,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(
            75,
            "/staff/solidarity",
            "Transport solidaire",
            "Trajets, bénévoles et kilomètres par commune ; les communes des CCAS.",
        ),
    ),
    account_links=(
        Link(
            60,
            "/solidarity/volunteer",
            "Conducteur bénévole",
            "Transport solidaire : vos disponibilités et les trajets qui vous correspondent.",
        ),
        Link(
            61,
            "/solidarity/ccas",
            "CCAS : transport solidaire",
            "Bénéficiaires, réservations, appels de la veille, export des kilomètres.",
            roles=("social_worker",),
        ),
    ),
)

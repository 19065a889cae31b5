"""Solidarity transport, the social worker's side (CCAS of a commune): beneficiaries, bookings
made by phone, the phone-call list of tomorrow and its SMS, confirming proofs, the accounts'
export; and the staff's statistics per commune."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session, col

from app.auth import STAFF, signed_in_user
from app.db import utcnow
from app.forms import Form, parse_form
from app.i18n import gettext as _
from app.models.accounts import User
from app.models.solidarity import Booking, Place, Trip, Volunteer
from app.routes.solidarity_context import (
    shared,
    SOCIAL_WORKER,
    beneficiary_or_404,
    communes,
    many,
    one,
    parse_month,
    worker_commune,
)
from app.settings import Settings
from app.solidarity import beneficiaries, bookings, mileage, proofs, reminders, stats
from app.solidarity.scope import commune_here, is_here, territory_of
from app.solidarity.schedule import (
    WEEKDAYS,
    SolidarityError,
    hhmm,
    local_today,
    parse_hhmm,
    parse_weekdays,
)
from app.templating import page
from app.territories import request_territory


class BeneficiaryForm(BaseModel):
    full_name: str = Field(min_length=2, max_length=120)
    address: str = Field(min_length=5, max_length=200)
    phone: str = Field(min_length=1, max_length=30)
    mobility: str = Field(default="", max_length=300)
    consent: bool = False


class BookingForm(BaseModel):
    beneficiary_id: int
    place_id: int
    purpose: str = Field(default="", max_length=200)
    first_day: date
    pickup_time: str = Field(max_length=5)
    duration_min: int = Field(ge=15, le=720)
    round_trip: bool = False
    repeat: bool = False
    until: date | None = None
    notes: str = Field(default="", max_length=1000)


class PlaceForm(BaseModel):
    label: str = Field(min_length=3, max_length=120)
    address: str = Field(default="", max_length=200)
    lat: float = Field(ge=49.0, le=50.0)
    lon: float = Field(ge=5.5, le=6.5)


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def driver_of(db: Session, booking: Booking) -> tuple[str, str] | None:
    """The accepted driver's name and phone (for the social worker of the booking's commune)."""
    if booking.driver_id is None:
        return None
    volunteer = db.get(Volunteer, booking.driver_id)
    user = db.get(User, volunteer.user_id) if volunteer else None
    if volunteer is None or user is None:
        return None
    return (user.display_name or user.email.split("@")[0], volunteer.phone)


def _home(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    notice: str = "",
    place_form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    commune = worker_commune(request, db)
    rows = []
    if commune:
        today = local_today(utcnow(), request_territory(request).zone)
        for b in db.scalars(
            select(Booking)
            .where(col(Booking.commune_insee) == commune, col(Booking.status) != "cancelled")
            .order_by(col(Booking.first_day))
        ):
            if (b.until or b.first_day) >= today:
                rows.append(b)
    people = beneficiaries.of_commune(db, commune) if commune else []
    return page(
        request,
        "solidarity/ccas.html",
        section="solidarity",
        **shared(),
        status_code=status_code,
        commune=commune,
        communes=communes(db),
        people={p.id: p for p in people},
        bookings=rows,
        places=beneficiaries.places(db),
        notice=notice,
        place_form=place_form or {},
        errors=errors or {},
        hhmm=hhmm,
        weekdays=WEEKDAYS,
        parse_weekdays=parse_weekdays,
    )


@get("/solidarity/ccas", opt=SOCIAL_WORKER, sync_to_thread=True, name="solidarity_ccas")
def home(
    request: Request[Any, Any, Any], db: NamedDependency[Session], done: FromQuery[str] = ""
) -> Template:
    notices = {
        "booked": _("Le trajet est réservé : les bénévoles qui conviennent le voient."),
        "cancelled": _("La réservation est annulée."),
        "erased": _("La personne est effacée ; ses trajets à venir sont annulés."),
        "place": _("La destination est ajoutée."),
    }
    return _home(request, db, notice=notices.get(done, ""))


def _person_form(
    request: Request[Any, Any, Any], form: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Template:
    return page(
        request,
        "solidarity/beneficiary_form.html",
        section="solidarity",
        **shared(),
        form=form,
        errors=errors,
        status_code=status,
    )


@get(
    "/solidarity/beneficiaries/new",
    opt=SOCIAL_WORKER,
    sync_to_thread=False,
    name="solidarity_beneficiary_new",
)
def new_beneficiary(request: Request[Any, Any, Any]) -> Template:
    return _person_form(request, {}, {})


@post(
    "/solidarity/beneficiaries",
    opt=SOCIAL_WORKER,
    sync_to_thread=True,
    name="solidarity_beneficiary_create",
)
def create_beneficiary(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    form, errors = parse_form(BeneficiaryForm, data)
    commune = worker_commune(request, db)
    if commune is None:
        errors["__all__"] = _(
            "Votre compte n’est rattaché à aucune commune : demandez-le à un agent."
        )
    person = None
    if form is not None and not errors:
        try:
            person = beneficiaries.register(
                db,
                commune_insee=commune or "",
                full_name=form.full_name,
                address=form.address,
                phone=form.phone,
                mobility=form.mobility,
                consent=form.consent,
                by_user=signed_in_user(request).id,
                now=utcnow(),
            )
        except SolidarityError as exc:
            errors["__all__"] = str(exc)
    if person is None or errors:
        db.rollback()
        return _person_form(request, dict(data), errors, 400)
    db.commit()
    return Redirect(f"/solidarity/beneficiaries/{person.id}", status_code=303)


@get(
    "/solidarity/beneficiaries/{beneficiary_id:int}",
    opt=SOCIAL_WORKER,
    sync_to_thread=True,
    name="solidarity_beneficiary",
)
def beneficiary_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], beneficiary_id: FromPath[int]
) -> Template:
    person = beneficiary_or_404(db, beneficiary_id, worker_commune(request, db))
    return page(
        request,
        "solidarity/beneficiary.html",
        section="solidarity",
        **shared(),
        person=person,
        bookings=beneficiaries.bookings_of(db, beneficiary_id),
        hhmm=hhmm,
        weekdays=WEEKDAYS,
        parse_weekdays=parse_weekdays,
    )


@post(
    "/solidarity/beneficiaries/{beneficiary_id:int}/erase",
    opt=SOCIAL_WORKER,
    sync_to_thread=True,
    name="solidarity_beneficiary_erase",
)
def erase_beneficiary(
    request: Request[Any, Any, Any], db: NamedDependency[Session], beneficiary_id: FromPath[int]
) -> Redirect:
    person = beneficiary_or_404(db, beneficiary_id, worker_commune(request, db))
    beneficiaries.erase(db, person, beneficiaries.bookings_of(db, beneficiary_id))
    db.commit()
    return Redirect("/solidarity/ccas?done=erased", status_code=303)


def _booking_form(
    request: Request[Any, Any, Any],
    db: Session,
    form: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Template:
    commune = worker_commune(request, db)
    return page(
        request,
        "solidarity/booking_form.html",
        section="solidarity",
        **shared(),
        form=form,
        errors=errors,
        people=beneficiaries.of_commune(db, commune) if commune else [],
        places=beneficiaries.places(db),
        weekdays=WEEKDAYS,
        status_code=status,
    )


@get("/solidarity/bookings/new", opt=SOCIAL_WORKER, sync_to_thread=True, name="solidarity_book_new")
def new_booking(
    request: Request[Any, Any, Any], db: NamedDependency[Session], beneficiary: FromQuery[str] = ""
) -> Template:
    form = {"beneficiary_id": beneficiary, "duration_min": "120", "round_trip": "on"}
    return _booking_form(request, db, form, {})


@post("/solidarity/bookings", opt=SOCIAL_WORKER, sync_to_thread=True, name="solidarity_book")
def create_booking(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    days = many(data, "weekdays")
    fields = {k: v for k, v in data.items() if k not in ("weekdays", "_csrf_token")}
    form, errors = parse_form(BookingForm, fields)
    minute = parse_hhmm(one(data, "pickup_time"))
    if minute is None:
        errors.setdefault(
            "pickup_time", _("Indiquez l’heure de prise en charge, par exemple 09:30.")
        )
    weekdays = [int(d) for d in days if d.isdigit() and int(d) < 7]
    booking = None
    if form is not None and not errors:
        if form.repeat and not weekdays:
            errors["weekdays"] = _("Cochez les jours où le trajet se répète.")
        else:
            try:
                booking = bookings.book(
                    db,
                    bookings.BookingInput(
                        beneficiary_id=form.beneficiary_id,
                        place_id=form.place_id,
                        destination="",
                        purpose=form.purpose,
                        first_day=form.first_day,
                        pickup_min=minute or 0,
                        duration_min=form.duration_min,
                        round_trip=form.round_trip,
                        weekdays=weekdays if form.repeat else [],
                        until=form.until if form.repeat else None,
                        notes=form.notes,
                    ),
                    commune_insee=worker_commune(request, db) or "",
                    by_user=signed_in_user(request).id,
                    now=utcnow(),
                )
            except SolidarityError as exc:
                errors["__all__"] = str(exc)
    if booking is None or errors:
        db.rollback()
        shown = {**fields, "weekdays": days}
        return _booking_form(request, db, shown, errors, 400)
    db.commit()
    return Redirect(f"/solidarity/bookings/{booking.id}", status_code=303)


def _own_booking(request: Request[Any, Any, Any], db: Session, booking_id: int) -> Booking:
    booking = db.get(Booking, booking_id)
    if (
        booking is None
        or not is_here(db, booking)
        or booking.commune_insee != worker_commune(request, db)
    ):
        raise NotFoundException()
    return booking


@post(
    "/solidarity/bookings/{booking_id:int}/cancel",
    opt=SOCIAL_WORKER,
    sync_to_thread=True,
    name="solidarity_cancel",
)
def cancel_booking(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[int]
) -> Redirect:
    bookings.cancel(db, _own_booking(request, db, booking_id))
    db.commit()
    return Redirect("/solidarity/ccas?done=cancelled", status_code=303)


@post(
    "/solidarity/trips/{trip_id:int}/confirm",
    opt=SOCIAL_WORKER,
    sync_to_thread=True,
    name="solidarity_confirm",
)
def confirm_trip(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    trip_id: FromPath[int],
) -> Redirect:
    trip = db.get(Trip, trip_id)
    if trip is None or not is_here(db, trip):
        raise NotFoundException()
    booking = _own_booking(request, db, trip.booking_id)
    try:
        proofs.confirm(
            db,
            trip,
            booking,
            commune_insee=booking.commune_insee,
            by_user=signed_in_user(request).id,
            contribution_cents_per_km=_settings(request).solidarity_contribution_cents_per_km,
            allowance_cents_per_km=_settings(request).solidarity_allowance_cents_per_km,
            now=utcnow(),
        )
    except SolidarityError:
        db.rollback()
        return Redirect(f"/solidarity/bookings/{booking.id}?error=confirm", status_code=303)
    db.commit()
    return Redirect(f"/solidarity/bookings/{booking.id}", status_code=303)


def _day(request: Request[Any, Any, Any], text: str) -> date | None:
    """The day asked for, by default tomorrow in the request's territory."""
    try:
        return (
            date.fromisoformat(text)
            if text
            else reminders.tomorrow(utcnow(), request_territory(request).zone)
        )
    except ValueError:
        return None


@get("/solidarity/calls", opt=SOCIAL_WORKER, sync_to_thread=True, name="solidarity_calls")
def calls(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    day: FromQuery[str] = "",
    sent: FromQuery[str] = "",
) -> Template:
    when = _day(request, day)
    commune = worker_commune(request, db)
    return page(
        request,
        "solidarity/calls.html",
        section="solidarity",
        **shared(),
        status_code=200 if when else 400,
        day=when or reminders.tomorrow(utcnow(), request_territory(request).zone),
        calls=reminders.calls(db, commune, when) if commune and when else [],
        sms=bool(_settings(request).solidarity_sms_url),
        sent=int(sent) if sent.isdigit() else None,
        error="" if when else _("Date invalide."),
    )


@post("/solidarity/calls/sms", opt=SOCIAL_WORKER, sync_to_thread=True, name="solidarity_sms")
def send_sms(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    data: Form,
) -> Redirect:
    when = _day(request, one(data, "day"))
    commune = worker_commune(request, db)
    count = 0
    if when and commune and _settings(request).solidarity_sms_url:
        count = reminders.schedule_sms(db, commune, when)
        db.commit()
    return Redirect(f"/solidarity/calls?day={(when or '')}&sent={count}", status_code=303)


@get("/solidarity/export.csv", opt=SOCIAL_WORKER, sync_to_thread=True, name="solidarity_export")
def export(
    request: Request[Any, Any, Any], db: NamedDependency[Session], month: FromQuery[str] = ""
) -> Response[str]:
    first = parse_month(month, local_today(utcnow(), request_territory(request).zone))
    commune = worker_commune(request, db)
    if first is None or commune is None:
        return Response(
            _("Mois invalide : écrivez-le AAAA-MM, par exemple 2026-12.")
            if first is None
            else _("Votre compte n’est rattaché à aucune commune : demandez-le à un agent."),
            status_code=400,
            media_type="text/plain; charset=utf-8",
        )
    body = mileage.to_csv(mileage.lines(db, commune, first))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="transport-solidaire-{commune}-{first:%Y-%m}.csv"',
            "cache-control": "no-store",
        },
    )


@post("/solidarity/places", opt=SOCIAL_WORKER, sync_to_thread=True, name="solidarity_place")
def add_place(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    form, errors = parse_form(
        PlaceForm,
        {
            k: v.replace(",", ".") if k in ("lat", "lon") and isinstance(v, str) else v
            for k, v in data.items()
        },
    )
    commune = worker_commune(request, db)
    if commune is None:
        errors["__all__"] = _(
            "Votre compte n’est rattaché à aucune commune : demandez-le à un agent."
        )
    if form is None or errors:
        db.rollback()
        return _home(request, db, place_form=dict(data), errors=errors, status_code=400)
    # The territory of the worker's commune (one of the host's: app.solidarity.scope).
    db.add(
        Place(commune_insee=commune, territory_id=territory_of(db, commune), **form.model_dump())
    )
    db.commit()
    return Redirect("/solidarity/ccas?done=place", status_code=303)


@get("/staff/solidarity", opt=STAFF, sync_to_thread=True, name="solidarity_staff")
def staff_stats(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _stats_page(request, db)


def _stats_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Template:
    workers = [
        w
        for w in db.scalars(
            select(User).where(col(User.role) == "social_worker").order_by(col(User.email))
        ).all()
        if _worker_here(db, w)
    ]
    return page(
        request,
        "solidarity/staff.html",
        section="solidarity",
        **shared(),
        status_code=status_code,
        rows=stats.per_commune(db),
        workers=workers,
        communes=communes(db),
        form=form or {},
        errors=errors or {},
        notice=notice,
        euros=mileage.euros,
        km=mileage.km,
    )


def _worker_here(db: Session, worker: User) -> bool:
    """A social worker the host's staff may see and attach: of a commune of the territory, or of
    none yet."""
    return worker.commune_insee is None or commune_here(db, worker.commune_insee)


@post("/staff/solidarity/workers", opt=STAFF, sync_to_thread=True, name="solidarity_staff_worker")
def attach_worker(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    email, insee = one(data, "email").lower(), one(data, "commune_insee")
    worker = db.scalars(select(User).where(col(User.email) == email)).first()
    errors: dict[str, str] = {}
    if worker is None or worker.role != "social_worker" or not _worker_here(db, worker):
        errors["email"] = _(
            "Aucun compte de travailleur social à cette adresse (le rôle se donne dans Comptes)."
        )
    if insee not in communes(db):
        errors["commune_insee"] = _("Choisissez une commune du territoire.")
    if errors or worker is None:
        db.rollback()
        return _stats_page(request, db, form=dict(data), errors=errors, status_code=400)
    worker.commune_insee = insee
    db.add(worker)
    db.commit()
    return Redirect("/staff/solidarity", status_code=303)


ROUTES = [
    home,
    new_beneficiary,
    create_beneficiary,
    beneficiary_page,
    erase_beneficiary,
    new_booking,
    create_booking,
    cancel_booking,
    confirm_trip,
    calls,
    send_sms,
    export,
    add_place,
    staff_stats,
    attach_worker,
]

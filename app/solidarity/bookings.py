"""Bookings made by the social worker by phone, and volunteers accepting them.

A volunteer accepts a whole booking (every trip of a weekly one). :func:`accept` runs inside the
caller's write transaction and never double-books a volunteer: the volunteer's row is locked
first (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction is already exclusive), then the
trips the volunteer already drives are read and compared with the booking's, then the booking is
taken with an update conditional on it still being open. Two accepts at once, of the same booking
by two volunteers or of two overlapping bookings by one volunteer, leave one winner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app import geo
from app.db import saved_id
from app.i18n import gettext as _
from app.models.solidarity import Beneficiary, Booking, Place, Trip, Volunteer
from app.notify import notify
from app.solidarity.schedule import (
    SolidarityError,
    describe,
    format_weekdays,
    local_at,
    local_today,
    occurrences,
    overlaps,
)
from app.solidarity.scope import is_here
from app.solidarity.volunteers import fits, slots_of
from app.territories import zone as territory_zone


def N_(message: str) -> str:
    return message


TOPIC = "solidarity"
BOOKING_LABELS = {
    "open": N_("En attente d’un bénévole"),
    "accepted": N_("Acceptée"),
    "cancelled": N_("Annulée"),
}
TRIP_LABELS = {
    "planned": N_("Prévu"),
    "done": N_("Fait, à confirmer"),
    "confirmed": N_("Confirmé"),
    "cancelled": N_("Annulé"),
}
BUSY = ("planned", "done")  # trips that hold a volunteer's time


@dataclass(frozen=True)
class BookingInput:
    beneficiary_id: int
    place_id: int | None
    destination: str  # when no usual place is chosen
    purpose: str
    first_day: date
    pickup_min: int
    duration_min: int
    round_trip: bool
    weekdays: Sequence[int]
    until: date | None
    notes: str = ""


def book(
    session: Session, data: BookingInput, *, commune_insee: str, by_user: int, now: datetime
) -> Booking:
    """Book a trip (or a weekly series of trips) for a beneficiary of the social worker's commune."""
    person = session.get(Beneficiary, data.beneficiary_id)
    if person is None or person.commune_insee != commune_insee or not is_here(session, person):
        raise SolidarityError(_("Choisissez une personne inscrite dans votre commune."))
    place = session.get(Place, data.place_id) if data.place_id else None
    if place is None or place.territory_id != person.territory_id:
        raise SolidarityError(_("Choisissez une destination de la liste."))
    if not 15 <= data.duration_min <= 12 * 60:
        raise SolidarityError(_("La durée va de 15 minutes à 12 heures."))
    if data.pickup_min + data.duration_min > 24 * 60:
        raise SolidarityError(_("Le trajet doit finir le jour même."))
    days = occurrences(data.first_day, data.weekdays, data.until)
    zone = territory_zone(session, person.territory_id)  # the person's territory's clock
    if local_at(days[0], data.pickup_min, zone) <= now:
        raise SolidarityError(_("Choisissez une date et une heure à venir."))
    one_way = geo.road_m(person.lat, person.lon, place.lat, place.lon)
    km_tenths = round(one_way * (2 if data.round_trip else 1) / 100)
    booking = Booking(
        beneficiary_id=saved_id(person),
        commune_insee=person.commune_insee,
        territory_id=person.territory_id,
        booked_by=by_user,
        pickup_address=person.address,
        pickup_lat=person.lat,
        pickup_lon=person.lon,
        destination=place.label,
        dest_lat=place.lat,
        dest_lon=place.lon,
        purpose=" ".join(data.purpose.split()),
        round_trip=data.round_trip,
        pickup_min=data.pickup_min,
        duration_min=data.duration_min,
        first_day=days[0],
        weekdays=format_weekdays(data.weekdays) if data.weekdays else "",
        until=data.until if data.weekdays else None,
        km_tenths=km_tenths,
        notes=data.notes.strip(),
    )
    session.add(booking)
    session.flush()
    for day in days:
        start = local_at(day, data.pickup_min, zone)
        session.add(
            Trip(
                booking_id=saved_id(booking),
                territory_id=booking.territory_id,
                pickup_at=start,
                ends_at=start + timedelta(minutes=data.duration_min),
                km_tenths=km_tenths,
            )
        )
    session.flush()
    _tell_volunteers(session, booking, now)
    return booking


def _tell_volunteers(session: Session, booking: Booking, now: datetime) -> None:
    """The volunteers of the booking's territory it fits hear of it (never the person's name)."""
    fitting = [
        v.user_id
        for v in session.scalars(
            select(Volunteer).where(col(Volunteer.territory_id) == booking.territory_id)
        )
        if _offerable(session, v, booking)
    ]
    if fitting:
        notify(
            session,
            fitting,
            topic=TOPIC,
            title=_("Transport solidaire : un trajet vous correspond"),
            body=booking.destination,
            url="/solidarity/volunteer",
            dedupe=f"solidarity-booking-{booking.id}",
        )


def when(booking: Booking) -> str:
    """The booking's days and time in words."""
    return describe(booking.first_day, booking.weekdays, booking.until, booking.pickup_min)


def trips_of(session: Session, booking_id: int) -> list[Trip]:
    return list(
        session.scalars(
            select(Trip).where(col(Trip.booking_id) == booking_id).order_by(col(Trip.pickup_at))
        ).all()
    )


def _conflicts(session: Session, volunteer_id: int, trips: Sequence[Trip]) -> list[Trip]:
    """The trips the volunteer already drives that overlap one of ``trips``."""
    if not trips:
        return []
    first = min(t.pickup_at for t in trips)
    last = max(t.ends_at for t in trips)
    own = session.scalars(
        select(Trip).where(
            col(Trip.driver_id) == volunteer_id,
            col(Trip.status).in_(BUSY),
            col(Trip.pickup_at) < last,
            col(Trip.ends_at) > first,
        )
    ).all()
    return [
        o
        for o in own
        if any(
            o.booking_id != t.booking_id
            and overlaps(o.pickup_at, o.ends_at, t.pickup_at, t.ends_at)
            for t in trips
        )
    ]


def _offerable(session: Session, volunteer: Volunteer, booking: Booking) -> bool:
    if booking.status != "open" or not fits(
        volunteer, slots_of(session, saved_id(volunteer)), booking
    ):
        return False
    trips = [t for t in trips_of(session, saved_id(booking)) if t.status == "planned"]
    return bool(trips) and not _conflicts(session, saved_id(volunteer), trips)


def offered(session: Session, volunteer: Volunteer, now: datetime) -> list[Booking]:
    """The open bookings of the volunteer's territory that fit them: in their area, inside their
    slots, with a trip to come, none of them overlapping a trip they already drive."""
    rows = session.scalars(
        select(Booking)
        .where(col(Booking.status) == "open", col(Booking.territory_id) == volunteer.territory_id)
        .order_by(col(Booking.first_day), col(Booking.pickup_min))
        .limit(500)
    ).all()
    today = local_today(now, territory_zone(session, volunteer.territory_id))
    return [
        b for b in rows if (b.until or b.first_day) >= today and _offerable(session, volunteer, b)
    ]


def accept(session: Session, booking_id: int, volunteer: Volunteer, now: datetime) -> Booking:
    """The volunteer takes the booking (all its planned trips), in the caller's write transaction."""
    vid = saved_id(volunteer)
    locked = session.scalars(
        select(Volunteer).where(col(Volunteer.id) == vid).with_for_update()
    ).first()
    if locked is None or not locked.active:
        raise SolidarityError(_("Inscrivez-vous d’abord comme conducteur bénévole."))
    booking = session.get(Booking, booking_id)
    if booking is None or booking.territory_id != locked.territory_id:
        raise SolidarityError(_("Ce trajet n’existe pas."))
    if booking.status != "open":
        raise SolidarityError(_("Ce trajet a déjà été accepté par un autre bénévole."))
    if not fits(locked, slots_of(session, vid), booking):
        raise SolidarityError(
            _("Ce trajet ne correspond pas à votre secteur ou à vos disponibilités.")
        )
    trips = [t for t in trips_of(session, booking_id) if t.status == "planned"]
    if not trips or trips[-1].pickup_at <= now:
        raise SolidarityError(_("Ce trajet n’a plus de date à venir."))
    clash = _conflicts(session, vid, trips)
    if clash:
        raise SolidarityError(
            _("Vous conduisez déjà à ce moment-là (%(n)s trajet(s) en même temps).")
            % {"n": len(clash)}
        )
    taken = session.execute(
        update(Booking)
        .where(col(Booking.id) == booking_id, col(Booking.status) == "open")
        .values(status="accepted", driver_id=vid, accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE has rowcount
        raise SolidarityError(_("Ce trajet a déjà été accepté par un autre bénévole."))
    session.execute(
        update(Trip)
        .where(col(Trip.booking_id) == booking_id, col(Trip.status) == "planned")
        .values(driver_id=vid)
        .execution_options(synchronize_session=False)
    )
    session.refresh(booking)
    if booking.booked_by:
        notify(
            session,
            [booking.booked_by],
            topic=TOPIC,
            title=_("Transport solidaire : trajet accepté"),
            body=booking.destination,
            url=f"/solidarity/bookings/{booking_id}",
        )
    return booking


def withdraw(session: Session, booking: Booking, volunteer: Volunteer) -> None:
    """The driver gives the booking back: its planned trips are open to others again."""
    if booking.driver_id != volunteer.id or booking.status != "accepted":
        raise SolidarityError(_("Vous ne conduisez pas ce trajet."))
    release(session, booking)


def release(session: Session, booking: Booking) -> None:
    booking.status, booking.driver_id, booking.accepted_at = "open", None, None
    session.add(booking)
    session.execute(
        update(Trip)
        .where(col(Trip.booking_id) == saved_id(booking), col(Trip.status) == "planned")
        .values(driver_id=None)
        .execution_options(synchronize_session=False)
    )
    if booking.booked_by:
        notify(
            session,
            [booking.booked_by],
            topic=TOPIC,
            title=_("Transport solidaire : un bénévole s’est désisté"),
            body=booking.destination,
            url=f"/solidarity/bookings/{booking.id}",
        )


def cancel(session: Session, booking: Booking) -> None:
    """The social worker cancels the booking: its planned trips are cancelled."""
    if booking.status == "cancelled":
        return
    booking.status = "cancelled"
    session.add(booking)
    session.execute(
        update(Trip)
        .where(col(Trip.booking_id) == saved_id(booking), col(Trip.status) == "planned")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


def driven_by(session: Session, volunteer: Volunteer) -> list[Booking]:
    return list(
        session.scalars(
            select(Booking)
            .where(
                col(Booking.driver_id) == volunteer.id,
                col(Booking.status) == "accepted",
                col(Booking.territory_id) == volunteer.territory_id,
            )
            .order_by(col(Booking.first_day))
        ).all()
    )


def driver_may_see(booking: Booking, volunteer: Volunteer | None) -> bool:
    """Whether the volunteer is the accepted driver of the booking (who may read the person's
    name, address and phone)."""
    return (
        volunteer is not None
        and booking.territory_id == volunteer.territory_id
        and booking.status == "accepted"
        and booking.driver_id is not None
        and booking.driver_id == volunteer.id
    )

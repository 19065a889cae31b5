"""Volunteer drivers: their area (communes, or a radius around their commune), their weekly
availability, and whether a booking fits them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app import geo
from app.db import saved_id
from app.i18n import gettext as _
from app.models.solidarity import Booking, Slot, Volunteer
from app.solidarity.beneficiaries import commune, normalise_phone
from app.solidarity.schedule import SolidarityError, parse_weekdays
from app.solidarity.scope import where_here

MAX_RADIUS_KM = 60


@dataclass(frozen=True)
class SlotInput:
    weekday: int
    start_min: int
    end_min: int


def of_user(session: Session, user_id: int) -> Volunteer | None:
    """The person's volunteer row, when it belongs to the session's territory."""
    return session.scalars(
        select(Volunteer).where(col(Volunteer.user_id) == user_id, *where_here(Volunteer, session))
    ).first()


def slots_of(session: Session, volunteer_id: int) -> list[Slot]:
    return list(
        session.scalars(
            select(Slot)
            .where(col(Slot.volunteer_id) == volunteer_id)
            .order_by(col(Slot.weekday), col(Slot.start_min))
        ).all()
    )


def sign_up(
    session: Session,
    user_id: int,
    *,
    phone: str,
    commune_insee: str,
    area_communes: Sequence[str],
    radius_km: int,
    slots: Sequence[SlotInput],
) -> Volunteer:
    """Become a volunteer driver, or change one's phone, area and availability (all at once)."""
    home = commune(session, commune_insee)
    if radius_km < 0 or radius_km > MAX_RADIUS_KM:
        raise SolidarityError(_("Le rayon va de 1 à 60 km."))
    chosen = sorted(set(area_communes))
    for insee in chosen:
        commune(session, insee)
    if not radius_km and not chosen:
        raise SolidarityError(_("Choisissez les communes où vous conduisez, ou un rayon en km."))
    if not slots:
        raise SolidarityError(_("Indiquez au moins un créneau de disponibilité."))
    for s in slots:
        if not 0 <= s.weekday <= 6 or not 0 <= s.start_min < s.end_min <= 24 * 60:
            raise SolidarityError(_("Un créneau doit finir après son début, le même jour."))
    volunteer = session.scalars(select(Volunteer).where(col(Volunteer.user_id) == user_id)).first()
    if volunteer is not None and volunteer.territory_id != home.territory_id:
        # One volunteer row a person: it drives in one territory, with its bookings and trips.
        raise SolidarityError(
            _("Vous êtes déjà conducteur bénévole sur un autre territoire : écrivez à son CCAS.")
        )
    if volunteer is None:
        volunteer = Volunteer(
            user_id=user_id,
            phone="",
            commune_insee=commune_insee,
            territory_id=home.territory_id,
            lat=0,
            lon=0,
        )
    volunteer.phone = normalise_phone(phone)
    volunteer.commune_insee = commune_insee
    volunteer.lat, volunteer.lon = home.lat, home.lon
    volunteer.area_communes = "" if radius_km else ",".join(chosen)
    volunteer.radius_km = radius_km
    volunteer.active = True
    session.add(volunteer)
    session.flush()
    vid = saved_id(volunteer)
    session.execute(delete(Slot).where(col(Slot.volunteer_id) == vid))
    for s in slots:
        session.add(
            Slot(
                volunteer_id=vid,
                weekday=s.weekday,
                start_min=s.start_min,
                end_min=s.end_min,
            )
        )
    session.flush()
    return volunteer


def in_area(volunteer: Volunteer, booking: Booking) -> bool:
    """Whether the booking's pick-up is in the volunteer's area."""
    if volunteer.radius_km > 0:
        return (
            geo.distance_m(volunteer.lat, volunteer.lon, booking.pickup_lat, booking.pickup_lon)
            <= volunteer.radius_km * 1000
        )
    return booking.commune_insee in volunteer.area_communes.split(",")


def available(slots: Sequence[Slot], booking: Booking) -> bool:
    """Whether every trip of the booking falls inside one of the volunteer's weekly slots."""
    days = parse_weekdays(booking.weekdays) or [booking.first_day.weekday()]
    end = booking.pickup_min + booking.duration_min
    return all(
        any(
            s.weekday == d and s.start_min <= booking.pickup_min and end <= s.end_min for s in slots
        )
        for d in days
    )


def fits(volunteer: Volunteer, slots: Sequence[Slot], booking: Booking) -> bool:
    """Whether the volunteer may drive the booking: of their territory, area and slots."""
    return (
        volunteer.active
        and booking.territory_id == volunteer.territory_id
        and in_area(volunteer, booking)
        and available(slots, booking)
    )

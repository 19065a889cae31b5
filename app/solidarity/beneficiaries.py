"""Beneficiaries, registered by the social worker of their commune (CCAS).

A beneficiary has no account: their name, address, phone and needs are read by the social
workers of their commune and, for one trip, by the volunteer who accepted it
(:func:`app.solidarity.bookings.visible_to_driver`); nobody else."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.models.solidarity import Beneficiary, Booking, Place, Trip
from app.models.territory import Commune
from app.solidarity.schedule import SolidarityError
from app.solidarity.scope import commune_here, where_here

_PHONE = re.compile(r"^\+?[0-9]{9,15}$")


def normalise_phone(text: str) -> str:
    """ "06 12 34 56 78" -> "0612345678"; refused in French when it is not a phone number."""
    phone = re.sub(r"[\s.\-()]", "", text)
    if not _PHONE.match(phone):
        raise SolidarityError(_("Indiquez un numéro de téléphone (10 chiffres, ou +33…)."))
    return phone


def commune(session: Session, insee: str) -> Commune:
    """A commune of the session's territory; any other is refused in French."""
    found = session.get(Commune, insee)
    if found is None or not commune_here(session, insee):
        raise SolidarityError(_("Choisissez une commune du territoire."))
    return found


def register(
    session: Session,
    *,
    commune_insee: str,
    full_name: str,
    address: str,
    phone: str,
    mobility: str,
    consent: bool,
    by_user: int,
    now: datetime,
    lat: float | None = None,
    lon: float | None = None,
) -> Beneficiary:
    """A new beneficiary of the social worker's commune, with the consent recorded (when, by whom).

    Without a point on the map, the address is placed at the centre of the commune."""
    if not consent:
        raise SolidarityError(
            _("La personne doit avoir donné son accord pour être inscrite : cochez la case.")
        )
    where = commune(session, commune_insee)
    person = Beneficiary(
        commune_insee=commune_insee,
        territory_id=where.territory_id,
        full_name=" ".join(full_name.split()),
        address=" ".join(address.split()),
        lat=where.lat if lat is None else lat,
        lon=where.lon if lon is None else lon,
        phone=normalise_phone(phone),
        mobility=" ".join(mobility.split()),
        consent_at=now,
        consent_by=by_user,
    )
    session.add(person)
    session.flush()
    return person


def of_commune(session: Session, insee: str) -> list[Beneficiary]:
    return list(
        session.scalars(
            select(Beneficiary)
            .where(col(Beneficiary.commune_insee) == insee, *where_here(Beneficiary, session))
            .order_by(col(Beneficiary.full_name))
        ).all()
    )


def places(session: Session) -> list[Place]:
    return list(
        session.scalars(
            select(Place).where(*where_here(Place, session)).order_by(col(Place.label))
        ).all()
    )


def erase(session: Session, person: Beneficiary, bookings_of: Sequence[Booking]) -> None:
    """The person withdraws their consent: their bookings to come are cancelled, and their name,
    address, phone and needs are erased; the trips already made stay in the accounts, nameless."""
    for booking in bookings_of:
        if booking.status != "cancelled":
            booking.status = "cancelled"
            session.add(booking)
        session.execute(
            update(Trip)
            .where(col(Trip.booking_id) == booking.id, col(Trip.status) == "planned")
            .values(status="cancelled")
            .execution_options(synchronize_session=False)
        )
        booking.pickup_address = ""
        booking.notes = ""
    person.full_name = _("Personne effacée")
    person.address, person.phone, person.mobility = "", "", ""
    centre = session.get(Commune, person.commune_insee)
    if centre is not None:
        person.lat, person.lon = centre.lat, centre.lon
    session.add(person)


def bookings_of(session: Session, person_id: int) -> list[Booking]:
    return list(
        session.scalars(
            select(Booking)
            .where(col(Booking.beneficiary_id) == person_id, *where_here(Booking, session))
            .order_by(col(Booking.first_day).desc())
        ).all()
    )

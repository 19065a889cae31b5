"""What the solidarity-transport pages share: who the social worker is and for which commune,
the booking a person may read, and reading the fields of the forms."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request
from litestar.exceptions import NotFoundException
from sqlmodel import Session

from app.auth import signed_in_user
from app.models.accounts import User
from app.models.solidarity import Beneficiary, Booking, Volunteer
from app.solidarity import bookings, volunteers
from app.solidarity.scope import commune_here, communes_here, is_here

SOCIAL_WORKER: dict[str, Any] = {"access": ("social_worker",)}


def communes(db: Session) -> dict[str, str]:
    """The communes of the request's territory, by name."""
    return communes_here(db)


def worker_commune(request: Request[Any, Any, Any], db: Session) -> str | None:
    """The commune of the signed-in social worker (their CCAS), or None when none is set yet or
    when it is not one of the host's territory (another territory's host shows them nothing)."""
    row = db.get(User, signed_in_user(request).id)
    if row is None or not commune_here(db, row.commune_insee):
        return None
    return row.commune_insee


def own_volunteer(request: Request[Any, Any, Any], db: Session) -> Volunteer | None:
    return volunteers.of_user(db, signed_in_user(request).id)


def beneficiary_or_404(db: Session, beneficiary_id: int, commune: str | None) -> Beneficiary:
    """A beneficiary of the social worker's commune; any other is not found."""
    person = db.get(Beneficiary, beneficiary_id)
    if not is_here(db, person) or commune is None or person is None:
        raise NotFoundException()
    if person.commune_insee != commune:
        raise NotFoundException()
    return person


def readable_booking(
    request: Request[Any, Any, Any], db: Session, booking_id: int
) -> tuple[Booking, Beneficiary, str]:
    """The booking and its beneficiary for the social worker of its commune ("worker") or its
    accepted driver ("driver"), on a host of its territory; anyone else is told it is not found."""
    booking = db.get(Booking, booking_id)
    if booking is None or not is_here(db, booking):
        raise NotFoundException()
    user = signed_in_user(request)
    if user.role == "social_worker" and worker_commune(request, db) == booking.commune_insee:
        viewer = "worker"
    elif bookings.driver_may_see(booking, own_volunteer(request, db)):
        viewer = "driver"
    else:
        raise NotFoundException()
    person = db.get(Beneficiary, booking.beneficiary_id)
    if person is None:
        raise NotFoundException()
    return booking, person, viewer


def many(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return [value] if isinstance(value, str) and value else []


def one(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return value.strip() if isinstance(value, str) else ""


def parse_month(text: str, today: date) -> date | None:
    """ "2026-12" -> 1 December 2026; "" -> this month; None when it is not a month."""
    if not text:
        return today.replace(day=1)
    year, _dash, month = text.partition("-")
    if not (year.isdigit() and month.isdigit() and len(year) == 4 and 1 <= int(month) <= 12):
        return None
    return date(int(year), int(month), 1)


def shared() -> dict[str, Any]:
    """What every solidarity page's template reads: a booking in words, the labels of states."""
    return {
        "describe": bookings.when,
        "booking_labels": bookings.BOOKING_LABELS,
        "trip_labels": bookings.TRIP_LABELS,
    }

"""Statistics per commune for staff: counts and sums only, never a person."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.models.solidarity import Beneficiary, Booking, Trip, Volunteer
from app.models.territory import Commune


@dataclass
class CommuneStats:
    insee: str
    name: str
    beneficiaries: int = 0
    volunteers: int = 0
    bookings_open: int = 0
    trips: dict[str, int] = field(default_factory=dict)  # by status
    km_tenths: int = 0  # of confirmed trips
    contribution_cents: int = 0
    allowance_cents: int = 0


def per_commune(session: Session) -> list[CommuneStats]:
    out = {
        c.insee: CommuneStats(c.insee, c.name)
        for c in session.scalars(select(Commune).order_by(col(Commune.name)))
    }
    for insee, n in session.execute(
        select(col(Beneficiary.commune_insee), func.count()).group_by(
            col(Beneficiary.commune_insee)
        )
    ):
        out[insee].beneficiaries = n
    for insee, n in session.execute(
        select(col(Volunteer.commune_insee), func.count())
        .where(col(Volunteer.active).is_(True))
        .group_by(col(Volunteer.commune_insee))
    ):
        out[insee].volunteers = n
    for insee, n in session.execute(
        select(col(Booking.commune_insee), func.count())
        .where(col(Booking.status) == "open")
        .group_by(col(Booking.commune_insee))
    ):
        out[insee].bookings_open = n
    for insee, status, n, km, contribution, allowance in session.execute(
        select(
            col(Booking.commune_insee),
            col(Trip.status),
            func.count(),
            func.coalesce(func.sum(col(Trip.km_tenths)), 0),
            func.coalesce(func.sum(col(Trip.contribution_cents)), 0),
            func.coalesce(func.sum(col(Trip.allowance_cents)), 0),
        )
        .join(Booking, col(Booking.id) == col(Trip.booking_id))
        .group_by(col(Booking.commune_insee), col(Trip.status))
    ):
        stats = out[insee]
        stats.trips[status] = n
        if status == "confirmed":
            stats.km_tenths += km
            stats.contribution_cents += contribution
            stats.allowance_cents += allowance
    return list(out.values())

"""Statistics per commune for staff: counts and sums only, never a person; the communes of the
session's territory only (app.solidarity.scope)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.models.solidarity import Beneficiary, Booking, Trip, Volunteer
from app.models.territory import Commune
from app.solidarity.scope import here, where_here


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
    communes = select(Commune).order_by(col(Commune.name))
    if here(session):
        communes = communes.where(col(Commune.territory_id) == here(session))
    out = {c.insee: CommuneStats(c.insee, c.name) for c in session.scalars(communes)}
    for insee, n in session.execute(
        select(col(Beneficiary.commune_insee), func.count())
        .where(*where_here(Beneficiary, session))
        .group_by(col(Beneficiary.commune_insee))
    ):
        if insee in out:
            out[insee].beneficiaries = n
    for insee, n in session.execute(
        select(col(Volunteer.commune_insee), func.count())
        .where(col(Volunteer.active).is_(True), *where_here(Volunteer, session))
        .group_by(col(Volunteer.commune_insee))
    ):
        if insee in out:
            out[insee].volunteers = n
    for insee, n in session.execute(
        select(col(Booking.commune_insee), func.count())
        .where(col(Booking.status) == "open", *where_here(Booking, session))
        .group_by(col(Booking.commune_insee))
    ):
        if insee in out:
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
        .where(*where_here(Booking, session))
        .group_by(col(Booking.commune_insee), col(Trip.status))
    ):
        if insee not in out:
            continue
        stats = out[insee]
        stats.trips[status] = n
        if status == "confirmed":
            stats.km_tenths += km
            stats.contribution_cents += contribution
            stats.allowance_cents += allowance
    return list(out.values())

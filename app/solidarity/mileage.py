"""The accounts' export: every confirmed trip of a commune in a month, with the kilometres, the
beneficiary's contribution and the driver's mileage allowance, and the totals (CSV through
``app.csvsafe``, so no cell runs as a spreadsheet formula)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from app.csvsafe import csv_cell
from app.models.accounts import User
from app.models.solidarity import Beneficiary, Booking, Trip, Volunteer
from app.solidarity.schedule import local_at
from app.solidarity.scope import where_here
from app.territories import commune_zone

HEADER = (
    "date",
    "commune",
    "beneficiaire",
    "conducteur",
    "destination",
    "km",
    "participation_eur",
    "indemnite_eur",
)


@dataclass(frozen=True)
class Line:
    day: date
    commune_insee: str
    beneficiary: str
    driver: str
    destination: str
    km_tenths: int
    contribution_cents: int
    allowance_cents: int


def euros(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def km(tenths: int) -> str:
    return f"{tenths // 10}.{tenths % 10}"


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, following


def lines(session: Session, commune_insee: str, month: date) -> list[Line]:
    first, following = month_bounds(month)
    zone = commune_zone(session, commune_insee)
    rows = session.execute(
        select(Trip, Booking, Beneficiary, User)
        .join(Booking, col(Booking.id) == col(Trip.booking_id))
        .join(Beneficiary, col(Beneficiary.id) == col(Booking.beneficiary_id))
        .outerjoin(Volunteer, col(Volunteer.id) == col(Trip.driver_id))
        .outerjoin(User, col(User.id) == col(Volunteer.user_id))
        .where(
            col(Booking.commune_insee) == commune_insee,
            *where_here(Booking, session),
            col(Trip.status) == "confirmed",
            col(Trip.pickup_at) >= local_at(first, 0, zone),
            col(Trip.pickup_at) < local_at(following, 0, zone),
        )
        .order_by(col(Trip.pickup_at))
    ).all()
    return [
        Line(
            day=trip.pickup_at.astimezone(zone).date(),
            commune_insee=booking.commune_insee,
            beneficiary=person.full_name,
            driver=(user.display_name or user.email.split("@")[0]) if user else "—",
            destination=booking.destination,
            km_tenths=trip.km_tenths,
            contribution_cents=trip.contribution_cents,
            allowance_cents=trip.allowance_cents,
        )
        for trip, booking, person, user in rows
    ]


def to_csv(rows: list[Line]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for r in rows:
        writer.writerow(
            [
                csv_cell(v)
                for v in (
                    r.day.isoformat(),
                    r.commune_insee,
                    r.beneficiary,
                    r.driver,
                    r.destination,
                    km(r.km_tenths),
                    euros(r.contribution_cents),
                    euros(r.allowance_cents),
                )
            ]
        )
    writer.writerow(
        [
            "total",
            "",
            "",
            "",
            "",
            km(sum(r.km_tenths for r in rows)),
            euros(sum(r.contribution_cents for r in rows)),
            euros(sum(r.allowance_cents for r in rows)),
        ]
    )
    return out.getvalue()

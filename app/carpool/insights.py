"""What carpooling contributes to the decision-support pages: trips between places, month by month.

A trip is one passenger seat on one travelled day of an accepted booking (a
regular trip booked for weeks counts once per day it runs, from the day it was
accepted to its last day, its cancellation or today), at the ad's ends; also the
ads published (offers, requests), the requests that no booking answered and the
proofs of carpooling sent to the registry. No person, no address: the pages
place each end in a commune and hide small counts (``app.insights``). All of it from the ads of the
session's territory (``app.territories.bound``; an unbound session counts the whole install).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from app import months
from app.carpool.trips import country_of, local, occurrences, parse_schedule, zone_of
from app.db import utcnow
from app.interfaces import Factor, MonthlyFigure, Trip, TripSource
from app.models.carpool import CarpoolAd, CarpoolBooking
from app.models.carpool_interop import CarpoolProof
from app.models.territory import Commune
from app.territories import bound
from app.territories import zone as territory_zone

N_ = str  # marks a string for extraction; translated where it is shown

# ADEME Base Empreinte: an average private car, all engines, per vehicle-km (combustion and upstream).
CAR_KG_CO2E_PER_KM = 0.218
CO2 = Factor(
    CAR_KG_CO2E_PER_KM,
    "kg CO₂e",
    N_(
        "0,218 kg CO₂e par km de voiture évité (ADEME Base Empreinte, voiture particulière, motorisation moyenne)"
    ),
)


def _mine(session: Session) -> tuple[Any, ...]:
    """The condition keeping ads to the session's territory (none when unbound)."""
    territory = bound(session)
    return () if territory is None else (col(CarpoolAd.territory_id) == territory.id,)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


Key = tuple[str, str, float, float, str, float, float, str, int | None]


def _ends(ad: CarpoolAd) -> tuple[float, float, str, float, float, str]:
    return (
        ad.from_lat,
        ad.from_lon,
        country_of(ad.from_lat, ad.from_lon),
        ad.to_lat,
        ad.to_lon,
        country_of(ad.to_lat, ad.to_lon),
    )


def _weekdays(first: date, last: date, weekday: int) -> int:
    """How many days of ``weekday`` (0 = Monday) from ``first`` to ``last``, both included."""
    if last < first:
        return 0
    day = first + timedelta(days=(weekday - first.weekday()) % 7)
    return 0 if day > last else (last - day).days // 7 + 1


def departures(ad: CarpoolAd, start: datetime, end: datetime) -> dict[tuple[str, int], int]:
    """The departures of ``ad`` in [start, end), counted per local month and hour: the same
    departures as ``trips.occurrences``, counted week by week instead of listed day by day."""
    schedule = parse_schedule(ad.schedule) if ad.frequency == "regular" else {}
    zone = zone_of(ad)  # the ad's territory's months and hours
    if ad.frequency != "regular" or any(minute // 60 == 2 for minute, _m in schedule.values()):
        # one-off trips, and departures in the hour summer time skips or repeats: listed one by one
        return dict(
            Counter((months.of(d, zone), local(d, zone).hour) for d in occurrences(ad, start, end))
        )
    out: dict[tuple[str, int], int] = defaultdict(int)
    first_day, end_day = local(start, zone).date(), local(end, zone).date()
    for weekday, (minute, _margin) in schedule.items():
        at = time(minute // 60, minute % 60)
        first = first_day
        if datetime.combine(first, at, tzinfo=zone) < start:
            first += timedelta(days=1)
        last = end_day
        if datetime.combine(last, at, tzinfo=zone) >= end:
            last -= timedelta(days=1)
        if ad.valid_until is not None:
            last = min(last, ad.valid_until)
        month = first.replace(day=1)
        while month <= last:
            following = (month + timedelta(days=32)).replace(day=1)
            n = _weekdays(max(first, month), min(last, following - timedelta(days=1)), weekday)
            if n:
                out[(month.strftime("%Y-%m"), at.hour)] += n
            month = following
    return out


def _booked(session: Session, first: str, last: str) -> Iterator[Trip]:
    """Seats on travelled days of accepted bookings (and of cancelled ones, until they were cancelled)."""
    low, high = months.bounds(first, last, territory_zone(session))
    high = min(high, utcnow())
    counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    stmt = (
        select(CarpoolBooking, CarpoolAd)
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolBooking.ad_id))
        .where(
            *_mine(session),
            col(CarpoolBooking.accepted_at).is_not(None),
            col(CarpoolBooking.accepted_at) < high,
            # accepted, or cancelled within the months (travelled until then)
            or_(
                col(CarpoolBooking.status) == "accepted",
                and_(
                    col(CarpoolBooking.status) == "cancelled",
                    col(CarpoolBooking.updated_at) >= low,
                ),
            ),
            # a regular trip still running then, or a one-off trip within the months
            or_(
                and_(
                    col(CarpoolAd.frequency) == "regular",
                    or_(
                        col(CarpoolAd.valid_until).is_(None),
                        col(CarpoolAd.valid_until) >= low.date(),
                    ),
                ),
                and_(col(CarpoolAd.departure_at) >= low, col(CarpoolAd.departure_at) < high),
            ),
        )
        .execution_options(yield_per=1000)
    )
    for booking, ad in session.execute(stmt):
        start = max(_aware(booking.accepted_at or booking.created_at), low)
        end = high if booking.status == "accepted" else min(high, _aware(booking.updated_at))
        if end <= start:
            continue
        ends = _ends(ad)
        distance = booking.distance_m or ad.distance_m or 0
        for (travelled, at_hour), n in departures(ad, start, end).items():
            cell = counts[(travelled, "booked", *ends, at_hour)]
            cell[0] += booking.seats * n
            cell[1] += booking.seats * n * distance
    for (month, kind, fl, fo, fc, tl, to, tc, hour), (trips, metres) in counts.items():
        yield Trip(month, kind, fl, fo, fc, tl, to, tc, trips, round(metres / max(trips, 1)), hour)


def _ads(session: Session, first: str, last: str) -> Iterator[Trip]:
    """Offers and requests by the month they were published; requests no booking accepted: unmatched."""
    month = months.bucket(col(CarpoolAd.created_at), first, last, territory_zone(session))
    answered = (
        select(col(CarpoolBooking.ad_id))
        .where(col(CarpoolBooking.accepted_at).is_not(None))
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            month,
            col(CarpoolAd.role),
            col(CarpoolAd.id).in_(answered),
            CarpoolAd,
        ).where(
            *_mine(session),
            col(CarpoolAd.status) != "hidden",
            *months.within(col(CarpoolAd.created_at), first, last, territory_zone(session)),
        )
    ).all()
    counts: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for created_month, role, matched, ad in rows:
        ends = _ends(ad)
        kinds = (
            ["offered"] if role == "driver" else ["requested"] + ([] if matched else ["unmatched"])
        )
        for kind in kinds:
            cell = counts[(created_month, kind, *ends)]
            cell[0] += 1
            cell[1] += ad.distance_m
    for (m, kind, fl, fo, fc, tl, to, tc), (n, metres) in counts.items():
        yield Trip(m, kind, fl, fo, fc, tl, to, tc, n, round(metres / n))


def _proofs(session: Session, first: str, last: str) -> Iterator[Trip]:
    """Proofs of carpooling accepted by the registry (sent or already known), by the trip's month."""
    month = months.bucket(col(CarpoolProof.departure), first, last, territory_zone(session))
    rows = session.execute(
        select(month, col(CarpoolBooking.ad_id), func.count())
        .select_from(CarpoolProof)
        .join(CarpoolBooking, col(CarpoolBooking.id) == col(CarpoolProof.booking_id))
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolBooking.ad_id))
        .where(
            *_mine(session),
            col(CarpoolProof.status).in_(("sent", "duplicate")),
            *months.within(col(CarpoolProof.departure), first, last, territory_zone(session)),
        )
        .group_by(month, col(CarpoolBooking.ad_id))
    ).all()
    ads = {
        ad.id: ad
        for ad in session.scalars(
            select(CarpoolAd).where(col(CarpoolAd.id).in_({r[1] for r in rows}))
        )
    }
    for m, ad_id, n in rows:
        ad = ads[ad_id]
        yield Trip(m, "proof", *_ends(ad), n, ad.distance_m)


def trips(session: Session, first: str, last: str) -> Iterator[Trip]:
    yield from _booked(session, first, last)
    yield from _ads(session, first, last)
    yield from _proofs(session, first, last)


def _nearest_commune(session: Session) -> Any:
    territory = bound(session)
    query = select(Commune)
    if territory is not None:
        query = query.where(col(Commune.territory_id) == territory.id)
    communes = [(c.insee, c.lat, c.lon) for c in session.scalars(query)]
    if not communes:
        return lambda _lat, _lon: ""

    def nearest(lat: float, lon: float) -> str:
        return min(communes, key=lambda c: (c[1] - lat) ** 2 + ((c[2] - lon) * 0.65) ** 2)[0]

    return nearest


def _by_home_commune(
    session: Session, first: str, last: str, what: str
) -> dict[tuple[str, str], float]:
    """Booked trips (or their km) per month and the commune of the French end (the residents' side)."""
    nearest = _nearest_commune(session)
    out: dict[tuple[str, str], float] = defaultdict(float)
    for trip in _booked(session, first, last):
        if trip.from_country == "FR":
            insee = nearest(trip.from_lat, trip.from_lon)
        elif trip.to_country == "FR":
            insee = nearest(trip.to_lat, trip.to_lon)
        else:
            insee = ""
        out[(trip.month, insee)] += (
            trip.trips if what == "trips" else trip.trips * trip.distance_m / 1000
        )
    return out


def trips_figure(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    return _by_home_commune(session, first, last, "trips")


def km_figure(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    return _by_home_commune(session, first, last, "km")


FIGURES = (
    MonthlyFigure("carpool_trips", "mobility", N_("Trajets covoiturés"), "", 30, trips_figure),
    MonthlyFigure(
        "carpool_km_avoided",
        "mobility",
        N_("Kilomètres de voiture évités"),
        "km",
        31,
        km_figure,
        kind="amount",
        co2=CO2,
    ),
)
TRIP_SOURCES = (TripSource("carpool", trips),)

"""Carpool statistics for the territory and proofs of carpooling (JSON and CSV, pseudonymous)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.carpool.matching import Query, search
from app.carpool.shares import searched_territories
from app.carpool.trips import SPEED_KMH, driver_and_passenger, occurrences, parse_schedule
from app.csvsafe import csv_cell
from app.db import utcnow
from app.models.carpool import (
    CarpoolAd,
    CarpoolBooking,
)


def _of(territory_id: int | None) -> tuple[Any, ...]:
    """The condition keeping ads to one territory (none: every territory)."""
    return (col(CarpoolAd.territory_id) == territory_id,) if territory_id else ()


def statistics(
    session: Session, *, match_sample: int = 200, territory_id: int | None = None
) -> dict[str, Any]:
    """Figures for staff: ads, matches, bookings, cross-border share, estimated car-km saved; of
    the ads of ``territory_id`` and their bookings (None: every territory). A request is matched
    against the offers its territory's search finds."""
    now = utcnow()
    mine = _of(territory_id)
    ads = session.execute(
        select(
            col(CarpoolAd.role), col(CarpoolAd.status), col(CarpoolAd.cross_border), func.count()
        )
        .where(*mine)
        .group_by(col(CarpoolAd.role), col(CarpoolAd.status), col(CarpoolAd.cross_border))
    ).all()
    active = {"driver": 0, "passenger": 0}
    total = {"driver": 0, "passenger": 0}
    cross_active = 0
    for role, status, cross, n in ads:
        total[role] = total.get(role, 0) + n
        if status == "active":
            active[role] = active.get(role, 0) + n
            cross_active += n if cross else 0
    n_active = sum(active.values())
    bookings = dict(
        session.execute(
            select(col(CarpoolBooking.status), func.count())
            .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolBooking.ad_id))
            .where(*mine)
            .group_by(col(CarpoolBooking.status))
        ).all()
    )
    # Matches: active passenger requests that find at least one offer, and the pairs found.
    requests = session.scalars(
        select(CarpoolAd)
        .where(*mine, col(CarpoolAd.status) == "active", col(CarpoolAd.role) == "passenger")
        .limit(match_sample)
    ).all()
    searched = searched_territories(session, territory_id) if territory_id else None
    pairs = matched = 0
    for r in requests:
        q = Query(
            r.from_lat,
            r.from_lon,
            r.to_lat,
            r.to_lon,
            role="driver",
            frequency=r.frequency,
            when=r.departure_at,
            days_mask=r.days_mask,
            minute=next(iter(parse_schedule(r.schedule).values()), (450, 0))[0],
            margin_min=r.margin_min,
            viewer_id=r.user_id,
            territories=searched,
        )
        found = len(search(session, q, limit=1000))
        pairs += found
        matched += 1 if found else 0
    # Car-km saved: each accepted seat is a car that stayed home for the passenger's distance.
    accepted = session.execute(
        select(CarpoolBooking, CarpoolAd)
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolBooking.ad_id))
        .where(*mine, col(CarpoolBooking.status) == "accepted")
    ).all()
    km_done = 0.0
    km_week = 0.0
    cross_bookings = 0
    for b, ad in accepted:
        trips = occurrences(ad, b.accepted_at or b.created_at, now)
        km_done += len(trips) * b.seats * b.distance_m / 1000
        if ad.frequency == "regular":
            km_week += len(parse_schedule(ad.schedule)) * b.seats * b.distance_m / 1000
        cross_bookings += 1 if ad.cross_border else 0
    return {
        "offers_active": active.get("driver", 0),
        "offers_total": total.get("driver", 0),
        "requests_active": active.get("passenger", 0),
        "requests_total": total.get("passenger", 0),
        "requests_matched": matched,
        "requests_checked": len(requests),
        "match_pairs": pairs,
        "bookings": {
            k: bookings.get(k, 0) for k in ("pending", "accepted", "declined", "cancelled")
        },
        "accepted_bookings": bookings.get("accepted", 0),
        "cross_border_share": round(100 * cross_active / n_active, 1) if n_active else 0.0,
        "cross_border_bookings_share": round(100 * cross_bookings / len(accepted), 1)
        if accepted
        else 0.0,
        "km_saved": round(km_done, 1),
        "km_saved_per_week": round(km_week, 1),
    }


def pseudonym(secret: str, user_id: int) -> str:
    """A stable identifier that does not reveal the account (HMAC of the id)."""
    return hmac.new(
        secret.encode(), f"carpool-user:{user_id}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def proofs(
    session: Session,
    start: datetime,
    end: datetime,
    secret: str,
    *,
    territory_id: int | None = None,
) -> list[dict[str, Any]]:
    """Completed trips in [start, end) in the French carpool proof registry's class A shape, of the
    ads of ``territory_id`` (None: every territory).

    Class A: the operator put the two people in touch (no positions or times
    recorded by phones): start and end are the ad's points and scheduled time.
    Amounts are in cents, distances in metres.
    """
    now = utcnow()
    end = min(end, now)
    out: list[dict[str, Any]] = []
    rows = session.execute(
        select(CarpoolBooking, CarpoolAd)
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolBooking.ad_id))
        .where(*_of(territory_id), col(CarpoolBooking.status) == "accepted")
        .order_by(col(CarpoolBooking.id))
    ).all()
    for b, ad in rows:
        driver, passenger = driver_and_passenger(b, ad)
        since = max(start, b.accepted_at or b.created_at) if ad.frequency == "regular" else start
        for dep in occurrences(ad, since, end):
            arrival = dep + timedelta(seconds=int(b.distance_m / 1000 / SPEED_KMH * 3600))
            amount = b.price_cents * b.seats
            out.append(
                {
                    "operator_journey_id": f"eclor{b.id}t{dep.strftime('%Y%m%d%H%M')}",
                    "operator_trip_id": f"eclorad{ad.id}t{dep.strftime('%Y%m%d%H%M')}",
                    "operator_class": "A",
                    "start": {
                        "datetime": dep.isoformat().replace("+00:00", "Z"),
                        "lat": round(ad.from_lat, 4),
                        "lon": round(ad.from_lon, 4),
                    },
                    "end": {
                        "datetime": arrival.isoformat().replace("+00:00", "Z"),
                        "lat": round(ad.to_lat, 4),
                        "lon": round(ad.to_lon, 4),
                    },
                    "distance": b.distance_m,
                    "driver": {
                        "identity": {"operator_user_id": pseudonym(secret, driver)},
                        "revenue": amount,
                    },
                    "passenger": {
                        "identity": {"operator_user_id": pseudonym(secret, passenger)},
                        "contribution": amount,
                        "seats": b.seats,
                    },
                    "incentives": [],
                }
            )
    return out


PROOF_CSV_COLUMNS = [
    "operator_journey_id",
    "operator_trip_id",
    "operator_class",
    "start.datetime",
    "start.lat",
    "start.lon",
    "end.datetime",
    "end.lat",
    "end.lon",
    "distance",
    "driver.identity.operator_user_id",
    "driver.revenue",
    "passenger.identity.operator_user_id",
    "passenger.contribution",
    "passenger.seats",
]


def proofs_csv(items: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PROOF_CSV_COLUMNS)
    for item in items:
        row = []
        for column in PROOF_CSV_COLUMNS:
            value: Any = item
            for part in column.split("."):
                value = value[part]
            row.append(csv_cell(value))
        writer.writerow(row)
    return buf.getvalue()

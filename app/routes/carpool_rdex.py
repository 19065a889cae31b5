"""The RDEX+ carpool API (journeys searched by other platforms)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.auth import PUBLIC
from app.carpool import matching, proofs
from app.carpool import trips as carpool_trips
from app.db import saved_id, utcnow
from app.models.carpool import (
    CarpoolAd,
)

# --- RDEX+ ------------------------------------------------------------------------------


def _rdex_error(message: str) -> Response[Any]:
    return Response({"status_code": 400, "detail": message}, status_code=400)


def _float(params: Any, name: str) -> float | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    return float(value)


def rdex_journey(ad: CarpoolAd, name: str, base: str, secret: str) -> dict[str, Any]:
    duration = int(ad.distance_m / 1000 / carpool_trips.SPEED_KMH * 3600)
    journey: dict[str, Any] = {
        "id": f"eclor-{ad.id}",
        "webUrl": f"{base}/carpool/ads/{ad.id}",
        "type": "planned",
        "operator": "Eclor",
        "carpoolerType": ad.role,
        "user": {
            "id": proofs.pseudonym(secret, ad.user_id),
            "alias": name,
            "grade": None,
            "picture": None,
            "gender": None,
        },
        "from": {
            "latitude": ad.from_lat,
            "longitude": ad.from_lon,
            "address": ad.from_label,
            "country": carpool_trips.country_of(ad.from_lat, ad.from_lon),
        },
        "to": {
            "latitude": ad.to_lat,
            "longitude": ad.to_lon,
            "address": ad.to_label,
            "country": carpool_trips.country_of(ad.to_lat, ad.to_lon),
        },
        "duration": duration,
        "distance": ad.distance_m,
        "journeyPolyline": carpool_trips.encode_polyline(
            [(ad.from_lat, ad.from_lon), (ad.to_lat, ad.to_lon)]
        ),
        "frequency": ad.frequency,
    }
    if ad.role == "driver":
        journey["availableSeats"] = ad.seats_left
        amount = carpool_trips.trip_price_cents(ad.distance_m, ad.price_per_km_cents) / 100
        journey["price"] = {
            "amount": amount,
            "type": "variable" if amount else "free",
            "currency": "EUR",
        }
    else:
        journey["requestedSeats"] = ad.seats_left
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    outward: dict[str, Any] = {}
    if ad.frequency == "punctual" and ad.departure_at:
        dep = ad.departure_at
        outward["mindate"] = outward["maxdate"] = dep.date().isoformat()
    else:
        outward["mindate"] = carpool_trips.local(ad.created_at).date().isoformat()
        outward["maxdate"] = ad.valid_until.isoformat() if ad.valid_until else None
    for d, (m, g) in carpool_trips.parse_schedule(ad.schedule).items():
        utc_day = datetime.combine(
            date.today(), time(m // 60, m % 60), tzinfo=carpool_trips.PARIS
        ).astimezone(UTC)
        lo, hi = utc_day - timedelta(minutes=g), utc_day + timedelta(minutes=g)
        outward[days[d]] = {"mintime": lo.strftime("%H:%M:%S"), "maxtime": hi.strftime("%H:%M:%S")}
    journey["outward"] = outward
    return journey


@get("/api/rdex/journeys", opt=PUBLIC, sync_to_thread=True, name="rdex_journeys")
def rdex_journeys(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[Any]:
    """Carpool ads as RDEX+ journeys.

    Search parameters: ``departureLat``, ``departureLng``, ``arrivalLat``,
    ``arrivalLng`` (all four, or none for every active offer), ``carpoolerType``
    (driver, passenger or both; default driver), ``frequency`` (punctual,
    regular or both), ``departureDate`` (ISO date or date-time, Europe/Paris
    when no offset), ``timeDelta`` (seconds, default 900), ``departureRadius``
    and ``arrivalRadius`` (km, default 1).
    """
    p = request.query_params
    try:
        coords = [
            _float(p, n) for n in ("departureLat", "departureLng", "arrivalLat", "arrivalLng")
        ]
        dep_radius = float(p.get("departureRadius") or 1) * 1000
        arr_radius = float(p.get("arrivalRadius") or 1) * 1000
        delta = int(p.get("timeDelta") or carpool_trips.RDEX_TIME_DELTA_S)
    except ValueError:
        return _rdex_error("Paramètres numériques invalides.")
    ctype = p.get("carpoolerType") or "driver"
    freq = p.get("frequency") or "both"
    if ctype not in ("driver", "passenger", "both") or freq not in ("punctual", "regular", "both"):
        return _rdex_error("carpoolerType ou frequency invalide.")
    if not (0 < dep_radius <= 50_000 and 0 < arr_radius <= 50_000 and 0 <= delta <= 86_400):
        return _rdex_error("Rayon (0–50 km) ou timeDelta (0–86400 s) hors limites.")
    when = None
    if p.get("departureDate"):
        try:
            when = datetime.fromisoformat(p["departureDate"])
        except ValueError:
            return _rdex_error("departureDate invalide (ISO 8601).")
        if when.tzinfo is None:
            when = when.replace(tzinfo=carpool_trips.PARIS)
        if len(p["departureDate"]) <= 10:
            when = when.replace(hour=12)
            delta = max(delta, 12 * 3600)
        when = when.astimezone(UTC)
    roles = ("driver", "passenger") if ctype == "both" else (ctype,)
    base = request.app.state.settings.base_url.rstrip("/")
    secret = request.app.state.settings.secret_key
    ads: list[CarpoolAd] = []
    given = [c for c in coords if c is not None]
    if given:
        if len(given) < len(coords):
            return _rdex_error(
                "departureLat, departureLng, arrivalLat et arrivalLng vont ensemble."
            )
        for role in roles:
            for frequency in ("punctual", "regular") if freq == "both" else (freq,):
                if frequency == "punctual" and when is None:
                    continue
                q = matching.Query(
                    given[0],
                    given[1],
                    given[2],
                    given[3],
                    role=role,
                    frequency=frequency,
                    when=when,
                    days_mask=127 if when is None else 0,
                    minute=carpool_trips.minute_of(carpool_trips.local(when).time())
                    if when
                    else 720,
                    margin_min=min(carpool_trips.MAX_SEARCH_MARGIN_MIN * 6, delta // 60)
                    if when
                    else 720,
                    from_radius_m=int(dep_radius),
                    to_radius_m=int(arr_radius),
                )
                matches = matching.search(db, q, limit=100)
                loaded = {
                    a.id: a
                    for a in db.scalars(
                        select(CarpoolAd).where(col(CarpoolAd.id).in_([m.ad_id for m in matches]))
                    )
                }
                ads.extend(loaded[m.ad_id] for m in matches if m.ad_id in loaded)
    else:
        stmt = select(CarpoolAd).where(
            col(CarpoolAd.status) == "active",
            col(CarpoolAd.role).in_(roles),
            or_(col(CarpoolAd.departure_at).is_(None), col(CarpoolAd.departure_at) > utcnow()),
        )
        if freq != "both":
            stmt = stmt.where(col(CarpoolAd.frequency) == freq)
        ads = list(db.scalars(stmt.order_by(col(CarpoolAd.id)).limit(500)))
    seen: set[int] = set()
    unique = []
    for ad in ads:
        if ad.id not in seen:
            seen.add(saved_id(ad))
            unique.append(ad)
    names = matching.display_names(db, [a.user_id for a in unique])
    body = [rdex_journey(a, names.get(a.user_id, ""), base, secret) for a in unique]
    return Response(body, headers={"cache-control": "public, max-age=60"})

"""RDEX+ (FabMob, OpenAPI 2.0.1): carpool ads as ``Journey`` objects, and the search's parameters.

``GET /api/rdex/journeys`` answers ``{"journeys": [...], "nbJourneys": n}``.
Dates are UNIX UTC seconds; a regular trip's ``WeekSchedule`` gives UTC
times of day (``"06:30:00"``), each converted from the trip's local time with
the offset of the date it applies to (the next such weekday from the start of
the searched period), so 07:30 in Audun-le-Tiche is 06:30 UTC in winter and
05:30 UTC in summer. Optional values are left out, never ``null``.

RDEX v1 clients still send ``p[from][latitude]``-style parameters: the
coordinates, ``p[driver][state]`` / ``p[passenger][state]``,
``p[frequency]`` and ``p[outward][mindate]`` / ``p[outward][maxdate]`` are
read as their RDEX+ equivalents; any other ``p[...]`` parameter is refused
(400) rather than ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.carpool import matching
from app.carpool.proofs import pseudonym
from app.carpool.trips import (
    MAX_SEARCH_MARGIN_MIN,
    RDEX_TIME_DELTA_S,
    SPEED_KMH,
    country_of,
    encode_polyline,
    departure_on,
    local,
    mask_of,
    minute_of,
    parse_schedule,
    trip_price_cents,
    zone_of,
)
from app import i18n
from app.db import utcnow
from app.models.carpool import CarpoolAd

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_RADIUS_KM = 50.0

# RDEX v1 parameter -> its RDEX+ name (values are mapped in ``rdex_params``).
V1_PARAMS = {
    "p[from][latitude]": "departureLat",
    "p[from][longitude]": "departureLng",
    "p[to][latitude]": "arrivalLat",
    "p[to][longitude]": "arrivalLng",
    "p[frequency]": "frequency",
    "p[outward][mindate]": "departureDate",
    "p[outward][maxdate]": "maxDate",
    "p[driver][state]": "",
    "p[passenger][state]": "",
}
# Parameters that are not search criteria: RDEX v1 signatures and the RDEX+ api key.
IGNORED_PARAMS = {"timestamp", "apikey", "signature", "api_key"}
KNOWN_PARAMS = {
    "departureLat",
    "departureLng",
    "arrivalLat",
    "arrivalLng",
    "carpoolerType",
    "frequency",
    "departureDate",
    "maxDate",
    "regularSchedule",
    "timeDelta",
    "departureRadius",
    "arrivalRadius",
    "count",
}


class RdexError(ValueError):
    """A refused search: ``code`` is one of RDEX+'s ``Error.errorCode`` values."""

    def __init__(self, message: str, code: str = "invalid_input") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RdexSearch:
    departure: tuple[float, float]
    arrival: tuple[float, float]
    roles: tuple[str, ...] = ("driver",)
    frequencies: tuple[str, ...] = ("punctual",)
    when: datetime = field(default_factory=utcnow)
    max_date: datetime | None = None
    schedule: dict[int, tuple[int, int]] = field(default_factory=dict)  # local minute, margin min
    delta_s: int = RDEX_TIME_DELTA_S
    departure_radius_m: int = 1000
    arrival_radius_m: int = 1000
    count: int | None = None
    zone: ZoneInfo = field(default_factory=i18n.zone)  # the territory asked: its local times


def _number(params: Mapping[str, str], name: str) -> float | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        number = float(str(value))
    except ValueError:
        raise RdexError(f"{name} must be a number.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise RdexError(f"{name} must be a finite number.")
    return number


def _integer(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise RdexError(f"{name} must be an integer.") from None


def _v1_date(value: str, name: str, zone: ZoneInfo) -> str:
    """RDEX v1 dates are ``YYYY-MM-DD`` (local, in ``zone``): the UNIX seconds of that day's midnight."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise RdexError(f"{name} must be a date (YYYY-MM-DD).") from None
    return str(int(datetime.combine(day, time(0, 0), tzinfo=zone).timestamp()))


def normalised(raw: Mapping[str, str], zone: ZoneInfo) -> dict[str, str]:
    """RDEX+ parameters from a query string that may use RDEX v1 names; unknown ones refused (the
    local dates of RDEX v1 are read in ``zone``, the territory's asked)."""
    params: dict[str, str] = {}
    roles: list[str] = []
    unknown: list[str] = []
    for name, value in raw.items():
        if name in IGNORED_PARAMS:
            continue
        if name in KNOWN_PARAMS:
            params[name] = value
        elif name in ("p[driver][state]", "p[passenger][state]"):
            if value not in ("0", "1"):
                raise RdexError(f"{name} must be 0 or 1.")
            if value == "1":
                roles.append("driver" if "driver" in name else "passenger")
        elif name in V1_PARAMS:
            target = V1_PARAMS[name]
            if target in ("departureDate", "maxDate"):
                value = _v1_date(value, name, zone)
            params.setdefault(target, value)
        else:
            unknown.append(name)
    if unknown:
        raise RdexError("Unsupported parameter(s): " + ", ".join(sorted(unknown)) + ".")
    if roles and "carpoolerType" not in params:
        params["carpoolerType"] = roles[0] if len(roles) == 1 else "both"
    return params


def _utc_time(value: str, name: str) -> time:
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise RdexError(f"{name} must be a time of day (HH:MM:SS).") from None
    return parsed.replace(tzinfo=None)


def local_minute_of_utc(day: date, utc_time: time, zone: ZoneInfo) -> int:
    """The local minute of day (in ``zone``) of a UTC time of day, on ``day``."""
    at = datetime.combine(day, utc_time, tzinfo=UTC).astimezone(zone)
    return minute_of(at.time())


def next_weekday_on_or_after(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def parse_week_schedule(
    text: str, start: date, default_delta_s: int, zone: ZoneInfo
) -> dict[int, tuple[int, int]]:
    """``regularSchedule`` (JSON: one WeekSchedule or an array of them) as weekday -> (local minute, margin)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise RdexError("regularSchedule must be a JSON array of WeekSchedule objects.") from None
    items = value if isinstance(value, list) else [value]
    out: dict[int, tuple[int, int]] = {}
    for item in items:
        if not isinstance(item, dict):
            raise RdexError("regularSchedule must be a JSON array of WeekSchedule objects.")
        for d, day in enumerate(DAYS):
            if f"{day}Time" not in item:
                continue
            at = _utc_time(str(item[f"{day}Time"]), f"{day}Time")
            delta = item.get(f"{day}TimeDelta", default_delta_s)
            if not isinstance(delta, int) or not 0 <= delta <= 86_400:
                raise RdexError(f"{day}TimeDelta must be an integer of seconds (0-86400).")
            minute = local_minute_of_utc(next_weekday_on_or_after(start, d), at, zone)
            out[d] = (minute, delta // 60)
    if not out:
        raise RdexError("regularSchedule gives no day.")
    return out


def parse_search(raw: Mapping[str, str], zone: ZoneInfo) -> RdexSearch:
    """The search an RDEX+ (or RDEX v1) query string asks for, local times in ``zone`` (the
    territory's asked); raises RdexError."""
    params = normalised(raw, zone)
    coords = [
        _number(params, n) for n in ("departureLat", "departureLng", "arrivalLat", "arrivalLng")
    ]
    if any(c is None for c in coords):
        raise RdexError(
            "departureLat, departureLng, arrivalLat and arrivalLng are required.",
            "missing_required_query_parameter",
        )
    lat0, lon0, lat1, lon1 = (float(c or 0.0) for c in coords)
    if not (
        -90 <= lat0 <= 90 and -90 <= lat1 <= 90 and -180 <= lon0 <= 180 and -180 <= lon1 <= 180
    ):
        raise RdexError("Coordinates out of range.")
    ctype = params.get("carpoolerType") or "driver"
    freq = params.get("frequency") or "punctual"
    if ctype not in ("driver", "passenger", "both"):
        raise RdexError("carpoolerType must be driver, passenger or both.")
    if freq not in ("punctual", "regular", "both"):
        raise RdexError("frequency must be punctual, regular or both.")
    dep_radius = _number(params, "departureRadius")
    arr_radius = _number(params, "arrivalRadius")
    delta = _integer(params, "timeDelta")
    delta = RDEX_TIME_DELTA_S if delta is None else delta
    count = _integer(params, "count")
    for radius in (dep_radius, arr_radius):
        if radius is not None and not 0 < radius <= MAX_RADIUS_KM:
            raise RdexError(
                f"departureRadius and arrivalRadius must be in (0, {MAX_RADIUS_KM:.0f}] km."
            )
    if not 0 <= delta <= 86_400:
        raise RdexError("timeDelta must be between 0 and 86400 seconds.")
    if count is not None and count < 0:
        raise RdexError("count must not be negative.")
    now = utcnow()
    stamp = _integer(params, "departureDate")
    try:
        when = now if stamp is None else datetime.fromtimestamp(stamp, UTC)
        max_stamp = _integer(params, "maxDate")
        max_date = None if max_stamp is None else datetime.fromtimestamp(max_stamp, UTC)
    except (OverflowError, OSError, ValueError):
        raise RdexError("departureDate and maxDate must be UNIX timestamps in seconds.") from None
    search = RdexSearch(
        departure=(lat0, lon0),
        arrival=(lat1, lon1),
        roles=("driver", "passenger") if ctype == "both" else (ctype,),
        frequencies=("punctual", "regular") if freq == "both" else (freq,),
        when=when,
        max_date=max_date,
        delta_s=delta,
        zone=zone,
        departure_radius_m=int((dep_radius or 1.0) * 1000),
        arrival_radius_m=int((arr_radius or 1.0) * 1000),
        count=count,
    )
    if params.get("regularSchedule"):
        search.schedule = parse_week_schedule(
            params["regularSchedule"], local(max(when, now), zone).date(), delta, zone
        )
    return search


def find(
    session: Session, search: RdexSearch, territories: tuple[int, ...] | None = None
) -> list[CarpoolAd]:
    """The active ads that fit the search, best first, each once: of ``territories`` (the host's
    and those sharing with it both ways; None: every territory)."""
    found: list[tuple[float, int]] = []
    for role in search.roles:
        for frequency in search.frequencies:
            margin = min(MAX_SEARCH_MARGIN_MIN * 6, search.delta_s // 60)
            if frequency == "punctual":
                q = matching.Query(
                    *search.departure,
                    *search.arrival,
                    role=role,
                    frequency="punctual",
                    when=search.when,
                    margin_min=margin,
                    from_radius_m=search.departure_radius_m,
                    to_radius_m=search.arrival_radius_m,
                    territories=territories,
                    zone=search.zone,
                )
            elif search.schedule:
                minutes = sorted(m for m, _g in search.schedule.values())
                q = matching.Query(
                    *search.departure,
                    *search.arrival,
                    role=role,
                    frequency="regular",
                    days_mask=mask_of(search.schedule),
                    minute=minutes[len(minutes) // 2],
                    margin_min=max(g for _m, g in search.schedule.values())
                    + (minutes[-1] - minutes[0]) // 2,
                    from_radius_m=search.departure_radius_m,
                    to_radius_m=search.arrival_radius_m,
                    territories=territories,
                    zone=search.zone,
                )
            else:  # every regular trip between the points, whatever its days and times
                q = matching.Query(
                    *search.departure,
                    *search.arrival,
                    role=role,
                    frequency="regular",
                    days_mask=127,
                    minute=720,
                    margin_min=720,
                    from_radius_m=search.departure_radius_m,
                    to_radius_m=search.arrival_radius_m,
                    territories=territories,
                    zone=search.zone,
                )
            found.extend((m.score, m.ad_id) for m in matching.search(session, q, limit=500))
    if not found:
        return []
    ads = {
        a.id: a
        for a in session.scalars(
            select(CarpoolAd).where(col(CarpoolAd.id).in_({i for _s, i in found}))
        )
    }
    out: list[CarpoolAd] = []
    seen: set[int] = set()
    for _score, ad_id in sorted(found, key=lambda x: (-x[0], x[1])):
        ad = ads.get(ad_id)
        if ad is None or ad_id in seen or ad.frequency not in search.frequencies:
            continue
        if search.max_date is not None and ad.frequency == "punctual" and ad.departure_at:
            if ad.departure_at > search.max_date:
                continue
        seen.add(ad_id)
        out.append(ad)
    return out[: search.count] if search.count is not None else out


def _stamp(dt: datetime) -> int:
    return int(dt.timestamp())


def week_schedule(ad: CarpoolAd, start: date) -> dict[str, Any]:
    """The ad's weekly times as one RDEX+ WeekSchedule, in UTC with the offset of each weekday's next
    date (in the ad's territory)."""
    out: dict[str, Any] = {}
    zone = zone_of(ad)
    for d, (m, g) in sorted(parse_schedule(ad.schedule).items()):
        at = departure_on(next_weekday_on_or_after(start, d), m, zone)
        out[f"{DAYS[d]}Time"] = at.strftime("%H:%M:%S")
        out[f"{DAYS[d]}TimeDelta"] = g * 60
    return out


def journey(
    ad: CarpoolAd, alias: str, base: str, secret: str, *, start: date | None = None
) -> dict[str, Any]:
    """One ad as an RDEX+ ``Journey`` (``start``: the first day the regular times apply to)."""
    duration = int(ad.distance_m / 1000 / SPEED_KMH * 3600)
    out: dict[str, Any] = {
        "id": f"eclor{ad.id}",
        "webUrl": f"{base}/carpool/ads/{ad.id}",
        "type": "planned",
        "operator": "Eclor",
        "operatorUrl": base,
        "carpoolerType": ad.role,
        "user": {"id": pseudonym(secret, ad.user_id), "alias": alias or "Eclor"},
        "from": {
            "latitude": ad.from_lat,
            "longitude": ad.from_lon,
            "address": ad.from_label,
            "country": country_of(ad.from_lat, ad.from_lon),
        },
        "to": {
            "latitude": ad.to_lat,
            "longitude": ad.to_lon,
            "address": ad.to_label,
            "country": country_of(ad.to_lat, ad.to_lon),
        },
        "duration": duration,
        "distance": ad.distance_m,
        "journeyPolyline": encode_polyline([(ad.from_lat, ad.from_lon), (ad.to_lat, ad.to_lon)]),
        "frequency": ad.frequency,
        "isRoundTrip": 0,
        "isStopped": 0 if ad.status == "active" else 1,
    }
    if ad.comment:
        out["details"] = ad.comment
    if ad.role == "driver":
        out["availableSeats"] = ad.seats_left
        amount = trip_price_cents(ad.distance_m, ad.price_per_km_cents) / 100
        out["price"] = (
            {
                "amount": amount,
                "type": "variable",
                "currency": "EUR",
                "kilometricPrice": f"{ad.price_per_km_cents / 100:.2f}",
            }
            if amount
            else {"amount": 0, "type": "free", "currency": "EUR"}
        )
    else:
        out["requestedSeats"] = ad.seats_left
    if ad.frequency == "punctual" and ad.departure_at:
        out["outward"] = {"departureDate": _stamp(ad.departure_at), "timeDelta": ad.margin_min * 60}
    else:
        zone = zone_of(ad)
        first = local(ad.created_at, zone).date()
        begin = max(first, start or local(utcnow(), zone).date())
        outward: dict[str, Any] = {
            "departureDate": _stamp(datetime.combine(first, time(0, 0), tzinfo=zone)),
            "regularSchedule": [week_schedule(ad, begin)],
            "timeDelta": ad.margin_min * 60,
        }
        if ad.valid_until:
            outward["maxDate"] = _stamp(
                datetime.combine(ad.valid_until, time(23, 59, 59), tzinfo=zone)
            )
        out["outward"] = outward
    return out

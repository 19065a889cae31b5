"""Carpool trip basics shared by every part of the domain: limits, places, weekly schedules, prices and departures."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from app import geo
from app import i18n
from app.i18n import gettext as _
from app.models.carpool import (
    CarpoolAd,
    CarpoolBooking,
    CarpoolPlace,
)
from app.models.territory import Commune
from app.territories import zone as territory_zone

ROAD_FACTOR = geo.ROAD_FACTOR  # road distance ≈ straight line × 1.3
SPEED_KMH = 50.0  # to estimate when the driver reaches a pick-up point
MAX_DETOUR = 0.33  # at most 33% extra for the driver (Mobicoop)
MIN_SHARED = 0.30  # the passenger's part is at least 30% of the driver's route (Mobicoop)
DEFAULT_RADIUS_M = 5_000  # web searches: the territory is small, communes are 2–5 km apart
RDEX_RADIUS_M = 1_000  # RDEX+ default departureRadius / arrivalRadius
RDEX_TIME_DELTA_S = 900  # RDEX+ default timeDelta
MAX_AD_MARGIN_MIN = 60
MAX_SEARCH_MARGIN_MIN = 120
MAX_PRICE_PER_KM_CENTS = 10  # per passenger: the cap of Luxembourg's own cross-border service
DEFAULT_PRICE_PER_KM_CENTS = 8
MAX_SEATS = 8
REMINDER_BEFORE = timedelta(minutes=60)
SEARCH_LIMIT = 50
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
WEEKDAYS_SHORT = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
BOOKING_STATUS = {
    "pending": "En attente",
    "accepted": "Acceptée",
    "declined": "Refusée",
    "cancelled": "Annulée",
}
REPORT_REASONS = {
    "commercial": "Annonce commerciale ou transport payant",
    "fake": "Fausse annonce",
    "offensive": "Contenu choquant ou discriminatoire",
    "behaviour": "Comportement inapproprié",
    "other": "Autre raison",
}

# Luxembourg's border, coarsely (lat, lon), to tell cross-border trips apart.
_LUXEMBOURG = [
    (49.4475, 6.3670),
    (49.4690, 6.2500),
    (49.4640, 6.1700),
    (49.4600, 6.0800),
    (49.4700, 6.0300),
    (49.4840, 5.9800),
    (49.4900, 5.9600),
    (49.5050, 5.9000),
    (49.5200, 5.8300),
    (49.5450, 5.8150),
    (49.5950, 5.8650),
    (49.6600, 5.8800),
    (49.7200, 5.8000),
    (49.8000, 5.7400),
    (49.9000, 5.7500),
    (50.0000, 5.8000),
    (50.1300, 5.9700),
    (50.1800, 6.0300),
    (50.1300, 6.1350),
    (50.0000, 6.1400),
    (49.9000, 6.2200),
    (49.8600, 6.3200),
    (49.8000, 6.4700),
    (49.7100, 6.5100),
    (49.6200, 6.4200),
    (49.5200, 6.3700),
]


class CarpoolError(ValueError):
    """An action that cannot be done, with a French message for the person."""


# --- geometry ---------------------------------------------------------------------------

KY = geo.EARTH_RADIUS_M * math.pi / 180  # metres per degree of latitude


road_m = geo.road_m


def country_of(lat: float, lon: float) -> str:
    """``LU`` inside Luxembourg's (coarse) border, else ``FR``."""
    return "LU" if geo.point_in_polygon(lat, lon, _LUXEMBOURG) else "FR"


def encode_polyline(points: Sequence[tuple[float, float]]) -> str:
    """Google's encoded polyline (precision 5), as RDEX+ ``journeyPolyline`` expects."""
    out: list[str] = []
    prev_lat = prev_lon = 0
    for lat, lon in points:
        ilat, ilon = round(lat * 1e5), round(lon * 1e5)
        for delta in (ilat - prev_lat, ilon - prev_lon):
            value = ~(delta << 1) if delta < 0 else delta << 1
            while value >= 0x20:
                out.append(chr((0x20 | (value & 0x1F)) + 63))
                value >>= 5
            out.append(chr(value + 63))
        prev_lat, prev_lon = ilat, ilon
    return "".join(out)


# --- places -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    slug: str
    name: str
    lat: float
    lon: float
    country: str
    kind: str


def list_places(session: Session) -> list[Place]:
    """The communes' centres first, then the common places (park-and-rides, stations, districts)."""
    places = [
        Place(f"commune-{c.insee}", c.name, c.lat, c.lon, "FR", "commune")
        for c in session.scalars(select(Commune).order_by(col(Commune.name)))
    ]
    places += [
        Place(p.slug, p.name, p.lat, p.lon, p.country, p.kind)
        for p in session.scalars(
            select(CarpoolPlace).order_by(col(CarpoolPlace.country), col(CarpoolPlace.name))
        )
    ]
    return places


def resolve_point(
    session: Session,
    place: str | None,
    lat: str | float | None,
    lon: str | float | None,
    label: str | None = None,
) -> tuple[str, float, float]:
    """A place from the list (its slug) or a point picked on the map (lat, lon): (label, lat, lon)."""
    if place and place != "map":
        for p in list_places(session):
            if p.slug == place:
                return p.name, p.lat, p.lon
        raise CarpoolError(_("Lieu inconnu : choisissez-le dans la liste."))
    try:
        if lat is None or lon is None:
            raise TypeError("no point")
        flat, flon = float(lat), float(lon)
    except (TypeError, ValueError):
        raise CarpoolError(_("Choisissez un lieu dans la liste ou sur la carte.")) from None
    if not (48.0 <= flat <= 51.5 and 4.0 <= flon <= 8.5):
        raise CarpoolError(_("Ce point est trop loin du territoire."))
    nearest = min(
        list_places(session), key=lambda p: geo.distance_m(flat, flon, p.lat, p.lon), default=None
    )
    text = (label or "").strip()[:120]
    if not text:
        if nearest is not None and geo.distance_m(flat, flon, nearest.lat, nearest.lon) < 1500:
            text = _("Près de %(place)s") % {"place": nearest.name}
        else:
            text = f"{flat:.4f}, {flon:.4f}"
    return text, round(flat, 6), round(flon, 6)


# --- schedules and prices ---------------------------------------------------------------


def mask_of(days: Iterable[int]) -> int:
    mask = 0
    for d in days:
        mask |= 1 << d
    return mask


def days_of(mask: int) -> list[int]:
    return [d for d in range(7) if mask & (1 << d)]


def minute_of(value: time) -> int:
    return value.hour * 60 + value.minute


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@lru_cache(maxsize=65536)
def parse_schedule(text: str) -> dict[int, tuple[int, int]]:
    """Weekday → (minute of day, margin). Cached: do not modify the result."""
    return {int(k): (int(v[0]), int(v[1])) for k, v in json.loads(text or "{}").items()}


def dump_schedule(schedule: dict[int, tuple[int, int]]) -> str:
    return json.dumps(
        {str(d): [m, g] for d, (m, g) in sorted(schedule.items())}, separators=(",", ":")
    )


def local(dt: datetime, zone: ZoneInfo) -> datetime:
    """``dt`` on the wall clock of ``zone`` (an ad's: :func:`zone_of`; a page's: its territory's)."""
    return dt.astimezone(zone)


def zone_of(ad: CarpoolAd) -> ZoneInfo:
    """The time zone of the ad's territory: its weekly times are that territory's wall-clock times.
    An ad not yet in a session (a form being checked) takes the reader's zone."""
    session = object_session(ad)
    if session is None or ad.territory_id is None:
        return i18n.zone()
    # object_session() types the ad's session as SQLAlchemy's; it is the SQLModel session it was read in.
    return territory_zone(session, ad.territory_id)  # type: ignore[arg-type]


def departure_on(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC moment of ``minute`` (after local midnight) on ``day`` in ``zone``."""
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).astimezone(UTC)


def trip_price_cents(distance_m: int, per_km_cents: int) -> int:
    """A passenger's share for a distance, rounded to 10 cents."""
    return round(distance_m / 1000 * per_km_cents / 10.0) * 10


def euros(cents: int) -> str:
    return f"{cents / 100:.2f}".replace(".", ",") + " €"


def trip_title(ad: CarpoolAd) -> str:
    return f"{ad.from_label} → {ad.to_label}"


def schedule_text(ad: CarpoolAd) -> str:
    """« mar. 12 nov. 07:30 » for a one-off trip, « lun., mar. à 07:30 » for a regular one."""
    if ad.frequency == "punctual" and ad.departure_at:
        from app.templating import format_datetime

        return format_datetime(ad.departure_at, "EEE d MMM HH:mm")
    sched = parse_schedule(ad.schedule)
    by_time: dict[int, list[int]] = {}
    for d, (m, _g) in sorted(sched.items()):
        by_time.setdefault(m, []).append(d)
    parts = [
        ", ".join(_(WEEKDAYS_SHORT[d]) for d in ds) + " " + hhmm(m) for m, ds in by_time.items()
    ]
    return " · ".join(parts)


def driver_and_passenger(booking: CarpoolBooking, ad: CarpoolAd) -> tuple[int, int]:
    if ad.role == "driver":
        return booking.owner_id, booking.requester_id
    return booking.requester_id, booking.owner_id


# --- reminders --------------------------------------------------------------------------


def next_departure(ad: CarpoolAd, after: datetime) -> datetime | None:
    """The next departure of ``ad`` strictly after ``after`` (UTC), or None."""
    if ad.frequency == "punctual":
        return ad.departure_at if ad.departure_at and ad.departure_at > after else None
    sched = parse_schedule(ad.schedule)
    zone = zone_of(ad)
    start = local(after, zone).date()
    for i in range(15):
        day = start + timedelta(days=i)
        if ad.valid_until and day > ad.valid_until:
            return None
        if day.weekday() in sched:
            dep = departure_on(day, sched[day.weekday()][0], zone)
            if dep > after:
                return dep
    return None


# --- statistics and proofs --------------------------------------------------------------


def occurrences(ad: CarpoolAd, start: datetime, end: datetime) -> list[datetime]:
    """The departures of ``ad`` in [start, end) (UTC)."""
    if ad.frequency == "punctual":
        return [ad.departure_at] if ad.departure_at and start <= ad.departure_at < end else []
    out: list[datetime] = []
    sched = parse_schedule(ad.schedule)
    zone = zone_of(ad)
    day = local(start, zone).date()
    last = local(end, zone).date()
    while day <= last:
        if day.weekday() in sched and not (ad.valid_until and day > ad.valid_until):
            dep = departure_on(day, sched[day.weekday()][0], zone)
            if start <= dep < end:
                out.append(dep)
        day += timedelta(days=1)
    return out

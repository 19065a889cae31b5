"""Carpooling logic shared by the web pages, the RDEX+ API, the worker and the CLI.

Matching (after Mobicoop and RDEX+)
-----------------------------------
A search looks for ads of one role (drivers' offers, or passengers'
requests) between two points.

1. **Prefilter in SQL** (``candidates_statement``): active ads of the sought
   role with seats left, whose start lies in a bounding box of ``from_radius``
   around the searched start and whose end lies in a box of ``to_radius``
   around the searched end (indexed ``lat``/``lon`` columns), and whose time
   can fit: one-off ads departing within the search margin plus the widest ad
   margin, regular ads running on a searched weekday with a time window that
   overlaps the searched one (a bitmask and two minute columns).
2. **Score in Python** (``score``). With the driver's route A→B and the
   passenger's trip P→Q (either side may be the search):

   - pick-up and drop-off distances (|P−A|, |Q−B| as the crow flies) must be
     within the radii;
   - the detour A→P→Q→B against A→B must be at most 33% extra (straight
     lines; the road factor cancels out in the ratio), and P→Q must be at
     least 30% of A→B (shared part);
   - the time the driver reaches P (departure + |A−P| × road factor at
     50 km/h) must be within the sum of both margins of the passenger's
     time; a regular trip keeps the weekdays where it fits, and needs one.

   ``score`` = 100 × (0.4 × (1 − detour / 33%) + 0.3 × (1 − mean end
   distance / radius) + 0.3 × (1 − time difference / allowed difference)),
   times, for regular searches, (0.5 + 0.5 × share of the searched weekdays
   served). Results are sorted by score, best first.

Distances shown to people are road estimates: haversine × 1.3.

Booking
-------
A request takes its seats from the ad at once, with a conditional
``UPDATE ... SET seats_left = seats_left - n WHERE seats_left >= n`` inside a
write transaction, so seats are never oversold, even under concurrent
requests. Declining or cancelling gives them back exactly once (the booking's
own status change is conditional too).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app import geo, moderation
from app.csvsafe import csv_cell
from app.db import utcnow
from app.i18n import gettext as _
from app.jobs import JobContext, enqueue
from app.models.accounts import User
from app.models.carpool import (
    CarpoolAd,
    CarpoolAlertSent,
    CarpoolBlock,
    CarpoolBooking,
    CarpoolMessage,
    CarpoolPlace,
    CarpoolProfile,
    CarpoolReport,
    CarpoolSearch,
)
from app.models.territory import Commune
from app.notify import notify

PARIS = ZoneInfo("Europe/Paris")
ROAD_FACTOR = 1.3  # road distance ≈ straight line × 1.3
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


def road_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    return round(geo.distance_m(lat1, lon1, lat2, lon2) * ROAD_FACTOR)


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
        for c in session.scalars(select(Commune).order_by(Commune.name))
    ]
    places += [
        Place(p.slug, p.name, p.lat, p.lon, p.country, p.kind)
        for p in session.scalars(
            select(CarpoolPlace).order_by(CarpoolPlace.country, CarpoolPlace.name)
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
        flat, flon = float(lat), float(lon)  # type: ignore[arg-type]
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


def local(dt: datetime) -> datetime:
    return dt.astimezone(PARIS)


def trip_price_cents(distance_m: int, per_km_cents: int) -> int:
    """A passenger's share for a distance, rounded to 10 cents."""
    return round(distance_m / 1000 * per_km_cents / 10.0) * 10


def euros(cents: int) -> str:
    return f"{cents / 100:.2f}".replace(".", ",") + " €"


# --- matching ---------------------------------------------------------------------------


@dataclass
class Query:
    """What someone looks for: ads of ``role`` from one point to another, at a time."""

    from_lat: float
    from_lon: float
    to_lat: float
    to_lon: float
    role: str = "driver"  # the role of the ads sought
    frequency: str = "punctual"  # punctual: ``when``; regular: ``days_mask`` at ``minute``
    when: datetime | None = None
    days_mask: int = 0
    minute: int = 450
    margin_min: int = 30
    from_radius_m: int = DEFAULT_RADIUS_M
    to_radius_m: int = DEFAULT_RADIUS_M
    seats: int = 1
    viewer_id: int | None = None
    exclude_users: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        # Worked out once per search, not once per candidate.
        self.kx = KY * math.cos(math.radians(self.from_lat))  # metres per degree of longitude here
        self.local_when = local(self.when) if self.when else None
        if self.frequency == "punctual" and self.local_when is not None:
            self._days = [self.local_when.weekday()]
            self._minute = minute_of(self.local_when.time())
        else:
            self._days = days_of(self.days_mask)
            self._minute = self.minute

    def searched_days(self) -> list[int]:
        return self._days

    def searched_minute(self) -> int:
        return self._minute


CANDIDATE_COLUMNS = (
    CarpoolAd.id,
    CarpoolAd.user_id,
    CarpoolAd.role,
    CarpoolAd.frequency,
    CarpoolAd.from_lat,
    CarpoolAd.from_lon,
    CarpoolAd.to_lat,
    CarpoolAd.to_lon,
    CarpoolAd.departure_at,
    CarpoolAd.margin_min,
    CarpoolAd.schedule,
    CarpoolAd.days_mask,
    CarpoolAd.seats_left,
    CarpoolAd.price_per_km_cents,
)


def candidates_statement(q: Query, *, limit: int | None = 5000) -> Any:
    """The SQL prefilter: every ad that may match ``q`` (a superset of the matches).

    One-off searches read one-off ads departing within the margins and regular
    ads running that weekday (``UNION ALL`` of the two); regular searches read
    only regular ads. Both parts are answered from ``ix_carpool_ads_search``.
    """
    f_lat0, f_lat1, f_lon0, f_lon1 = geo.bbox(q.from_lat, q.from_lon, q.from_radius_m)
    t_lat0, t_lat1, t_lon0, t_lon1 = geo.bbox(q.to_lat, q.to_lon, q.to_radius_m)
    slack = q.margin_min + MAX_AD_MARGIN_MIN + 15  # margins plus the time to reach the pick-up
    minute = q.searched_minute()
    days = mask_of(q.searched_days())
    common = (
        CarpoolAd.status == "active",
        CarpoolAd.role == q.role,
        CarpoolAd.to_lat.between(t_lat0, t_lat1),
        CarpoolAd.to_lon.between(t_lon0, t_lon1),  # type: ignore[attr-defined]
        CarpoolAd.from_lat.between(f_lat0, f_lat1),
        CarpoolAd.from_lon.between(f_lon0, f_lon1),  # type: ignore[attr-defined]
        CarpoolAd.seats_left >= q.seats,
    )
    if q.frequency == "punctual" and q.when is not None:
        last_day = q.local_when.date()  # type: ignore[union-attr]
    else:
        last_day = local(utcnow()).date()
    regular = select(*CANDIDATE_COLUMNS).where(
        *common,
        CarpoolAd.frequency == "regular",
        CarpoolAd.days_mask.op("&")(days) != 0,  # type: ignore[attr-defined]
        CarpoolAd.window_start <= minute + q.margin_min + 15,
        CarpoolAd.window_end >= minute - q.margin_min - 15,
        or_(CarpoolAd.valid_until.is_(None), CarpoolAd.valid_until >= last_day),  # type: ignore[union-attr]
    )
    if q.frequency == "punctual" and q.when is not None:
        punctual = select(*CANDIDATE_COLUMNS).where(
            *common,
            CarpoolAd.departure_at.between(
                q.when - timedelta(minutes=slack),  # type: ignore[union-attr]
                q.when + timedelta(minutes=slack),
            ),
            CarpoolAd.frequency == "punctual",
        )
        stmt: Any = punctual.union_all(regular)
    else:
        stmt = regular
    if limit:
        stmt = stmt.limit(limit)
    return stmt


@dataclass
class Match:
    ad_id: int
    user_id: int
    score: float
    detour_pct: float
    pickup_m: int
    dropoff_m: int
    time_diff_min: int
    days: list[int]
    distance_m: int  # the passenger's part, road estimate
    price_cents: int  # per seat for that part (offers only)
    ad: CarpoolAd | None = None
    profile_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def score(q: Query, row: Any) -> Match | None:
    """Score one candidate (a row of ``CANDIDATE_COLUMNS`` or an ad), or None when it does not fit."""
    # Local planar coordinates in metres (equirectangular around the search's start): within 0.1% of
    # haversine at the territory's scale, and several times cheaper, which matters for 1,000s of candidates.
    kx = q.kx
    qfx, qfy = q.from_lon * kx, q.from_lat * KY
    qtx, qty = q.to_lon * kx, q.to_lat * KY
    rfx, rfy = row.from_lon * kx, row.from_lat * KY
    rtx, rty = row.to_lon * kx, row.to_lat * KY
    pickup = math.hypot(qfx - rfx, qfy - rfy)
    dropoff = math.hypot(qtx - rtx, qty - rty)
    if pickup > q.from_radius_m or dropoff > q.to_radius_m:
        return None
    if q.role == "driver":  # the ad drives, the search rides
        ax, ay, bx, by, px, py, dx, dy = rfx, rfy, rtx, rty, qfx, qfy, qtx, qty
    else:
        ax, ay, bx, by, px, py, dx, dy = qfx, qfy, qtx, qty, rfx, rfy, rtx, rty
    direct = math.hypot(bx - ax, by - ay)
    if direct < 500:
        return None
    to_pickup = math.hypot(px - ax, py - ay)
    shared = math.hypot(dx - px, dy - py)
    via = to_pickup + shared + math.hypot(bx - dx, by - dy)
    detour = max(0.0, (via - direct) / direct)
    if detour > MAX_DETOUR or shared / direct < MIN_SHARED:
        return None
    offset = to_pickup * ROAD_FACTOR / 1000 / SPEED_KMH * 60  # minutes from A to P
    sign = 1 if q.role == "driver" else -1  # the driver's time at P minus the passenger's time at P

    searched_days = q.searched_days()
    q_minute = q.searched_minute()
    diffs: list[tuple[int, float, float]] = []  # (day, |difference|, allowed)
    if row.frequency == "punctual":
        if row.departure_at is None:
            return None
        if q.frequency == "punctual" and q.when is not None:
            diff = (row.departure_at - q.when).total_seconds() / 60 + sign * offset
            diffs.append((q.local_when.weekday(), abs(diff), row.margin_min + q.margin_min))  # type: ignore[union-attr]
        else:
            return None  # a regular search looks for regular trips
    else:
        schedule = parse_schedule(row.schedule)
        for d in searched_days:
            if d not in schedule:
                continue
            minute, margin = schedule[d]
            diff = minute - q_minute + sign * offset
            allowed = margin + q.margin_min
            if abs(diff) <= allowed:
                diffs.append((d, abs(diff), allowed))
    diffs = [x for x in diffs if x[1] <= x[2]]
    if not diffs:
        return None
    time_diff = sum(x[1] for x in diffs) / len(diffs)
    allowed = max(1.0, sum(x[2] for x in diffs) / len(diffs))
    ends = (pickup / q.from_radius_m + dropoff / q.to_radius_m) / 2
    value = 100 * (
        0.4 * (1 - detour / MAX_DETOUR) + 0.3 * (1 - ends) + 0.3 * (1 - time_diff / allowed)
    )
    if q.frequency == "regular" and searched_days:
        value *= 0.5 + 0.5 * len(diffs) / len(searched_days)
    distance = round(shared * ROAD_FACTOR)
    per_km = row.price_per_km_cents if q.role == "driver" else 0
    return Match(
        ad_id=row.id,
        user_id=row.user_id,
        score=round(value, 1),
        detour_pct=round(detour * 100, 1),
        pickup_m=int(pickup),
        dropoff_m=int(dropoff),
        time_diff_min=round(time_diff),
        days=[x[0] for x in diffs],
        distance_m=distance,
        price_cents=trip_price_cents(distance, per_km),
    )


def blocked_with(session: Session, user_id: int | None) -> frozenset[int]:
    """Everyone ``user_id`` blocked or was blocked by."""
    if user_id is None:
        return frozenset()
    rows = session.execute(
        select(CarpoolBlock.blocker_id, CarpoolBlock.blocked_id).where(
            or_(CarpoolBlock.blocker_id == user_id, CarpoolBlock.blocked_id == user_id)
        )
    ).all()
    return frozenset(b if a == user_id else a for a, b in rows)


def fetch_candidates(session: Session, q: Query) -> list[Any]:
    """Run the prefilter on the session's connection (Core rows, no ORM layer)."""
    return session.connection().execute(candidates_statement(q)).all()


def search(session: Session, q: Query, *, limit: int = SEARCH_LIMIT) -> list[Match]:
    """Matches for ``q``, best first (prefilter in SQL, score in Python)."""
    rows = fetch_candidates(session, q)
    skip = set(q.exclude_users)
    if q.viewer_id is not None:
        skip.add(q.viewer_id)
    matches = []
    for row in rows:
        if row.user_id in skip:
            continue
        m = score(q, row)
        if m is not None:
            matches.append(m)
    matches.sort(key=lambda m: (-m.score, m.ad_id))
    return matches[:limit]


def attach_ads(session: Session, matches: list[Match]) -> list[Match]:
    """Load the ads and first names of the matches to show them."""
    if not matches:
        return matches
    ids = [m.ad_id for m in matches]
    ads = {a.id: a for a in session.scalars(select(CarpoolAd).where(CarpoolAd.id.in_(ids)))}  # type: ignore[union-attr]
    names = display_names(session, {m.user_id for m in matches})
    for m in matches:
        m.ad = ads.get(m.ad_id)
        m.profile_name = names.get(m.user_id, "")
    return matches


def display_names(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """The name carpoolers see: the profile's first name, else the account's display name."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    out: dict[int, str] = {}
    for uid, name, email in session.execute(
        select(User.id, User.display_name, User.email).where(User.id.in_(ids))  # type: ignore[union-attr]
    ):
        out[uid] = (name or "").split(" ")[0] or _("Un membre")
    for p in session.scalars(select(CarpoolProfile).where(CarpoolProfile.user_id.in_(ids))):  # type: ignore[attr-defined]
        if p.first_name:
            out[p.user_id] = p.first_name
    return out


# --- ads --------------------------------------------------------------------------------


@dataclass
class AdInput:
    """A validated ad, ready to be stored (one direction, or two with a return)."""

    role: str
    frequency: str
    from_label: str
    from_lat: float
    from_lon: float
    to_label: str
    to_lat: float
    to_lon: float
    seats: int
    price_per_km_cents: int = DEFAULT_PRICE_PER_KM_CENTS
    departure_at: datetime | None = None
    return_at: datetime | None = None
    margin_min: int = 15
    outward: dict[int, tuple[int, int]] = field(default_factory=dict)
    returns: dict[int, tuple[int, int]] = field(default_factory=dict)
    valid_until: date | None = None
    comment: str = ""


def _window(schedule: dict[int, tuple[int, int]]) -> tuple[int, int]:
    return (min(m - g for m, g in schedule.values()), max(m + g for m, g in schedule.values()))


def create_ad(session: Session, user_id: int, data: AdInput) -> list[CarpoolAd]:
    """Store an ad (and its return leg), queue the saved-search alerts; returns the rows."""
    if data.role not in ("driver", "passenger") or data.frequency not in ("punctual", "regular"):
        raise CarpoolError(_("Type d'annonce invalide."))
    if not 1 <= data.seats <= MAX_SEATS:
        raise CarpoolError(_("Nombre de places invalide."))
    if not 0 <= data.price_per_km_cents <= MAX_PRICE_PER_KM_CENTS:
        raise CarpoolError(_("La participation est plafonnée à 0,10 € par km et par passager."))
    distance = road_m(data.from_lat, data.from_lon, data.to_lat, data.to_lon)
    if distance < 1000:
        raise CarpoolError(_("Le départ et l'arrivée sont trop proches."))
    cross = country_of(data.from_lat, data.from_lon) != country_of(data.to_lat, data.to_lon)
    now = utcnow()
    legs: list[dict[str, Any]] = []
    if data.frequency == "punctual":
        if data.departure_at is None or data.departure_at <= now:
            raise CarpoolError(_("La date de départ doit être dans le futur."))
        if data.departure_at > now + timedelta(days=366):
            raise CarpoolError(_("La date de départ est trop lointaine."))
        legs.append({"leg": "outward", "departure_at": data.departure_at})
        if data.return_at is not None:
            if data.return_at <= data.departure_at:
                raise CarpoolError(_("Le retour doit partir après l'aller."))
            legs.append({"leg": "return", "departure_at": data.return_at})
    else:
        if not data.outward:
            raise CarpoolError(_("Choisissez au moins un jour pour l'aller."))
        legs.append({"leg": "outward", "schedule": data.outward})
        if data.returns:
            legs.append({"leg": "return", "schedule": data.returns})
    rows: list[CarpoolAd] = []
    for spec in legs:
        outward = spec["leg"] == "outward"
        ad = CarpoolAd(
            user_id=user_id,
            role=data.role,
            frequency=data.frequency,
            leg=spec["leg"],
            from_label=data.from_label if outward else data.to_label,
            from_lat=data.from_lat if outward else data.to_lat,
            from_lon=data.from_lon if outward else data.to_lon,
            to_label=data.to_label if outward else data.from_label,
            to_lat=data.to_lat if outward else data.from_lat,
            to_lon=data.to_lon if outward else data.from_lon,
            distance_m=distance,
            cross_border=cross,
            seats=data.seats,
            seats_left=data.seats,
            price_per_km_cents=data.price_per_km_cents if data.role == "driver" else 0,
            margin_min=data.margin_min,
            valid_until=data.valid_until,
            comment=data.comment[:500],
            created_at=now,
            updated_at=now,
        )
        if data.frequency == "punctual":
            dep: datetime = spec["departure_at"]
            ad.departure_at = dep
            loc = local(dep)
            ad.days_mask = mask_of([loc.weekday()])
            m = minute_of(loc.time())
            ad.schedule = dump_schedule({loc.weekday(): (m, data.margin_min)})
            ad.window_start, ad.window_end = m - data.margin_min, m + data.margin_min
        else:
            sched: dict[int, tuple[int, int]] = spec["schedule"]
            ad.schedule = dump_schedule(sched)
            ad.days_mask = mask_of(sched)
            ad.window_start, ad.window_end = _window(sched)
            ad.margin_min = max(g for _m, g in sched.values())
        session.add(ad)
        session.flush()
        rows.append(ad)
    if len(rows) == 2:
        rows[0].pair_id = rows[0].id
        rows[1].pair_id = rows[0].id
    for ad in rows:
        enqueue(session, "carpool.alerts", {"ad_id": ad.id})
    return rows


def close_ad(session: Session, ad: CarpoolAd, actor_id: int) -> None:
    """The owner withdraws an ad: its pending and accepted bookings are cancelled."""
    if ad.user_id != actor_id:
        raise CarpoolError(_("Seul l'auteur de l'annonce peut la retirer."))
    if ad.status != "active":
        return
    ad.status = "closed"
    ad.updated_at = utcnow()
    session.add(ad)
    bookings = session.scalars(
        select(CarpoolBooking).where(
            CarpoolBooking.ad_id == ad.id, CarpoolBooking.status.in_(("pending", "accepted"))
        )
    ).all()  # type: ignore[attr-defined]
    for b in bookings:
        b.status, b.cancelled_by, b.updated_at = "cancelled", actor_id, utcnow()
        session.add(b)
    if bookings:
        notify(
            session,
            [b.requester_id for b in bookings],
            topic="carpool",
            title=_("Trajet annulé"),
            body=_("Le trajet %(trip)s a été retiré par son auteur.") % {"trip": trip_title(ad)},
            url="/carpool/mine",
        )


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


def visible_ad(session: Session, ad_id: int, viewer: Any) -> CarpoolAd | None:
    """The ad if the viewer may see it: active ones for everyone, others for the owner and staff."""
    ad = session.get(CarpoolAd, ad_id)
    if ad is None:
        return None
    if ad.status == "active":
        if viewer is not None and ad.user_id in blocked_with(session, viewer.id):
            return None
        return ad
    if viewer is not None and (viewer.id == ad.user_id or viewer.is_staff):
        return ad
    if (
        viewer is not None
        and session.scalars(
            select(CarpoolBooking.id).where(
                CarpoolBooking.ad_id == ad.id, CarpoolBooking.requester_id == viewer.id
            )
        ).first()
    ):
        return ad
    return None


# --- bookings ---------------------------------------------------------------------------


def request_seats(
    session: Session, ad_id: int, requester_id: int, seats: int = 1
) -> CarpoolBooking:
    """Ask to share an ad. Takes the seats at once (never more than there are); raises CarpoolError."""
    if not 1 <= seats <= MAX_SEATS:
        raise CarpoolError(_("Nombre de places invalide."))
    ad = session.get(CarpoolAd, ad_id)
    if ad is None or ad.status != "active":
        raise CarpoolError(_("Cette annonce n'est plus disponible."))
    if ad.user_id == requester_id:
        raise CarpoolError(_("C'est votre propre annonce."))
    if ad.user_id in blocked_with(session, requester_id):
        raise CarpoolError(_("Vous ne pouvez pas contacter cette personne."))
    if ad.frequency == "punctual" and ad.departure_at and ad.departure_at <= utcnow():
        raise CarpoolError(_("Ce trajet est déjà parti."))
    existing = session.scalars(
        select(CarpoolBooking.id).where(
            CarpoolBooking.ad_id == ad_id,
            CarpoolBooking.requester_id == requester_id,
            CarpoolBooking.status.in_(("pending", "accepted")),
        )
    ).first()  # type: ignore[attr-defined]
    if existing:
        raise CarpoolError(_("Vous avez déjà une demande en cours pour ce trajet."))
    taken = session.execute(
        update(CarpoolAd)
        .where(CarpoolAd.id == ad_id, CarpoolAd.status == "active", CarpoolAd.seats_left >= seats)
        .values(seats_left=CarpoolAd.seats_left - seats)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise CarpoolError(_("Il ne reste plus assez de places sur ce trajet."))
    now = utcnow()
    booking = CarpoolBooking(
        ad_id=ad_id,
        requester_id=requester_id,
        owner_id=ad.user_id,
        seats=seats,
        status="pending",
        distance_m=ad.distance_m,
        price_cents=trip_price_cents(ad.distance_m, ad.price_per_km_cents)
        if ad.role == "driver"
        else 0,
        created_at=now,
        updated_at=now,
    )
    session.add(booking)
    try:
        with (
            session.begin_nested()
        ):  # a second open request of this person for this ad, at the same instant
            session.flush()
    except IntegrityError:
        raise CarpoolError(_("Vous avez déjà une demande en cours pour ce trajet.")) from None
    if ad.role == "driver":
        title, body = (
            _("Nouvelle demande de place"),
            _("Quelqu'un demande %(n)s place(s) pour %(trip)s."),
        )
    else:
        title, body = (
            _("Un conducteur vous propose un trajet"),
            _("Un conducteur propose de vous emmener : %(trip)s."),
        )
    notify(
        session,
        [ad.user_id],
        topic="carpool",
        title=title,
        body=body % {"n": seats, "trip": trip_title(ad)},
        url=f"/carpool/bookings/{booking.id}",
    )
    return booking


def _set_status(
    session: Session, booking: CarpoolBooking, frm: tuple[str, ...], to: str, **values: Any
) -> bool:
    now = utcnow()
    done = session.execute(
        update(CarpoolBooking)
        .where(CarpoolBooking.id == booking.id, CarpoolBooking.status.in_(frm))  # type: ignore[attr-defined]
        .values(status=to, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.refresh(booking)
    return True


def _free_seats(session: Session, booking: CarpoolBooking) -> None:
    session.execute(
        update(CarpoolAd)
        .where(CarpoolAd.id == booking.ad_id)
        .values(
            seats_left=func.least(CarpoolAd.seats, CarpoolAd.seats_left + booking.seats)
            if session.get_bind().dialect.name == "postgresql"
            else func.min(CarpoolAd.seats, CarpoolAd.seats_left + booking.seats)
        )
        .execution_options(synchronize_session=False)
    )
    ad = session.get(CarpoolAd, booking.ad_id)
    if ad is not None:
        session.refresh(ad)


def accept(session: Session, booking: CarpoolBooking, actor_id: int) -> None:
    if booking.owner_id != actor_id:
        raise CarpoolError(_("Seul l'auteur de l'annonce peut accepter."))
    if not _set_status(session, booking, ("pending",), "accepted", accepted_at=utcnow()):
        raise CarpoolError(_("Cette demande n'est plus en attente."))
    ad = session.get(CarpoolAd, booking.ad_id)
    assert ad is not None
    notify(
        session,
        [booking.requester_id],
        topic="carpool",
        title=_("Demande acceptée"),
        body=_("Votre demande pour %(trip)s est acceptée. Les coordonnées sont visibles.")
        % {"trip": trip_title(ad)},
        url=f"/carpool/bookings/{booking.id}",
    )
    schedule_reminder(session, booking, ad, after=utcnow())


def decline(session: Session, booking: CarpoolBooking, actor_id: int) -> None:
    if booking.owner_id != actor_id:
        raise CarpoolError(_("Seul l'auteur de l'annonce peut refuser."))
    if not _set_status(session, booking, ("pending",), "declined"):
        raise CarpoolError(_("Cette demande n'est plus en attente."))
    _free_seats(session, booking)
    ad = session.get(CarpoolAd, booking.ad_id)
    notify(
        session,
        [booking.requester_id],
        topic="carpool",
        title=_("Demande déclinée"),
        body=_("Votre demande pour %(trip)s n'a pas été retenue.") % {"trip": trip_title(ad)},  # type: ignore[arg-type]
        url=f"/carpool/bookings/{booking.id}",
    )


def cancel(session: Session, booking: CarpoolBooking, actor_id: int) -> None:
    if actor_id not in (booking.owner_id, booking.requester_id):
        raise CarpoolError(_("Cette réservation ne vous concerne pas."))
    if not _set_status(
        session, booking, ("pending", "accepted"), "cancelled", cancelled_by=actor_id
    ):
        raise CarpoolError(_("Cette réservation est déjà close."))
    _free_seats(session, booking)
    ad = session.get(CarpoolAd, booking.ad_id)
    other = booking.owner_id if actor_id == booking.requester_id else booking.requester_id
    notify(
        session,
        [other],
        topic="carpool",
        title=_("Réservation annulée"),
        body=_("La réservation pour %(trip)s a été annulée.") % {"trip": trip_title(ad)},  # type: ignore[arg-type]
        url=f"/carpool/bookings/{booking.id}",
    )


def post_message(
    session: Session, booking: CarpoolBooking, sender_id: int, body: str
) -> CarpoolMessage:
    if sender_id not in (booking.owner_id, booking.requester_id):
        raise CarpoolError(_("Cette conversation ne vous concerne pas."))
    body = body.strip()
    if not body:
        raise CarpoolError(_("Le message est vide."))
    if len(body) > 1000:
        raise CarpoolError(_("Le message est trop long (1000 caractères au plus)."))
    other = booking.owner_id if sender_id == booking.requester_id else booking.requester_id
    if other in blocked_with(session, sender_id):
        raise CarpoolError(_("Vous ne pouvez pas contacter cette personne."))
    msg = CarpoolMessage(booking_id=booking.id, sender_id=sender_id, body=body)  # type: ignore[arg-type]
    session.add(msg)
    session.flush()
    name = display_names(session, [sender_id]).get(sender_id, "")
    notify(
        session,
        [other],
        topic="carpool",
        title=_("Nouveau message de %(name)s") % {"name": name},
        body=body[:200],
        url=f"/carpool/bookings/{booking.id}",
    )
    return msg


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
    start = local(after).date()
    for i in range(15):
        day = start + timedelta(days=i)
        if ad.valid_until and day > ad.valid_until:
            return None
        if day.weekday() in sched:
            m, _g = sched[day.weekday()]
            dep = datetime.combine(day, time(m // 60, m % 60), tzinfo=PARIS).astimezone(UTC)
            if dep > after:
                return dep
    return None


def schedule_reminder(
    session: Session, booking: CarpoolBooking, ad: CarpoolAd, *, after: datetime
) -> None:
    """Queue the reminder of the booking's next departure (1 h before), once per departure."""
    dep = next_departure(ad, after + REMINDER_BEFORE)
    if dep is None:
        return
    enqueue(
        session,
        "carpool.reminder",
        {"booking_id": booking.id, "departure": dep.isoformat()},
        run_at=dep - REMINDER_BEFORE,
        dedupe_key=f"carpool-reminder:{booking.id}:{dep.isoformat()}",
    )


def send_reminder(ctx: JobContext, payload: dict[str, Any]) -> None:
    from app.db import write_session

    with write_session(ctx.engine) as session:
        booking = session.get(CarpoolBooking, int(payload["booking_id"]))
        if booking is None or booking.status != "accepted":
            return
        ad = session.get(CarpoolAd, booking.ad_id)
        if ad is None or ad.status != "active":
            return
        dep = datetime.fromisoformat(payload["departure"])
        when = local(dep).strftime("%H:%M")
        notify(
            session,
            [booking.owner_id, booking.requester_id],
            topic="carpool",
            title=_("Départ à %(time)s") % {"time": when},
            body=_("Rappel : %(trip)s, départ à %(time)s.")
            % {"trip": trip_title(ad), "time": when},
            url=f"/carpool/bookings/{booking.id}",
            urgency="high",
            ttl_s=3600,
            dedupe=f"carpool-reminder:{booking.id}:{payload['departure']}",
        )
        if ad.frequency == "regular":
            schedule_reminder(session, booking, ad, after=dep)


# --- saved searches and alerts ----------------------------------------------------------


def query_of_search(s: CarpoolSearch) -> Query:
    when = None
    if s.frequency == "punctual" and s.on_date is not None:
        when = datetime.combine(
            s.on_date, time(s.minute // 60, s.minute % 60), tzinfo=PARIS
        ).astimezone(UTC)
    return Query(
        s.from_lat,
        s.from_lon,
        s.to_lat,
        s.to_lon,
        role=s.role,
        frequency=s.frequency,
        when=when,
        days_mask=s.days_mask,
        minute=s.minute,
        margin_min=s.margin_min,
        from_radius_m=s.radius_m,
        to_radius_m=s.radius_m,
        viewer_id=s.user_id,
    )


def alert_new_ad(session: Session, ad: CarpoolAd) -> int:
    """Tell the owners of the saved searches that ``ad`` matches, once each; returns how many were told."""
    if ad.status != "active":
        return 0
    lat0, lat1, lon0, lon1 = geo.bbox(ad.from_lat, ad.from_lon, 10_000)
    tlat0, tlat1, tlon0, tlon1 = geo.bbox(ad.to_lat, ad.to_lon, 10_000)
    searches = session.scalars(
        select(CarpoolSearch).where(
            CarpoolSearch.role == ad.role,
            CarpoolSearch.user_id != ad.user_id,
            CarpoolSearch.from_lat.between(lat0, lat1),
            CarpoolSearch.from_lon.between(lon0, lon1),  # type: ignore[attr-defined]
            CarpoolSearch.to_lat.between(tlat0, tlat1),
            CarpoolSearch.to_lon.between(tlon0, tlon1),  # type: ignore[attr-defined]
        )
    ).all()
    told = 0
    blocked = blocked_with(session, ad.user_id)
    for s in searches:
        if s.user_id in blocked:
            continue
        m = score(query_of_search(s), ad)
        if m is None:
            continue
        if session.scalars(
            select(CarpoolAlertSent.id).where(
                CarpoolAlertSent.search_id == s.id, CarpoolAlertSent.ad_id == ad.id
            )
        ).first():
            continue
        session.add(CarpoolAlertSent(search_id=s.id, ad_id=ad.id))  # type: ignore[arg-type]
        what = (
            _("Nouvelle offre de covoiturage")
            if ad.role == "driver"
            else _("Nouvelle demande de covoiturage")
        )
        notify(
            session,
            [s.user_id],
            topic="carpool",
            title=what,
            body=f"{trip_title(ad)} · {schedule_text(ad)}",
            url=f"/carpool/ads/{ad.id}",
            dedupe=f"carpool-alert:{s.id}:{ad.id}",
        )
        told += 1
    return told


def run_alerts(ctx: JobContext, payload: dict[str, Any]) -> None:
    from app.db import write_session

    with write_session(ctx.engine) as session:
        ad = session.get(CarpoolAd, int(payload["ad_id"]))
        if ad is not None:
            try:
                alert_new_ad(session, ad)
            except IntegrityError:  # another worker told them meanwhile: nothing more to do
                session.rollback()


# --- trust ------------------------------------------------------------------------------


def report_ad(
    session: Session, ad: CarpoolAd, reporter_id: int, reason: str, details: str
) -> CarpoolReport:
    if reason not in REPORT_REASONS:
        raise CarpoolError(_("Choisissez une raison."))
    if ad.user_id == reporter_id:
        raise CarpoolError(_("C'est votre propre annonce."))
    if session.scalars(
        select(CarpoolReport.id).where(
            CarpoolReport.ad_id == ad.id,
            CarpoolReport.reporter_id == reporter_id,
            CarpoolReport.status == "open",
        )
    ).first():
        raise CarpoolError(_("Vous avez déjà signalé cette annonce ; l'équipe va l'examiner."))
    report = CarpoolReport(
        ad_id=ad.id,
        reporter_id=reporter_id,
        reason=reason,  # type: ignore[arg-type]
        details=details.strip()[:1000],
    )
    session.add(report)
    session.flush()
    return report


def moderate(session: Session, report: CarpoolReport, staff_id: int, action: str) -> None:
    """``hide`` hides the ad (and closes every open report on it); ``dismiss`` keeps it."""
    now = utcnow()
    if action == "hide":
        ad = session.get(CarpoolAd, report.ad_id)
        if ad is not None and ad.status == "active":
            ad.status, ad.updated_at = "hidden", now
            session.add(ad)
            moderation.hide(
                session,
                _moderated(ad),
                REPORT_REASONS.get(report.reason, report.reason),
                dedupe=f"carpool-hide:{ad.id}:{report.id}",
            )
        session.execute(
            update(CarpoolReport)
            .where(
                CarpoolReport.ad_id == report.ad_id,
                CarpoolReport.status == "open",
            )
            .values(status="hidden", handled_by=staff_id, handled_at=now)
        )
    elif action == "dismiss":
        report.status, report.handled_by, report.handled_at = "dismissed", staff_id, now
        session.add(report)
    else:
        raise CarpoolError(_("Action inconnue."))


def restore(session: Session, ad: CarpoolAd) -> None:
    """Undo a moderation: the ad is listed again and its owner told."""
    if ad.status != "hidden":
        raise CarpoolError(_("Cette annonce n'est pas masquée."))
    ad.status, ad.updated_at = "active", utcnow()
    session.add(ad)
    moderation.restore(
        session, _moderated(ad), dedupe=f"carpool-restore:{ad.id}:{ad.updated_at.timestamp():.0f}"
    )


def _moderated(ad: CarpoolAd) -> moderation.Ad:
    return moderation.Ad(
        owner_id=ad.user_id, title=trip_title(ad), url=f"/carpool/ads/{ad.id}", topic="carpool"
    )


def block(session: Session, blocker_id: int, blocked_id: int) -> None:
    if blocker_id == blocked_id:
        raise CarpoolError(_("Vous ne pouvez pas vous bloquer vous-même."))
    if session.get(User, blocked_id) is None:
        raise CarpoolError(_("Personne inconnue."))
    if session.get(CarpoolBlock, (blocker_id, blocked_id)) is None:
        session.add(CarpoolBlock(blocker_id=blocker_id, blocked_id=blocked_id))
    # Pending requests between the two end now.
    for b in session.scalars(
        select(CarpoolBooking).where(
            CarpoolBooking.status == "pending",
            or_(
                and_(
                    CarpoolBooking.owner_id == blocker_id, CarpoolBooking.requester_id == blocked_id
                ),
                and_(
                    CarpoolBooking.owner_id == blocked_id, CarpoolBooking.requester_id == blocker_id
                ),
            ),
        )
    ):
        if _set_status(session, b, ("pending",), "cancelled", cancelled_by=blocker_id):
            _free_seats(session, b)


def unblock(session: Session, blocker_id: int, blocked_id: int) -> None:
    session.execute(
        delete(CarpoolBlock).where(
            CarpoolBlock.blocker_id == blocker_id, CarpoolBlock.blocked_id == blocked_id
        )
    )


# --- statistics and proofs --------------------------------------------------------------


def occurrences(ad: CarpoolAd, start: datetime, end: datetime) -> list[datetime]:
    """The departures of ``ad`` in [start, end) (UTC)."""
    if ad.frequency == "punctual":
        return [ad.departure_at] if ad.departure_at and start <= ad.departure_at < end else []
    out: list[datetime] = []
    sched = parse_schedule(ad.schedule)
    day = local(start).date()
    last = local(end).date()
    while day <= last:
        if day.weekday() in sched and not (ad.valid_until and day > ad.valid_until):
            m, _g = sched[day.weekday()]
            dep = datetime.combine(day, time(m // 60, m % 60), tzinfo=PARIS).astimezone(UTC)
            if start <= dep < end:
                out.append(dep)
        day += timedelta(days=1)
    return out


def statistics(session: Session, *, match_sample: int = 200) -> dict[str, Any]:
    """Figures for staff: ads, matches, bookings, cross-border share, estimated car-km saved."""
    now = utcnow()
    ads = session.execute(
        select(CarpoolAd.role, CarpoolAd.status, CarpoolAd.cross_border, func.count()).group_by(
            CarpoolAd.role, CarpoolAd.status, CarpoolAd.cross_border
        )
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
            select(CarpoolBooking.status, func.count()).group_by(CarpoolBooking.status)
        ).all()
    )
    # Matches: active passenger requests that find at least one offer, and the pairs found.
    requests = session.scalars(
        select(CarpoolAd)
        .where(CarpoolAd.status == "active", CarpoolAd.role == "passenger")
        .limit(match_sample)
    ).all()
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
        )
        found = len(search(session, q, limit=1000))
        pairs += found
        matched += 1 if found else 0
    # Car-km saved: each accepted seat is a car that stayed home for the passenger's distance.
    accepted = session.execute(
        select(CarpoolBooking, CarpoolAd)
        .join(CarpoolAd, CarpoolAd.id == CarpoolBooking.ad_id)
        .where(CarpoolBooking.status == "accepted")
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


def proofs(session: Session, start: datetime, end: datetime, secret: str) -> list[dict[str, Any]]:
    """Completed trips in [start, end) in the French carpool proof registry's class A shape.

    Class A: the operator put the two people in touch (no positions or times
    recorded by phones): start and end are the ad's points and scheduled time.
    Amounts are in cents, distances in metres.
    """
    now = utcnow()
    end = min(end, now)
    out: list[dict[str, Any]] = []
    rows = session.execute(
        select(CarpoolBooking, CarpoolAd)
        .join(CarpoolAd, CarpoolAd.id == CarpoolBooking.ad_id)
        .where(CarpoolBooking.status == "accepted")
        .order_by(CarpoolBooking.id)
    ).all()
    for b, ad in rows:
        driver, passenger = driver_and_passenger(b, ad)
        since = max(start, b.accepted_at or b.created_at) if ad.frequency == "regular" else start
        for dep in occurrences(ad, since, end):
            arrival = dep + timedelta(seconds=int(b.distance_m / 1000 / SPEED_KMH * 3600))
            amount = b.price_cents * b.seats
            out.append(
                {
                    "operator_journey_id": f"eclor-{b.id}-{dep.strftime('%Y%m%dT%H%M')}",
                    "operator_trip_id": f"eclor-ad{ad.id}-{dep.strftime('%Y%m%dT%H%M')}",
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
        for col in PROOF_CSV_COLUMNS:
            value: Any = item
            for part in col.split("."):
                value = value[part]
            row.append(csv_cell(value))
        writer.writerow(row)
    return buf.getvalue()


# --- home panel data --------------------------------------------------------------------


def upcoming_trips(session: Session, user_id: int, *, limit: int = 5) -> list[dict[str, Any]]:
    """The person's next trips: accepted bookings (either side) and own active ads, soonest first."""
    now = utcnow()
    items: list[dict[str, Any]] = []
    rows = session.execute(
        select(CarpoolBooking, CarpoolAd)
        .join(CarpoolAd, CarpoolAd.id == CarpoolBooking.ad_id)
        .where(
            CarpoolBooking.status.in_(("accepted", "pending")),  # type: ignore[attr-defined]
            or_(CarpoolBooking.requester_id == user_id, CarpoolBooking.owner_id == user_id),
        )
    ).all()
    booked_ads = set()
    for b, ad in rows:
        dep = next_departure(ad, now)
        if dep is None:
            continue
        booked_ads.add(ad.id)
        items.append(
            {
                "when": dep,
                "title": trip_title(ad),
                "url": f"/carpool/bookings/{b.id}",
                "status": b.status,
                "driver": driver_and_passenger(b, ad)[0] == user_id,
            }
        )
    for ad in session.scalars(
        select(CarpoolAd).where(CarpoolAd.user_id == user_id, CarpoolAd.status == "active")
    ):
        if ad.id in booked_ads:
            continue
        dep = next_departure(ad, now)
        if dep is None:
            continue
        items.append(
            {
                "when": dep,
                "title": trip_title(ad),
                "url": f"/carpool/ads/{ad.id}",
                "status": "ad",
                "driver": ad.role == "driver",
            }
        )
    items.sort(key=lambda i: i["when"])
    return items[:limit]


# --- GDPR -------------------------------------------------------------------------------


def _row(obj: Any) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, (datetime, date)) else v)
        for k, v in obj.model_dump().items()
    }


def export_person(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    from app import images

    profile = session.get(CarpoolProfile, user_id)
    files: list[Path] = []
    if profile is not None:
        for name in (profile.photo_name,):
            if name:
                try:
                    path = images.open_path(name, media_dir)
                except (images.InvalidPhotoName, FileNotFoundError):
                    continue
                files.append(path)
    bookings = session.scalars(
        select(CarpoolBooking).where(
            or_(CarpoolBooking.requester_id == user_id, CarpoolBooking.owner_id == user_id)
        )
    ).all()
    data = {
        "profile": _row(profile) if profile else None,
        "ads": [
            _row(a) for a in session.scalars(select(CarpoolAd).where(CarpoolAd.user_id == user_id))
        ],
        "bookings": [_row(b) for b in bookings],
        "messages_sent": [
            _row(m)
            for m in session.scalars(
                select(CarpoolMessage).where(CarpoolMessage.sender_id == user_id)
            )
        ],
        "saved_searches": [
            _row(s)
            for s in session.scalars(select(CarpoolSearch).where(CarpoolSearch.user_id == user_id))
        ],
        "reports_made": [
            _row(r)
            for r in session.scalars(
                select(CarpoolReport).where(CarpoolReport.reporter_id == user_id)
            )
        ],
        "blocked_users": [
            b.blocked_id
            for b in session.scalars(select(CarpoolBlock).where(CarpoolBlock.blocker_id == user_id))
        ],
    }
    return data, files


def erase_person(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Cancel the person's open bookings (seats go back, the other party is told), then delete their rows."""
    from app import images

    for b in session.scalars(
        select(CarpoolBooking).where(
            CarpoolBooking.status.in_(("pending", "accepted")),  # type: ignore[attr-defined]
            or_(CarpoolBooking.requester_id == user_id, CarpoolBooking.owner_id == user_id),
        )
    ).all():
        if _set_status(session, b, ("pending", "accepted"), "cancelled", cancelled_by=user_id):
            _free_seats(session, b)
            other = b.owner_id if b.requester_id == user_id else b.requester_id
            notify(
                session,
                [other],
                topic="carpool",
                title=_("Réservation annulée"),
                body=_("Une réservation a été annulée : la personne a supprimé son compte."),
                url="/carpool/mine",
            )
    own_ads = select(CarpoolAd.id).where(CarpoolAd.user_id == user_id)
    mine = select(CarpoolBooking.id).where(
        or_(
            CarpoolBooking.requester_id == user_id,
            CarpoolBooking.owner_id == user_id,
            CarpoolBooking.ad_id.in_(own_ads),
        )
    )  # type: ignore[attr-defined]
    session.execute(
        delete(CarpoolMessage).where(
            or_(
                CarpoolMessage.booking_id.in_(mine),  # type: ignore[attr-defined]
                CarpoolMessage.sender_id == user_id,
            )
        )
    )
    session.execute(delete(CarpoolBooking).where(CarpoolBooking.id.in_(mine)))  # type: ignore[union-attr]
    session.execute(
        delete(CarpoolAlertSent).where(
            or_(
                CarpoolAlertSent.ad_id.in_(own_ads),  # type: ignore[attr-defined]
                CarpoolAlertSent.search_id.in_(
                    select(CarpoolSearch.id).where(CarpoolSearch.user_id == user_id)
                ),
            )
        )
    )  # type: ignore[attr-defined]
    session.execute(delete(CarpoolReport).where(CarpoolReport.ad_id.in_(own_ads)))  # type: ignore[attr-defined]
    session.execute(
        update(CarpoolReport).where(CarpoolReport.reporter_id == user_id).values(reporter_id=None)
    )
    session.execute(delete(CarpoolAd).where(CarpoolAd.user_id == user_id))
    session.execute(delete(CarpoolSearch).where(CarpoolSearch.user_id == user_id))
    session.execute(
        delete(CarpoolBlock).where(
            or_(CarpoolBlock.blocker_id == user_id, CarpoolBlock.blocked_id == user_id)
        )
    )
    files: list[Path] = []
    profile = session.get(CarpoolProfile, user_id)
    if profile is not None:
        for name in (profile.photo_name, profile.thumb_name):
            if name:
                try:
                    files.append(images.open_path(name, media_dir))
                except (images.InvalidPhotoName, FileNotFoundError):
                    pass
        session.delete(profile)
    return files


# --- demo -------------------------------------------------------------------------------

# (e-mail, display name, commune INSEE): carpoolers besides the shared demo accounts.
DEMO_CARPOOLERS = [
    ("amelie@eclor.test", "Amélie", "57041"),
    ("thomas@eclor.test", "Thomas", "57097"),
    ("ines@eclor.test", "Inès", "57529"),
    ("paulo@eclor.test", "Paulo", "57565"),
    ("claire@eclor.test", "Claire", "54523"),
    ("mehdi@eclor.test", "Mehdi", "54580"),
]
# (e-mail, destination slug, outward time, return time, weekdays, seats)
DEMO_COMMUTES = [
    ("habitant@eclor.test", "kirchberg", "07:15", "17:30", (0, 1, 2, 3, 4), 3),
    ("frontalier@eclor.test", "luxembourg-gare", "07:00", "16:45", (0, 1, 2, 3), 3),
    ("amelie@eclor.test", "belval", "07:45", "17:15", (0, 1, 2, 3, 4), 2),
    ("thomas@eclor.test", "cloche-dor", "07:20", "17:40", (0, 1, 3, 4), 3),
    ("ines@eclor.test", "dudelange", "08:00", "16:30", (0, 1, 2, 3, 4), 2),
    ("paulo@eclor.test", "differdange", "06:30", "15:00", (0, 1, 2, 3, 4), 3),
    ("claire@eclor.test", "esch-alzette", "08:15", "17:00", (1, 2, 3), 2),
    ("mehdi@eclor.test", "kirchberg", "07:30", "18:00", (0, 1, 2, 3, 4), 4),
    ("voisine@eclor.test", "pr-howald", "07:40", "17:20", (0, 2, 4), 2),
]


def load_demo(session: Session, rng: Any) -> str | None:
    from app import auth
    from app.demo import DEMO_PASSWORD, demo_user

    if session.scalars(select(CarpoolAd.id).limit(1)).first():
        return None
    for email, name, insee in DEMO_CARPOOLERS:
        if session.scalars(select(User.id).where(User.email == email)).first() is None:
            user = auth.create_user(
                session, email, role="resident", password=DEMO_PASSWORD, display_name=name
            )
            user.commune_insee = insee
    places = {p.slug: p for p in list_places(session)}
    users = {
        e: demo_user(session, e) for e in [c[0] for c in DEMO_COMMUTES] + ["voisine@eclor.test"]
    }
    made: list[CarpoolAd] = []
    for email, dest, out, ret, days, seats in DEMO_COMMUTES:
        user = users[email]
        home = places[f"commune-{user.commune_insee}"]
        to = places[dest]
        o, r = minute_of(time.fromisoformat(out)), minute_of(time.fromisoformat(ret))
        made += create_ad(
            session,
            user.id,
            AdInput(  # type: ignore[arg-type]
                role="driver",
                frequency="regular",
                from_label=home.name,
                from_lat=home.lat,
                from_lon=home.lon,
                to_label=to.name,
                to_lat=to.lat,
                to_lon=to.lon,
                seats=seats,
                price_per_km_cents=rng.choice((6, 8, 10)),
                margin_min=15,
                outward={d: (o, 15) for d in days},
                returns={d: (r, 15) for d in days},
                comment=rng.choice(
                    [
                        "",
                        "Non-fumeur, radio à faible volume.",
                        "Départ devant la mairie. Bagage léger SVP.",
                        "Je peux faire un petit crochet par la gare.",
                    ]
                ),
            ),
        )
    now_local = local(utcnow())
    one_offs = [
        ("habitant@eclor.test", "commune-57038", "luxembourg-gare", 2, "09:00", 3, "driver"),
        ("amelie@eclor.test", "commune-57041", "belval", 3, "10:30", 2, "driver"),
        ("thomas@eclor.test", "commune-57097", "commune-57529", 4, "14:00", 3, "driver"),
        ("claire@eclor.test", "commune-54523", "kirchberg", 1, "08:00", 1, "passenger"),
        ("mehdi@eclor.test", "commune-54580", "esch-alzette", 5, "19:30", 2, "passenger"),
    ]
    for email, frm, to, days_ahead, at, seats, role in one_offs:
        user = users.get(email) or demo_user(session, email)
        day = (now_local + timedelta(days=days_ahead)).date()
        dep = datetime.combine(day, time.fromisoformat(at), tzinfo=PARIS).astimezone(UTC)
        a, b = places[frm], places[to]
        made += create_ad(
            session,
            user.id,
            AdInput(  # type: ignore[arg-type]
                role=role,
                frequency="punctual",
                from_label=a.name,
                from_lat=a.lat,
                from_lon=a.lon,
                to_label=b.name,
                to_lat=b.lat,
                to_lon=b.lon,
                seats=seats,
                departure_at=dep,
                margin_min=15,
                price_per_km_cents=8 if role == "driver" else 0,
            ),
        )
    # Regular passenger requests, so drivers see who needs a seat.
    for email, frm, to, out, days in [
        ("voisine@eclor.test", "commune-54580", "kirchberg", "07:30", (0, 1, 2, 3, 4)),
        ("ines@eclor.test", "commune-57529", "luxembourg-gare", "07:10", (1, 3)),
    ]:
        user = users.get(email) or demo_user(session, email)
        a, b = places[frm], places[to]
        o = minute_of(time.fromisoformat(out))
        made += create_ad(
            session,
            user.id,
            AdInput(  # type: ignore[arg-type]
                role="passenger",
                frequency="regular",
                from_label=a.name,
                from_lat=a.lat,
                from_lon=a.lon,
                to_label=b.name,
                to_lat=b.lat,
                to_lon=b.lon,
                seats=1,
                margin_min=15,
                outward={d: (o, 15) for d in days},
            ),
        )
    # A few bookings: Camille rides with Julien to Kirchberg, Luca is asked for a seat.
    by_owner = {(ad.user_id, ad.leg, ad.frequency): ad for ad in made if ad.role == "driver"}
    julien, camille, luca = (
        users["habitant@eclor.test"],
        users["voisine@eclor.test"],
        users["frontalier@eclor.test"],
    )
    b1 = request_seats(session, by_owner[(julien.id, "outward", "regular")].id, camille.id, 1)  # type: ignore[arg-type]
    accept(session, b1, julien.id)  # type: ignore[arg-type]
    session.add(
        CarpoolMessage(
            booking_id=b1.id,
            sender_id=camille.id,  # type: ignore[arg-type]
            body="Bonjour Julien, je vous attends devant la mairie de Villerupt ?",
        )
    )
    b1.accepted_at = utcnow() - timedelta(days=21)
    request_seats(
        session, by_owner[(luca.id, "outward", "regular")].id, users["mehdi@eclor.test"].id, 1
    )  # type: ignore[arg-type]
    return f"{len(made)} carpool ads, 2 bookings, {len(DEMO_CARPOOLERS)} more residents"

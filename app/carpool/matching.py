"""Carpool matching: the search of ads that fit a trip, scored and ranked.

Matching (after Mobicoop and RDEX+)
-----------------------------------
A search looks for ads of one role (drivers' offers, or passengers'
requests) between two points.

1. **Prefilter in SQL** (``app.carpool.ranking.candidates_statement``): active ads of the sought
   role with seats left, whose start lies in a bounding box of ``from_radius``
   around the searched start and whose end lies in a box of ``to_radius``
   around the searched end (grid cells of both ends looked up in an index, then the boxes), and whose time
   can fit (``time_bounds``): one-off ads departing within the search margin plus the widest ad
   margin, regular ads running on a searched weekday with a time window that
   overlaps the searched one (a bitmask and two minute columns), both widened on one side by the
   time to reach a pick-up as far as the radius (earlier for drivers' ads, later for passengers').
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

3. **Rank in SQL** (``app.carpool.ranking.ranked_statement``, its statement built once per
   shape of search and bound to each search's values): the database works out the
   distances of every candidate once (``sqrt``), drops those whose detour or
   shared part cannot fit (a metre to spare), and sorts them by an upper
   bound of their score (the geometric part exactly, the time part at the
   best the ad's time window or departure allows once the time to reach the
   pick-up is known, times the share of the searched weekdays the ad runs
   on, plus half a point for rounding), reading the ranking (ids and
   bounds) a batch at a time with ``LIMIT`` and the ranked ads' rows a chunk
   at a time in its order. ``search`` scores them in Python and stops as soon
   as the next candidate's bound is below the last kept score: the result is
   exactly the first ``limit`` of the exhaustive search, but only the best
   few hundred candidates leave the database, not the thousands around a
   busy commune.

Distances shown to people are road estimates: haversine × 1.3.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.carpool.ranking import CANDIDATE_COLUMNS, Query, candidates_statement, ranking_query
from app.carpool.trips import (
    KY,
    MAX_DETOUR,
    MIN_SHARED,
    ROAD_FACTOR,
    SEARCH_LIMIT,
    SPEED_KMH,
    departure_on,
    parse_schedule,
    trip_price_cents,
)
from app.i18n import gettext as _
from app.models.accounts import User
from app.models.carpool import (
    CarpoolAd,
    CarpoolBlock,
    CarpoolProfile,
    CarpoolSearch,
)
from app.territories import zone as territory_zone

# --- matching ---------------------------------------------------------------------------


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
        if q.frequency == "punctual" and q.local_when is not None:
            diff = (row.departure_at - q.when).total_seconds() / 60 + sign * offset
            diffs.append((q.local_when.weekday(), abs(diff), row.margin_min + q.margin_min))
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
    mean_allowed = max(1.0, sum(x[2] for x in diffs) / len(diffs))
    ends = (pickup / q.from_radius_m + dropoff / q.to_radius_m) / 2
    value = 100 * (
        0.4 * (1 - detour / MAX_DETOUR) + 0.3 * (1 - ends) + 0.3 * (1 - time_diff / mean_allowed)
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
        select(col(CarpoolBlock.blocker_id), col(CarpoolBlock.blocked_id)).where(
            or_(col(CarpoolBlock.blocker_id) == user_id, col(CarpoolBlock.blocked_id) == user_id)
        )
    ).all()
    return frozenset(b if a == user_id else a for a, b in rows)


def fetch_candidates(session: Session, q: Query) -> Sequence[Any]:
    """Run the prefilter on the session's connection (Core rows, no ORM layer)."""
    return session.connection().execute(candidates_statement(q)).all()


def search(session: Session, q: Query, *, limit: int = SEARCH_LIMIT) -> list[Match]:
    """Matches for ``q``, best first: the first ``limit`` of scoring every candidate, reading the
    candidates from the database best bound first and stopping when none left can enter the list.

    The ranking is read a batch at a time (ids and bounds only), and the ads' rows a chunk at a time
    in its order: most pages are settled within the first few hundred, so the rest of a batch is
    never read from the table nor converted. The ranking's statement is built once per shape of
    search and only bound to ``q``'s values."""
    connection = session.connection()
    dialect = connection.dialect.name
    if limit <= 0:
        return []
    skip = set(q.exclude_users)
    if q.viewer_id is not None:
        skip.add(q.viewer_id)
    kept: list[tuple[float, int, Match]] = []  # a heap of (score, -ad id): the worst kept on top
    batch, offset = max(20 * limit, 1000), 0
    while True:
        built = ranking_query(q, limit=batch, offset=offset, dialect=dialect, ids_only=True)
        if built is None:
            return []  # the searched trip is too short to share
        ranking = connection.execute(*built).all()
        chunk, start = FIRST_CHUNK, 0
        while start < len(ranking):
            part = ranking[start : start + chunk]
            start += chunk
            chunk = min(4 * chunk, MAX_CHUNK)
            ids = [r.id for r in part]
            rows = {row.id: row for row in connection.execute(ROWS_BY_ID, {"ids": ids}).all()}
            for ranked in part:
                if len(kept) == limit and ranked.bound < kept[0][0]:
                    return _best_first(kept)
                row = rows.get(ranked.id)
                if row is None or row.user_id in skip:
                    continue
                m = score(q, row)
                if m is None:
                    continue
                entry = (m.score, -m.ad_id, m)
                if len(kept) < limit:
                    heapq.heappush(kept, entry)
                elif entry[:2] > kept[0][:2]:
                    heapq.heapreplace(kept, entry)
        if len(ranking) < batch:
            return _best_first(kept)
        offset += batch
        batch *= 4


# The rows ``score`` reads, for a chunk of ranked ids (built once: only the ids change).
ROWS_BY_ID = sa.select(*CANDIDATE_COLUMNS).where(
    col(CarpoolAd.id).in_(sa.bindparam("ids", expanding=True))
)
FIRST_CHUNK = 400  # the ads' rows read first: a busy page is settled within 100 to 600 candidates
MAX_CHUNK = 2000  # ids per lookup (well under either database's limit of bound parameters)


def _best_first(kept: list[tuple[float, int, Match]]) -> list[Match]:
    return [m for _score, _id, m in sorted(kept, key=lambda e: (-e[0], -e[1]))]


def attach_ads(session: Session, matches: list[Match]) -> list[Match]:
    """Load the ads and first names of the matches to show them."""
    if not matches:
        return matches
    ids = [m.ad_id for m in matches]
    ads = {a.id: a for a in session.scalars(select(CarpoolAd).where(col(CarpoolAd.id).in_(ids)))}
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
        select(col(User.id), col(User.display_name), col(User.email)).where(col(User.id).in_(ids))
    ):
        out[uid] = (name or "").split(" ")[0] or _("Un membre")
    for p in session.scalars(select(CarpoolProfile).where(col(CarpoolProfile.user_id).in_(ids))):
        if p.first_name:
            out[p.user_id] = p.first_name
    return out


# --- saved searches and alerts ----------------------------------------------------------


def query_of_search(session: Session, s: CarpoolSearch) -> Query:
    """A saved search as a query, in the time zone of the territory it was saved on."""
    zone = territory_zone(session, s.territory_id)
    when = None
    if s.frequency == "punctual" and s.on_date is not None:
        when = departure_on(s.on_date, s.minute, zone)
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
        zone=zone,
    )

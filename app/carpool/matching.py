"""Carpool matching: the search of ads that fit a trip, scored and ranked.

Matching (after Mobicoop and RDEX+)
-----------------------------------
A search looks for ads of one role (drivers' offers, or passengers'
requests) between two points.

1. **Prefilter in SQL** (``candidates_statement``): active ads of the sought
   role with seats left, whose start lies in a bounding box of ``from_radius``
   around the searched start and whose end lies in a box of ``to_radius``
   around the searched end (grid cells of both ends looked up in an index, then the boxes), and whose time
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

3. **Rank in SQL** (``ranked_statement``): the database works out the
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
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import or_
from sqlalchemy.ext.compiler import compiles
from sqlmodel import Session, col, select

from app import geo
from app.carpool.trips import (
    DEFAULT_RADIUS_M,
    KY,
    MAX_AD_MARGIN_MIN,
    MAX_DETOUR,
    MIN_SHARED,
    PARIS,
    ROAD_FACTOR,
    SEARCH_LIMIT,
    SPEED_KMH,
    days_of,
    local,
    mask_of,
    minute_of,
    parse_schedule,
    trip_price_cents,
)
from app.db import utcnow
from app.i18n import gettext as _
from app.models.accounts import User
from app.models.carpool import (
    CarpoolAd,
    CarpoolBlock,
    CarpoolProfile,
    CarpoolSearch,
)

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
    # The territories whose ads are sought (app.carpool.shares.searched_territories); None: all.
    territories: tuple[int, ...] | None = None

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
    col(CarpoolAd.id),
    col(CarpoolAd.user_id),
    col(CarpoolAd.role),
    col(CarpoolAd.frequency),
    col(CarpoolAd.from_lat),
    col(CarpoolAd.from_lon),
    col(CarpoolAd.to_lat),
    col(CarpoolAd.to_lon),
    col(CarpoolAd.departure_at),
    col(CarpoolAd.margin_min),
    col(CarpoolAd.schedule),
    col(CarpoolAd.days_mask),
    col(CarpoolAd.seats_left),
    col(CarpoolAd.price_per_km_cents),
)


def _within(lat: Any, lon: Any, at_lat: float, at_lon: float, kx: float, radius_m: float) -> Any:
    dy, dx = (lat - at_lat) * KY, (lon - at_lon) * kx
    return dy * dy + dx * dx <= (radius_m + 1.0) ** 2


MAX_CELLS = 64  # grid cells looked up per end (a 5 km radius touches 25 to 36)


def _cells_reaching(
    cells: list[int], lat: float, lon: float, kx: float, radius_m: float
) -> list[int]:
    """The cells of ``cells`` with some point within ``radius_m`` of (``lat``, ``lon``), in the planar
    metres ``score`` measures (10 m to spare): a box's corner cells the circle misses hold no match."""
    out = []
    for cell in cells:
        row, column = divmod(cell, 20_000)
        lat0, lon0 = row * geo.CELL_LAT - 90.0, column * geo.CELL_LON - 180.0
        dy = max(lat0 - lat, 0.0, lat - (lat0 + geo.CELL_LAT)) * KY
        dx = max(lon0 - lon, 0.0, lon - (lon0 + geo.CELL_LON)) * kx
        if dx * dx + dy * dy <= (radius_m + 10.0) ** 2:
            out.append(cell)
    return out


# What the ranking reads of every candidate: all in ``ix_carpool_ads_cells`` (the id is the row's).
RANK_COLUMNS = (
    col(CarpoolAd.id),
    col(CarpoolAd.from_lat),
    col(CarpoolAd.from_lon),
    col(CarpoolAd.to_lat),
    col(CarpoolAd.to_lon),
    col(CarpoolAd.frequency),
    col(CarpoolAd.window_start),
    col(CarpoolAd.window_end),
    col(CarpoolAd.days_mask),
    col(CarpoolAd.departure_at),
)

# The same for regular ads, read from ``ix_carpool_ads_cells_regular``, which does not hold the
# departure (always empty for them): an empty column instead, so no table row is read.
RANK_REGULAR_COLUMNS = (
    *RANK_COLUMNS[:-1],
    sa.cast(sa.null(), sa.DateTime(timezone=True)).label("departure_at"),
)


def candidates_statement(
    q: Query,
    *,
    limit: int | None = None,
    use_cells: bool = True,
    window_range: bool = True,
    columns: tuple[Any, ...] = CANDIDATE_COLUMNS,
    regular_columns: tuple[Any, ...] | None = None,
) -> Any:
    """The SQL prefilter: every ad that may match ``q`` (a superset of the matches, never cut).

    One-off searches read one-off ads departing within the margins and regular
    ads running that weekday (``UNION ALL`` of the two); regular searches read
    only regular ads. Both ends are looked up by grid cell (``ix_carpool_ads_cells``:
    the few cells each radius's box touches and its circle reaches, by equality), then the exact boxes;
    a radius too wide for cells (RDEX allows 50 km) keeps the box alone
    (``ix_carpool_ads_search``), as does ``use_cells=False`` (the benchmark's comparison).
    Regular ads are looked up by cells then a range of window starts (``ix_carpool_ads_cells_regular``;
    ``window_range=False`` checks the window on every entry of the cells instead, the benchmark's
    comparison), one-off ads by cells then a range of departures. ``regular_columns`` (default
    ``columns``) is what the regular ads' part selects.

    The conditions on the index entries come cheapest and most selective first (the time, the
    weekdays, the seats, then the distances, the boxes last), as SQLite checks them in the order
    written.
    """
    f_lat0, f_lat1, f_lon0, f_lon1 = geo.bbox(q.from_lat, q.from_lon, q.from_radius_m)
    t_lat0, t_lat1, t_lon0, t_lon1 = geo.bbox(q.to_lat, q.to_lon, q.to_radius_m)
    to_cells = geo.cells_covering(t_lat0, t_lat1, t_lon0, t_lon1, MAX_CELLS)
    from_cells = geo.cells_covering(f_lat0, f_lat1, f_lon0, f_lon1, MAX_CELLS)
    cells: tuple[Any, ...] = ()
    if to_cells is not None and use_cells:
        to_cells = _cells_reaching(to_cells, q.to_lat, q.to_lon, q.kx, q.to_radius_m)
        cells += (col(CarpoolAd.to_cell).in_(to_cells),)
        if from_cells is not None:
            from_cells = _cells_reaching(from_cells, q.from_lat, q.from_lon, q.kx, q.from_radius_m)
            cells += (col(CarpoolAd.from_cell).in_(from_cells),)
    slack = q.margin_min + MAX_AD_MARGIN_MIN + 15  # margins plus the time to reach the pick-up
    minute = q.searched_minute()
    days = mask_of(q.searched_days())

    # With cells, the boxes are checked on the entries of ``ix_carpool_ads_cells`` as expressions
    # (``+ 0.0``), so the planner looks the cells up by equality rather than range over one latitude
    # in ``ix_carpool_ads_search`` (which reads a row per entry): the ranking then reads no table row.
    def box(column: Any) -> Any:
        return column + 0.0 if cells else column

    keys = (col(CarpoolAd.status) == "active", col(CarpoolAd.role) == q.role)
    places: tuple[Any, ...] = (
        col(CarpoolAd.seats_left) >= q.seats,
        # Within the radii as ``score`` measures them (planar metres), a metre to spare for rounding:
        # checked on the index entries, so ads in a box's corners are never read.
        _within(
            col(CarpoolAd.from_lat),
            col(CarpoolAd.from_lon),
            q.from_lat,
            q.from_lon,
            q.kx,
            q.from_radius_m,
        ),
        _within(
            col(CarpoolAd.to_lat), col(CarpoolAd.to_lon), q.to_lat, q.to_lon, q.kx, q.to_radius_m
        ),
        box(col(CarpoolAd.to_lat)).between(t_lat0, t_lat1),
        box(col(CarpoolAd.to_lon)).between(t_lon0, t_lon1),
        box(col(CarpoolAd.from_lat)).between(f_lat0, f_lat1),
        box(col(CarpoolAd.from_lon)).between(f_lon0, f_lon1),
    )
    if q.territories is not None:
        # Checked on the index entries too (the cell indexes end with the territory).
        places += (col(CarpoolAd.territory_id).in_(q.territories),)
    if q.frequency == "punctual" and q.local_when is not None:
        last_day = q.local_when.date()
    else:
        last_day = local(utcnow()).date()
    window_start: Any = col(CarpoolAd.window_start)
    if not window_range:  # an expression: no index range on it
        window_start = window_start + 0
    regular = sa.select(*(regular_columns or columns)).where(
        *keys,
        col(CarpoolAd.frequency) == "regular",
        *cells,
        window_start <= minute + q.margin_min + 15,
        col(CarpoolAd.window_end) >= minute - q.margin_min - 15,
        col(CarpoolAd.days_mask).op("&")(days) != 0,
        *places,
        or_(col(CarpoolAd.valid_until).is_(None), col(CarpoolAd.valid_until) >= last_day),
    )
    if q.frequency == "punctual" and q.when is not None:
        punctual = sa.select(*columns).where(
            *keys,
            col(CarpoolAd.frequency) == "punctual",
            *cells,
            col(CarpoolAd.departure_at).between(
                q.when - timedelta(minutes=slack),
                q.when + timedelta(minutes=slack),
            ),
            *places,
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


BOUND_SLACK = (
    0.5  # points added to the SQL bound: the score's rounding (0.05) and float differences
)


def _dist(x: Any, y: Any) -> Any:
    return sa.func.sqrt(x * x + y * y)


class _MinutesAfter(sa.sql.expression.FunctionElement[float]):
    """Minutes from a fixed instant to a timestamp column (negative before it), on either database."""

    type = sa.Float()
    inherit_cache = True


@compiles(_MinutesAfter, "sqlite")
def _minutes_after_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    column, instant = element.clauses
    return f"((julianday({compiler.process(column, **kw)}) - {compiler.process(instant, **kw)}) * 1440.0)"


@compiles(_MinutesAfter, "postgresql")
def _minutes_after_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    column, instant = element.clauses
    return f"((EXTRACT(EPOCH FROM {compiler.process(column, **kw)}) - {compiler.process(instant, **kw)}) / 60.0)"


def _minutes_after(column: Any, when: datetime, dialect: str) -> Any:
    """``column - when`` in minutes: the instant is given as the number each database counts in."""
    when = when.astimezone(UTC)
    seconds = (when - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
    instant = seconds / 86400.0 + 2440587.5 if dialect == "sqlite" else seconds
    return _MinutesAfter(column, sa.literal(instant, sa.Float()))


def ranked_statement(
    q: Query,
    *,
    limit: int,
    offset: int = 0,
    dialect: str = "sqlite",
    ids_only: bool = False,
) -> Any:
    """The ``limit`` candidates of ``q`` after ``offset`` that can fit, best possible score first
    (column ``bound``), or None when the searched trip itself is too short to share (under 500 m).

    The candidates are ranked on what the index holds (ids, coordinates, time windows, weekdays: no
    table row read), then only the ranked batch is read in full. Distances are planar metres around
    the search's start, as ``score`` measures them; the filters keep a metre to spare, so SQL never
    drops an ad ``score`` would keep.

    The bound is ``score`` with its geometric part exact and its time part at the best the ad's window
    allows: the time the driver reaches the pick-up (known from the pick-up distance) against the
    window ``[window_start, window_end]``, which holds every scheduled minute of a regular ad with
    its margin on both sides, or against the departure of a one-off ad; for a regular search, times
    the share of the searched weekdays the ad runs on. ``dialect`` names the
    database (the one-off departures are compared in its own time arithmetic).

    ``ids_only`` returns the ranking alone (``id``, ``bound``), without reading the ranked ads' rows.
    """
    kx = q.kx
    c = candidates_statement(q, columns=RANK_COLUMNS, regular_columns=RANK_REGULAR_COLUMNS)
    c = c.subquery("candidates").c
    # The three distances worked out once per candidate: ``OFFSET 0`` keeps the databases from
    # pasting their expressions into every use below (SQLite would take a square root nine times).
    measured = (
        sa.select(
            c.id,
            c.frequency,
            c.window_start,
            c.window_end,
            c.days_mask,
            c.departure_at,
            _dist((c.from_lon - q.from_lon) * kx, (c.from_lat - q.from_lat) * KY).label("pickup"),
            _dist((c.to_lon - q.to_lon) * kx, (c.to_lat - q.to_lat) * KY).label("dropoff"),
            _dist((c.to_lon - c.from_lon) * kx, (c.to_lat - c.from_lat) * KY).label("ad_length"),
        )
        .offset(0)
        .subquery("measured")
    )
    c = measured.c
    pickup, dropoff, ad_length = c.pickup, c.dropoff, c.ad_length
    direct: Any
    shared: Any
    own = math.hypot((q.to_lon - q.from_lon) * kx, (q.to_lat - q.from_lat) * KY)
    if q.role == "driver":  # the ad drives A→B, the search rides P→Q
        direct, shared = ad_length, sa.literal(own)
        fits: tuple[Any, ...] = (ad_length >= 499.0, ad_length * MIN_SHARED <= own + 1.0)
    else:  # the search drives, the ads ride
        if own < 499.0:
            return None
        direct, shared = sa.literal(own), ad_length
        fits = (ad_length >= own * MIN_SHARED - 1.0,)
    extra = pickup + shared + dropoff - direct
    fits += (extra <= direct * MAX_DETOUR + 1.0,)
    # ``score`` clamps the detour at 0; unclamped (only a rounding under it) the bound is only higher.
    detour = extra / direct
    ends = (pickup / float(q.from_radius_m) + dropoff / float(q.to_radius_m)) / 2.0
    geometric = 100.0 * (0.4 * (1.0 - detour / MAX_DETOUR) + 0.3 * (1.0 - ends))
    # The time part of a regular ad: the minute that would fit exactly, ``at``, lies ``gap`` outside
    # the window (0 inside). Each scheduled minute m with margin g has [m − g, m + g] inside the window,
    # so its |difference| is at least gap + g while its allowed difference is g + the search's margin
    # M: the ratio (gap + g) / (g + M) is at least gap / M (past M nothing fits). ``score`` takes
    # the ratio of the means over the weekdays kept, which is at least gap / M likewise, and divides
    # by 1 at least: so at least gap / max(M, 1).
    sign = 1 if q.role == "driver" else -1
    reach = pickup * (ROAD_FACTOR / 1000 / SPEED_KMH * 60)  # minutes from A to P, as ``score``
    at = float(q.searched_minute()) - sign * reach  # the ad's minute that would fit exactly
    gap: Any = sa.case(
        (c.window_start - at > 0.0, c.window_start - at),
        (at - c.window_end > 0.0, at - c.window_end),
        else_=0.0,
    )
    timely: Any = 30.0 * (1.0 - gap / float(max(q.margin_min, 1)))
    if q.frequency == "punctual" and q.when is not None:
        # A one-off ad: its |difference| exactly, its allowed difference its margin (half its
        # window) + M (+ 1: ``score`` divides by 1 at least).
        one_off = sa.func.abs(_minutes_after(c.departure_at, q.when, dialect) + sign * reach)
        allowed = (c.window_end - c.window_start) / 2.0 + float(q.margin_min + 1)
        timely = sa.case(
            (c.frequency == "punctual", 30.0 * (1.0 - one_off / allowed)), else_=timely
        )
    value: Any = geometric + timely
    searched = q.searched_days()
    if q.frequency == "regular" and searched:  # only regular ads: at most the weekdays they run on
        runs = sum(
            (sa.case((c.days_mask.op("&")(1 << d) != 0, 1.0), else_=0.0) for d in searched),
            sa.literal(0.0),
        )
        value = value * (0.5 + runs * (0.5 / len(searched)))
    bound = (value + BOUND_SLACK).label("bound")
    ranked = (
        sa.select(c.id, bound).where(*fits).order_by(bound.desc(), c.id).limit(limit).offset(offset)
    )
    if ids_only:
        return ranked
    best = ranked.subquery("ranked")
    return (
        sa.select(*CANDIDATE_COLUMNS, best.c.bound)
        .join_from(best, CarpoolAd, col(CarpoolAd.id) == best.c.id)
        .order_by(best.c.bound.desc(), best.c.id)
    )


def search(session: Session, q: Query, *, limit: int = SEARCH_LIMIT) -> list[Match]:
    """Matches for ``q``, best first: the first ``limit`` of scoring every candidate, reading the
    candidates from the database best bound first and stopping when none left can enter the list.

    The ranking is read a batch at a time (ids and bounds only), and the ads' rows a chunk at a time
    in its order: most pages are settled within the first few hundred, so the rest of a batch is
    never read from the table nor converted."""
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
        stmt = ranked_statement(q, limit=batch, offset=offset, dialect=dialect, ids_only=True)
        if stmt is None:
            return []  # the searched trip is too short to share
        ranking = connection.execute(stmt).all()
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

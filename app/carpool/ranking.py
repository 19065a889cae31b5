"""Carpool matching in SQL: the prefilter of a search's candidates and their ranking by the best
score they can reach (``app.carpool.matching`` describes both and scores the ranked candidates),
and ``Query``, what a search looks for.

The statements are built once per shape of search (``_ranking``) with their values as named
parameters, so a search only computes and binds its values.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import or_
from sqlalchemy.ext.compiler import compiles
from sqlmodel import col

from app import geo, i18n
from app.carpool.trips import (
    DEFAULT_RADIUS_M,
    KY,
    MAX_AD_MARGIN_MIN,
    MAX_DETOUR,
    MIN_SHARED,
    ROAD_FACTOR,
    SPEED_KMH,
    days_of,
    local,
    mask_of,
    minute_of,
)
from app.db import utcnow
from app.models.carpool import CarpoolAd


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
    # The searcher's territory's time zone: ``when``, ``minute`` and the days are its wall clock.
    zone: ZoneInfo = field(default_factory=i18n.zone)

    def __post_init__(self) -> None:
        # Worked out once per search, not once per candidate.
        self.kx = KY * math.cos(math.radians(self.from_lat))  # metres per degree of longitude here
        self.local_when = local(self.when, self.zone) if self.when else None
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


def _p(name: str, type_: Any = None) -> Any:
    """A named parameter of the search's statements (built once per shape, see ``_ranking``)."""
    return sa.bindparam(name, type_=type_ if type_ is not None else sa.Float())


def _within(lat: Any, lon: Any, end: str) -> Any:
    """Within the radius of the search's ``end`` ("from" or "to") as ``score`` measures it (planar
    metres), a metre to spare for rounding (parameter ``{end}_r2``: the radius plus 1, squared)."""
    dy, dx = (lat - _p(f"{end}_lat")) * KY, (lon - _p(f"{end}_lon")) * _p("kx")
    return dy * dy + dx * dx <= _p(f"{end}_r2")


def reach_minutes(metres: float) -> float:
    """The minutes ``score`` counts for a driver to cover ``metres`` (as the crow flies) to a pick-up."""
    return metres * ROAD_FACTOR / 1000 / SPEED_KMH * 60


def time_bounds(q: Query) -> tuple[int, int]:
    """How many minutes before and after the searched time an ad's time at its start may lie (its
    own margin aside) and still fit ``score``: the search's margin, plus, on one side, the time
    the driver takes to reach a pick-up up to ``from_radius_m`` away at the speed ``score`` assumes
    (8 minutes at 5 km, 55 at 35 km: RDEX allows 50). A driver's ad (a passenger searching) starts
    that much earlier; a passenger's ad (a driver searching) is picked up that much later."""
    reach = math.ceil(reach_minutes(q.from_radius_m)) + 1  # a minute to spare for rounding
    if q.role == "driver":
        return q.margin_min + reach, q.margin_min
    return q.margin_min, q.margin_min + reach


@dataclass(frozen=True)
class _Shape:
    """What the prefilter's SQL depends on (the rest are parameters): a one-off search (which reads
    one-off ads too), and how many ends are looked up by grid cell (0: the boxes alone)."""

    punctual: bool
    cells: int
    territories: bool = False  # the ads of some territories only (``Query.territories``)


def _prefilter(q: Query, *, use_cells: bool = True) -> tuple[_Shape, dict[str, Any]]:
    """The prefilter's shape and parameters for ``q``."""
    f_lat0, f_lat1, f_lon0, f_lon1 = geo.bbox(q.from_lat, q.from_lon, q.from_radius_m)
    t_lat0, t_lat1, t_lon0, t_lon1 = geo.bbox(q.to_lat, q.to_lon, q.to_radius_m)
    to_cells = geo.cells_covering(t_lat0, t_lat1, t_lon0, t_lon1, MAX_CELLS)
    from_cells = geo.cells_covering(f_lat0, f_lat1, f_lon0, f_lon1, MAX_CELLS)
    before, after = time_bounds(q)
    minute = q.searched_minute()
    punctual = q.frequency == "punctual" and q.when is not None
    last_day = (q.local_when if punctual and q.local_when else local(utcnow(), q.zone)).date()
    params: dict[str, Any] = {
        "role": q.role,
        "seats": q.seats,
        "kx": q.kx,
        "from_lat": q.from_lat,
        "from_lon": q.from_lon,
        "to_lat": q.to_lat,
        "to_lon": q.to_lon,
        "from_r2": (q.from_radius_m + 1.0) ** 2,
        "to_r2": (q.to_radius_m + 1.0) ** 2,
        "f_lat0": f_lat0,
        "f_lat1": f_lat1,
        "f_lon0": f_lon0,
        "f_lon1": f_lon1,
        "t_lat0": t_lat0,
        "t_lat1": t_lat1,
        "t_lon0": t_lon0,
        "t_lon1": t_lon1,
        # The window holds every scheduled minute with its margin: it opens before the latest
        # time that fits and closes after the earliest.
        "opens_by": minute + after,
        "closes_from": minute - before,
        "days": mask_of(q.searched_days()),
        "last_day": last_day,
    }
    if punctual:
        assert q.when is not None
        params["leaves_from"] = q.when - timedelta(minutes=before + MAX_AD_MARGIN_MIN)
        params["leaves_by"] = q.when + timedelta(minutes=after + MAX_AD_MARGIN_MIN)
    cells = 0
    if to_cells is not None and use_cells:
        params["to_cells"] = _cells_reaching(to_cells, q.to_lat, q.to_lon, q.kx, q.to_radius_m)
        cells = 1
        if from_cells is not None:
            params["from_cells"] = _cells_reaching(
                from_cells, q.from_lat, q.from_lon, q.kx, q.from_radius_m
            )
            cells = 2
    if q.territories is not None:
        params["territories"] = list(q.territories)
    return _Shape(punctual, cells, q.territories is not None), params


def _candidates(
    shape: _Shape,
    *,
    window_range: bool = True,
    columns: tuple[Any, ...] = CANDIDATE_COLUMNS,
    regular_columns: tuple[Any, ...] | None = None,
) -> Any:
    """The prefilter of ``shape``, its values left as parameters (``_prefilter``)."""
    cells: tuple[Any, ...] = ()
    if shape.cells:
        cells += (col(CarpoolAd.to_cell).in_(sa.bindparam("to_cells", expanding=True)),)
    if shape.cells == 2:
        cells += (col(CarpoolAd.from_cell).in_(sa.bindparam("from_cells", expanding=True)),)

    # With cells, the boxes are checked on the entries of ``ix_carpool_ads_cells`` as expressions
    # (``+ 0.0``), so the planner looks the cells up by equality rather than range over one latitude
    # in ``ix_carpool_ads_search`` (which reads a row per entry): the ranking then reads no table row.
    def box(column: Any) -> Any:
        return column + 0.0 if cells else column

    keys = (col(CarpoolAd.status) == "active", col(CarpoolAd.role) == _p("role", sa.String()))
    places: tuple[Any, ...] = (
        col(CarpoolAd.seats_left) >= _p("seats", sa.Integer()),
        # Within the radii, checked on the index entries, so ads in a box's corners are never read.
        _within(col(CarpoolAd.from_lat), col(CarpoolAd.from_lon), "from"),
        _within(col(CarpoolAd.to_lat), col(CarpoolAd.to_lon), "to"),
        box(col(CarpoolAd.to_lat)).between(_p("t_lat0"), _p("t_lat1")),
        box(col(CarpoolAd.to_lon)).between(_p("t_lon0"), _p("t_lon1")),
        box(col(CarpoolAd.from_lat)).between(_p("f_lat0"), _p("f_lat1")),
        box(col(CarpoolAd.from_lon)).between(_p("f_lon0"), _p("f_lon1")),
    )
    if shape.territories:
        # Checked on the index entries too (the cell indexes end with the territory).
        places += (col(CarpoolAd.territory_id).in_(sa.bindparam("territories", expanding=True)),)
    window_start: Any = col(CarpoolAd.window_start)
    if not window_range:  # an expression: no index range on it
        window_start = window_start + 0
    regular = sa.select(*(regular_columns or columns)).where(
        *keys,
        col(CarpoolAd.frequency) == "regular",
        *cells,
        window_start <= _p("opens_by", sa.Integer()),
        col(CarpoolAd.window_end) >= _p("closes_from", sa.Integer()),
        col(CarpoolAd.days_mask).op("&")(_p("days", sa.Integer())) != 0,
        *places,
        or_(
            col(CarpoolAd.valid_until).is_(None),
            col(CarpoolAd.valid_until) >= _p("last_day", sa.Date()),
        ),
    )
    if not shape.punctual:
        return regular
    departure = sa.DateTime(timezone=True)
    punctual = sa.select(*columns).where(
        *keys,
        col(CarpoolAd.frequency) == "punctual",
        *cells,
        col(CarpoolAd.departure_at).between(
            _p("leaves_from", departure), _p("leaves_by", departure)
        ),
        *places,
    )
    return punctual.union_all(regular)


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
    comparison), one-off ads by cells then a range of departures; both within ``time_bounds``.
    ``regular_columns`` (default ``columns``) is what the regular ads' part selects.

    The conditions on the index entries come cheapest and most selective first (the time, the
    weekdays, the seats, then the distances, the boxes last), as SQLite checks them in the order
    written.
    """
    shape, params = _prefilter(q, use_cells=use_cells)
    stmt = _candidates(
        shape, window_range=window_range, columns=columns, regular_columns=regular_columns
    )
    if limit:
        stmt = stmt.limit(limit)
    return stmt.params(params)


BOUND_SLACK = (
    0.5  # points added to the SQL bound: the score's rounding (0.05) and float differences
)


def _dist(x: Any, y: Any) -> Any:
    # Typed as a float: untyped, a division by it is cast to NUMERIC, which PostgreSQL then
    # computes in arbitrary precision for every candidate (a tenth of a busy ranking's time).
    return sa.func.sqrt(x * x + y * y, type_=sa.Float())


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


def _instant(when: datetime, dialect: str) -> float:
    """``when`` as the number each database counts time in (``_MinutesAfter``'s instant)."""
    seconds = (when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
    return seconds / 86400.0 + 2440587.5 if dialect == "sqlite" else seconds


@functools.lru_cache(maxsize=64)
def _ranking(shape: _Shape, role: str, regular: bool, dialect: str, ids_only: bool) -> Any:
    """The ranking of ``ranked_statement`` for one shape of search (the prefilter's ``shape``, the
    role sought, a regular search's weekdays counted, the database, ids only), its values left as
    parameters (``_ranking_parameters``): built once, so a search only binds its values."""
    c = _candidates(shape, columns=RANK_COLUMNS, regular_columns=RANK_REGULAR_COLUMNS)
    c = c.subquery("candidates").c
    kx = _p("kx")
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
            _dist((c.from_lon - _p("from_lon")) * kx, (c.from_lat - _p("from_lat")) * KY).label(
                "pickup"
            ),
            _dist((c.to_lon - _p("to_lon")) * kx, (c.to_lat - _p("to_lat")) * KY).label("dropoff"),
            _dist((c.to_lon - c.from_lon) * kx, (c.to_lat - c.from_lat) * KY).label("ad_length"),
        )
        .offset(0)
        .subquery("measured")
    )
    c = measured.c
    pickup, dropoff, ad_length = c.pickup, c.dropoff, c.ad_length
    direct: Any
    shared: Any
    own = _p("own")  # the searched trip's length
    if role == "driver":  # the ad drives A→B, the search rides P→Q
        direct, shared = ad_length, own
        fits: tuple[Any, ...] = (ad_length >= 499.0, ad_length * MIN_SHARED <= own + 1.0)
    else:  # the search drives, the ads ride
        direct, shared = own, ad_length
        fits = (ad_length >= own * MIN_SHARED - 1.0,)
    extra = pickup + shared + dropoff - direct
    fits += (extra <= direct * MAX_DETOUR + 1.0,)
    # ``score`` clamps the detour at 0; unclamped (only a rounding under it) the bound is only higher.
    detour = extra / direct
    ends = (pickup / _p("from_radius") + dropoff / _p("to_radius")) / 2.0
    geometric = 100.0 * (0.4 * (1.0 - detour / MAX_DETOUR) + 0.3 * (1.0 - ends))
    # The time part of a regular ad: the minute that would fit exactly, ``at``, lies ``gap`` outside
    # the window (0 inside). Each scheduled minute m with margin g has [m − g, m + g] inside the window,
    # so its |difference| is at least gap + g while its allowed difference is g + the search's margin
    # M: the ratio (gap + g) / (g + M) is at least gap / M (past M nothing fits). ``score`` takes
    # the ratio of the means over the weekdays kept, which is at least gap / M likewise, and divides
    # by 1 at least: so at least gap / max(M, 1).
    sign = 1 if role == "driver" else -1
    reach = pickup * (ROAD_FACTOR / 1000 / SPEED_KMH * 60)  # minutes from A to P, as ``score``
    at = _p("minute") - sign * reach  # the ad's minute that would fit exactly
    gap: Any = sa.case(
        (c.window_start - at > 0.0, c.window_start - at),
        (at - c.window_end > 0.0, at - c.window_end),
        else_=0.0,
    )
    timely: Any = 30.0 * (1.0 - gap / _p("margin"))
    if shape.punctual:
        # A one-off ad: its |difference| exactly, its allowed difference its margin (half its
        # window) + M (+ 1: ``score`` divides by 1 at least).
        one_off = sa.func.abs(_MinutesAfter(c.departure_at, _p("instant")) + sign * reach)
        allowed = (c.window_end - c.window_start) / 2.0 + _p("allowed")
        timely = sa.case(
            (c.frequency == "punctual", 30.0 * (1.0 - one_off / allowed)), else_=timely
        )
    value: Any = geometric + timely
    if regular:  # only regular ads: at most the weekdays they run on (weekdays not searched: bit 0)
        runs = sum(
            (
                sa.case((c.days_mask.op("&")(_p(f"day{d}", sa.Integer())) != 0, 1.0), else_=0.0)
                for d in range(7)
            ),
            sa.literal(0.0),
        )
        value = value * (0.5 + runs * _p("per_day"))
    bound = (value + BOUND_SLACK).label("bound")
    ranked = (
        sa.select(c.id, bound)
        .where(*fits)
        .order_by(bound.desc(), c.id)
        .limit(_p("limit", sa.Integer()))
        .offset(_p("offset", sa.Integer()))
    )
    if ids_only:
        return ranked
    best = ranked.subquery("ranked")
    return (
        sa.select(*CANDIDATE_COLUMNS, best.c.bound)
        .join_from(best, CarpoolAd, col(CarpoolAd.id) == best.c.id)
        .order_by(best.c.bound.desc(), best.c.id)
    )


def ranking_query(
    q: Query, *, limit: int, offset: int, dialect: str, ids_only: bool
) -> tuple[Any, dict[str, Any]] | None:
    """The ranking's statement (shared by every search of the same shape) and ``q``'s values, or
    None when the searched trip itself is too short to share (under 500 m)."""
    own = math.hypot((q.to_lon - q.from_lon) * q.kx, (q.to_lat - q.from_lat) * KY)
    if q.role != "driver" and own < 499.0:
        return None
    shape, params = _prefilter(q)
    searched = q.searched_days()
    regular = q.frequency == "regular" and bool(searched)
    params.update(
        own=own,
        from_radius=float(q.from_radius_m),
        to_radius=float(q.to_radius_m),
        minute=float(q.searched_minute()),
        margin=float(max(q.margin_min, 1)),
        limit=limit,
        offset=offset,
    )
    if shape.punctual:
        assert q.when is not None
        params.update(instant=_instant(q.when, dialect), allowed=float(q.margin_min + 1))
    if regular:
        params.update({f"day{d}": (1 << d if d in searched else 0) for d in range(7)})
        params["per_day"] = 0.5 / len(searched)
    return _ranking(shape, q.role, regular, dialect, ids_only), params


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
    The statement is built once per shape of search (``_ranking``); this one carries ``q``'s values.
    """
    built = ranking_query(q, limit=limit, offset=offset, dialect=dialect, ids_only=ids_only)
    if built is None:
        return None
    stmt, params = built
    return stmt.params(params)

"""The monthly origin–destination matrix, commune to commune on both sides of the border.

Each end of a trip (``app.interfaces.Trip``, from the domains' trip sources: the session's
territory's trips, ``scope``) is placed in a commune: in the territory's country the nearest commune
of the territory (INSEE code), across the border the commune of the nearest listed locality
(``insights_localities``: LAU code, name in full). Matrices are kept per territory and month. Per pair of
communes: trips travelled (booked seats per travelled day), proofs, offers, requests and requests
no booking answered; every count under the open-data threshold is hidden (``trips`` null). Also
the cross-border share, the car-km and CO₂ avoided, the unmet demand by corridor and the border
crossings' vehicles and peak hours.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from app import months
from app.insights import registry
from app.insights import scope as insights_scope
from app.insights.figures import REFRESH
from app.insights.opendata import K_ANONYMITY, hidden
from app.interfaces import Trip
from app.models.insights import InsightsLocality
from app.models.territory import Commune
from app.territories import zone

# The same factor as the carpool domain states for its "car-km avoided" figure.
CO2_KG_PER_CAR_KM = 0.218
KINDS = ("booked", "proof", "offered", "requested", "unmatched")


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    country: str
    lat: float
    lon: float


def placer(session: Session) -> Callable[[float, float, str], Place]:
    """Where an end falls: a commune of the session's territory (in its country) or a listed
    commune across the border."""
    own: dict[str, list[Place]] = defaultdict(list)
    for c in session.scalars(insights_scope.communes(session).order_by(col(Commune.insee))):
        own[c.country].append(Place(c.insee, c.name, c.country, c.lat, c.lon))
    abroad: dict[str, list[tuple[Place, float, float]]] = defaultdict(list)
    centres: dict[str, Place] = {}
    for loc in session.scalars(select(InsightsLocality).order_by(col(InsightsLocality.id))):
        place = centres.setdefault(
            loc.commune_code,
            Place(loc.commune_code, loc.commune_name, loc.country, loc.lat, loc.lon),
        )
        abroad[loc.country].append((place, loc.lat, loc.lon))

    def nearest(lat: float, lon: float, country: str) -> Place:
        if own.get(country):
            return min(own[country], key=lambda p: (p.lat - lat) ** 2 + ((p.lon - lon) * 0.65) ** 2)
        candidates = abroad.get(country)
        if candidates:
            return min(candidates, key=lambda c: (c[1] - lat) ** 2 + ((c[2] - lon) * 0.65) ** 2)[0]
        return Place("", country, country, lat, lon)

    return nearest


@dataclass
class Cell:
    origin: Place
    destination: Place
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    metres: int = 0  # booked trips × their distance


@dataclass
class Crossing:
    label: str
    vehicles: int
    peak_hour: int | None
    by_hour: list[int]
    lat: float = 0.0
    lon: float = 0.0


@dataclass
class Matrix:
    month: str
    cells: list[Cell]
    booked: int
    cross_border: int
    car_km: float
    crossings: list[Crossing]

    @property
    def cross_border_share(self) -> float | None:
        """Share of the trips travelled that cross the border; hidden when either count is small."""
        if hidden(self.booked) is None or not self.booked:
            return None
        return self.cross_border / self.booked if hidden(self.cross_border) is not None else None

    @property
    def co2_t(self) -> float:
        return self.car_km * CO2_KG_PER_CAR_KM / 1000

    def rows(self) -> list[dict[str, Any]]:
        """The matrix as the JSON rows: ``trips`` null where fewer than 11."""
        out = []
        for cell in sorted(
            self.cells, key=lambda c: (-c.counts["booked"], c.origin.code, c.destination.code)
        ):
            out.append(
                {
                    "from_code": cell.origin.code,
                    "from_name": cell.origin.name,
                    "from_country": cell.origin.country,
                    "to_code": cell.destination.code,
                    "to_name": cell.destination.name,
                    "to_country": cell.destination.country,
                    "trips": hidden(cell.counts["booked"]),
                    "proofs": hidden(cell.counts["proof"]),
                    "offers": hidden(cell.counts["offered"]),
                    "requests": hidden(cell.counts["requested"]),
                    "unmet_requests": hidden(cell.counts["unmatched"]),
                }
            )
        return out

    def unmet(self) -> list[Cell]:
        """Corridors by requests no booking answered (shown ones first, most first)."""
        cells = [c for c in self.cells if c.counts["unmatched"]]
        return sorted(cells, key=lambda c: -c.counts["unmatched"])

    def flows(self) -> list[dict[str, Any]]:
        """The lines of the flow map: only pairs whose trips are shown."""
        return [
            {
                "from": [c.origin.lat, c.origin.lon],
                "to": [c.destination.lat, c.destination.lon],
                "label": f"{c.origin.name} → {c.destination.name}",
                "trips": c.counts["booked"],
            }
            for c in self.cells
            if hidden(c.counts["booked"])
        ]


def build(session: Session, month: str, trips: Iterable[Trip] | None = None) -> Matrix:
    place = placer(session)
    cells: dict[tuple[str, str, str, str], Cell] = {}
    hours: dict[str, list[float]] = defaultdict(lambda: [0.0] * 24)
    where: dict[str, tuple[float, float]] = {}
    booked = cross = 0
    metres = 0
    if trips is None:
        trips = (
            t for source in registry.trip_sources() for t in source.load(session, month, month)
        )
    for trip in trips:
        if trip.month != month:
            continue
        if trip.kind == "crossing":
            hours[trip.label][trip.hour or 0] += trip.trips
            where[trip.label] = (trip.from_lat, trip.from_lon)
            continue
        if trip.kind not in KINDS:
            continue
        o = place(trip.from_lat, trip.from_lon, trip.from_country)
        d = place(trip.to_lat, trip.to_lon, trip.to_country)
        key = (o.country, o.code, d.country, d.code)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell(o, d)
        cell.counts[trip.kind] += trip.trips
        if trip.kind == "booked":
            cell.metres += trip.trips * trip.distance_m
            booked += trip.trips
            metres += trip.trips * trip.distance_m
            if o.country != d.country:
                cross += trip.trips
    crossings = [
        Crossing(
            label,
            round(sum(by)),
            max(range(24), key=lambda h: by[h]) if any(by) else None,
            [round(v) for v in by],
            *where[label],
        )
        for label, by in sorted(hours.items())
    ]
    return Matrix(month, list(cells.values()), booked, cross, metres / 1000, crossings)


@dataclass
class Kept:
    """Matrices of complete months, kept per app, territory and month for ``figures.REFRESH`` (the
    current month is always built afresh): a booked regular trip is counted day by day, which is
    the costly part."""

    matrices: dict[tuple[int, str], tuple[dt.datetime, Matrix]] = field(default_factory=dict)

    def matrix(self, session: Session, month: str, now: dt.datetime) -> Matrix:
        if month >= months.of(now, zone(session)):
            return build(session, month)
        key = (insights_scope.key(session), month)
        hit = self.matrices.get(key)
        if hit is not None and now - hit[0] < REFRESH:
            return hit[1]
        matrix = build(session, month)
        self.matrices[key] = (now, matrix)
        return matrix


def for_app(state: Any) -> Kept:
    kept = getattr(state, "insights_od", None)
    if kept is None:
        kept = state.insights_od = Kept()
    return kept


def document(matrix: Matrix, now: dt.datetime) -> dict[str, Any]:
    share = matrix.cross_border_share
    return {
        "month": matrix.month,
        "generated_at": now.isoformat(timespec="seconds"),
        "suppressed_under": K_ANONYMITY,
        "cross_border_share": None if share is None else round(share, 3),
        "car_km_avoided": round(matrix.car_km, 1) if hidden(matrix.booked) else None,
        "t_co2e_avoided": round(matrix.co2_t, 3) if hidden(matrix.booked) else None,
        "co2_factor": {"kg_co2e_per_car_km": CO2_KG_PER_CAR_KM, "source": "ADEME Base Empreinte"},
        "rows": matrix.rows(),
        "crossings": [
            {"name": c.label, "vehicles": c.vehicles, "peak_hour": c.peak_hour}
            for c in matrix.crossings
        ],
    }

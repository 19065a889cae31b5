"""Geometry on the sphere for every domain: great-circle distance, point in polygon, bounding box.

Points are (latitude, longitude) in degrees (WGS 84). Distances use a spherical
Earth of radius :data:`EARTH_RADIUS_M`: accurate to about 0.5 %, which is far
finer than what reports, carpool matching and alert areas need. Used by the
reports (nearby duplicates, commune of a place), carpooling (detours, meeting
points, the Luxembourg border) and CAP alerts (polygons and circles).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Point = tuple[float, float]

EARTH_RADIUS_M = 6_371_000.0
ROAD_FACTOR = 1.3  # a road distance is estimated as the straight line × 1.3
_EDGE_EPSILON = 1e-12


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine).

    Rounding can push the haversine term a hair above 1 for nearly antipodal
    points; it is clamped so that ``asin`` never fails.
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def road_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """The estimated road distance in metres: the great-circle distance × :data:`ROAD_FACTOR`
    (what carpooling and the solidarity transport show and count)."""
    return round(distance_m(lat1, lon1, lat2, lon2) * ROAD_FACTOR)


def _on_segment(lat: float, lon: float, a: Point, b: Point) -> bool:
    (lat1, lon1), (lat2, lon2) = a, b
    cross = (lon2 - lon1) * (lat - lat1) - (lat2 - lat1) * (lon - lon1)
    if abs(cross) > _EDGE_EPSILON:
        return False
    return (
        min(lat1, lat2) - _EDGE_EPSILON <= lat <= max(lat1, lat2) + _EDGE_EPSILON
        and min(lon1, lon2) - _EDGE_EPSILON <= lon <= max(lon1, lon2) + _EDGE_EPSILON
    )


def point_in_polygon(lat: float, lon: float, ring: Sequence[Point]) -> bool:
    """Whether the point is inside the ring of (lat, lon) vertices; a point on an edge is inside.

    Ray casting on the (lon, lat) plane: fine for areas the size of a country,
    not across the antimeridian. The ring may be closed (last = first) or not.
    """
    inside = False
    for i in range(len(ring)):
        a, b = ring[i - 1], ring[i]
        if _on_segment(lat, lon, a, b):
            return True
        (lat1, lon1), (lat2, lon2) = a, b
        if (lat1 > lat) != (lat2 > lat):
            crossing = lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1)
            if lon < crossing:
                inside = not inside
    return inside


def bbox(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of a box that holds the circle (for indexed pre-filters)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * max(0.01, math.cos(math.radians(lat)))))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


# A grid of cells about 2.2 km across (at this latitude) for spatial prefilters kept in an indexed
# integer column: a search looks up the few cells its circle's bounding box touches, by equality.
CELL_LAT = 0.02
CELL_LON = 0.03


def grid_cell(lat: float, lon: float) -> int:
    """The cell holding a point (row × 20,000 + column, both counted from the south-west corner)."""
    return math.floor((lat + 90.0) / CELL_LAT) * 20_000 + math.floor((lon + 180.0) / CELL_LON)


def cells_covering(
    lat0: float, lat1: float, lon0: float, lon1: float, limit: int
) -> list[int] | None:
    """Every cell a bounding box touches, or None when there are more than ``limit``."""
    rows = range(math.floor((lat0 + 90.0) / CELL_LAT), math.floor((lat1 + 90.0) / CELL_LAT) + 1)
    cols = range(math.floor((lon0 + 180.0) / CELL_LON), math.floor((lon1 + 180.0) / CELL_LON) + 1)
    if len(rows) * len(cols) > limit:
        return None
    return [r * 20_000 + c for r in rows for c in cols]


def parse_ring(text: str) -> list[Point]:
    """A CAP polygon (``"lat,lon lat,lon ..."``) as points; an unreadable pair is skipped."""
    ring: list[Point] = []
    for pair in text.split():
        lat_text, _, lon_text = pair.partition(",")
        try:
            ring.append((float(lat_text), float(lon_text)))
        except ValueError:
            continue
    return ring


def svg_paths(
    shapes: Mapping[str, Sequence[Point]], width: float = 400.0, pad: float = 4.0
) -> tuple[float, dict[str, str], dict[str, tuple[float, float]]]:
    """Rings drawn in an SVG of ``width``: its height, each ring's path (``M x,y L ... Z``) and
    where its label goes (the mean of its points). An equirectangular projection scaled by the
    cosine of the mean latitude: true to shape at a territory's scale."""
    points = [p for ring in shapes.values() for p in ring]
    if not points:
        return 0.0, {}, {}
    lat_min, lat_max = min(p[0] for p in points), max(p[0] for p in points)
    lon_min, lon_max = min(p[1] for p in points), max(p[1] for p in points)
    k = math.cos(math.radians((lat_min + lat_max) / 2))
    span = max((lon_max - lon_min) * k, (lat_max - lat_min), 1e-9)
    scale = (width - 2 * pad) / span

    def xy(p: Point) -> tuple[float, float]:
        return (p[1] - lon_min) * k * scale + pad, (lat_max - p[0]) * scale + pad

    paths: dict[str, str] = {}
    labels: dict[str, tuple[float, float]] = {}
    for key, ring in shapes.items():
        if len(ring) < 3:
            continue
        coords = [xy(p) for p in ring]
        paths[key] = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords) + " Z"
        inner = coords[:-1] if coords[0] == coords[-1] else coords
        labels[key] = (
            round(sum(x for x, _ in inner) / len(inner), 1),
            round(sum(y for _, y in inner) / len(inner), 1),
        )
    return round((lat_max - lat_min) * scale + 2 * pad, 1), paths, labels

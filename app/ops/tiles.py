"""A big layer cut into map tiles: its features where few, server-side clusters where many.

A 100,000-light fleet is 27 MB of GeoJSON (2.4 MB gzipped): too much for a browser to fetch and
draw. For a layer kept by ids (``app.ops.layercache``), the centre also keeps a ``TileIndex``: the
point of every feature and, for every zoom, the count of features in each cell of the Web
Mercator grid (tiles of zoom ``z`` are cells of level ``z``), with the sum of their positions and
their count per state. A tile ``z/x/y`` is then:

- the features themselves (the same text as the whole layer) when it holds at most
  ``max_features`` of them, or from zoom ``DETAIL``;
- otherwise one cluster per cell of level ``z + 2`` (a 4 × 4 grid, 64 px on a 256 px tile) with its
  count, its count per state and its mean position; a cell holding one feature gives that feature.
  A cluster's ``url`` is its cell as a tile (what it holds, one level of detail down).

A tile costs the cells it covers (16 for clusters), not the features of the layer. The index
follows the layer's changes by ids: a change moves the counts of the cells of the changed features
only (``put``/``drop``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

FINE = 18  # the finest level of cells (a tile of zoom 18 is about 100 m wide at 49° N)
DETAIL = 17  # from this zoom a tile always gives its features
SPLIT = 2  # clusters on a grid of 2**SPLIT × 2**SPLIT cells per tile
MAX_ZOOM = 22


class TileError(ValueError):
    """A tile outside the map."""


def tile_xy(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """The Web Mercator position of a point in tile units at ``zoom`` (x east, y south)."""
    n = 2**zoom
    lat = max(min(lat, 85.05112878), -85.05112878)
    rad = math.radians(lat)
    return (lon + 180.0) / 360.0 * n, (1.0 - math.asinh(math.tan(rad)) / math.pi) / 2.0 * n


def tile_bounds(zoom: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a tile, in degrees."""
    n = 2**zoom

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


@dataclass
class _Cell:
    count: int = 0
    lon: float = 0.0  # sums, for the mean position
    lat: float = 0.0
    states: dict[str, int] = field(default_factory=dict)


class _Point(NamedTuple):
    lon: float
    lat: float
    state: str
    fine: tuple[int, int]  # its cell at level FINE


_SCALE = 2**FINE


def _point(lon: float, lat: float, state: str) -> _Point:
    lat = max(min(lat, 85.05112878), -85.05112878)
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * _SCALE
    return _Point(lon, lat, state, (int((lon + 180.0) / 360.0 * _SCALE), int(fy)))


# the text the layers write (``app.ops.contracts.point_texts``): read without the JSON parser
_TEXT = re.compile(
    r'"geometry":\{"type":"Point","coordinates":\[(-?[0-9.]+(?:e-?[0-9]+)?),(-?[0-9.]+(?:e-?[0-9]+)?)\]\},'
    r'"properties":\{"kind":"[^"\\]*","state":"([^"\\]*)"'
)


def _parse(text: str) -> _Point | None:
    """The point and state of a feature's text."""
    found = _TEXT.search(text)
    if found is not None:
        return _point(float(found[1]), float(found[2]), found[3])
    feature = json.loads(text)
    geometry = feature.get("geometry") or {}
    if geometry.get("type") != "Point":
        return None
    lon, lat = geometry["coordinates"][:2]
    return _point(lon, lat, str(feature["properties"].get("state", "")))


class TileIndex:
    """The points of one layer and their counts per cell at every level (see the module's docstring)."""

    def __init__(self) -> None:
        self.points: dict[str, _Point] = {}
        self.levels: list[dict[tuple[int, int], _Cell]] = [{} for _ in range(FINE + 1)]
        self.ids: dict[tuple[int, int], set[str]] = {}  # feature ids per cell of level FINE

    @classmethod
    def of(cls, features: Iterable[tuple[str, str]]) -> TileIndex:
        """From ``(feature id, feature JSON text)``."""
        index = cls()
        fine = index.levels[FINE]
        for feature_id, text in features:
            point = _parse(text)
            if point is None:
                continue
            index.points[feature_id] = point
            index.ids.setdefault(point.fine, set()).add(feature_id)
            cell = fine.get(point.fine)
            if cell is None:
                cell = fine[point.fine] = _Cell()
            cell.count += 1
            cell.lon += point.lon
            cell.lat += point.lat
            cell.states[point.state] = cell.states.get(point.state, 0) + 1
        for level in range(
            FINE - 1, -1, -1
        ):  # each level from the one below: its cells, not points
            cells = index.levels[level]
            for (cx, cy), below in index.levels[level + 1].items():
                key = (cx >> 1, cy >> 1)
                cell = cells.get(key)
                if cell is None:
                    cell = cells[key] = _Cell()
                cell.count += below.count
                cell.lon += below.lon
                cell.lat += below.lat
                for state, n in below.states.items():
                    cell.states[state] = cell.states.get(state, 0) + n
        return index

    def __len__(self) -> int:
        return len(self.points)

    def _add(self, feature_id: str, point: _Point, sign: int) -> None:
        fx, fy = point.fine
        for level in range(FINE, -1, -1):
            shift = FINE - level
            key = (fx >> shift, fy >> shift)
            cells = self.levels[level]
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = _Cell()
            cell.count += sign
            cell.lon += sign * point.lon
            cell.lat += sign * point.lat
            cell.states[point.state] = cell.states.get(point.state, 0) + sign
            if not cell.states[point.state]:
                del cell.states[point.state]
            if not cell.count:
                del cells[key]
        if sign > 0:
            self.ids.setdefault(point.fine, set()).add(feature_id)
        else:
            held = self.ids[point.fine]
            held.discard(feature_id)
            if not held:
                del self.ids[point.fine]

    def drop(self, feature_id: str) -> None:
        point = self.points.pop(feature_id, None)
        if point is not None:
            self._add(feature_id, point, -1)

    def put(self, feature_id: str, text: str) -> None:
        """The feature's new text (its position or state may have changed)."""
        self.drop(feature_id)
        point = _parse(text)
        if point is not None:
            self.points[feature_id] = point
            self._add(feature_id, point, 1)

    def _ids_under(self, level: int, x: int, y: int) -> list[str]:
        """The ids in the cell (level, x, y), going down through the cells that exist only."""
        if level >= FINE:
            shift = level - FINE
            return sorted(self.ids.get((x >> shift, y >> shift), ()))
        out: list[str] = []
        stack = [(level, x, y)]
        while stack:
            lv, cx, cy = stack.pop()
            if lv == FINE:
                out.extend(self.ids.get((cx, cy), ()))
                continue
            below = self.levels[lv + 1]
            for dx in (0, 1):
                for dy in (0, 1):
                    child = (2 * cx + dx, 2 * cy + dy)
                    if child in below:
                        stack.append((lv + 1, *child))
        return sorted(out)

    def tile(
        self, zoom: int, x: int, y: int, max_features: int
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """The tile's features (their ids) and clusters (their properties and position)."""
        if not (0 <= zoom <= MAX_ZOOM and 0 <= x < 2**zoom and 0 <= y < 2**zoom):
            raise TileError(f"{zoom}/{x}/{y}")
        if zoom > FINE:
            west, south, east, north = tile_bounds(zoom, x, y)
            inside = [
                i
                for i in self._ids_under(zoom, x, y)
                if west <= self.points[i].lon < east and south < self.points[i].lat <= north
            ]
            return inside, []
        cell = self.levels[zoom].get((x, y))
        if cell is None:
            return [], []
        if cell.count <= max_features or zoom >= DETAIL:
            return self._ids_under(zoom, x, y), []
        level = min(zoom + SPLIT, FINE)
        step = 2 ** (level - zoom)
        ids: list[str] = []
        clusters: list[dict[str, Any]] = []
        cells = self.levels[level]
        for cx in range(x * step, (x + 1) * step):
            for cy in range(y * step, (y + 1) * step):
                found = cells.get((cx, cy))
                if found is None:
                    continue
                if found.count == 1:
                    ids.extend(self._ids_under(level, cx, cy))
                    continue
                clusters.append(
                    {
                        "cell": f"{level}/{cx}/{cy}",
                        "count": found.count,
                        "states": dict(sorted(found.states.items())),
                        "lon": found.lon / found.count,
                        "lat": found.lat / found.count,
                        "bbox": tile_bounds(level, cx, cy),
                    }
                )
        return ids, clusters


def tile_json(
    name: str,
    ids: list[str],
    clusters: list[dict[str, Any]],
    text_of: Callable[[str], str | None],
    label: Callable[[int], str],
) -> bytes:
    """The tile as a GeoJSON FeatureCollection: the features' own text, then the clusters (points
    whose ``properties.kind`` is ``cluster``, with ``count``, ``states`` and ``bbox``)."""
    parts = [text for text in map(text_of, ids) if text is not None]
    for cluster in clusters:
        state = max(cluster["states"].items(), key=lambda item: item[1])[0]
        parts.append(
            json.dumps(
                {
                    "type": "Feature",
                    "id": "cluster:" + cluster["cell"],
                    "geometry": {
                        "type": "Point",
                        "coordinates": [round(cluster["lon"], 5), round(cluster["lat"], 5)],
                    },
                    "properties": {
                        "kind": "cluster",
                        "state": state,
                        "label": label(cluster["count"]),
                        "url": f"/staff/ops/layers/{name}/{cluster['cell']}.geojson",
                        "count": cluster["count"],
                        "states": cluster["states"],
                        "bbox": [round(v, 5) for v in cluster["bbox"]],
                    },
                },
                separators=(",", ":"),
                ensure_ascii=False,
            )
        )
    head = '{"type":"FeatureCollection","name":' + json.dumps(name) + ',"features":['
    return (head + ",".join(parts) + "]}").encode()

"""NGSI-LD entity filters: the query language (``q``), geo-queries, ``idPattern``, ``pick``/``omit``.

Parsed once from the request (:func:`parse_q`, :func:`parse_geo`), then
evaluated on entities in the normalised form (:func:`matches`). Used by the
NGSI-LD API (``app.sensors.ngsi_ld``); anything the grammar does not allow, or
that Eclor does not implement, raises :class:`app.ngsi.NgsiError` (400,
ProblemDetails) so that a filter is never silently ignored.

``q`` follows ETSI GS CIM 009 (NGSI-LD) §4.9: terms joined by ``;`` (and) and
``|`` (or, weaker), parentheses; ``attr`` alone tests existence; operators
``== != > >= < <= ~= !~=``; values are numbers, ``"strings"``, ``true``/``false``,
date-times, URIs, lists (``"a","b"``) and ranges (``1..5``); ``a.b`` reads the
sub-attribute ``b`` of ``a`` (``observedAt``, ``unitCode``...), ``a[b]`` the
member ``b`` of ``a``'s value. Geo-queries: ``georel`` ``near;maxDistance==M``
or ``near;minDistance==M``, ``within``, ``intersects``, ``disjoint``, ``equals``,
with ``geometry`` ``Point`` or ``Polygon`` and ``coordinates`` in GeoJSON order.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.geo import distance_m, point_in_polygon
from app.ngsi import NgsiError

# --------------------------------------------------------------------------- q


@dataclass(frozen=True)
class Term:
    path: tuple[str, ...]  # attribute, then sub-attributes (a.b.c)
    members: tuple[str, ...]  # members inside the value (a[b][c])
    op: str | None  # None: the attribute exists
    value: Any = None  # a scalar, a tuple (list) or a Range


@dataclass(frozen=True)
class Range:
    low: Any
    high: Any


@dataclass(frozen=True)
class Bool:
    op: str  # "and" / "or"
    parts: tuple[Any, ...]


_OPS = ("!~=", "==", "!=", ">=", "<=", "~=", ">", "<")
_NAME = re.compile(r"[A-Za-z0-9_:/#.@\-]+")


def _bad(detail: str) -> NgsiError:
    return NgsiError(400, "InvalidRequest", "Invalid query", detail[:300])


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def peek(self) -> str:
        return self.text[self.at : self.at + 1]

    def parse(self) -> Any:
        node = self.disjunction()
        if self.at != len(self.text):
            raise _bad(f"unexpected {self.text[self.at : self.at + 20]!r} at {self.at} in q")
        return node

    def disjunction(self) -> Any:
        parts = [self.conjunction()]
        while self.peek() == "|":
            self.at += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Bool("or", tuple(parts))

    def conjunction(self) -> Any:
        parts = [self.factor()]
        while self.peek() == ";":
            self.at += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else Bool("and", tuple(parts))

    def factor(self) -> Any:
        if self.peek() == "(":
            self.at += 1
            node = self.disjunction()
            if self.peek() != ")":
                raise _bad("a parenthesis is not closed in q")
            self.at += 1
            return node
        return self.term()

    def attribute(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        match = re.compile(r"[^\s=!<>~;|()\[\]\".]+").match(self.text, self.at)
        if not match:
            raise _bad(f"an attribute name is expected at {self.at} in q")
        path, members = [match.group()], []
        self.at = match.end()
        while self.peek() == ".":
            sub = re.compile(r"[^\s=!<>~;|()\[\]\".]+").match(self.text, self.at + 1)
            if not sub:
                raise _bad("a sub-attribute name is expected after '.' in q")
            path.append(sub.group())
            self.at = sub.end()
        while self.peek() == "[":
            end = self.text.find("]", self.at)
            if end < 0 or end == self.at + 1:
                raise _bad("a member name is expected inside [] in q")
            members.append(self.text[self.at + 1 : end])
            self.at = end + 1
        return tuple(path), tuple(members)

    def term(self) -> Term:
        path, members = self.attribute()
        op = next((o for o in _OPS if self.text.startswith(o, self.at)), None)
        if op is None:
            return Term(path, members, None)
        self.at += len(op)
        if op in ("~=", "!~="):
            raw = self.text[self.at :]
            end = len(raw)
            for stop in (";", "|", ")"):
                position = raw.find(stop)
                if 0 <= position < end:
                    end = position
            pattern = raw[:end]
            self.at += end
            if pattern.startswith('"') and pattern.endswith('"') and len(pattern) >= 2:
                pattern = pattern[1:-1]
            try:
                return Term(path, members, op, re.compile(pattern))
            except re.error as exc:
                raise _bad(f"invalid regular expression in q: {exc}") from None
        values = [self.value()]
        if self.text.startswith("..", self.at):
            self.at += 2
            high = self.value()
            if op not in ("==", "!="):
                raise _bad("a range is only allowed with == or != in q")
            low = values[0]
            numbers = all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)
            )
            if not numbers and not (isinstance(low, str) and isinstance(high, str)):
                raise _bad("a range's two ends are both numbers or both strings in q")
            return Term(path, members, op, Range(values[0], high))
        while self.peek() == ",":
            self.at += 1
            values.append(self.value())
        if len(values) > 1:
            if op not in ("==", "!="):
                raise _bad("a list of values is only allowed with == or != in q")
            return Term(path, members, op, tuple(values))
        return Term(path, members, op, values[0])

    def value(self) -> Any:
        if self.peek() == '"':
            end = self.at + 1
            while end < len(self.text) and self.text[end] != '"':
                end += 2 if self.text[end] == "\\" else 1
            if end >= len(self.text):
                raise _bad("a quoted string is not closed in q")
            value = self.text[self.at + 1 : end].replace('\\"', '"')
            self.at = end + 1
            return value
        match = re.compile(r"[^;|()\",]+?(?=\.\.|[;|()\",]|$)").match(self.text, self.at)
        if not match or not match.group().strip():
            raise _bad(f"a value is expected at {self.at} in q")
        raw = match.group()
        self.at = match.end()
        if raw == "true":
            return True
        if raw == "false":
            return False
        try:
            return int(raw) if re.fullmatch(r"-?\d+", raw) else float(raw)
        except ValueError:
            pass
        if re.fullmatch(r"[\w:/#.\-+@%]+", raw):
            return raw  # a date, a date-time, a time or a URI (relationship objects)
        raise _bad(f"invalid value {raw[:40]!r} in q (strings are quoted)")


def parse_q(text: str) -> Any:
    """The ``q`` expression as a tree of :class:`Bool` and :class:`Term`."""
    if not text.strip():
        raise _bad("q is empty")
    return _Parser(text.strip()).parse()


def q_attributes(node: Any) -> set[str]:
    """The attribute names a ``q`` expression reads (for checks and SQL prefilters)."""
    if isinstance(node, Term):
        return {node.path[0]}
    return set().union(*(q_attributes(part) for part in node.parts))


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and "@value" in value:
        return value["@value"]
    return value


def _target(entity: dict[str, Any], term: Term) -> tuple[bool, Any]:
    """(found, value) of the attribute path and members a term names, in an entity."""
    node: Any = entity.get(term.path[0])
    if node is None:
        return False, None
    if isinstance(node, list):  # several instances (datasetId): the default one, else the first
        node = next((n for n in node if "datasetId" not in n), node[0])
    for name in term.path[1:]:
        if not isinstance(node, dict) or name not in node:
            return False, None
        node = node[name]
    if isinstance(node, dict) and "type" in node and term.path[-1] == term.path[0]:
        kind = node.get("type")
        if kind == "Relationship":
            node = node.get("object")
        elif kind in ("Property", "GeoProperty"):
            node = node.get("value")
        elif kind == "LanguageProperty":
            node = node.get("languageMap")
    elif isinstance(node, dict) and "type" in node and "value" in node:
        node = node["value"]  # a sub-property
    node = _plain(node)
    for member in term.members:
        if not isinstance(node, dict) or member not in node:
            return False, None
        node = _plain(node[member])
    return True, node


def _comparable(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool)
    if isinstance(left, int | float) and isinstance(right, int | float):
        return True
    return isinstance(left, str) and isinstance(right, str)


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(right, Range):
        inside = (
            _comparable(left, right.low)
            and _comparable(left, right.high)
            and right.low <= left <= right.high
        )
        return inside if op == "==" else not inside
    if isinstance(right, tuple):
        found = any(_comparable(left, r) and left == r for r in right)
        return found if op == "==" else not found
    if op == "==":
        return _comparable(left, right) and left == right
    if op == "!=":
        return not (_comparable(left, right) and left == right)
    if not _comparable(left, right) or isinstance(left, bool):
        return False
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def _term_matches(entity: dict[str, Any], term: Term) -> bool:
    found, value = _target(entity, term)
    if not found:
        return False
    if term.op is None:
        return True
    if term.op in ("~=", "!~="):
        hit = isinstance(value, str) and term.value.search(value) is not None
        return hit if term.op == "~=" else (isinstance(value, str) and not hit)
    if isinstance(
        value, list
    ):  # an array value matches when one of its items does (==), none does (!=)
        if term.op == "!=":
            return all(_compare("!=", item, term.value) for item in value)
        return any(_compare(term.op, item, term.value) for item in value)
    return _compare(term.op, value, term.value)


def q_matches(entity: dict[str, Any], node: Any) -> bool:
    if isinstance(node, Term):
        return _term_matches(entity, node)
    if node.op == "and":
        return all(q_matches(entity, part) for part in node.parts)
    return any(q_matches(entity, part) for part in node.parts)


# --------------------------------------------------------------------------- geo-queries

GEORELS = ("near", "within", "intersects", "disjoint", "equals", "contains", "overlaps")
SUPPORTED_GEORELS = ("near", "within", "intersects", "disjoint", "equals")


@dataclass(frozen=True)
class GeoQuery:
    georel: str
    geometry: str  # Point or Polygon
    coordinates: Any  # GeoJSON order: [lon, lat] or [[[lon, lat], ...]]
    geoproperty: str = "location"
    max_distance: float | None = None
    min_distance: float | None = None

    def box(self) -> tuple[float, float, float, float] | None:
        """(min_lat, max_lat, min_lon, max_lon) every match lies in, when there is one (SQL prefilter)."""
        from app.geo import bbox

        if self.georel == "near" and self.max_distance is not None:
            lon, lat = self.coordinates
            return bbox(lat, lon, self.max_distance)
        if self.georel in ("within", "intersects", "equals"):
            points = [self.coordinates] if self.geometry == "Point" else self.coordinates[0]
            lats, lons = [p[1] for p in points], [p[0] for p in points]
            return min(lats), max(lats), min(lons), max(lons)
        return None


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad(f"{name} must be a number of metres") from None
    if not math.isfinite(value) or value < 0:
        raise _bad(f"{name} must be a positive number of metres")
    return value


def _position(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) in (2, 3)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and -180 <= value[0] <= 180
        and -90 <= value[1] <= 90
    )


def parse_geo(
    georel: str | None, geometry: str | None, coordinates: str | None, geoproperty: str | None
) -> GeoQuery | None:
    """The geo-query of a request, checked; ``None`` when it has none."""
    if georel is None and geometry is None and coordinates is None:
        if geoproperty:
            raise _bad("geoproperty needs georel, geometry and coordinates")
        return None
    if not georel or not geometry or not coordinates:
        raise _bad("a geo-query needs georel, geometry and coordinates together")
    name, *modifiers = georel.split(";")
    if name not in GEORELS:
        raise _bad(f"unknown georel {name[:30]!r}")
    if name not in SUPPORTED_GEORELS:
        raise NgsiError(
            400,
            "OperationNotSupported",
            "Unsupported georel",
            f"georel {name} is not implemented; use near, within, intersects, disjoint or equals",
        )
    if geometry not in ("Point", "Polygon"):
        raise NgsiError(
            400,
            "OperationNotSupported",
            "Unsupported geometry",
            f"geometry {geometry[:30]} is not implemented; use Point or Polygon",
        )
    try:
        coords = json.loads(coordinates)
    except ValueError:
        raise _bad("coordinates must be a GeoJSON coordinates array") from None
    if geometry == "Point" and not _position(coords):
        raise _bad("a Point's coordinates are [longitude, latitude]")
    if geometry == "Polygon" and not (
        isinstance(coords, list)
        and coords
        and isinstance(coords[0], list)
        and len(coords[0]) >= 4
        and all(_position(p) for p in coords[0])
        and coords[0][0] == coords[0][-1]
    ):
        raise _bad("a Polygon's coordinates are a closed ring of at least 4 [longitude, latitude]")
    max_distance = min_distance = None
    for modifier in modifiers:
        key, _, value = modifier.partition("==")
        if key == "maxDistance" and name == "near":
            max_distance = _number(value, "maxDistance")
        elif key == "minDistance" and name == "near":
            min_distance = _number(value, "minDistance")
        else:
            raise _bad(f"unknown georel modifier {modifier[:30]!r}")
    if name == "near" and (max_distance is None) == (min_distance is None):
        raise _bad("near needs maxDistance or minDistance")
    if name == "near" and geometry != "Point":
        raise NgsiError(
            400, "OperationNotSupported", "Unsupported geometry", "near is implemented for a Point"
        )
    return GeoQuery(name, geometry, coords, geoproperty or "location", max_distance, min_distance)


def _points_of(value: Any) -> list[tuple[float, float]] | None:
    """(lat, lon) vertices of a GeoJSON Point (one) — other geometries are not compared."""
    if (
        isinstance(value, dict)
        and value.get("type") == "Point"
        and _position(value.get("coordinates"))
    ):
        lon, lat = value["coordinates"][:2]
        return [(lat, lon)]
    return None


def geo_matches(entity: dict[str, Any], query: GeoQuery) -> bool:
    attribute = entity.get(query.geoproperty)
    if not isinstance(attribute, dict):
        return False
    points = _points_of(attribute.get("value"))
    if points is None:
        return False
    (lat, lon) = points[0]
    if query.geometry == "Point":
        q_lon, q_lat = query.coordinates[:2]
        distance = distance_m(lat, lon, q_lat, q_lon)
        if query.georel == "near":
            if query.max_distance is not None:
                return distance <= query.max_distance
            return distance >= (query.min_distance or 0)
        same = abs(lat - q_lat) < 1e-9 and abs(lon - q_lon) < 1e-9
        return not same if query.georel == "disjoint" else same
    ring = [(p[1], p[0]) for p in query.coordinates[0]]
    inside = point_in_polygon(lat, lon, ring)
    if query.georel == "disjoint":
        return not inside
    if query.georel == "equals":
        return False  # a point never equals a polygon
    return inside  # within, intersects


# --------------------------------------------------------------------------- idPattern, pick/omit


def parse_id_pattern(text: str | None) -> re.Pattern[str] | None:
    if text is None or text == "":
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise _bad(f"invalid idPattern: {exc}") from None


def split_names(text: str | None, name: str) -> list[str] | None:
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise _bad(f"{name} is empty")
    for part in names:
        if not _NAME.fullmatch(part):
            raise _bad(f"invalid name {part[:40]!r} in {name}")
    return names


def pick_omit(
    entity: dict[str, Any], pick: Sequence[str] | None, omit: Sequence[str] | None
) -> dict[str, Any]:
    """The entity with only the members of ``pick`` (``id`` and ``type`` included), without those of ``omit``."""
    if pick is not None:
        entity = {k: v for k, v in entity.items() if k in pick or k == "@context"}
    if omit is not None:
        entity = {k: v for k, v in entity.items() if k not in omit}
    return entity

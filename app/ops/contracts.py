"""What a domain contributes to the operations centre: layers, KPIs, side panels.

A domain module exposes plain values, read by the registry (``app.domains_ops``):

- ``OPS_LAYERS``: ``Layer(name, title, order, load, panel, style)``. ``load(session, now)`` returns
  GeoJSON features built with ``point``/``line``/``area``: every feature has ``properties.kind``,
  ``state``, ``label`` and ``url`` (and ``device_id`` for devices). ``panel(session, feature_id, now)``
  returns a ``Panel`` (state, facts, history, actions) or None.
- ``OPS_KPIS``: ``Kpi(name, title, unit, order, load)``; ``load(session, now)`` returns values keyed
  by commune INSEE code.

Changes reach the live map through ``app.events.publish(session, layer, feature_id, kind, payload)``
with the layer's name, as changes of the territory of what changed (``territory_id``).

One install serves several territories: the centre binds the request's territory to the session
(``app.territories.bind``), and every ``load``, ``dump``, ``features``, ``changed`` and ``panel``
keeps to the rows of that territory (``mine`` on a ``territory_id`` column, ``in_communes`` on a
commune column, or the domain's own scope); an unbound session (the worker, the command line) sees
the whole install. A KPI's ``load`` and ``some`` count the bound territory's rows only, with its
own time zone, position and targets: the values of one territory never change with another's rows.
The layer and KPI caches keep one copy per territory. The centre (``app.ops.centre``) knows no domain
by name.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, true
from sqlmodel import Session, col

from app.models.territory import Commune
from app.territories import bound

Feature = dict[str, Any]


def territory_key(session: Session) -> int:
    """The id of the territory bound to the session, 0 when none is (the whole install): what the
    caches keep their copies under."""
    territory = bound(session)
    return territory.id if territory is not None else 0


def mine(session: Session, territory_column: Any) -> Any:
    """The condition keeping a query to the rows of the territory bound to the session (true when
    none is bound: the whole install)."""
    territory = bound(session)
    return true() if territory is None else territory_column == territory.id


def in_communes(session: Session, commune_column: Any) -> Any:
    """The condition keeping a query to the rows in the communes of the territory bound to the
    session (true when none is bound): for tables known by their commune only, and for KPIs read
    from an index led by the commune."""
    territory = bound(session)
    if territory is None:
        return true()
    return commune_column.in_(
        select(col(Commune.insee)).where(col(Commune.territory_id) == territory.id)
    )


FeatureText = tuple[str, Any, str]  # (feature id, order key, the feature as JSON text)


@dataclass(frozen=True)
class Field_:
    name: str
    label: str  # French source string
    kind: str = "number"  # number, text, textarea, select, hidden
    value: str = ""
    options: Sequence[tuple[str, str]] = ()  # (value, French label) for select
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Action:
    """A form the side panel shows; it posts to the domain's own staff URL (CSRF included)."""

    label: str  # French source string (the button)
    url: str
    fields: Sequence[Field_] = ()
    done: str = ""  # French source string shown once it is accepted


@dataclass
class Panel:
    title: str
    state: str  # machine state, as on the map
    state_label: str  # already translated
    facts: list[tuple[str, str]] = field(default_factory=list)  # (translated label, value)
    history: str | None = None  # the NGSI-LD URN of the entity whose measures are charted
    actions: list[Action] = field(default_factory=list)
    link: str | None = None  # the domain's full page
    commune: str | None = None  # INSEE code


@dataclass(frozen=True, eq=False)
class Stamp:
    """A cheap look at rows (counts, newest id or change) made of aggregate queries of one row each.

    Called alone (``stamp(session)``) it reads them in one statement; the KPI tiles
    (``app.ops.kpicache``) read every KPI's stamp and the layers' newest events together in one
    statement, so a stamp costs no round trip of its own. Its value is the tuple of the columns.
    """

    queries: tuple[Any, ...]  # sqlalchemy or sqlmodel selects

    def __call__(self, session: Session) -> tuple[Any, ...]:
        return read_together(session, [self.queries])[0]


def read_together(session: Session, parts: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Aggregate queries of one row each, read in one statement (their rows side by side), the
    values given back per part.

    A query of one column is read as a scalar subquery in the select list, where SQLite answers
    ``max(id)`` from its index in one step (its min/max optimisation; as a joined subquery it walks
    the whole index); a query of several columns is joined as a one-row subquery.
    """
    columns: list[Any] = []
    joined: Any = None
    widths: list[int] = []
    for i, part in enumerate(parts):
        width = 0
        for j, query in enumerate(part):
            selected = list(query.selected_columns)
            if len(selected) == 1:
                columns.append(query.scalar_subquery().label(f"c{i}_{j}"))
                width += 1
                continue
            sub = query.subquery(f"p{i}_{j}")
            joined = sub if joined is None else joined.join(sub, true())  # one row each
            columns += [column.label(f"c{i}_{j}_{n}") for n, column in enumerate(sub.c)]
            width += len(sub.c)
        widths.append(width)
    if not columns:
        return [() for _ in parts]
    statement = select(*columns)
    if joined is not None:
        statement = statement.select_from(joined)
    row = session.execute(statement).one()
    out, at = [], 0
    for width in widths:
        out.append(tuple(row[at : at + width]))
        at += width
    return out


@dataclass(frozen=True)
class Freshness:
    """How long a big layer's serialised bytes stay true, so they are built once per change.

    ``events``: the outbox layers whose events change it (every writer of what it shows publishes
    one in its transaction); ``stamp(session)``: a cheap extra look at the rows (counts, newest
    change) that catches writers without an event; ``expires(session, now)``: when time alone
    changes it (rows leaving a window), or None.
    """

    events: tuple[str, ...]
    stamp: Callable[[Session], Any] | None = None
    expires: Callable[[Session, dt.datetime], dt.datetime | None] | None = None
    # Rebuilt by ids rather than whole: ``features(session, now, ids)`` gives ``(id, order key,
    # feature JSON text)`` for those of ``ids`` that are on the layer now (every feature when ids
    # is None), ordered by the key; the events' ``feature_id`` name the features they change ("*":
    # all of them).
    features: (
        Callable[[Session, dt.datetime, Sequence[str] | None], Iterable[FeatureText]] | None
    ) = None
    # When the stamp moved: ``changed(session, old stamp, kept ids)`` gives the ids it shows changed
    # (rows written without an event), or None when it cannot tell (then the layer is built whole).
    changed: Callable[[Session, Any, Collection[str]], Iterable[str] | None] | None = None


@dataclass(frozen=True)
class Layer:
    name: str
    title: str  # French source string
    order: int
    load: Callable[[Session, dt.datetime], list[Feature]]
    panel: Callable[[Session, str, dt.datetime], Panel | None] | None = None
    style: dict[str, Any] = field(
        default_factory=dict
    )  # colours per state, "many": canvas, "lines"...
    states: dict[str, str] = field(default_factory=dict)  # state -> French label (legend)
    # Big layers may also serialise themselves (the same features, written straight to JSON text).
    dump: Callable[[Session, dt.datetime], bytes] | None = None
    # Big layers are served from bytes built once per change (``app.ops.layercache``).
    fresh: Freshness | None = None


@dataclass(frozen=True)
class Kpi:
    name: str
    title: str  # French source string
    unit: str
    order: int
    load: Callable[[Session, dt.datetime], dict[str, Any]]
    # Values kept until the outbox events, the stamp or time change them (``app.ops.kpicache``);
    # without it the KPI is computed on every request (cheap ones, or those nothing announces).
    fresh: Freshness | None = None
    # After a change, computed again for the communes it touched only: ``some(session, now,
    # communes)`` gives ``load``'s values of those communes alone; ``communes(session, ids)`` the
    # communes of the features that the events of ``fresh.events`` (and ``fresh.changed``) name.
    some: Callable[[Session, dt.datetime, Collection[str]], dict[str, Any]] | None = None
    communes: Callable[[Session, Sequence[str]], Iterable[str | None]] | None = None


def _round(value: float) -> float:
    return round(value, 5)  # about a metre: enough for a map, and smaller to send


def point(
    feature_id: str,
    lon: float,
    lat: float,
    *,
    kind: str,
    state: str,
    label: str,
    url: str,
    **properties: Any,
) -> Feature:
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": {"type": "Point", "coordinates": [_round(lon), _round(lat)]},
        "properties": {"kind": kind, "state": state, "label": label, "url": url, **properties},
    }


def _text(value: Any) -> str:
    """A JSON value; plain ASCII strings (ids) skip the encoder."""
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isprintable()
        and '"' not in value
        and "\\" not in value
    ):
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


def point_texts(rows: Iterable[Sequence[Any]], keys: Sequence[str]) -> Iterable[str]:
    """Point features as JSON text straight from rows ``(id, lon, lat, kind, state, label, url, *extra)``;
    the same text ``point()`` features give through ``json.dumps``, built without the dicts."""
    extra = [f',"{key}":' for key in keys]
    for row in rows:
        props = "".join(k + _text(v) for k, v in zip(extra, row[7:], strict=True))
        yield (
            f'{{"type":"Feature","id":{_text(row[0])},"geometry":{{"type":"Point","coordinates":'
            f'[{round(row[1], 5)},{round(row[2], 5)}]}},"properties":{{"kind":{_text(row[3])},'
            f'"state":{_text(row[4])},"label":{_text(row[5])},"url":{_text(row[6])}{props}}}}}'
        )


def collection_head(name: str) -> str:
    """The text of a FeatureCollection before its features (``collection_head(name) + ",".join(features) + "]}"``)."""
    return '{"type":"FeatureCollection","name":' + _text(name) + ',"features":['


def points_json(name: str, rows: Iterable[Sequence[Any]], keys: Sequence[str]) -> bytes:
    """A FeatureCollection of points straight from rows ``(id, lon, lat, kind, state, label, url, *extra)``."""
    return (collection_head(name) + ",".join(point_texts(rows, keys)) + "]}").encode()


def line(
    feature_id: str,
    coordinates: Sequence[tuple[float, float]],
    *,
    kind: str,
    state: str,
    label: str,
    url: str,
    **properties: Any,
) -> Feature:
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": {
            "type": "LineString",
            "coordinates": [[_round(x), _round(y)] for x, y in coordinates],
        },
        "properties": {"kind": kind, "state": state, "label": label, "url": url, **properties},
    }


def circle(lon: float, lat: float, radius_m: float, steps: int = 24) -> list[list[float]]:
    """A closed ring approximating a circle (for areas known by a centre and a radius)."""
    ring = []
    for i in range(steps + 1):
        angle = 2 * math.pi * (i % steps) / steps
        ring.append(
            [
                _round(lon + radius_m / (111_320 * math.cos(math.radians(lat))) * math.cos(angle)),
                _round(lat + radius_m / 110_540 * math.sin(angle)),
            ]
        )
    return ring


def area(
    feature_id: str,
    rings: Sequence[list[list[float]]],
    *,
    kind: str,
    state: str,
    label: str,
    url: str,
    **properties: Any,
) -> Feature:
    geometry = {"type": "MultiPolygon", "coordinates": [[ring] for ring in rings]}
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": geometry,
        "properties": {"kind": kind, "state": state, "label": label, "url": url, **properties},
    }

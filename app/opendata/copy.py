"""Snapshots on PostgreSQL: the database computes the public rows and streams them with ``COPY``.

A dataset may declare ``copy_sql``: a PostgreSQL ``SELECT`` that yields the same
public rows as its ``rows`` function, cell for cell (columns named as the
dataset's, same order, same anonymisation: rounding, no person, no text).
On PostgreSQL the snapshot then writes ``COPY (copy_sql) TO STDOUT`` straight
into the CSV (no Python per row), the GeoJSON from a second ``COPY`` of one
feature per row built by ``json_build_object`` (or, for datasets that repeat a
few places, the latest row of each place, written by one query in the very bytes
the Python writer gives, over the rows at both ends of each place's time that the
dataset's ``ends_sql`` selects), and the covered period from one ``min``/``max``
(over those same end rows when there are). Other databases use
:func:`app.opendata.snapshots.write_dataset`.
The SQL keeps to the territory the session is bound to (``TERRITORY_SQL`` becomes its id; NULL,
the whole install, when unbound).
Numbers are rounded by the database (half away from zero on the decimal value),
so a last digit can differ from Python's ``round`` on an exact tie.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app.opendata.contrib import TERRITORY_SQL, OpenDataset, territory_id
from app.opendata.files import DATE_TYPES, Written, day_of

# A delimiter and a quote that JSON text never holds raw: each feature leaves COPY as it is.
_RAW_LINES = "FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e'"


def available(session: Session, dataset: OpenDataset) -> bool:
    return bool(dataset.copy_sql) and session.get_bind().dialect.name == "postgresql"


def _copy(cursor: Any, sql: str, out: Any) -> int:
    with cursor.copy(sql) as copy:
        for block in copy:
            out.write(block)
    return int(cursor.rowcount)


def for_territory(sql: str, territory: int | None) -> str:
    """``sql`` (a dataset's ``copy_sql`` or ``ends_sql``) selecting the rows of ``territory``."""
    return sql.replace(TERRITORY_SQL, "NULL" if territory is None else str(int(territory)))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_number(value: str) -> str:
    """SQL text of a number as Python's ``repr(float(...))`` writes it: shortest round trip
    (PostgreSQL's ``float8`` output), ``.0`` on a whole number, ``null`` for NULL."""
    f = f"({value})::float8"
    return (
        f"CASE WHEN {value} IS NULL THEN 'null' "
        f"WHEN {f} = trunc({f}) AND abs({f}) < 1e16 THEN trunc({f})::numeric::text || '.0' "
        f"ELSE {f}::text END"
    )


def _json_value(kind: str, value: str) -> str:
    if kind == "number":
        return _json_number(value)
    if kind == "integer":
        return f"coalesce(({value})::bigint::text, 'null')"
    if kind == "boolean":
        return f"CASE ({value})::text WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE 'null' END"
    return f"coalesce(to_json(({value})::text)::text, 'null')"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def feature_sql(dataset: OpenDataset, row: str) -> str:
    """SQL text of one row's GeoJSON feature, byte for byte what :func:`app.opendata.files.feature`
    writes for the same typed row (keys in column order, no spaces, non-ASCII kept)."""
    geo = dataset.geometry
    assert geo is not None
    parts = [
        _literal('{"type":"Feature","geometry":{"type":"Point","coordinates":['),
        _json_number(f"{row}.{_quoted(geo.lon)}"),
        "','",
        _json_number(f"{row}.{_quoted(geo.lat)}"),
    ]
    for i, column in enumerate(dataset.columns):
        key = json.dumps(column.name, ensure_ascii=False)
        lead = ']},"properties":{' if i == 0 else ","
        parts += [
            _literal(f"{lead}{key}:"),
            _json_value(column.type, f"{row}.{_quoted(column.name)}"),
        ]
    parts.append("'}}'")
    return " || ".join(f"({p})" for p in parts)


def _places_sql(
    dataset: OpenDataset, date_column: str | None, territory: int | None = None
) -> tuple[str, str]:
    """The SQL of the per-place GeoJSON and of the covered period, over the rows at both ends of each
    place's time (``ends_sql``; ``copy_sql`` itself when the dataset gives none).

    The features are those :func:`app.opendata.snapshots.write_dataset` writes: one per position
    (latitude, longitude), holding the last row at that position in the CSV's order, in the order
    the positions first appear there. ``row_number() OVER ()`` numbers the rows in their query's
    order; ``DISTINCT ON`` keeps each position's last, ordered by where it first came.
    """
    geo = dataset.geometry
    assert geo is not None
    source = for_territory(dataset.ends_sql or dataset.copy_sql, territory)
    lat, lon = _quoted(geo.lat), _quoted(geo.lon)
    features = (
        f"SELECT string_agg({feature_sql(dataset, 'q')}, E'\\n,' ORDER BY q.eclor_first) FROM ("
        f"SELECT DISTINCT ON (r.{lat}, r.{lon}) r.*, "
        f"min(r.eclor_n) OVER (PARTITION BY r.{lat}, r.{lon}) AS eclor_first "
        f"FROM (SELECT s.*, row_number() OVER () AS eclor_n FROM ({source}) s) r "
        f"WHERE r.{lat} IS NOT NULL AND r.{lon} IS NOT NULL "
        f"ORDER BY r.{lat}, r.{lon}, r.eclor_n DESC) q"
    )
    period = (
        f"SELECT min(r.{_quoted(date_column)}), max(r.{_quoted(date_column)}) FROM ({source}) r"
        if date_column
        else "SELECT NULL, NULL"
    )
    return features, period


def write_copied(dataset: OpenDataset, session: Session, directory: Path) -> Written:
    """Write ``{slug}.csv`` (and ``.geojson``) from ``copy_sql`` with COPY; returns the counts written."""
    directory.mkdir(parents=True, exist_ok=True)
    territory = territory_id(session)
    select = for_territory(dataset.copy_sql, territory)
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        date_column = next((c.name for c in dataset.columns if c.type in DATE_TYPES), None)
        geo = dataset.geometry
        per_place = geo is not None and geo.per_place
        tmp_csv = directory / f".{dataset.slug}.csv.tmp"
        with tmp_csv.open("wb") as out:
            rows = _copy(cursor, f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)", out)
        first = last = ""
        places = ""
        if (
            per_place
        ):  # a few places over time: each once, with its latest row, built by the database
            features_sql, period_sql = _places_sql(dataset, date_column, territory)
            cursor.execute(features_sql)
            found_features = cursor.fetchone()
            places = (found_features[0] if found_features else None) or ""
            select_period = period_sql if rows else ""
        else:
            select_period = (
                f"SELECT min({_quoted(date_column)}), max({_quoted(date_column)}) FROM ({select}) r"
                if date_column is not None and rows
                else ""
            )
        if select_period:
            cursor.execute(select_period)
            found = cursor.fetchone()
            if found is not None:  # min() and max() always give one row
                low, high = found
                first, last = low or "", high or ""
        geo_bytes = 0
        if geo is not None:
            tmp_geo = directory / f".{dataset.slug}.geojson.tmp"
            lat, lon = _quoted(geo.lat), _quoted(geo.lon)
            with tmp_geo.open("wb") as out:
                out.write(b'{"type":"FeatureCollection","features":[\n')
                if per_place:
                    out.write(places.encode() + (b"\n" if places else b""))
                else:
                    built = (
                        "(CASE WHEN row_number() OVER () > 1 THEN ',' ELSE '' END) || "
                        "json_build_object('type', 'Feature', 'geometry', json_build_object("
                        f"'type', 'Point', 'coordinates', json_build_array(r.{lon}, r.{lat})), "
                        "'properties', row_to_json(r))::text"
                    )
                    _copy(
                        cursor,
                        f"COPY (SELECT {built} FROM ({select}) r "
                        f"WHERE r.{lat} IS NOT NULL AND r.{lon} IS NOT NULL) "
                        f"TO STDOUT WITH ({_RAW_LINES})",
                        out,
                    )
                out.write(b"]}\n")
            geo_bytes = tmp_geo.stat().st_size
            os.replace(tmp_geo, directory / f"{dataset.slug}.geojson")
    finally:
        cursor.close()
    csv_bytes = tmp_csv.stat().st_size
    os.replace(tmp_csv, directory / f"{dataset.slug}.csv")
    return Written(
        dataset.slug,
        rows,
        csv_bytes,
        geo_bytes,
        day_of(first) if first else None,
        day_of(last) if last else None,
    )

"""Snapshots on PostgreSQL: the database computes the public rows and streams them with ``COPY``.

A dataset may declare ``copy_sql``: a PostgreSQL ``SELECT`` that yields the same
public rows as its ``rows`` function, cell for cell (columns named as the
dataset's, same order, same anonymisation: rounding, no person, no text).
On PostgreSQL the snapshot then writes ``COPY (copy_sql) TO STDOUT`` straight
into the CSV (no Python per row), the GeoJSON from a second ``COPY`` of one
feature per row built by ``json_build_object`` (or, for datasets that repeat a
few places, the latest row of each place), and the covered period from one
``min``/``max``. Other databases use :func:`app.opendata.snapshots.write_dataset`.
Numbers are rounded by the database (half away from zero on the decimal value),
so a last digit can differ from Python's ``round`` on an exact tie.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app.opendata.contrib import OpenDataset
from app.opendata.files import DATE_TYPES, Written, day_of, feature

# A delimiter and a quote that JSON text never holds raw: each feature leaves COPY as it is.
_RAW_LINES = "FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e'"


def available(session: Session, dataset: OpenDataset) -> bool:
    return bool(dataset.copy_sql) and session.get_bind().dialect.name == "postgresql"


def _copy(cursor: Any, sql: str, out: Any) -> int:
    with cursor.copy(sql) as copy:
        for block in copy:
            out.write(block)
    return int(cursor.rowcount)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_copied(dataset: OpenDataset, session: Session, directory: Path) -> Written:
    """Write ``{slug}.csv`` (and ``.geojson``) from ``copy_sql`` with COPY; returns the counts written."""
    directory.mkdir(parents=True, exist_ok=True)
    names = dataset.column_names
    select = dataset.copy_sql
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        tmp_csv = directory / f".{dataset.slug}.csv.tmp"
        with tmp_csv.open("wb") as out:
            rows = _copy(cursor, f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)", out)
        first = last = ""
        date_column = next((c.name for c in dataset.columns if c.type in DATE_TYPES), None)
        if date_column is not None and rows:
            cursor.execute(
                f"SELECT min({_quoted(date_column)}), max({_quoted(date_column)}) FROM ({select}) r"
            )
            low, high = cursor.fetchone()
            first, last = low or "", high or ""
        geo_bytes = 0
        geo = dataset.geometry
        if geo is not None:
            tmp_geo = directory / f".{dataset.slug}.geojson.tmp"
            lat, lon = _quoted(geo.lat), _quoted(geo.lon)
            with tmp_geo.open("wb") as out:
                out.write(b'{"type":"FeatureCollection","features":[\n')
                if geo.per_place:  # a few places over time: each place once, with its latest row
                    order = _quoted(date_column) + " DESC" if date_column else "1"
                    cursor.execute(
                        f"SELECT DISTINCT ON ({lat}, {lon}) * FROM ({select}) r "
                        f"WHERE {lat} IS NOT NULL AND {lon} IS NOT NULL ORDER BY {lat}, {lon}, {order}"
                    )
                    features = [
                        feature(names, row, row[names.index(geo.lat)], row[names.index(geo.lon)])
                        for row in cursor.fetchall()
                    ]
                    out.write(",\n".join(features).encode() + (b"\n" if features else b""))
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

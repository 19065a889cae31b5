"""Snapshots on PostgreSQL: the database computes the public rows and streams them with ``COPY``.

A dataset may declare ``copy_sql``: a PostgreSQL ``SELECT`` that yields the same
public rows as its ``rows`` function, cell for cell (columns named as the
dataset's, same order, same anonymisation: rounding, no person, no text).
On PostgreSQL the snapshot then writes ``COPY (copy_sql) TO STDOUT`` straight
into the CSV (no Python per row), the GeoJSON from a second ``COPY`` of one
feature per row built by ``json_build_object`` (or, for datasets that repeat a
few places, the latest row of each place, read from the CSV as it is copied), and
the covered period from one ``min``/``max`` (or from that same reading). Other databases use :func:`app.opendata.snapshots.write_dataset`.
Numbers are rounded by the database (half away from zero on the decimal value),
so a last digit can differ from Python's ``round`` on an exact tie.
"""

from __future__ import annotations

import codecs
import csv
import io
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


class _PlaceTee:
    """Reads the CSV as COPY writes it, for datasets that repeat a few places: the latest row of each
    place (rows come in time order per place) and the covered period, without a second query."""

    def __init__(self, dataset: OpenDataset, date_column: str | None) -> None:
        geo = dataset.geometry
        assert geo is not None
        self.names = dataset.column_names
        self.kinds = [c.type for c in dataset.columns]
        self.lat, self.lon = self.names.index(geo.lat), self.names.index(geo.lon)
        self.date = self.names.index(date_column) if date_column else None
        self.places: dict[tuple[str, str], list[str]] = {}
        self.first = self.last = ""
        self.header = True
        self.tail = b""
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, block: bytes) -> None:
        data = self.tail + block
        cut = data.rfind(b"\n") + 1
        self.tail = data[cut:]
        rows = csv.reader(io.StringIO(self.decoder.decode(data[:cut])))
        if self.header:
            next(rows, None)
            self.header = False
        lat, lon, date, places = self.lat, self.lon, self.date, self.places
        first, last = self.first, self.last
        for row in rows:
            if row[lat] and row[lon]:
                places[(row[lat], row[lon])] = row
            if date is not None and (when := row[date]):
                if not first or when < first:
                    first = when
                if when > last:
                    last = when
        self.first, self.last = first, last

    def features(self) -> list[str]:
        out = []
        for row in self.places.values():
            typed = [_typed(kind, cell) for kind, cell in zip(self.kinds, row, strict=True)]
            out.append(feature(self.names, typed, typed[self.lat], typed[self.lon]))
        return out


def _typed(kind: str, cell: str) -> Any:
    if cell == "":
        return None
    if kind == "integer":
        return int(cell)
    if kind == "number":
        return float(cell)
    if kind == "boolean":
        return cell == "true"
    return cell


class _Tee:
    def __init__(self, out: Any, tee: _PlaceTee) -> None:
        self.out, self.tee = out, tee

    def write(self, block: Any) -> None:
        data = bytes(block)
        self.out.write(data)
        self.tee.feed(data)


def write_copied(dataset: OpenDataset, session: Session, directory: Path) -> Written:
    """Write ``{slug}.csv`` (and ``.geojson``) from ``copy_sql`` with COPY; returns the counts written."""
    directory.mkdir(parents=True, exist_ok=True)
    select = dataset.copy_sql
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        date_column = next((c.name for c in dataset.columns if c.type in DATE_TYPES), None)
        geo = dataset.geometry
        places = _PlaceTee(dataset, date_column) if geo is not None and geo.per_place else None
        tmp_csv = directory / f".{dataset.slug}.csv.tmp"
        with tmp_csv.open("wb") as out:
            sink = out if places is None else _Tee(out, places)
            rows = _copy(cursor, f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)", sink)
        first = last = ""
        if places is not None:
            first, last = places.first, places.last
        elif date_column is not None and rows:
            cursor.execute(
                f"SELECT min({_quoted(date_column)}), max({_quoted(date_column)}) FROM ({select}) r"
            )
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
                if places is not None:  # a few places over time: each once, with its latest row
                    features = places.features()
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

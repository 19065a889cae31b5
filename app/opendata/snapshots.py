"""Snapshots: each published dataset written as CSV (UTF-8), GeoJSON (when placed) and Table Schema.

Rows are streamed from the domain's query straight into the files (memory
stays flat whatever the size), written beside the old files and renamed over
them, so a reader never sees half a file. The worker regenerates every
snapshot at least every ``opendata_snapshot_minutes`` (15 at most); the
catalogue compares ``generated_at`` with each dataset's promised freshness.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from app.db import read_session, utcnow, write_session
from app.models.opendata import OpenDataSnapshot
from app.opendata import registry
from app.opendata.contrib import OpenDataset
from app.opendata.schemas import table_schema

log = logging.getLogger("eclor.opendata")
FORMATS = ("csv", "geojson", "schema.json")
DATE_TYPES = ("date", "datetime", "yearmonth")


def snapshot_dir(var_dir: Path) -> Path:
    return var_dir / "opendata" / "files"


def file_path(var_dir: Path, slug: str, fmt: str) -> Path:
    return snapshot_dir(var_dir) / f"{slug}.{fmt}"


@dataclass
class Written:
    slug: str
    rows: int
    csv_bytes: int
    geojson_bytes: int
    first_day: dt.date | None
    last_day: dt.date | None


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value


def _day(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) < 7:
        return None
    try:
        return dt.date.fromisoformat(value[:10] if len(value) >= 10 else value + "-01")
    except ValueError:
        return None


def write_dataset(dataset: OpenDataset, rows: Any, directory: Path) -> Written:
    """Stream ``rows`` into ``{slug}.csv`` (and ``.geojson``), plus ``{slug}.schema.json``; atomic renames."""
    directory.mkdir(parents=True, exist_ok=True)
    names = dataset.column_names
    geo = dataset.geometry
    date_at = next((i for i, c in enumerate(dataset.columns) if c.type in DATE_TYPES), None)
    lat_at = names.index(geo.lat) if geo else -1
    lon_at = names.index(geo.lon) if geo else -1
    tmp_csv = directory / f".{dataset.slug}.csv.tmp"
    tmp_geo = directory / f".{dataset.slug}.geojson.tmp"
    count = features = 0
    first: dt.date | None = None
    last: dt.date | None = None
    with tmp_csv.open("w", newline="", encoding="utf-8") as out_csv:
        writer = csv.writer(out_csv, lineterminator="\r\n")
        writer.writerow(names)
        out_geo = tmp_geo.open("w", encoding="utf-8") if geo else None
        try:
            if out_geo:
                out_geo.write('{"type":"FeatureCollection","features":[\n')
            batch: list[list[Any]] = []
            for row in rows:
                batch.append([_cell(v) for v in row])
                count += 1
                if date_at is not None:
                    day = _day(row[date_at])
                    if day is not None:
                        first = day if first is None or day < first else first
                        last = day if last is None or day > last else last
                if out_geo and row[lat_at] is not None and row[lon_at] is not None:
                    feature = {"type": "Feature",
                               "geometry": {"type": "Point", "coordinates": [row[lon_at], row[lat_at]]},
                               "properties": dict(zip(names, row, strict=True))}
                    out_geo.write(("," if features else "")
                                  + json.dumps(feature, ensure_ascii=False, separators=(",", ":")) + "\n")
                    features += 1
                if len(batch) >= 1000:
                    writer.writerows(batch)
                    batch = []
            writer.writerows(batch)
            if out_geo:
                out_geo.write("]}\n")
        finally:
            if out_geo:
                out_geo.close()
    schema_tmp = directory / f".{dataset.slug}.schema.json.tmp"
    schema_tmp.write_text(json.dumps(table_schema(dataset), ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(schema_tmp, directory / f"{dataset.slug}.schema.json")
    csv_bytes = tmp_csv.stat().st_size
    os.replace(tmp_csv, directory / f"{dataset.slug}.csv")
    geo_bytes = 0
    if geo:
        geo_bytes = tmp_geo.stat().st_size
        os.replace(tmp_geo, directory / f"{dataset.slug}.geojson")
    return Written(dataset.slug, count, csv_bytes, geo_bytes, first, last)


def generate(engine: Engine, var_dir: Path, base_url: str, slugs: set[str] | None = None) -> list[Written]:
    """Regenerate the snapshots of every published dataset (or of ``slugs``); returns what was written."""
    with read_session(engine) as session:
        datasets = registry.published(session, var_dir)
    done: list[Written] = []
    for dataset in datasets:
        if slugs is not None and dataset.slug not in slugs:
            continue
        started = time.perf_counter()
        generated_at = utcnow()
        try:
            with read_session(engine) as session:
                written = write_dataset(dataset, dataset.rows(session, base_url), snapshot_dir(var_dir))
        except Exception:  # one broken dataset must not stop the others; its old files stay
            log.exception("open data snapshot failed", extra={"slug": dataset.slug})
            continue
        took = int((time.perf_counter() - started) * 1000)
        with write_session(engine) as session:
            row = session.get(OpenDataSnapshot, dataset.slug) or OpenDataSnapshot(slug=dataset.slug,
                                                                                generated_at=generated_at)
            row.generated_at, row.rows, row.csv_bytes = generated_at, written.rows, written.csv_bytes
            row.geojson_bytes, row.duration_ms = written.geojson_bytes, took
            row.first_day, row.last_day = written.first_day, written.last_day
            session.add(row)
        done.append(written)
    return done


def freshness(engine: Engine) -> dict[str, OpenDataSnapshot]:
    from sqlalchemy import select

    with read_session(engine) as session:
        rows = list(session.scalars(select(OpenDataSnapshot)))
        for row in rows:
            session.expunge(row)
    return {r.slug: r for r in rows}

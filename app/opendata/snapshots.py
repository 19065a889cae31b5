"""Snapshots: each published dataset written as CSV (UTF-8), GeoJSON (when placed) and Table Schema.

Rows are streamed from the domain's query straight into the files (memory
stays flat whatever the size), written beside the old files and renamed over
them, so a reader never sees half a file. The worker regenerates every
snapshot at least every ``opendata_snapshot_minutes`` (15 at most); the
catalogue compares ``generated_at`` with each dataset's promised freshness.

Each territory has its own snapshots, written from its own rows (a session bound to it) into its
own folder (``app.opendata.scope.folder``), at its own address (``scope.base_url``).
"""

from __future__ import annotations

import csv
import logging
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from app.db import read_session, utcnow, write_session
from app.models.opendata import OpenDataSnapshot
from app.opendata import copy, registry, scope
from app.opendata.contrib import OpenDataset
from app.opendata.files import DATE_TYPES, Written, day_of, feature, write_schema
from app.territories import Branding

log = logging.getLogger("eclor.opendata")
FORMATS = ("csv", "geojson", "schema.json")


def snapshot_dir(var_dir: Path, publisher: Branding | None = None) -> Path:
    """The folder of a territory's snapshots (the default territory's: None)."""
    return scope.folder(var_dir / "opendata" / "files", publisher)


def file_path(var_dir: Path, slug: str, fmt: str, publisher: Branding | None = None) -> Path:
    return snapshot_dir(var_dir, publisher) / f"{slug}.{fmt}"


def write_dataset(dataset: OpenDataset, rows: Any, directory: Path) -> Written:
    """Stream ``rows`` into ``{slug}.csv`` (and ``.geojson``), plus ``{slug}.schema.json``; atomic renames.

    A dataset whose rows repeat a few places over time (hourly sensors) has
    ``geometry.per_place``: its GeoJSON holds each place once, with its latest
    row (places are few, so memory stays bounded).
    """
    directory.mkdir(parents=True, exist_ok=True)
    names = dataset.column_names
    geo = dataset.geometry
    date_at = next((i for i, c in enumerate(dataset.columns) if c.type in DATE_TYPES), None)
    booleans = [i for i, c in enumerate(dataset.columns) if c.type == "boolean"]
    lat_at = names.index(geo.lat) if geo else -1
    lon_at = names.index(geo.lon) if geo else -1
    tmp_csv = directory / f".{dataset.slug}.csv.tmp"
    tmp_geo = directory / f".{dataset.slug}.geojson.tmp"
    count = features = 0
    first = last = ""
    places: dict[tuple[Any, Any], Any] = {}
    with tmp_csv.open("w", newline="", encoding="utf-8") as out_csv:
        writer = csv.writer(out_csv, lineterminator="\r\n")  # None is written as an empty cell
        writer.writerow(names)
        out_geo = tmp_geo.open("w", encoding="utf-8") if geo else None
        try:
            if out_geo:
                out_geo.write('{"type":"FeatureCollection","features":[\n')
            batch: list[Any] = []
            for row in rows:
                count += 1
                if booleans:
                    cells = list(row)
                    for i in booleans:
                        cells[i] = "" if cells[i] is None else ("true" if cells[i] else "false")
                    batch.append(cells)
                else:
                    batch.append(row)
                if date_at is not None:
                    when = row[date_at]
                    if when:
                        if not first or when < first:
                            first = when
                        last = max(last, when)
                if out_geo is not None and geo is not None:
                    lat, lon = row[lat_at], row[lon_at]
                    if lat is not None and lon is not None:
                        if geo.per_place:
                            places[(lat, lon)] = row
                        else:
                            out_geo.write(
                                ("," if features else "") + feature(names, row, lat, lon) + "\n"
                            )
                            features += 1
                if len(batch) >= 2000:
                    writer.writerows(batch)
                    batch = []
            writer.writerows(batch)
            if out_geo is not None:
                for (lat, lon), row in places.items():
                    out_geo.write(("," if features else "") + feature(names, row, lat, lon) + "\n")
                    features += 1
                out_geo.write("]}\n")
        finally:
            if out_geo:
                out_geo.close()
    write_schema(dataset, directory)
    csv_bytes = tmp_csv.stat().st_size
    os.replace(tmp_csv, directory / f"{dataset.slug}.csv")
    geo_bytes = 0
    if geo:
        geo_bytes = tmp_geo.stat().st_size
        os.replace(tmp_geo, directory / f"{dataset.slug}.geojson")
    return Written(
        dataset.slug,
        count,
        csv_bytes,
        geo_bytes,
        day_of(first) if first else None,
        day_of(last) if last else None,
    )


def generate(
    engine: Engine,
    var_dir: Path,
    base_url: str,
    slugs: set[str] | None = None,
    publisher: Branding | None = None,
) -> list[Written]:
    """Regenerate the snapshots of every published dataset of every territory (or of ``publisher``;
    only ``slugs`` when given); returns what was written. ``base_url``: the install's."""
    if publisher is None:
        with read_session(engine) as session:
            publishers = scope.all_territories(session)
    else:
        publishers = [publisher]
    done: list[Written] = []
    for one in publishers:
        done += _generate(engine, var_dir, scope.base_url(one, base_url), slugs, one)
    return done


def _generate(
    engine: Engine, var_dir: Path, base_url: str, slugs: set[str] | None, publisher: Branding
) -> list[Written]:
    directory = snapshot_dir(var_dir, publisher)
    with read_session(engine) as session:
        datasets = registry.published(scope.bound_to(session, publisher), var_dir)
    done: list[Written] = []
    for dataset in datasets:
        if slugs is not None and dataset.slug not in slugs:
            continue
        started = time.perf_counter()
        generated_at = utcnow()
        try:
            with read_session(engine) as session:
                scope.bound_to(session, publisher)
                if copy.available(session, dataset):
                    write_schema(dataset, directory)
                    written = copy.write_copied(dataset, session, directory)
                else:
                    written = write_dataset(dataset, dataset.rows(session, base_url), directory)
        except Exception:  # one broken dataset must not stop the others; its old files stay
            log.exception(
                "open data snapshot failed",
                extra={"slug": dataset.slug, "territory": publisher.slug},
            )
            continue
        took = int((time.perf_counter() - started) * 1000)
        with write_session(engine) as session:
            row = session.get(OpenDataSnapshot, (publisher.id, dataset.slug)) or OpenDataSnapshot(
                territory_id=publisher.id, slug=dataset.slug, generated_at=generated_at
            )
            row.generated_at, row.rows, row.csv_bytes = (
                generated_at,
                written.rows,
                written.csv_bytes,
            )
            row.geojson_bytes, row.duration_ms = written.geojson_bytes, took
            row.first_day, row.last_day = written.first_day, written.last_day
            session.add(row)
        done.append(written)
    return done


def freshness(engine: Engine, publisher: Branding | None = None) -> dict[str, OpenDataSnapshot]:
    """The snapshots of a territory (the default one: None) by dataset."""
    from sqlmodel import col, select

    with read_session(engine) as session:
        territory_id = (publisher or scope.territory(session)).id
        rows = list(
            session.scalars(
                select(OpenDataSnapshot).where(col(OpenDataSnapshot.territory_id) == territory_id)
            )
        )
        for row in rows:
            session.expunge(row)
    return {r.slug: r for r in rows}

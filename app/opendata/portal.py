"""What the open data pages and the machine catalogue show: datasets, freshness, previews, the graph.

Shared by the routes (``/data``, ``/data/catalog.*``, ``/data/{slug}``) and the tests. Each is
the session's territory's (``app.opendata.scope``): its datasets, snapshots, downloads, communes,
publisher and licence.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.db import read_session, utcnow
from app.i18n import gettext
from app.models.opendata import OpenDataDownload, OpenDataSnapshot
from app.models.territory import Commune
from app.opendata import catalogue, registry, scope, snapshots
from app.opendata.contrib import OpenDataset


@dataclass
class Entry:
    dataset: OpenDataset
    snapshot: OpenDataSnapshot | None
    stale: bool
    age_minutes: int | None
    downloads: int


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _snapshots(session: Session, territory_id: int) -> dict[str, OpenDataSnapshot]:
    return {
        s.slug: s
        for s in session.scalars(
            select(OpenDataSnapshot).where(col(OpenDataSnapshot.territory_id) == territory_id)
        )
    }


def entries(session: Session, var_dir: Path, *, only_published: bool = True) -> list[Entry]:
    datasets = (registry.published if only_published else registry.all_datasets)(session, var_dir)
    territory_id = scope.territory(session).id
    snaps = _snapshots(session, territory_id)
    downloads = dict(
        session.execute(
            select(col(OpenDataDownload.slug), func.sum(col(OpenDataDownload.count)))
            .where(col(OpenDataDownload.territory_id) == territory_id)
            .group_by(col(OpenDataDownload.slug))
        ).all()
    )
    now = utcnow()
    out = []
    for d in datasets:
        snap = snaps.get(d.slug)
        age = None if snap is None else int((now - _aware(snap.generated_at)).total_seconds() // 60)
        # A snapshot is stale when older than both its promise and the regeneration period (15 min).
        stale = age is None or age > max(d.expected_minutes, 15) + 5
        out.append(Entry(d, snap, stale, age, int(downloads.get(d.slug, 0) or 0)))
    return out


def ensure_snapshots(engine: Engine, var_dir: Path, base_url: str, publisher: Any) -> None:
    """Generate the territory's files of published datasets that have none yet (a fresh install,
    or a new territory, before the worker ran)."""
    with read_session(engine) as session:
        missing = {
            d.slug
            for d in registry.published(scope.bound_to(session, publisher), var_dir)
            if not snapshots.file_path(var_dir, d.slug, "csv", publisher).exists()
        }
    if missing:
        snapshots.generate(engine, var_dir, base_url, missing, publisher)


def preview(
    var_dir: Path, slug: str, publisher: Any, limit: int = 10
) -> tuple[list[str], list[list[str]]]:
    path = snapshots.file_path(var_dir, slug, "csv", publisher)
    if not path.exists():
        return [], []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        return header, [list(r) for r in islice(reader, limit)]


def map_points(
    var_dir: Path, dataset: OpenDataset, publisher: Any, limit: int = 300
) -> list[tuple[float, float]]:
    """Up to ``limit`` points of a placed dataset, read from its snapshot, for the small map."""
    if dataset.geometry is None:
        return []
    path = snapshots.file_path(var_dir, dataset.slug, "csv", publisher)
    if not path.exists():
        return []
    points: list[tuple[float, float]] = []
    seen: set[tuple[float, float]] = set()
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                point = (float(row[dataset.geometry.lat]), float(row[dataset.geometry.lon]))
            except (KeyError, TypeError, ValueError):
                continue
            if point not in seen:
                seen.add(point)
                points.append(point)
                if len(points) >= limit:
                    break
    return points


def graph(session: Session, settings: Any) -> Any:
    var_dir = settings.var_dir
    publisher = scope.territory(session)
    datasets = registry.published(session, var_dir)
    snaps = _snapshots(session, publisher.id)
    fresh = {
        slug: catalogue.Freshness(
            s.generated_at, s.first_day, s.last_day, s.rows, s.csv_bytes, s.geojson_bytes
        )
        for slug, s in snaps.items()
    }
    communes = [
        catalogue.Commune(c.insee, c.name, c.country, c.code)
        for c in session.scalars(
            select(Commune)
            .where(col(Commune.territory_id) == publisher.id)
            .order_by(col(Commune.insee))
        )
    ]
    # First published: the oldest snapshot still on record (today on a fresh install).
    issued = min((_aware(s.generated_at).date() for s in snaps.values()), default=utcnow().date())
    published = scope.publishing(publisher, settings)
    ctx = catalogue.Context(
        base_url=published.base_url,
        publisher=published.publisher,
        contact_email=published.contact_email,
        licence=published.licence,
        licence_name=published.licence_name,
        communes=communes,
        issued=issued,
    )
    return catalogue.build(ctx, datasets, fresh, registry.services())


def catalogue_document(session: Session, settings: Any, fmt: str) -> tuple[bytes, str]:
    return catalogue.serialise(graph(session, settings), fmt)


def describe(dataset: OpenDataset, snapshot: OpenDataSnapshot | None) -> str:
    """The description shown on the dataset's page, its labels in the reader's language."""
    fresh = (
        None
        if snapshot is None
        else catalogue.Freshness(
            snapshot.generated_at,
            snapshot.first_day,
            snapshot.last_day,
            snapshot.rows,
            snapshot.csv_bytes,
            snapshot.geojson_bytes,
        )
    )
    return catalogue.describe(dataset, fresh, translate=gettext)


__all__ = [
    "Entry",
    "catalogue_document",
    "describe",
    "ensure_snapshots",
    "entries",
    "graph",
    "map_points",
    "preview",
]


@dataclass
class SmallMap:
    """A map drawn as SVG from the communes and the dataset's points (no tiles: it works offline)."""

    width: int
    height: int
    points: list[tuple[float, float]]
    communes: list[tuple[float, float, str]]


def small_map(
    session: Session, points: list[tuple[float, float]], width: int = 320, height: int = 220
) -> SmallMap | None:
    communes = list(
        session.scalars(
            select(Commune).where(col(Commune.territory_id) == scope.territory(session).id)
        )
    )
    lats = [p[0] for p in points] + [c.lat for c in communes]
    lons = [p[1] for p in points] + [c.lon for c in communes]
    if not points or not lats:
        return None
    pad = 0.01
    south, north, west, east = min(lats) - pad, max(lats) + pad, min(lons) - pad, max(lons) + pad
    # Keep the shape: a degree of longitude here is ~0.66 of a degree of latitude.
    scale = min(width / ((east - west) * 0.66), height / (north - south))
    ox = (width - (east - west) * 0.66 * scale) / 2
    oy = (height - (north - south) * scale) / 2

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return round(ox + (lon - west) * 0.66 * scale, 1), round(oy + (north - lat) * scale, 1)

    return SmallMap(
        width, height, [xy(*p) for p in points], [(*xy(c.lat, c.lon), c.name) for c in communes]
    )

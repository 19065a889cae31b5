"""The files of a snapshot: what was written, the Table Schema beside the data, GeoJSON features.

Shared by the streamed Python writer (``app.opendata.snapshots``) and the
PostgreSQL ``COPY`` writer (``app.opendata.copy``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.opendata.contrib import OpenDataset
from app.opendata.schemas import table_schema

DATE_TYPES = ("date", "datetime", "yearmonth")
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class Written:
    slug: str
    rows: int
    csv_bytes: int
    geojson_bytes: int
    first_day: dt.date | None
    last_day: dt.date | None


def day_of(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10] if len(value) >= 10 else value + "-01")
    except ValueError:
        return None


def feature(names: list[str], row: Any, lat: Any, lon: Any) -> str:
    return (
        '{"type":"Feature","geometry":{"type":"Point","coordinates":['
        + repr(float(lon))
        + ","
        + repr(float(lat))
        + ']},"properties":'
        + _ENCODE(dict(zip(names, row, strict=True)))
        + "}"
    )


def write_schema(dataset: OpenDataset, directory: Path) -> None:
    """``{slug}.schema.json``, the Table Schema of the dataset's CSV (written beside, then renamed)."""
    directory.mkdir(parents=True, exist_ok=True)
    schema_tmp = directory / f".{dataset.slug}.schema.json.tmp"
    schema_tmp.write_text(
        json.dumps(table_schema(dataset), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    os.replace(schema_tmp, directory / f"{dataset.slug}.schema.json")

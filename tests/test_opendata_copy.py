"""Snapshots on PostgreSQL are written by COPY from each dataset's SQL: the same rows, cells and features
as the streamed Python rows (numbers to their published rounding), still valid against the Table Schema."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from app.db import read_session, utcnow, write_session
from app.models.reports import Report
from app.models.sensors import SensorHourly, WasteCentreEstimate
from app.opendata import copy, registry, snapshots
from tests.conftest import using_postgres
from tests.opendata_helpers import EMAIL, FREE_TEXT, NAME, PHONE, seed


def _more(engine) -> None:
    """Times around Paris midnight, odd numbers and a measure that is not a number."""
    paris_midnight = dt.datetime(2026, 3, 14, 23, 0, tzinfo=dt.UTC)  # 00:00 in Paris on the 15th
    with write_session(engine) as session:
        for minutes, status in ((-1, "new"), (0, "resolved"), (59, "duplicate"), (61, "hidden")):
            session.add(
                Report(
                    category="tyres",
                    status=status,
                    lat=49.46649999,
                    lon=5.9915001,
                    commune_insee=None if minutes < 0 else "57041",
                    description=FREE_TEXT,
                    created_at=paris_midnight + dt.timedelta(minutes=minutes),
                    resolved_at=paris_midnight + dt.timedelta(days=1)
                    if status == "resolved"
                    else None,
                )
            )
        hour = utcnow().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=5)
        session.add(
            SensorHourly(
                sensor_id="TR-OD-01",
                hour=hour,
                samples=3,
                sums_json=json.dumps({"intensity": 1000, "occupancy": "n/a", "congested": 1}),
            )
        )
        session.add(
            SensorHourly(sensor_id="AQ-OD-01", hour=hour, samples=0, sums_json=json.dumps({}))
        )
        for minute in (0, 7, 59):
            session.add(
                WasteCentreEstimate(
                    sensor_id="WC-OD-01",
                    ts=hour + dt.timedelta(minutes=minute),
                    wait_min=None if minute == 7 else 3.33 * (minute + 1),
                    saturated=minute == 59,
                )
            )


def _cells(path: Path, types: dict[str, str]) -> list[dict[str, object]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        {k: (float(v) if v and types[k] in ("number", "integer") else v) for k, v in row.items()}
        for row in rows
    ]


def _same(python: list[dict[str, object]], copied: list[dict[str, object]]) -> None:
    assert len(copied) == len(python)
    for a, b in zip(python, copied, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float) and isinstance(b[key], float):
                assert abs(a[key] - b[key]) <= 0.0011, (key, a, b)  # the last published digit
            else:
                assert a[key] == b[key], (key, a, b)


def test_postgresql_snapshots_are_copied_by_the_database_with_the_same_rows_and_features(
    engine, settings, tmp_path
) -> None:
    seed(engine)
    _more(engine)
    copied = [d for d in registry.contributed() if d.copy_sql]
    assert {d.slug for d in copied} >= {"signalements", "trafic-frontalier", "qualite-air"}
    with read_session(engine) as session:
        if not using_postgres():
            assert not any(copy.available(session, d) for d in copied)  # SQLite streams in Python
            return
        for dataset in copied:
            assert copy.available(session, dataset)
            by_python = snapshots.write_dataset(
                dataset, dataset.rows(session, settings.base_url), tmp_path / "python"
            )
            by_copy = copy.write_copied(dataset, session, tmp_path / "copy")
            assert (by_copy.rows, by_copy.first_day, by_copy.last_day) == (
                by_python.rows,
                by_python.first_day,
                by_python.last_day,
            ), dataset.slug
            types = {c.name: c.type for c in dataset.columns}
            _same(
                _cells(tmp_path / "python" / f"{dataset.slug}.csv", types),
                _cells(tmp_path / "copy" / f"{dataset.slug}.csv", types),
            )
            if dataset.geometry is not None:
                features = [
                    json.loads((tmp_path / d / f"{dataset.slug}.geojson").read_text())["features"]
                    for d in ("python", "copy")
                ]
                key = lambda f: json.dumps(f["properties"], sort_keys=True)  # noqa: E731
                python_features, copy_features = (sorted(f, key=key) for f in features)
                assert [f["geometry"] for f in copy_features] == [
                    f["geometry"] for f in python_features
                ], dataset.slug
                _same(
                    [f["properties"] for f in python_features],
                    [f["properties"] for f in copy_features],
                )
    text = "".join(p.read_text() for p in (tmp_path / "copy").iterdir())
    for secret in (NAME, EMAIL, PHONE, FREE_TEXT):
        assert secret not in text
    rows = _cells(
        tmp_path / "copy" / "signalements.csv",
        {
            "latitude": "number",
            "longitude": "number",
            **{
                c: "string"
                for c in (
                    "categorie",
                    "etat",
                    "commune_insee",
                    "date_signalement",
                    "date_resolution",
                )
            },
        },
    )
    late = [r for r in rows if r["categorie"] == "tyres"]
    assert [r["date_signalement"] for r in late] == ["2026-03-14", "2026-03-15", "2026-03-15"]
    assert {r["latitude"] for r in late} == {49.466} and late[0]["commune_insee"] == ""

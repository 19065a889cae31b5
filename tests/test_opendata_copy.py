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


def _places(engine) -> None:
    """Crossings sharing one published position, one with a single hour, one with no position."""
    from app.models.sensors import Sensor

    hour = utcnow().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=30)
    with write_session(engine) as session:
        for sensor_id, lat, lon in (
            ("TR-OD-02", 49.4812341, 5.9712344),  # published at 49.48123, 5.97123
            ("TR-OD-03", 49.4812338, 5.9712341),  # ... the same position as TR-OD-02
            ("TR-OD-04", None, None),
            ("TR-OD-05", 49.5, 6.0),
        ):
            session.add(
                Sensor(id=sensor_id, kind="traffic", name=sensor_id, lat=lat, lon=lon, meta="{}")
            )
        for sensor_id, hours in (
            ("TR-OD-02", 3),
            ("TR-OD-03", 2),
            ("TR-OD-04", 2),
            ("TR-OD-05", 1),
        ):
            for h in range(hours):
                session.add(
                    SensorHourly(
                        sensor_id=sensor_id,
                        hour=hour + dt.timedelta(hours=h),
                        samples=3,  # no exact tie: PostgreSQL and Python round those apart
                        sums_json=json.dumps({"intensity": 400 + h, "occupancy": 0.5}),
                    )
                )


def test_the_database_writes_each_place_s_feature_byte_for_byte_as_the_python_writer(
    engine, settings, tmp_path
) -> None:
    seed(engine)
    _more(engine)
    _places(engine)
    per_place = [
        d for d in registry.contributed() if d.copy_sql and d.geometry and d.geometry.per_place
    ]
    assert {d.slug for d in per_place} == {
        "trafic-frontalier",
        "qualite-air",
        "dechetterie-temps-attente",
    }
    if not using_postgres():
        return
    with read_session(engine) as session:
        raw = session.connection().connection.dbapi_connection
        for dataset in per_place:
            if dataset.ends_sql:  # each place's first and last row of the CSV, in its order
                with raw.cursor() as cursor:
                    cursor.execute(dataset.copy_sql)
                    every = cursor.fetchall()
                    cursor.execute(dataset.ends_sql)
                    ends = cursor.fetchall()
                by_sensor: dict[str, list] = {}
                for row in every:
                    by_sensor.setdefault(row[0], []).append(row)
                expected = [r for rows in by_sensor.values() for r in (rows[0], rows[-1])]
                assert ends == expected, dataset.slug
            by_python = snapshots.write_dataset(
                dataset, dataset.rows(session, settings.base_url), tmp_path / "python"
            )
            by_copy = copy.write_copied(dataset, session, tmp_path / "copy")
            assert (by_copy.first_day, by_copy.last_day) == (
                by_python.first_day,
                by_python.last_day,
            )
            python, copied = (
                (tmp_path / d / f"{dataset.slug}.geojson").read_bytes() for d in ("python", "copy")
            )
            assert copied == python, dataset.slug
    traffic = json.loads((tmp_path / "copy" / "trafic-frontalier.geojson").read_text())
    shown = [(f["properties"]["capteur"], f["properties"]["heure"]) for f in traffic["features"]]
    base = utcnow().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=30)

    def stamp(hours: int) -> str:
        return (base + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:00:00Z")

    # In the order places first come in the CSV; the shared position shows the last of its rows
    # (TR-OD-03's last hour); TR-OD-04 has no position: in the CSV, not on the map.
    assert [s for s, _ in shown] == ["TR-OD-01", "TR-OD-03", "TR-OD-05"]
    assert shown[1:] == [("TR-OD-03", stamp(1)), ("TR-OD-05", stamp(0))]

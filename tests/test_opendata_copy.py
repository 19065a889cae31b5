"""Snapshots on PostgreSQL are written by COPY from each dataset's SQL: the same rows, cells and features
as the streamed Python rows (numbers to their published rounding), still valid against the Table Schema."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

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
                    cursor.execute(copy.for_territory(dataset.copy_sql, None))
                    every = cursor.fetchall()
                    cursor.execute(copy.for_territory(dataset.ends_sql, None))
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


# The SQL the traffic and air snapshots ran before each hour's means were kept in its row: the hour's
# JSON sums parsed and divided for every row of every snapshot. Kept here as the reference the kept
# means must publish byte for byte.
def _mean_from_json(name: str, digits: int) -> str:
    value = f'm."{name}"'
    return (
        f"CASE WHEN json_typeof({value}) = 'number' AND h.samples > 0 "
        f"THEN round(({value}::text::float8 / h.samples)::numeric, {digits}) END"
    )


def _hours_from_json(kind: str, means: tuple[tuple[str, int, str], ...], *, ends: bool) -> str:
    record = ", ".join(f'"{name}" json' for name, _, _ in means)
    values = ", ".join(f"{_mean_from_json(name, digits)} AS {out}" for name, digits, out in means)
    hours = (
        "sensors s CROSS JOIN LATERAL ("
        "(SELECT * FROM sensor_hourly x WHERE x.sensor_id = s.id ORDER BY x.hour LIMIT 1) UNION ALL "
        "(SELECT * FROM sensor_hourly x WHERE x.sensor_id = s.id ORDER BY x.hour DESC LIMIT 1)) h"
        if ends
        else "sensor_hourly h JOIN sensors s ON s.id = h.sensor_id"
    )
    return (
        "SELECT s.id AS capteur, NULLIF(s.commune_insee, '') AS commune_insee, "
        "round((s.lat)::numeric, 5) AS latitude, round((s.lon)::numeric, 5) AS longitude, "
        """to_char(h.hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS heure, """
        f"{values}, h.samples AS echantillons FROM {hours} "
        f"CROSS JOIN LATERAL json_to_record(h.sums_json::json) AS m({record}) "
        f"WHERE s.kind = '{kind}' ORDER BY s.id, h.hour"
    )


_FROM_JSON = {
    "trafic-frontalier": (
        "traffic",
        (
            ("intensity", 1, "debit_vehicules_h"),
            ("occupancy", 3, "taux_occupation"),
            ("averageVehicleSpeed", 1, "vitesse_moyenne_kmh"),
            ("congested", 3, "part_congestion"),
        ),
    ),
    "qualite-air": (
        "air_quality",
        (
            ("no2", 1, "no2_ugm3"),
            ("pm10", 1, "pm10_ugm3"),
            ("pm25", 1, "pm25_ugm3"),
            ("o3", 1, "o3_ugm3"),
        ),
    ),
}


def _odd_hours(engine) -> None:
    """Hours whose means round on a tie, have no samples, miss a measure or hold one that is no number."""
    hour = utcnow().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=60)
    sums = (
        (
            8,
            {
                "intensity": 2.0,
                "occupancy": 0.0045 * 8,
                "averageVehicleSpeed": 0.25 * 8,
                "congested": 5,
            },
        ),
        (3, {"intensity": 1000, "occupancy": 1, "averageVehicleSpeed": 100.05 * 3}),
        (0, {"intensity": 12, "congested": 0}),
        (7, {"intensity": "12", "occupancy": None, "congested": True, "averageVehicleSpeed": 1e-7}),
        (1, {"no2": 0.05, "pm10": 12.25, "pm25": -0.05, "o3": 7}),
        (6, {"no2": 1 / 3, "pm10": 2**52 + 0.5, "o3": 0}),
    )
    with write_session(engine) as session:
        for n, (samples, values) in enumerate(sums):
            for sensor_id in ("TR-OD-01", "AQ-OD-01"):
                session.add(
                    SensorHourly(
                        sensor_id=sensor_id,
                        hour=hour + dt.timedelta(hours=n),
                        samples=samples,
                        sums_json=json.dumps(values),
                    )
                )


def test_the_kept_hourly_means_publish_the_very_files_the_hours_json_gave(
    engine, settings, tmp_path
) -> None:
    """Traffic and air quality read each hour's means kept in its row (``sensor_hourly_means``): their
    CSV and GeoJSON are byte for byte those computed from the hours' JSON, also once an hour is
    written again (a reading arriving in an hour already kept)."""
    if not using_postgres():
        pytest.skip("the means are kept by PostgreSQL; SQLite computes them in Python")
    seed(engine)
    _more(engine)
    _places(engine)
    _odd_hours(engine)
    datasets = {d.slug: d for d in registry.contributed() if d.slug in _FROM_JSON}
    assert set(datasets) == set(_FROM_JSON)

    def compare(folder: str) -> None:
        with read_session(engine) as session:
            for slug, dataset in datasets.items():
                kind, means = _FROM_JSON[slug]
                before = dataclasses.replace(
                    dataset,
                    copy_sql=_hours_from_json(kind, means, ends=False),
                    ends_sql=_hours_from_json(kind, means, ends=True),
                )
                assert before.copy_sql != dataset.copy_sql
                old = copy.write_copied(before, session, tmp_path / folder / "json")
                new = copy.write_copied(dataset, session, tmp_path / folder / "kept")
                assert new == old, slug
                assert old.rows > 5, slug
                for ext in ("csv", "geojson"):
                    assert (tmp_path / folder / "kept" / f"{slug}.{ext}").read_bytes() == (
                        tmp_path / folder / "json" / f"{slug}.{ext}"
                    ).read_bytes(), (slug, ext)

    compare("first")
    with write_session(engine) as session:  # as the ingestion folds a new reading into its hour
        for row in session.scalars(
            sa.select(SensorHourly).where(col(SensorHourly.sensor_id).in_(["TR-OD-01", "AQ-OD-01"]))
        ):
            sums = json.loads(row.sums_json)
            sums.update({k: v + 7.7 for k, v in sums.items() if isinstance(v, int | float)})
            row.samples += 1
            row.sums_json = json.dumps(sums)
    compare("again")

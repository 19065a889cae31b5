"""History for every measure: lights, groups, cabinets and sensors feed one time-series store, read as
charts, JSON and CSV by staff and through the NGSI-LD temporal API."""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import select

from app.db import read_session, write_session
from app.lighting.relay import Inbound, ingest
from app.models.measures import MeasureHourly
from app.models.sensors import Sensor
from app import timeseries
from tests.lighting_helpers import seed_lights

YEAR_START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
LIGHT_URN = "urn:ngsi-ld:Streetlight:SL-T-0001"


def _a_year_of_readings(engine, light: str) -> tuple[float, int]:
    """Every 3 hours for 2025: lit at 60 % from 18:00 to 06:00, off by day; +42 Wh per lit reading."""
    energy, lit = 1000.0, 0
    batch: list[Inbound] = []
    for step in range(365 * 8):
        at = YEAR_START + dt.timedelta(hours=3 * step)
        on = at.hour >= 18 or at.hour < 6
        energy += 42.0 if on else 0.0
        lit += on
        batch.append(
            Inbound(
                "tele_light",
                light,
                {
                    "ts": at.isoformat(),
                    "level": 60 if on else 0,
                    "power_w": 40.0 if on else 0.5,
                    "energy_wh": energy,
                    "status": "ok",
                },
                at,
            )
        )
        if len(batch) == 730:
            ingest(engine, batch, now=at)
            batch = []
    return (energy - 1000.0 - 42.0) / 1000, lit  # the first reading has no previous counter


def test_the_temporal_api_answers_a_year_of_a_lights_history_with_aggregates(engine, client):
    light = seed_lights(engine, 1)[0]
    kwh, _lit = _a_year_of_readings(engine, light)
    response = client.get(
        f"/ngsi-ld/v1/temporal/entities/{LIGHT_URN}",
        params={
            "timerel": "between",
            "timeAt": "2025-01-01T00:00:00Z",
            "endTimeAt": "2026-01-01T00:00:00Z",
            "attrs": "illuminanceLevel,energyConsumed",
            "aggrMethods": "avg,max,sum,totalCount",
            "aggrPeriodDuration": "P1M",
            "options": "aggregatedValues",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == LIGHT_URN and body["type"] == "Streetlight"
    assert "link" in response.headers
    level, energy = body["illuminanceLevel"], body["energyConsumed"]
    assert level["type"] == "Property" and len(level["avg"]) == 12
    assert [row[1][:7] for row in level["avg"]] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert level["avg"][0][2].startswith("2025-02-01T00:00:00")
    assert all(
        abs(value - 0.3) < 0.01 for value, _start, _end in level["avg"]
    )  # lit half the time at 60 %
    assert all(value == 0.6 for value, _s, _e in level["max"])
    assert abs(sum(v for v, _s, _e in energy["sum"]) - kwh) < 1e-6
    assert sum(v for v, _s, _e in level["totalCount"]) == 365 * 8
    # the group and the cabinet of the light carry the same history
    group = client.get(
        "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:StreetlightGroup:G1",
        params={
            "timerel": "after",
            "timeAt": "2025-01-01T00:00:00Z",
            "attrs": "energyConsumed",
            "aggrMethods": "sum",
            "aggrPeriodDuration": "P1Y",
        },
    ).json()
    assert abs(group["energyConsumed"]["sum"][0][0] - kwh) < 1e-6


def test_without_aggregation_the_temporal_api_lists_hourly_means(engine, client):
    light = seed_lights(engine, 1)[0]
    at = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)
    ingest(
        engine,
        [
            Inbound(
                "tele_light",
                light,
                {
                    "ts": (at + dt.timedelta(minutes=m)).isoformat(),
                    "level": lvl,
                    "power_w": 30.0,
                    "energy_wh": 10.0 + m,
                    "status": "ok",
                },
                at + dt.timedelta(minutes=m),
            )
            for m, lvl in ((0, 100), (20, 50), (70, 20))
        ],
        now=at,
    )
    body = client.get(
        f"/ngsi-ld/v1/temporal/entities/{LIGHT_URN}",
        params={
            "timerel": "between",
            "timeAt": "2026-03-01T00:00:00Z",
            "endTimeAt": "2026-03-02T00:00:00Z",
            "attrs": "illuminanceLevel",
            "lastN": "5",
        },
    ).json()
    assert body["illuminanceLevel"] == [
        {"type": "Property", "value": 0.75, "observedAt": "2026-03-01T20:00:00.000Z"},
        {"type": "Property", "value": 0.2, "observedAt": "2026-03-01T21:00:00.000Z"},
    ]


def test_bad_temporal_queries_get_ngsi_ld_problem_details(engine, client):
    seed_lights(engine, 1)
    with write_session(engine) as session:
        timeseries.record(
            session, [timeseries.Sample(LIGHT_URN, "illuminanceLevel", YEAR_START, 0.5)]
        )
    cases = [
        ({"timerel": "between", "timeAt": "2025-01-01T00:00:00Z"}, 400),
        ({"timerel": "during", "timeAt": "2025-01-01T00:00:00Z"}, 400),
        ({"timerel": "after", "timeAt": "hier"}, 400),
        ({"timerel": "after", "timeAt": "2024-01-01T00:00:00Z", "aggrMethods": "median"}, 400),
        (
            {
                "timerel": "after",
                "timeAt": "2024-01-01T00:00:00Z",
                "aggrMethods": "avg",
                "aggrPeriodDuration": "PT1M",
            },
            400,
        ),
    ]
    for params, status in cases:
        response = client.get(f"/ngsi-ld/v1/temporal/entities/{LIGHT_URN}", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.json()["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")
    assert (
        client.get("/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Streetlight:NOPE").status_code == 404
    )
    assert client.get("/ngsi-ld/v1/temporal/entities/not-a-urn").status_code == 400


def test_staff_read_a_sensors_history_as_json_csv_and_a_chart(engine, staff):
    with write_session(engine) as session:
        session.add(Sensor(id="AQ-T", kind="air_quality", name="Station test", lat=49.47, lon=5.95))
    now = dt.datetime.now(dt.UTC).replace(minute=5, second=0, microsecond=0)
    ingest(
        engine,
        [
            Inbound(
                "tele_sensor",
                "AQ-T",
                {
                    "ts": (now - dt.timedelta(hours=h)).isoformat(),
                    "kind": "air_quality",
                    "no2": 20.0 + h,
                },
                now,
            )
            for h in (0, 1, 2)
        ],
        now=now,
    )
    urn = "urn:ngsi-ld:AirQualityObserved:AQ-T"
    body = staff.client.get("/staff/ops/history.json", params={"id": urn, "range": "day"}).json()
    (series,) = body["series"]
    assert series["measure"] == "no2" and series["unit"] == "µg/m³"
    values = [p["value"] for p in series["points"] if p["value"] is not None]
    assert sorted(values) == [20.0, 21.0, 22.0] and len(series["points"]) == 24
    rows = list(
        csv.DictReader(
            io.StringIO(
                staff.client.get("/staff/ops/history.csv", params={"id": urn, "range": "day"}).text
            )
        )
    )
    assert sorted(float(r["value"]) for r in rows if r["value"]) == [20.0, 21.0, 22.0]
    svg = staff.client.get("/staff/ops/history.svg", params={"id": urn, "range": "week"})
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "<polyline" in svg.text or "<circle" in svg.text
    bad = staff.client.get("/staff/ops/history.json", params={"id": urn, "range": "siècle"})
    assert bad.status_code == 400


def test_a_sensor_reading_and_the_existing_light_history_share_the_same_downsampling(engine):
    with write_session(engine) as session:
        session.add(Sensor(id="FL-T", kind="fill_level", name="Colonne", lat=49.47, lon=5.95))
    at = dt.datetime(2026, 5, 4, 10, 10, tzinfo=dt.UTC)
    ingest(
        engine,
        [
            Inbound(
                "tele_sensor",
                "FL-T",
                {
                    "ts": (at + dt.timedelta(minutes=m)).isoformat(),
                    "kind": "fill_level",
                    "fillingLevel": v,
                },
                at + dt.timedelta(minutes=m),
            )
            for m, v in ((0, 0.2), (30, 0.4), (70, 0.9))
        ],
        now=at,
    )
    with read_session(engine) as session:
        series = timeseries.aggregate(
            session,
            "urn:ngsi-ld:WasteContainer:FL-T",
            ["fillingLevel"],
            at.replace(hour=0, minute=0),
            at.replace(hour=0, minute=0) + dt.timedelta(days=1),
            timeseries.Period.parse("PT1H"),
        )
        daily = timeseries.aggregate(
            session,
            "urn:ngsi-ld:WasteContainer:FL-T",
            ["fillingLevel"],
            at.replace(hour=0, minute=0),
            at.replace(hour=0, minute=0) + dt.timedelta(days=1),
            timeseries.Period.parse("P1D"),
        )
    hours = {
        b.start.hour: (b.count, round(b.mean, 3), b.low, b.high)
        for b in series["fillingLevel"]
        if b.count
    }
    assert hours == {10: (2, 0.3, 0.2, 0.4), 11: (1, 0.9, 0.9, 0.9)}
    (day,) = daily["fillingLevel"]
    assert (day.count, day.low, day.high) == (3, 0.2, 0.9)


def test_retention_keeps_a_week_of_events_and_90_days_of_hours_while_days_stay(engine, settings):
    from sqlalchemy import func, select

    from app import events, retention
    from app.models.events import Event
    from app.models.measures import MeasureDaily, MeasureHourly

    now = dt.datetime.now(dt.UTC)
    with write_session(engine) as session:
        events.publish(session, "sensors", "old", "reading", at=now - dt.timedelta(days=8))
        events.publish(session, "sensors", "new", "reading", at=now - dt.timedelta(days=1))
        timeseries.record(
            session,
            [
                timeseries.Sample(
                    LIGHT_URN, "powerConsumption", now - dt.timedelta(days=100), 40.0
                ),
                timeseries.Sample(LIGHT_URN, "powerConsumption", now - dt.timedelta(days=2), 30.0),
            ],
        )
    retention.run(engine, settings, now)
    with read_session(engine) as session:
        assert session.scalars(select(Event.feature_id)).all() == ["new"]
        assert session.scalar(select(func.count()).select_from(MeasureHourly)) == 1
        assert session.scalar(select(func.count()).select_from(MeasureDaily)) == 2


def test_hours_recorded_in_a_batch_are_stored_as_every_query_writes_them(engine):
    """The hourly rows' time is written exactly as queries bind it: a history read from the first
    hour on counts that hour, and a later write through the ORM path meets the same row."""
    entity = "urn:ngsi-ld:Device:HOURS-1"
    end = dt.datetime(2026, 12, 4, 8, tzinfo=dt.UTC)
    start = end - dt.timedelta(hours=6)
    samples = [
        timeseries.Sample(entity, "intensity", start + dt.timedelta(minutes=15 * i), 2.0)
        for i in range(24)
    ]
    with write_session(engine) as session:
        timeseries.record(session, samples)
    with read_session(engine) as session:
        buckets = timeseries.aggregate(
            session, entity, ["intensity"], start, end, timeseries.Period.parse("PT1H")
        )
        rows = session.scalars(
            select(MeasureHourly).where(MeasureHourly.entity == entity, MeasureHourly.hour == start)
        ).all()
    assert [b.count for b in buckets["intensity"]] == [4] * 6
    assert len(rows) == 1 and rows[0].count == 4

"""Live open data: a reading published over MQTT reaches the dataset's stream (anonymised like the file)
and the next snapshot; a report's change reaches the reports stream without its text."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from app.db import utcnow, write_session
from app.models.reports import Report
from app.models.sensors import Sensor
from app.opendata import snapshots
from app.reports.workflow import change_status
from tests.e2e.conftest import LiveServer
from tests.lighting_helpers import running_relay
from tests.mqtt_fixtures import mqtt_client, run_async
from tests.ops_helpers import sse


def test_a_reading_published_over_mqtt_appears_in_the_live_stream_and_the_next_snapshot(
    app, engine, settings, client, mqtt_url, topic_prefix
):
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="AQ-LIVE-01",
                kind="air_quality",
                name="Station Audun",
                commune_insee="57038",
                lat=49.4721,
                lon=5.9553,
            )
        )
        session.add(
            Sensor(
                id="TR-LIVE-01",
                kind="traffic",
                name="Passage",
                commune_insee="57038",
                lat=49.48,
                lon=5.97,
            )
        )
    now = utcnow().replace(microsecond=0)

    async def scenario() -> tuple[dict, dict]:
        async with (
            running_relay(engine, mqtt_url, topic_prefix),
            sse(server.url, "", path="/data/qualite-air/live") as air,
            sse(server.url, "", path="/data/trafic-frontalier/live") as traffic,
            mqtt_client(mqtt_url) as device,
        ):
            ready = await asyncio.wait_for(air.next_event(), 5)
            assert ready["dataset"] == "qualite-air" and "no2_ugm3" in ready["columns"]
            await asyncio.wait_for(traffic.next_event(), 5)
            await device.publish(
                f"{topic_prefix}/tele/sensor/AQ-LIVE-01",
                json.dumps(
                    {
                        "ts": now.isoformat().replace("+00:00", "Z"),
                        "kind": "air_quality",
                        "no2": 21.5,
                        "pm10": 14,
                    }
                ),
                qos=1,
            )
            row = await asyncio.wait_for(air.next_event(), 5)
            await device.publish(
                f"{topic_prefix}/tele/sensor/TR-LIVE-01",
                json.dumps(
                    {
                        "ts": now.isoformat().replace("+00:00", "Z"),
                        "kind": "traffic",
                        "intensity": 900,
                    }
                ),
                qos=1,
            )
            crossing = await asyncio.wait_for(traffic.next_event(), 5)
            return row, crossing

    with LiveServer(app) as server:
        row, crossing = run_async(scenario(), timeout=40)
    assert row["capteur"] == "AQ-LIVE-01" and row["no2_ugm3"] == 21.5 and row["pm10_ugm3"] == 14.0
    assert row["echantillons"] == 1 and row["sse_id"].isdigit()
    assert crossing["capteur"] == "TR-LIVE-01"  # the air reading never reached the traffic stream

    snapshots.generate(engine, settings.var_dir, settings.base_url)
    rows = list(csv.DictReader(io.StringIO(client.get("/data/qualite-air.csv").text)))
    (mine,) = [r for r in rows if r["capteur"] == "AQ-LIVE-01"]
    assert mine["no2_ugm3"] == "21.5" and mine["heure"] == now.replace(minute=0, second=0).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_a_report_changing_state_reaches_the_reports_stream_without_its_words(app, engine) -> None:
    with write_session(engine) as session:
        report = Report(
            category="tyres",
            lat=49.47213,
            lon=5.95536,
            commune_insee="57038",
            description="Pneus devant chez M. Dupont, 06 11 22 33 44",
        )
        session.add(report)
    report_id = report.id

    async def scenario() -> dict:
        async with sse(server.url, "", path="/data/signalements/live") as stream:
            await asyncio.wait_for(stream.next_event(), 5)

            def resolve() -> None:
                with write_session(engine) as session:
                    change_status(
                        session,
                        session.get(Report, report_id),
                        "resolved",
                        actor_id=None,
                        note="Enlevé",
                        notify_people=False,
                    )

            await asyncio.to_thread(resolve)
            return await asyncio.wait_for(stream.next_event(), 5)

    with LiveServer(app) as server:
        row = run_async(scenario(), timeout=30)
    assert row["etat"] == "resolved" and row["categorie"] == "tyres"
    assert row["latitude"] == 49.472 and row["longitude"] == 5.955
    assert "Dupont" not in json.dumps(row) and "description" not in row

"""The operations centre's live stream: changes travel through the database outbox to Server-Sent Events."""

from __future__ import annotations

import asyncio
import html
import json
import time

import httpx

from app import auth, events
from app.db import write_session
from app.models.sensors import Sensor
from tests.e2e.conftest import LiveServer
from tests.lighting_helpers import running_relay
from tests.live_server import live
from tests.mqtt_fixtures import mqtt_client, run_async
from tests.ops_helpers import sse


def _token(persona) -> str:
    return persona.client.cookies.get(auth.SESSION_COOKIE)


def test_a_sensor_reading_published_over_mqtt_reaches_a_connected_stream_client_within_three_seconds(
    app, engine, staff, mqtt_url, topic_prefix
):
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="AQ-AUD-01",
                kind="air_quality",
                name="Station Audun",
                commune_insee="57038",
                lat=49.472,
                lon=5.955,
            )
        )

    async def scenario() -> float:
        async with (
            running_relay(engine, mqtt_url, topic_prefix),
            sse(server.url, _token(staff)) as stream,
            mqtt_client(mqtt_url) as device,
        ):
            assert await stream.first_comment() == "eclor"
            sent = time.monotonic()
            await device.publish(
                f"{topic_prefix}/tele/sensor/AQ-AUD-01",
                json.dumps(
                    {"ts": "2026-12-06T10:00:00Z", "kind": "air_quality", "no2": 21.5, "pm10": 14}
                ),
                qos=1,
            )
            event = await asyncio.wait_for(stream.next_event(), 3.0)
            elapsed = time.monotonic() - sent
            assert (event["layer"], event["feature_id"], event["kind"]) == (
                "sensors",
                "AQ-AUD-01",
                "reading",
            )
            assert event["payload"]["values"] == {"no2": 21.5, "pm10": 14}
            assert event["sse_id"] == str(event["id"])
            return elapsed

    with LiveServer(app) as server:
        elapsed = run_async(scenario(), timeout=30)
    assert elapsed < 3.0


def _publish(engine, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        with write_session(engine) as session:
            events.publish(session, "reports", str(n), "created", {"n": n})


def test_a_dropped_stream_resumes_from_last_event_id_without_loss(app, engine, staff):
    _publish(engine, 5)

    async def read(stream, count: int) -> list[dict]:
        return [await asyncio.wait_for(stream.next_event(), 5.0) for _ in range(count)]

    async def scenario() -> None:
        async with sse(server.url, _token(staff), last_event_id=0) as stream:
            first = await read(stream, 5)
        assert [e["payload"]["n"] for e in first] == [0, 1, 2, 3, 4]
        last_seen = first[2]["id"]  # the connection dropped after the third event had been handled
        await asyncio.to_thread(_publish, engine, 4, 5)  # changes while nobody listens
        async with sse(server.url, _token(staff), last_event_id=last_seen) as stream:
            resumed = await read(stream, 6)
            await asyncio.to_thread(_publish, engine, 1, 9)  # and one live, after the catch-up
            (live,) = await read(stream, 1)
        assert [e["payload"]["n"] for e in resumed] == [3, 4, 5, 6, 7, 8]
        assert live["payload"]["n"] == 9
        ids = [e["id"] for e in first[:3] + resumed + [live]]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)

    with LiveServer(app) as server:
        run_async(scenario(), timeout=30)


def test_a_stream_resumed_from_further_back_than_memory_reads_the_database(
    app, engine, staff, monkeypatch
):
    monkeypatch.setattr(events, "MEMORY", 3)
    _publish(engine, 2)

    async def scenario() -> list[int]:
        async with sse(server.url, _token(staff)) as stream:
            assert await stream.first_comment() == "eclor"
            await asyncio.to_thread(_publish, engine, 6, 2)  # more than the hub keeps
            live = [
                (await asyncio.wait_for(stream.next_event(), 5.0))["payload"]["n"] for _ in range(6)
            ]
        assert live == [2, 3, 4, 5, 6, 7]
        async with sse(server.url, _token(staff), last_event_id=1) as stream:
            return [
                (await asyncio.wait_for(stream.next_event(), 5.0))["payload"]["n"] for _ in range(7)
            ]

    with LiveServer(app) as server:
        assert run_async(scenario(), timeout=30) == [1, 2, 3, 4, 5, 6, 7]


def test_a_malformed_last_event_id_gets_a_clear_message(staff):
    response = staff.client.get("/staff/ops/stream", headers={"last-event-id": "hier"})
    assert response.status_code == 400
    assert "Identifiant d'évènement invalide" in html.unescape(response.text)


def test_open_streams_do_not_take_the_request_slots_of_the_pages(settings, engine, staff):
    """Three staff screens with the live map open on a server of two request slots: pages still answer."""
    settings.http_max_concurrency = 2
    settings.http_queue_seconds = 0.3
    token = _token(staff)

    async def scenario(base: str) -> list[int]:
        async with (
            sse(base, token) as first,
            sse(base, token) as second,
            sse(base, token) as third,
        ):
            for stream in (first, second, third):
                assert await stream.first_comment() == "eclor"
            async with httpx.AsyncClient(
                base_url=base, cookies={auth.SESSION_COOKIE: token}, timeout=10
            ) as http:
                answers = [(await http.get("/staff/ops/layers.json")).status_code for _ in range(3)]
            _publish(engine, 1)
            event = await asyncio.wait_for(third.next_event(), 5.0)
            assert event["layer"] == "reports"
            return answers

    with live(settings) as base:
        assert run_async(scenario(base), timeout=30) == [200, 200, 200]

"""Operations centre benchmark: layers, KPIs, MQTT reading → SSE event, 50 stream clients.

With 20,000 lights, 10,000 reports and 200 sensors (SQLite by default, ``--database-url`` for
PostgreSQL), it measures in the same run:

- each layer's serve time through the whole app (guard, session, GeoJSON, gzip) and its gzipped
  size, against a bare query of the same rows (baseline) — targets ≤ 300 ms and ≤ 1 MB gzipped;
- the KPIs per commune (target ≤ 100 ms) against a bare count of the rows they read;
- the time from an MQTT reading to its Server-Sent Event on a connected client (median, p99;
  target p99 ≤ 2 s) against the bare MQTT round trip of the same message;
- 50 connected stream clients on a separate server process: its memory before and after, and the
  time for one event to reach all of them.

    .venv/bin/python -m bench.ops [--quick] [--write]

Figures come from a shared 2-core machine; rerun on a quiet one for absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text

from app import auth, events
from app.db import make_engine, utcnow, write_session
from app.lighting.relay import RelayConfig, mqtt_relay
from app.main import create_app
from app.migrate import upgrade
from app.models.accounts import User
from app.mqtt_broker import start_in_thread
from app.settings import Settings
from bench.report import write_section
from tests.mqtt_fixtures import mqtt_client

COMMUNES = [
    ("57038", 49.472, 5.955),
    ("57041", 49.418, 5.944),
    ("57097", 49.382, 5.951),
    ("57529", 49.440, 6.017),
    ("57565", 49.493, 5.918),
    ("57602", 49.483, 5.953),
    ("54523", 49.473, 5.905),
    ("54580", 49.467, 5.929),
]
BARE = {  # the same rows each layer reads, as one plain query
    "lights": "SELECT id, device_id, lon, lat, actual_level, status, offline, group_id FROM streetlights",
    "reports": "SELECT id, lon, lat, status, category, commune_insee FROM reports "
    "WHERE status IN ('new','confirmed','scheduled','in_progress','resolved','rejected','duplicate')",
    "cabinets": "SELECT id, name, lon, lat FROM light_cabinets",
    "sensors": "SELECT id, kind, name, lon, lat, last_values FROM sensors",
    "alerts": "SELECT id, title, communes FROM alerts WHERE state = 'active'",
    "alarms": "SELECT id, device_id, kind FROM light_alarms WHERE cleared_at IS NULL",
    "carpool": "SELECT from_lon, from_lat, to_lon, to_lat FROM carpool_ads WHERE status = 'active'",
}


def seed(engine: Any, lights: int, reports: int, sensors: int, rng: random.Random) -> int:
    now = utcnow()
    with write_session(engine) as session:
        user = User(email="bench@eclor.test", role="staff", display_name="Bench")
        session.add(user)
        session.flush()
        conn = session.connection()
        cabinets, groups, rows = [], [], []
        per = lights // len(COMMUNES)
        for c_index, (insee, lat, lon) in enumerate(COMMUNES):
            for g in range(per // 100 + 1):
                cabinet, group = f"CAB-{insee}-{g:02d}", f"G-{insee}-{g:02d}"
                cabinets.append(
                    {
                        "id": cabinet,
                        "name": f"Armoire {insee} {g}",
                        "commune_insee": insee,
                        "lat": lat + rng.uniform(-0.01, 0.01),
                        "lon": lon + rng.uniform(-0.01, 0.01),
                        "working_mode": "automatic",
                    }
                )
                groups.append(
                    {
                        "id": group,
                        "name": f"Groupe {insee} {g}",
                        "commune_insee": insee,
                        "cabinet_id": cabinet,
                    }
                )
            for i in range(
                per if c_index < len(COMMUNES) - 1 else lights - per * (len(COMMUNES) - 1)
            ):
                light = f"SL-{insee}-{i:05d}"
                level = rng.choice((0, 50, 100, 100))
                rows.append(
                    {
                        "id": light,
                        "device_id": light,
                        "group_id": f"G-{insee}-{i // 100:02d}",
                        "cabinet_id": f"CAB-{insee}-{i // 100:02d}",
                        "commune_insee": insee,
                        "street": "Rue du banc d'essai",
                        "lat": lat + rng.uniform(-0.012, 0.012),
                        "lon": lon + rng.uniform(-0.018, 0.018),
                        "model": "LED",
                        "technology": "LED",
                        "nominal_w": 70.0,
                        "circuit": "C1",
                        "reporting_period_s": 900,
                        "status": "defectiveLamp" if rng.random() < 0.01 else "ok",
                        "offline": False,
                        "actual_level": level,
                        "last_seen_at": now,
                    }
                )
        conn.execute(
            text(
                "INSERT INTO light_cabinets "
                "(id, name, commune_insee, lat, lon, working_mode, territory_id) "
                "VALUES (:id, :name, :commune_insee, :lat, :lon, :working_mode, "
                "(SELECT min(id) FROM territories))"
            ),
            cabinets,
        )
        conn.execute(
            text(
                "INSERT INTO light_groups (id, name, commune_insee, cabinet_id, territory_id) "
                "VALUES (:id, :name, :commune_insee, :cabinet_id, (SELECT min(id) FROM territories))"
            ),
            groups,
        )
        from app.models.lighting import LightAlarm, Streetlight
        from app.models.reports import Report
        from app.models.sensors import Sensor

        conn.execute(Streetlight.__table__.insert(), rows)  # type: ignore[attr-defined]
        conn.execute(
            LightAlarm.__table__.insert(),
            [  # type: ignore[attr-defined]
                {
                    "device_id": r["device_id"],
                    "device_kind": "light",
                    "kind": "defectiveLamp",
                    "severity": "major",
                    "raised_at": now,
                }
                for r in rows
                if r["status"] != "ok"
            ],
        )
        statuses = (
            "new",
            "confirmed",
            "scheduled",
            "in_progress",
            "resolved",
            "resolved",
            "rejected",
        )
        conn.execute(
            Report.__table__.insert(),
            [  # type: ignore[attr-defined]
                {
                    "category": "bulky_items",
                    "status": rng.choice(statuses),
                    "description": "",
                    "lat": lat + rng.uniform(-0.02, 0.02),
                    "lon": lon + rng.uniform(-0.02, 0.02),
                    "approximate": False,
                    "address": "",
                    "commune_insee": insee,
                    "source": "web",
                    "witnessed": False,
                    "thanks_count": 0,
                    "status_notes": "",
                    "created_at": now,
                    "updated_at": now,
                    "resolved_at": now,
                }
                for insee, lat, lon in (rng.choice(COMMUNES) for _ in range(reports))
            ],
        )
        kinds = ("air_quality", "traffic", "fill_level", "fill_level")
        sensor_rows = []
        for i in range(sensors):
            insee, lat, lon = rng.choice(COMMUNES)
            kind = kinds[i % len(kinds)]
            values = {
                "air_quality": {"no2": 30, "pm10": 20},
                "traffic": {"intensity": 300, "occupancy": 0.2},
                "fill_level": {"fillingLevel": 0.5},
            }[kind]
            sensor_rows.append(
                {
                    "id": f"S-{i:04d}",
                    "kind": kind,
                    "name": f"Capteur {i}",
                    "commune_insee": insee,
                    "lat": lat + rng.uniform(-0.01, 0.01),
                    "lon": lon + rng.uniform(-0.01, 0.01),
                    "reporting_period_s": 60,
                    "meta": "{}",
                    "last_values": json.dumps(values),
                    "last_seen_at": now,
                    "offline": False,
                }
            )
        conn.execute(Sensor.__table__.insert(), sensor_rows)  # type: ignore[attr-defined]
        from app.alerts import publish as alerts
        from app.models.carpool import CarpoolAd

        for insee, _lat, _lon in COMMUNES[:3]:
            alerts.publish(
                session,
                alerts.clean_input(
                    session, title="Travaux", body="", topic="traffic", communes=[insee]
                ),
                source="staff",
                sender="bench",
            )
        conn.execute(
            CarpoolAd.__table__.insert(),
            [  # type: ignore[attr-defined]
                {
                    "user_id": user.id,
                    "role": "driver",
                    "frequency": "regular",
                    "leg": "outward",
                    "from_label": "Départ",
                    "from_lat": lat,
                    "from_lon": lon,
                    "to_label": "Luxembourg",
                    "to_lat": 49.61,
                    "to_lon": 6.13,
                    "distance_m": 25000,
                    "cross_border": True,
                    "margin_min": 15,
                    "schedule": "{}",
                    "days_mask": 31,
                    "window_start": 420,
                    "window_end": 480,
                    "seats": 3,
                    "seats_left": 3,
                    "price_per_km_cents": 5,
                    "comment": "",
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for insee, lat, lon in COMMUNES
                for _ in range(5)
            ],
        )
        token = auth.start_session(session, user, idle_minutes=600, absolute_days=1)
    return token  # type: ignore[return-value]


def _median_ms(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def layers_and_kpis(engine: Any, settings: Settings, token: str, runs: int) -> list[dict[str, Any]]:
    from litestar.testing import TestClient

    app = create_app(settings, engine)
    out = []
    with TestClient(app, base_url="http://127.0.0.1") as client:
        client.cookies.set(auth.SESSION_COOKIE, token)
        headers = {"accept-encoding": "gzip"}
        names = [layer["name"] for layer in client.get("/staff/ops/layers.json").json()["layers"]]
        for name in names + ["kpis"]:
            url = "/staff/ops/kpis.json" if name == "kpis" else f"/staff/ops/layers/{name}.geojson"
            first = client.get(url, headers=headers)
            assert first.status_code == 200, (url, first.status_code)
            size = (
                len(gzip.compress(first.content, 1))
                if first.headers.get("content-encoding") == "gzip"
                else 0
            )
            features = (
                len(first.json().get("features", []))
                if name != "kpis"
                else len(first.json()["communes"])
            )
            served = _median_ms(lambda: client.get(url, headers=headers), runs)
            statements: list[str] = []

            def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                statements.append(statement)

            event.listen(engine, "before_cursor_execute", count)
            client.get(url, headers=headers)
            event.remove(engine, "before_cursor_execute", count)
            unchanged_statements = len(statements)
            if name == "kpis":
                bare_sql = [
                    "SELECT commune_insee, status, actual_level, offline FROM streetlights",
                    "SELECT commune_insee, status, created_at, resolved_at FROM reports",
                ]
            else:
                bare_sql = [BARE.get(name, "SELECT 1")]

            def bare() -> None:
                with engine.connect() as conn:
                    for sql in bare_sql:
                        conn.execute(text(sql)).fetchall()

            baseline = _median_ms(bare, runs)
            rebuilt = changed_statements = None
            if name in ("lights", "reports", "kpis"):
                # one row changes (with its event), then one request: median of ``runs`` changes
                lights = client.get("/staff/ops/layers/lights.geojson").json()["features"]
                reports = client.get("/staff/ops/layers/reports.geojson").json()["features"]
                times, counted = [], []
                for n in range(runs):
                    with write_session(engine) as session:
                        if name in ("lights", "kpis"):
                            light = lights[(n * 7919) % len(lights)]["id"]
                            session.execute(
                                text(
                                    "UPDATE streetlights SET actual_level = 100 - actual_level "
                                    "WHERE id = :id"
                                ),
                                {"id": light},
                            )
                            events.publish(session, "lights", light, "bench", {})
                        if name in ("reports", "kpis"):
                            report = reports[(n * 7919) % len(reports)]["id"]
                            session.execute(
                                text(
                                    "UPDATE reports SET status = CASE status WHEN 'new' THEN "
                                    "'confirmed' ELSE 'new' END, updated_at = :now WHERE id = :id"
                                ),
                                {"id": int(report), "now": utcnow()},
                            )
                            events.publish(session, "reports", report, "bench", {})
                    statements.clear()
                    event.listen(engine, "before_cursor_execute", count)
                    started = time.perf_counter()
                    assert client.get(url, headers=headers).status_code == 200
                    times.append((time.perf_counter() - started) * 1000)
                    event.remove(engine, "before_cursor_execute", count)
                    counted.append(len(statements))
                rebuilt = statistics.median(times)
                changed_statements = statistics.median(counted)
            out.append(
                {
                    "name": name,
                    "features": features,
                    "served_ms": served,
                    "bare_ms": baseline,
                    "rebuilt_ms": rebuilt,
                    "gzip_kb": size / 1024,
                    "raw_kb": len(first.content) / 1024,
                    "statements": (unchanged_statements, changed_statements),
                }
            )
            print(
                f"{name:9s} {features:6d} features  served {served:7.1f} ms  bare query {baseline:6.1f} ms  "
                f"ratio {served / max(baseline, 0.01):5.1f}  "
                + (
                    f"after a change {rebuilt:6.0f} ms (ratio {rebuilt / max(baseline, 0.01):4.2f})  "
                    if rebuilt is not None
                    else ""
                )
                + f"statements {unchanged_statements}"
                + (f"/{changed_statements:.0f}  " if changed_statements is not None else "  ")
                + f"gzip {size / 1024:7.1f} KiB (raw {len(first.content) / 1024:.0f} KiB)"
            )
    return out


VIEWS = ((12, 1440, 900), (14, 1440, 900), (16, 1440, 900), (14, 390, 844))
CENTRE = (49.472, 5.955)  # Audun-le-Tiche: its lights fill the closer views


def view_tiles(zoom: int, width: int, height: int) -> list[tuple[int, int, int]]:
    """The 256 px tiles a map of ``width`` × ``height`` at ``zoom`` centred on ``CENTRE`` shows."""
    from app.ops.tiles import tile_xy

    cx, cy = tile_xy(CENTRE[1], CENTRE[0], zoom)
    half_w, half_h = width / 512, height / 512
    return [
        (zoom, x, y)
        for x in range(int(cx - half_w), int(cx + half_w) + 1)
        for y in range(int(cy - half_h), int(cy + half_h) + 1)
    ]


def tiles_figures(engine: Any, settings: Settings, token: str, runs: int) -> list[dict[str, Any]]:
    """Big layers drawn from their tiles: for each view (zoom, screen), the time to serve all its
    tiles one after the other, their gzipped size, what they hold, against the bare query of the
    layer's rows; then the same right after one feature changed with its event."""
    from litestar.testing import TestClient

    from app.ops import layercache

    settings.ops_tiles_above = 0  # every layer kept by ids offers tiles, whatever its size
    app = create_app(settings, engine)
    out = []
    with TestClient(app, base_url="http://127.0.0.1") as client:
        client.cookies.set(auth.SESSION_COOKIE, token)
        headers = {"accept-encoding": "gzip"}
        meta = client.get("/staff/ops/layers.json").json()["layers"]
        for layer in [m for m in meta if "tiles" in m]:
            name = layer["name"]

            def bare() -> None:
                with engine.connect() as conn:
                    conn.execute(text(BARE[name])).fetchall()

            baseline = _median_ms(bare, runs)
            ids = [
                f["id"] for f in client.get(f"/staff/ops/layers/{name}.geojson").json()["features"]
            ]
            for zoom, width, height in VIEWS:
                tiles = view_tiles(zoom, width, height)

                def serve() -> list[httpx.Response]:
                    return [
                        client.get(f"/staff/ops/layers/{name}/{z}/{x}/{y}.geojson", headers=headers)
                        for z, x, y in tiles
                    ]

                started = time.perf_counter()
                answers = serve()  # the first view also makes the tile index
                first = (time.perf_counter() - started) * 1000
                assert all(a.status_code == 200 for a in answers)
                size = sum(len(gzip.compress(a.content, 1)) for a in answers)
                features = [f for a in answers for f in a.json()["features"]]
                clusters = [f for f in features if f["properties"]["kind"] == "cluster"]
                shown = (
                    len(features) - len(clusters) + sum(c["properties"]["count"] for c in clusters)
                )
                served = _median_ms(serve, runs)
                times = []
                for n in range(runs):
                    with write_session(engine) as session:
                        feature = ids[(n * 7919) % len(ids)]
                        if name == "lights":
                            session.execute(
                                text(
                                    "UPDATE streetlights SET actual_level = 100 - actual_level "
                                    "WHERE id = :id"
                                ),
                                {"id": feature},
                            )
                        else:
                            session.execute(
                                text(
                                    "UPDATE reports SET status = CASE status WHEN 'new' THEN "
                                    "'confirmed' ELSE 'new' END, updated_at = :now WHERE id = :id"
                                ),
                                {"id": int(feature), "now": utcnow()},
                            )
                        events.publish(session, name, feature, "bench", {})
                    time.sleep(layercache.TILE_RECHECK)  # the view's first tile reads the version
                    started = time.perf_counter()
                    serve()
                    times.append((time.perf_counter() - started) * 1000)
                row = {
                    "name": name,
                    "view": f"z{zoom} {width}×{height}",
                    "tiles": len(tiles),
                    "first_ms": first,
                    "served_ms": served,
                    "changed_ms": statistics.median(times),
                    "bare_ms": baseline,
                    "gzip_kb": size / 1024,
                    "features": len(features) - len(clusters),
                    "clusters": len(clusters),
                    "shown": shown,
                    "total": len(ids),
                }
                out.append(row)
                print(
                    f"{name:8s} tiles {row['view']:15s} {len(tiles):3d} tiles  first {first:7.0f} ms  "
                    f"served {served:6.0f} ms  after a change {row['changed_ms']:6.0f} ms  "
                    f"bare query {baseline:6.1f} ms  ratio {served / max(baseline, 0.01):5.2f}  "
                    f"gzip {size / 1024:6.1f} KiB  {row['features']} features + {len(clusters)} clusters "
                    f"({shown} of {len(ids)} in view)"
                )
    return out


def _wall(moment: str) -> float:
    import datetime as dt

    parsed = dt.datetime.fromisoformat(moment)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _read_events(
    response: httpx.Response, sink: asyncio.Queue[tuple[float, dict[str, Any]]]
) -> None:
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            await sink.put((time.perf_counter(), json.loads(line[6:])))


async def stream_figures(
    engine: Any, db_url: str, token: str, port: int, readings: int, clients: int
) -> dict[str, Any]:
    broker = start_in_thread()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "ECLOR_DATABASE_URL": db_url,
        "ECLOR_MQTT_URL": broker.url,
        "ECLOR_MQTT_EMBEDDED_PORT": "18835",
        "ECLOR_SECRET_KEY": "bench-secret",
        "ECLOR_ENV": "development",
        "ECLOR_MQTT_PREFIX": prefix,
    }
    eclor = str(Path(sys.executable).with_name("eclor"))
    server = subprocess.Popen(
        [eclor, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    relay = mqtt_relay(engine, broker.url, prefix, worker_id="bench-relay", config=RelayConfig())
    stop = asyncio.Event()
    relay_task = asyncio.create_task(relay.run(stop))
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(
            base_url=base,
            timeout=30,
            cookies={auth.SESSION_COOKIE: token},
            limits=httpx.Limits(max_connections=clients + 10),
        ) as http:
            for _ in range(600):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            await asyncio.wait_for(relay.backend.connected.wait(), 10)  # type: ignore[union-attr]
            # 1. MQTT reading -> SSE event, against the bare MQTT round trip of the same payload
            sink: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
            async with (
                http.stream("GET", "/staff/ops/stream?layers=sensors") as response,
                mqtt_client(broker.url) as device,
                mqtt_client(broker.url) as listener,
            ):
                reader = asyncio.create_task(_read_events(response, sink))
                await listener.subscribe(f"{prefix}/bare/#")
                await asyncio.sleep(1.0)
                lat_sse, lat_mqtt, lat_written = [], [], []
                for n in range(readings):
                    payload = json.dumps(
                        {"ts": utcnow().isoformat(), "kind": "air_quality", "no2": float(n)}
                    )
                    sent = time.perf_counter()
                    await device.publish(f"{prefix}/bare/x", payload, qos=1)
                    async for _message in listener.messages:
                        lat_mqtt.append((time.perf_counter() - sent) * 1000)
                        break
                    sent, sent_wall = time.perf_counter(), time.time()
                    await device.publish(f"{prefix}/tele/sensor/S-0000", payload, qos=1)
                    while True:
                        arrived, event = await asyncio.wait_for(sink.get(), 60)
                        if event["payload"].get("values", {}).get("no2") == float(n):
                            lat_sse.append((arrived - sent) * 1000)
                            # the event's moment is taken in the ingesting transaction
                            written = _wall(event["at"])
                            lat_written.append((written - sent_wall) * 1000)
                            break
                    await asyncio.sleep(0.05)
                reader.cancel()
            lat_sse.sort()
            out["sse_median_ms"] = statistics.median(lat_sse)
            out["sse_p99_ms"] = lat_sse[min(len(lat_sse) - 1, int(len(lat_sse) * 0.99))]
            out["mqtt_median_ms"] = statistics.median(lat_mqtt)
            lat_written.sort()
            out["written_median_ms"] = statistics.median(lat_written)
            out["written_p99_ms"] = lat_written[
                min(len(lat_written) - 1, int(len(lat_written) * 0.99))
            ]
            print(
                f"MQTT reading -> SSE event: median {out['sse_median_ms']:.0f} ms, p99 {out['sse_p99_ms']:.0f} ms "
                f"({readings} readings); bare MQTT round trip median {out['mqtt_median_ms']:.1f} ms; "
                f"reading -> its event written by the relay: median {out['written_median_ms']:.0f} ms, "
                f"p99 {out['written_p99_ms']:.0f} ms"
            )
            # 2. 50 clients held: memory of the server process, and one event's fan-out to all of them
            before = _rss_kib(server.pid)
            queues = [asyncio.Queue() for _ in range(clients)]  # type: ignore[var-annotated]
            streams = []
            for q in queues:
                context = http.stream("GET", "/staff/ops/stream?layers=bench")
                response = await context.__aenter__()
                streams.append((context, asyncio.create_task(_read_events(response, q))))
            await asyncio.sleep(2.0)
            held = _rss_kib(server.pid)
            sent = time.perf_counter()
            from app import events

            with write_session(engine) as session:
                events.publish(session, "bench", "fan-out", "test", {})
            arrivals = [(await asyncio.wait_for(q.get(), 120))[0] - sent for q in queues]
            out.update(
                {
                    "clients": clients,
                    "rss_before_mib": before / 1024,
                    "rss_held_mib": held / 1024,
                    "per_client_kib": (held - before) / clients,
                    "fanout_last_ms": max(arrivals) * 1000,
                    "fanout_median_ms": statistics.median(arrivals) * 1000,
                }
            )
            print(
                f"{clients} stream clients: server RSS {before / 1024:.0f} MiB -> {held / 1024:.0f} MiB "
                f"({(held - before) / clients:.0f} KiB each); one event reached all in {max(arrivals) * 1000:.0f} ms "
                f"(median {statistics.median(arrivals) * 1000:.0f} ms)"
            )
            for context, task in streams:
                task.cancel()
                await context.__aexit__(None, None, None)
    finally:
        stop.set()
        await asyncio.wait_for(relay_task, 15)
        server.terminate()
        server.wait(10)
        broker.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="2,000 lights, 1,000 reports, 40 sensors"
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL of an empty database (default: a temporary SQLite file)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--scale",
        type=int,
        default=1,
        help="multiply the issue's 20,000 lights, 10,000 reports and 200 sensors",
    )
    parser.add_argument(
        "--stream-only", action="store_true", help="only the MQTT -> SSE figures (no layers)"
    )
    parser.add_argument(
        "--layers-only", action="store_true", help="only the layers and KPIs (no stream figures)"
    )
    parser.add_argument(
        "--tiles-only", action="store_true", help="only the tiles of the big layers"
    )
    parser.add_argument("--port", type=int, default=8141)
    parser.add_argument(
        "--write", action="store_true", help="write the figures into docs/benchmarks.md"
    )
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    lights, reports, sensors = (2000, 1000, 40) if args.quick else (20_000, 10_000, 200)
    lights, reports, sensors = lights * args.scale, reports * args.scale, sensors * args.scale
    load_before = os.getloadavg()[0]
    print(f"load average {load_before:.1f} on {os.cpu_count()} cores at the start")
    folder = tempfile.mkdtemp(prefix="eclor-bench-ops-")
    url = args.database_url or f"sqlite:///{folder}/ops.db"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(database_url=url, media_dir=folder + "/media", secret_key="bench-secret")
    started = time.perf_counter()
    token = seed(engine, lights, reports, sensors, random.Random(4))
    print(
        f"seeded {lights} lights, {reports} reports, {sensors} sensors in {time.perf_counter() - started:.0f} s "
        f"({engine.dialect.name})"
    )
    layers: list[dict[str, Any]] = []
    if args.stream_only:
        create_app(settings, engine)  # installs the domains (the relay's sensor telemetry store)
    elif not args.tiles_only:
        layers = layers_and_kpis(engine, settings, token, args.runs)
    if not args.stream_only:
        tiles_figures(engine, settings, token, args.runs)
    if args.tiles_only:
        args.layers_only = True
    stream = (
        {}
        if args.layers_only
        else asyncio.run(
            stream_figures(engine, url, token, args.port, 50 if args.quick else 200, 50)
        )
    )
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores at the end")
    if args.write:
        write(
            args,
            engine.dialect.name,
            (lights, reports, sensors),
            (load_before, load),
            layers,
            stream,
        )
    return 0


def write(
    args: argparse.Namespace,
    dialect: str,
    sizes: tuple[int, int, int],
    loads: tuple[float, float],
    layers: list[dict[str, Any]],
    stream: dict[str, Any],
) -> None:
    lights, reports, sensors = sizes
    rows = "\n".join(
        f"| {r['name']} | {r['features']} | {r['served_ms']:.0f} | {r['bare_ms']:.1f} | "
        f"{r['served_ms'] / max(r['bare_ms'], 0.01):.2f} | "
        f"{'—' if r['rebuilt_ms'] is None else format(r['rebuilt_ms'], '.0f')} | "
        f"{'—' if r['rebuilt_ms'] is None else format(r['rebuilt_ms'] / max(r['bare_ms'], 0.01), '.2f')} | "
        f"{r['gzip_kb']:.0f} |"
        for r in layers
    )
    write_section(
        "## Operations centre (bench/ops.py)",
        f"""## Operations centre (bench/ops.py)

`.venv/bin/python -m bench.ops --write{" --scale " + str(args.scale) if args.scale != 1 else ""}` — {lights:,} lights, {reports:,} reports, {sensors} sensors on {dialect};
a shared 2-core machine with other engineers' suites and benchmarks running: load average
{loads[0]:.0f} at the start of the run and {loads[1]:.0f} at its end. Read the ratios to the baseline
measured in the same run, not the absolute times. Medians of {args.runs} runs. "Served" is the whole
request through the app (access guard, session, GeoJSON, gzip) while nothing changed; the baseline is a
bare query of the same rows. "After a change" is the median of {args.runs} requests each made right after
one row changed with its outbox event (lights: a light's level; reports: a report's state; KPIs: both):
the lights and reports layers are kept as the text of each feature in compressed runs and only the ids
the events name are read again (`app.ops.layercache`); KPIs are kept until their layers' events, stamp
or window change them (`app.ops.kpicache`). Targets: every layer ≤ 300 ms and ≤ 1 MB gzipped, KPIs
≤ 100 ms, MQTT reading → SSE event p99 ≤ 2 s.

| layer | features | served (ms) | bare query (ms) | ratio | after a change (ms) | ratio after a change | gzipped (KiB, level 1) |
|---|---:|---:|---:|---:|---:|---:|---:|
{rows}

MQTT reading → Server-Sent Event on a connected client (the relay with its default batching, outbox,
SQLite short poll, `eclor serve` in its own process): median {stream["sse_median_ms"]:.0f} ms,
p99 {stream["sse_p99_ms"]:.0f} ms; of which reading → its event written by the relay: median
{stream["written_median_ms"]:.0f} ms, p99 {stream["written_p99_ms"]:.0f} ms. Bare MQTT round trip of the same
message (baseline): median {stream["mqtt_median_ms"]:.1f} ms.

{stream["clients"]} stream clients held by one server process (`eclor serve`): resident memory
{stream["rss_before_mib"]:.0f} MiB before, {stream["rss_held_mib"]:.0f} MiB with them connected
({stream["per_client_kib"]:.0f} KiB per client); one event reached all of them in {stream["fanout_last_ms"]:.0f} ms
(median {stream["fanout_median_ms"]:.0f} ms).
""",
    )


if __name__ == "__main__":
    sys.exit(main())

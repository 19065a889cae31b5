"""Ingestion benchmark: mixed telemetry from 20,000 devices against a bare subscriber, and a year of
15-minute counts read back from history.

Run from the repository root, with Mosquitto on 127.0.0.1:1883::

    .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --devices 20000 --seconds 15 --database-url postgresql://postgres@127.0.0.1:5432/test

What it measures, in one run (a fresh database: a SQLite file by default, or a new schema on the
PostgreSQL given, dropped afterwards):

1. **mixed ingestion**: 20,000 devices (80 % streetlights, then solar sites, water and energy meters
   and counting devices in equal parts) in the inventory; a publisher process sends their telemetry
   at full speed, QoS 0, each device's payload as the simulator (``workers.devices``) makes it
   (``tele/light`` or ``tele/sensor``), round after round. Eclor's relay (``app.lighting.relay``,
   default settings) ingests it: raw readings, hourly and daily aggregates of the time-series store,
   the devices' latest values, the solar sites' clear-sky expectation (pvlib), the events for the
   rules and the live map. Messages written per second over the window, which opens once every
   device has reported once (the first round creates each device's hourly and daily rows and each
   solar cell's clear-sky profile of the day: a relay's cold start, timed and printed apart; a
   relay then runs for days).
   **Baseline**, in the same run with the same publisher: a bare aiomqtt subscriber that counts the
   messages it receives and does nothing with them. Target: Eclor ≥ 0.7 × the bare subscriber.
2. **history of a year of counts**: one counting device with a year of 15-minute counts (8 measures:
   4 classes × 2 directions, 35,040 periods) recorded in the time-series store, then the history
   query the operations centre and the NGSI-LD temporal API make (``app.timeseries.aggregate``)
   for the whole year, per day and per week (target ≤ 200 ms), and per hour.

It prints the figures with the load average and rewrites the "Ingestion of mixed telemetry"
section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402  (the publisher process imports this and workers.devices only)

HEADING = "## Ingestion of mixed telemetry"
SENSOR_KINDS = ("solar", "water_meter", "energy_meter", "counter")
PREFIXES = {"solar": "PV", "water_meter": "EAU", "energy_meter": "NRJ", "counter": "CPT"}
CLASSES = ("pedestrian", "bike", "car", "truck")
CPU_US: dict[str, float] = {}  # CPU time of this process per message received or ingested


def inventory(engine: Any, devices: int) -> tuple[list[str], dict[str, str]]:
    """80 % lights, the rest solar sites, meters and counters in equal parts (ids -> kind)."""
    from app.db import write_session
    from app.models.sensors import Sensor
    from tests.lighting_helpers import seed_lights

    lights = seed_lights(engine, devices * 4 // 5)
    sensors: dict[str, str] = {}
    rest = devices - len(lights)
    rng = random.Random(7)
    with write_session(engine) as session:
        for index in range(rest):
            kind = SENSOR_KINDS[index % len(SENSOR_KINDS)]
            sensor_id = f"{PREFIXES[kind]}-B-{index:05d}"
            sensors[sensor_id] = kind
            meta: dict[str, Any] = {}
            if kind == "solar":
                meta = {"peak_kw": rng.choice((3, 9, 36, 100)), "azimuth": 180, "tilt": 30}
            session.add(
                Sensor(
                    id=sensor_id,
                    kind=kind,
                    name=sensor_id,
                    commune_insee="57038",
                    lat=49.47 + rng.uniform(-0.02, 0.02),
                    lon=5.95 + rng.uniform(-0.02, 0.02),
                    reporting_period_s=900,
                    meta=json.dumps(meta),
                )
            )
    return lights, sensors


# --------------------------------------------------------------------------- the publisher


def _client(url: str, label: str, *, v5: bool = True) -> aiomqtt.Client:
    from app.mqtt import parse_url

    return aiomqtt.Client(
        **parse_url(url),
        identifier=f"bench-ingest-{label}-{uuid.uuid4().hex[:6]}",
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        max_inflight_messages=1000,
        max_queued_incoming_messages=1_000_000,
    )


async def publish(ids_file: Path, url: str, prefix: str) -> None:
    """Publish every device's telemetry, round after round at full speed, until SIGTERM."""
    from workers.devices import _make_sensor

    plan = [line.split("\t") for line in ids_file.read_text().splitlines()]
    ids_file.unlink()
    sims = {
        device_id: _make_sensor(device_id, kind, random.Random(device_id), False)
        for device_id, kind in plan
        if kind != "light"
    }
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with _client(url, "pub") as client:
        while not stop.is_set():
            moment = dt.datetime.now(dt.UTC)
            ts = moment.isoformat()
            for device_id, kind in plan:
                if kind == "light":
                    topic = f"{prefix}/tele/light/{device_id}"
                    body: dict[str, Any] = {
                        "ts": ts,
                        "level": 60,
                        "power_w": 21.0,
                        "energy_wh": 120.0,
                        "status": "ok",
                    }
                else:
                    topic = f"{prefix}/tele/sensor/{device_id}"
                    body = {"ts": ts, "kind": kind, **sims[device_id].measures(moment, 900.0)}
                await client.publish(topic, json.dumps(body, separators=(",", ":")), qos=0)
                if stop.is_set():
                    break


@contextlib.asynccontextmanager
async def publisher(url: str, prefix: str, plan: list[tuple[str, str]]) -> AsyncIterator[None]:
    ids_file = Path(tempfile.mkstemp(prefix="eclor-bench-ingest-")[1])
    ids_file.write_text("\n".join(f"{d}\t{k}" for d, k in plan))
    proc = subprocess.Popen(  # noqa: ASYNC220  (returns at once)
        [sys.executable, str(Path(__file__).resolve()), "--publish", str(ids_file), "--url", url]
        + ["--prefix", prefix],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _first(ready: Any, timeout: float = 300.0) -> None:
    """Wait for the publisher's first messages (a loaded machine may take a minute to start it)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError("the publisher sent nothing")
        await asyncio.sleep(0.2)


async def bare(url: str, plan: list[tuple[str, str]], seconds: float, *, v5: bool = False) -> float:
    """Messages per second a bare aiomqtt subscriber receives from the publisher: over MQTT 3.1.1 as
    the relay receives (``app.lighting.backend.MqttBackend``), or over MQTT 5 (``v5``, the baseline
    of the figures before the relay received over 3.1.1)."""
    prefix = f"bench-bare-{uuid.uuid4().hex[:8]}"
    async with _client(url, "sub", v5=v5) as sub:
        await sub.subscribe(f"{prefix}/tele/#", qos=0)
        received = 0

        async def receive() -> None:
            nonlocal received
            async for _message in sub.messages:
                received += 1

        task = asyncio.create_task(receive())
        async with publisher(url, prefix, plan):
            await _first(lambda: received > 0)
            await asyncio.sleep(2.0)  # warm-up
            start, started, cpu = received, time.perf_counter(), time.process_time()
            await asyncio.sleep(seconds)
            rate = (received - start) / (time.perf_counter() - started)
            CPU_US[f"bare{'5' if v5 else ''}"] = (
                (time.process_time() - cpu) / max(received - start, 1) * 1e6
            )
        task.cancel()
        return rate


async def eclor(
    engine: Any, url: str, plan: list[tuple[str, str]], seconds: float
) -> dict[str, float]:
    """Messages per second the relay ingests from the same publisher."""
    from app.lighting.relay import RelayConfig, mqtt_relay

    prefix = f"bench-eclor-{uuid.uuid4().hex[:8]}"
    relay = mqtt_relay(
        engine,
        url,
        prefix,
        worker_id="bench-ingest",
        config=RelayConfig(reconcile_s=3600, housekeeping_s=3600),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    assert relay.backend is not None
    await asyncio.wait_for(relay.backend.connected.wait(), 10)
    async with publisher(url, prefix, plan):
        await _first(lambda: relay.stats.ingested > 0)
        # The cold round: every device's first reading creates its hourly and daily rows, and each
        # solar cell's clear-sky profile of the day is computed once (pvlib). A relay runs for days:
        # the window measures the steady state after that round, which is timed on its own.
        began, first = time.perf_counter(), relay.stats.ingested
        deadline = time.monotonic() + 600
        while relay.stats.ingested < len(plan) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        cold = (relay.stats.ingested - first) / (time.perf_counter() - began)
        # The rate between two batch ends: a batch is counted when its transaction commits, so the
        # window runs from one commit to the first commit after ``seconds`` (a loaded machine may
        # take longer than the window to write one batch).
        start, started = relay.stats.ingested, time.perf_counter()
        cpu = time.process_time()
        db_start = relay.stats.ingest_seconds
        await asyncio.sleep(seconds)
        mark = relay.stats.ingested
        deadline = time.monotonic() + 300
        while relay.stats.ingested == mark and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        ingested = relay.stats.ingested - start
        CPU_US["eclor"] = (time.process_time() - cpu) / max(ingested, 1) * 1e6
        db_seconds = relay.stats.ingest_seconds - db_start
    stop.set()
    await task
    return {
        "per_s": ingested / elapsed,
        "cold_per_s": cold,
        "invalid": relay.stats.invalid,
        "db_ms_per_1000": db_seconds / max(ingested, 1) * 1e6,
    }


# --------------------------------------------------------------------------- history of counts


def year_of_counts(engine: Any) -> dict[str, float]:
    """Record a year of 15-minute counts for one device, then time the history queries of a year."""
    from app import timeseries
    from app.db import read_session, write_session
    from app.models.sensors import Sensor
    from app.sensors.ngsi_ld import SENSOR_TYPES, urn

    sensor_id = "CPT-B-YEAR"
    with write_session(engine) as session:
        session.add(
            Sensor(id=sensor_id, kind="counter", name="Compteur d'un an", lat=49.47, lon=5.95)
        )
    entity = urn(SENSOR_TYPES["counter"], sensor_id)
    measures = [f"{c}_{d}" for c in CLASSES for d in ("in", "out")]
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=365)
    rng = random.Random(1)
    started = time.perf_counter()
    moment = start
    while moment < end:
        stop = min(end, moment + dt.timedelta(days=30))
        samples = []
        while moment < stop:
            samples.extend(
                timeseries.Sample(entity, name, moment, float(rng.randint(0, 40)))
                for name in measures
            )
            moment += dt.timedelta(minutes=15)
        with write_session(engine) as session:
            timeseries.record(session, samples)
    recorded_s = time.perf_counter() - started
    out = {"recorded_s": recorded_s}
    for label, period in (("P1D", "P1D"), ("P1W", "P1W"), ("PT1H", "PT1H")):
        best = float("inf")
        for _ in range(3 if period != "PT1H" else 1):
            began = time.perf_counter()
            with read_session(engine) as session:
                buckets = timeseries.aggregate(
                    session, entity, measures, start, end, timeseries.Period.parse(period)
                )
            best = min(best, time.perf_counter() - began)
        assert sum(b.count for b in buckets[measures[0]]) == 365 * 96, label
        out[label] = best * 1000
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("ECLOR_BENCH_MQTT_URL", "mqtt://127.0.0.1:1883")
    )
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="measurement window of each side"
    )
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (default: a SQLite file)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--publish", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.getLogger("mqtt").setLevel(logging.ERROR)
    if args.publish:
        asyncio.run(publish(args.publish, args.url, args.prefix))
        return 0

    from sqlalchemy import func, select

    from app import domains
    from app.db import make_engine, read_session
    from app.migrate import upgrade
    from app.models.sensors import Sensor, SensorMeasure
    from bench.lighting import fresh_database
    from bench.report import write_section

    url, drop = fresh_database(args.database_url)
    try:
        engine = make_engine(url)
        upgrade(url)
        domains.install()
        lights, sensors = inventory(engine, args.devices)
        plan = [(light, "light") for light in lights] + list(sensors.items())
        random.Random(3).shuffle(plan)
        load_before = os.getloadavg()
        base = asyncio.run(bare(args.url, plan, args.seconds))
        base_v5 = asyncio.run(bare(args.url, plan, args.seconds, v5=True))
        ours = asyncio.run(eclor(engine, args.url, plan, args.seconds))
        load_after = os.getloadavg()
        history = year_of_counts(engine)
        with read_session(engine) as session:
            kinds = dict(
                session.execute(
                    select(Sensor.kind, func.count())
                    .join(SensorMeasure, SensorMeasure.sensor_id == Sensor.id)
                    .group_by(Sensor.kind)
                ).all()
            )
        engine.dispose()
    finally:
        if drop:
            drop()
    database = "PostgreSQL" if args.database_url else "SQLite"
    ratio = ours["per_s"] / base
    lines = [
        f"Mixed telemetry of {args.devices} devices ({len(lights)} lights, {len(sensors)} solar sites, "
        f"meters and counters), {database}, {args.seconds:.0f} s windows:",
        f"  bare aiomqtt subscriber over MQTT 3.1.1 (as the relay receives): {base:.0f} messages/s "
        "received",
        f"  bare aiomqtt subscriber over MQTT 5 (the baseline of earlier figures): {base_v5:.0f} "
        f"messages/s received; ratio against it {ours['per_s'] / base_v5:.2f}",
        f"  Eclor relay: {ours['per_s']:.0f} messages/s ingested "
        f"({ours['db_ms_per_1000']:.0f} ms of database time per 1,000); ratio {ratio:.2f} (target >= 0.7)",
        f"  first round (every device's first reading, before the window): "
        f"{ours['cold_per_s']:.0f} messages/s ingested ({ours['cold_per_s'] / base:.2f} of bare)",
        f"  invalid messages: {ours['invalid']:.0f}",
        "  CPU of the receiving process per message: "
        + ", ".join(f"{name} {value:.0f} µs" for name, value in CPU_US.items()),
        f"  sensor readings stored by kind: {kinds}",
        f"  load average: {load_before[0]:.1f} before, {load_after[0]:.1f} after",
        f"History of a year of 15-minute counts (8 measures, {history['recorded_s']:.1f} s to record):",
        f"  per day {history['P1D']:.0f} ms, per week {history['P1W']:.0f} ms, per hour "
        f"{history['PT1H']:.0f} ms (target <= 200 ms)",
    ]
    print("\n".join(lines))
    if not args.no_write:
        today = dt.date.today().isoformat()
        write_section(
            HEADING,
            f"{HEADING}\n\n`bench/ingest.py` ({today}, {database}): "
            f"{args.devices} devices in the inventory ({len(lights)} streetlights, then solar sites, "
            "water and energy meters and counting devices in equal parts); one publisher process sends "
            "each device's telemetry at full speed (QoS 0, the simulator's payloads), first to a bare "
            "aiomqtt subscriber that only counts (over MQTT 3.1.1, as the relay receives; then over "
            "MQTT 5, the baseline of earlier figures), then to Eclor's relay, which writes raw readings, the "
            "time-series store's hourly and daily rows, latest values, the solar sites' clear-sky "
            "expectation (pvlib) and the events of the rules and live map. Mosquitto on the same machine.\n\n"
            "| measure | Eclor | baseline | ratio |\n|---|---|---|---|\n"
            f"| mixed telemetry ingestion | {ours['per_s']:.0f} msg/s | {base:.0f} msg/s "
            f"(bare subscriber, MQTT 3.1.1, received) | {ratio:.2f} |\n"
            f"| same, against a bare MQTT 5 subscriber | {ours['per_s']:.0f} msg/s | {base_v5:.0f} msg/s "
            f"| {ours['per_s'] / base_v5:.2f} |\n"
            f"| a year of 15-minute counts, history per day | {history['P1D']:.0f} ms | target 200 ms | |\n"
            f"| same, per week | {history['P1W']:.0f} ms | target 200 ms | |\n"
            f"| same, per hour (8,760 buckets × 8 measures) | {history['PT1H']:.0f} ms | | |\n\n"
            f"Load average {load_before[0]:.1f} before the ingestion runs and {load_after[0]:.1f} after "
            "(a shared machine: other work runs beside the benchmark). Rerun: "
            "`.venv/bin/python bench/ingest.py [--database-url postgresql://...]`.\n",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

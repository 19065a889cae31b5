"""NGSI-LD notification latency: from a lamp breaking to the partner's receiver, against the relay's own store.

Run from the repository root::

    .venv/bin/python bench/ngsi_notify.py [--database-url postgresql://...] [--mqtt-url mqtt://127.0.0.1:1883] [--write]

A fresh database holds ``--lights`` streetlights; the fleet simulator reports
them over MQTT every 0.5 s (an embedded broker unless ``--mqtt-url``), the
relay stores the readings, and the worker's notifier service follows a
subscription on ``q=status=="defectiveLamp"`` to a local HTTP receiver. One
lamp after another breaks (``--changes``): the time from the break to the
notification's arrival is measured, and in the same run, as the baseline, the
time until the relay has stored the new status (polled every 10 ms). Target:
every notification within 2 s of the change.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import make_engine, read_session, write_session  # noqa: E402
from app.lighting.relay import mqtt_relay  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models.lighting import Streetlight  # noqa: E402
from app.models.ngsi import NgsiSubscription  # noqa: E402
from app.mqtt_broker import start_in_thread  # noqa: E402
from app.ngsi_context import CORE  # noqa: E402
from app.sensors import ngsi_notifier  # noqa: E402
from app.sensors import ngsi_subscriptions as subs  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.ngsi import scratch  # noqa: E402
from bench.report import write_section  # noqa: E402
from tests.lighting_helpers import FAST, seed_lights  # noqa: E402
from tests.ngsi_receiver import Receiver  # noqa: E402
from workers.fleet import Fleet  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def run(args: argparse.Namespace, url: str, receiver: Receiver) -> tuple[list, list]:
    engine = make_engine(url)
    lights = seed_lights(engine, args.lights)
    settings = Settings(database_url=url, secret_key="bench-secret" * 3, env="test")
    with write_session(engine) as session:
        row = NgsiSubscription(id="urn:ngsi-ld:Subscription:bench", spec="{}")
        body = {
            "type": "Subscription",
            "entities": [{"type": "Streetlight"}],
            "watchedAttributes": ["status"],
            "q": 'status=="defectiveLamp"',
            "notification": {"endpoint": {"uri": f"{receiver.base}/notify"}},
        }
        subs.apply(row, subs.check(body, CORE, allow_loopback=True))
        session.add(row)
    broker = None if args.mqtt_url else start_in_thread()
    mqtt_url = args.mqtt_url or broker.url  # type: ignore[union-attr]
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    rt = SimpleNamespace(settings=settings, engine=engine, worker_id="bench", stop=asyncio.Event())
    relay = mqtt_relay(engine, mqtt_url, prefix, worker_id="bench-relay", config=FAST)
    fleet = Fleet(
        mqtt_url,
        prefix,
        lights=lights,
        sensors={},
        gateway_id="GW-bench",
        period=0.5,
        seed=7,
        initial_level=0,
    )
    tasks = [
        asyncio.create_task(ngsi_notifier.notifier_service(rt)),
        asyncio.create_task(relay.run(rt.stop)),
        asyncio.create_task(fleet.run()),
    ]
    notified: list[float] = []
    stored: list[float] = []
    try:
        await asyncio.wait_for(fleet.ready.wait(), 60)
        while True:  # the notifier's first look (its baseline) is made before any lamp breaks
            with read_session(engine) as session:
                sub = session.get(NgsiSubscription, "urn:ngsi-ld:Subscription:bench")
                if sub is not None and sub.event_cursor is not None:
                    break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # readings flowing
        for k in range(args.changes):
            light = lights[k]
            before = len(receiver.received())
            started = time.monotonic()
            fleet.set_defective(light)
            seen_at = None
            while time.monotonic() - started < 15:
                if seen_at is None:
                    with read_session(engine) as session:
                        row_light = session.get(Streetlight, light)
                        if row_light is not None and row_light.status == "defectiveLamp":
                            seen_at = time.monotonic()
                if len(receiver.received()) > before:
                    break
                await asyncio.sleep(0.01)
            got = receiver.received()
            if len(got) <= before:
                raise SystemExit(f"no notification for {light}")
            notified.append(got[-1].at - started)
            stored.append((seen_at or got[-1].at) - started)
            await asyncio.sleep(0.3)
    finally:
        rt.stop.set()
        await fleet.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        if broker is not None:
            broker.stop()
        engine.dispose()
    return notified, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--mqtt-url", default=None)
    parser.add_argument("--lights", type=int, default=100)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    url, schema = scratch(args.database_url)
    upgrade(url)
    with Receiver() as receiver:
        notified, stored = asyncio.run(run(args, url, receiver))
    if schema and args.database_url:
        from sqlalchemy import create_engine, text

        admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    load = os.getloadavg()[0]
    database = "PostgreSQL" if args.database_url else "SQLite"
    ms = [v * 1000 for v in notified]
    base = [v * 1000 for v in stored]
    lines = [
        f"{database}, {'Mosquitto' if args.mqtt_url else 'embedded broker'}; {args.lights} lights "
        f"reporting every 0.5 s; {args.changes} lamps broken one after another; load average "
        f"{load:.1f} on {os.cpu_count()} cores (shared machine).",
        "",
        "| from the break to | median (ms) | p95 (ms) | max (ms) |",
        "|---|---|---|---|",
        f"| the status stored by the relay (baseline) | {statistics.median(base):.0f} | "
        f"{percentile(base, 0.95):.0f} | {max(base):.0f} |",
        f"| the notification at the receiver | {statistics.median(ms):.0f} | "
        f"{percentile(ms, 0.95):.0f} | {max(ms):.0f} |",
        "",
        f"Notifier's own share (median): {statistics.median(ms) - statistics.median(base):.0f} ms. "
        f"Target every notification within 2 s: {'met' if max(ms) <= 2000 else 'NOT met'}.",
    ]
    print("\n".join(lines))
    if args.write:
        heading = f"## NGSI-LD notification latency ({database})"
        write_section(
            heading,
            heading
            + "\n\n`.venv/bin/python bench/ngsi_notify.py"
            + (f" --database-url {args.database_url}" if args.database_url else "")
            + (f" --mqtt-url {args.mqtt_url}" if args.mqtt_url else "")
            + " --write` — "
            + __doc__.split("\n\n")[0].split(": ", 1)[1]
            + "\n\n"
            + "\n".join(lines)
            + "\n",
        )


if __name__ == "__main__":
    main()

"""Rules benchmark: 200 rules evaluated over the telemetry stream of 20,000 lights and 200 sensors.

Run from the repository root::

    .venv/bin/python bench/rules.py
    .venv/bin/python bench/rules.py --lights 20000 --sensors 200 --rounds 2 --database-url postgresql://postgres@127.0.0.1:5432/test

One run, on a fresh database (a SQLite file by default, or a new schema on the PostgreSQL given):
the operations-centre seed (``bench/ops.py``: 20,000 lights in 8 communes, 200 sensors), then rounds
of telemetry where every light changes level (so every one publishes an event, the worst case for
the rules) and every sensor sends a reading, ingested in batches of 1,000 as the relay does
(``app.lighting.relay.ingest``). Each round is ingested twice, alternately:

- **without rules**: no rule is active; ingestion only (the baseline);
- **with rules**: 200 active rules (measures of sensors and lights with durations, communes, lighting
  faults and offline devices, report clusters); after each batch the worker's step evaluates the
  events that batch published (``app.maintenance.engine.drain``), in the same thread, so the figure
  is ingestion *and* evaluation back to back (in the worker they run side by side).

It prints the messages/s of both, their ratio (target ≥ 0.8), the events the rules evaluated per
second, and rewrites the "Rules" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, update  # noqa: E402

from app import domains  # noqa: E402
from app.db import make_engine, read_session, utcnow, write_session  # noqa: E402
from app.lighting.relay import Inbound, ingest  # noqa: E402
from app.maintenance import engine as rules_engine  # noqa: E402
from app.maintenance.rules import RuleForm, save  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models.events import Event  # noqa: E402
from app.models.lighting import Streetlight  # noqa: E402
from app.models.maintenance import MaintenanceAlarm, MaintenanceCursor, MaintenanceRule  # noqa: E402
from app.models.sensors import Sensor  # noqa: E402
from bench.lighting import fresh_database  # noqa: E402
from bench.ops import COMMUNES, seed  # noqa: E402
from bench.report import write_section  # noqa: E402

BATCH = 1000


def rules(count: int, rng: random.Random) -> list[RuleForm]:
    """``count`` rules like a territory would write: mostly measures, some per commune."""
    made: list[RuleForm] = []
    shapes = [
        ("sensors", "air_quality", "pm25", ">=", 50),
        ("sensors", "air_quality", "no2", ">=", 200),
        ("sensors", "traffic", "averageVehicleSpeed", "<", 20),
        ("sensors", "traffic", "occupancy", ">=", 0.8),
        ("sensors", "fill_level", "fillingLevel", ">=", 0.9),
        ("lights", "", "power_w", ">=", 90),
        ("lights", "", "level", "<", 5),
    ]
    while len(made) < count - 4:
        layer, subject, measure, op, threshold = rng.choice(shapes)
        insee = rng.choice([c[0] for c in COMMUNES] + [""])
        made.append(
            RuleForm(
                name=f"{measure} {op} {threshold} {insee or 'territoire'} #{len(made)}",
                kind="measure",
                layer=layer,  # type: ignore[arg-type]
                subject=subject,
                measure=measure,
                op=op,  # type: ignore[arg-type]
                threshold=threshold * rng.uniform(0.8, 1.2),
                duration_min=rng.choice((0, 5, 10, 30)),
                severity=rng.choice(("info", "minor", "major", "critical")),  # type: ignore[arg-type]
                commune_insee=insee,
                quiet_min=rng.choice((0, 30, 60)),
            )
        )
    made += [
        RuleForm(name="Hors ligne", kind="status", measure="offline"),
        RuleForm(name="Panne", kind="status", measure="fault", severity="major"),
        RuleForm(name="Dépôts répétés", kind="cluster", count=3, radius_m=200, days=7),
        RuleForm(name="Capteur muet", kind="silence", layer="sensors"),
    ]
    return made


def telemetry(lights: list[str], sensors: list[tuple[str, str]], k: int) -> list[Inbound]:
    now = utcnow()
    stamp = now.isoformat()
    level = 40 if k % 2 else 60  # every light changes level: every light publishes an event
    items = [
        Inbound(
            "tele_light",
            light,
            {"ts": stamp, "level": level, "power_w": 0.7 * level, "status": "ok"},
            now,
        )
        for light in lights
    ]
    values = {
        "air_quality": {"no2": 30.0 + k, "pm10": 20.0, "pm25": 12.0 + k, "o3": 40.0},
        "traffic": {"intensity": 300, "occupancy": 0.2, "averageVehicleSpeed": 55.0},
        "fill_level": {"fillingLevel": 0.5},
    }
    items += [
        Inbound("tele_sensor", sid, {"ts": stamp, "kind": kind, **values[kind]}, now)
        for sid, kind in sensors
    ]
    random.Random(k).shuffle(items)
    return items


def _catch_up(engine: Any) -> None:
    """Move the rules' cursor to the newest event (the baseline's events are not the rules' work)."""
    with write_session(engine) as session:
        latest = session.scalar(select(func.max(Event.id))) or 0
        if session.get(MaintenanceCursor, rules_engine.CURSOR) is None:
            session.add(MaintenanceCursor(name=rules_engine.CURSOR, last_event_id=latest))
        session.execute(update(MaintenanceCursor).values(last_event_id=latest, checked_at=utcnow()))


def _active(engine: Any, on: bool) -> None:
    with write_session(engine) as session:
        session.execute(update(MaintenanceRule).values(active=on))


def run_round(engine: Any, items: list[Inbound], *, with_rules: bool) -> tuple[float, float, int]:
    """(seconds in all, seconds evaluating, events evaluated)."""
    started = time.perf_counter()
    evaluating = 0.0
    evaluated = 0
    for start in range(0, len(items), BATCH):
        ingest(engine, items[start : start + BATCH])
        if with_rules:
            t = time.perf_counter()
            evaluated += rules_engine.drain(engine)
            evaluating += time.perf_counter() - t
    return time.perf_counter() - started, evaluating, evaluated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lights", type=int, default=20_000)
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("ECLOR_BENCH_DATABASE_URL"))
    parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args(argv)

    domains.install()
    url, drop = fresh_database(args.database_url)
    rng = random.Random(14)
    try:
        upgrade(url)
        engine = make_engine(url)
        seed(engine, args.lights, 10, args.sensors, rng)  # a few reports: the seed wants some
        with write_session(engine) as session:
            for form in rules(args.rules, rng):
                save(session, form, actor_id=None)
        with read_session(engine) as session:
            lights = list(session.scalars(select(Streetlight.device_id)))
            sensors = [(s.id, s.kind) for s in session.scalars(select(Sensor))]
        # warm-up: one round each way (caches, statistics, first conditions)
        _active(engine, True)
        _catch_up(engine)
        run_round(engine, telemetry(lights, sensors, 0), with_rules=True)
        totals = {"without": 0.0, "with": 0.0, "evaluating": 0.0, "events": 0, "messages": 0}
        for k in range(1, args.rounds * 2 + 1):
            items = telemetry(lights, sensors, k)
            with_rules = k % 2 == 0
            _active(engine, with_rules)
            _catch_up(engine)
            seconds, evaluating, evaluated = run_round(engine, items, with_rules=with_rules)
            totals["with" if with_rules else "without"] += seconds
            totals["evaluating"] += evaluating
            totals["events"] += evaluated
            totals["messages"] += len(items) if with_rules else 0
        per_round = len(lights) + len(sensors)
        without = args.rounds * per_round / totals["without"]
        with_rules_rate = args.rounds * per_round / totals["with"]
        evaluation = totals["events"] / totals["evaluating"] if totals["evaluating"] else 0.0
        with read_session(engine) as session:
            alarms = session.scalar(select(func.count()).select_from(MaintenanceAlarm)) or 0
        load = os.getloadavg()
        database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        ratio = with_rules_rate / without
        lines = [
            f"{database}, {len(lights):,} lights, {len(sensors)} sensors, {args.rules} rules, "
            f"{args.rounds} rounds each way, load {load[0]:.1f}",
            f"ingestion without rules: {without:,.0f} messages/s",
            f"ingestion with rules (ingest + evaluate back to back): {with_rules_rate:,.0f} messages/s",
            f"ratio: {ratio:.2f} (target >= 0.8)",
            f"rule evaluation: {evaluation:,.0f} events/s ({totals['events']:,} events, "
            f"{totals['evaluating']:.1f} s), alarms raised: {alarms}",
        ]
        print("\n".join(lines))
        if not args.no_write:
            write_section(
                "## Rules",
                "## Rules\n\n`bench/rules.py` (" + time.strftime("%Y-%m-%d") + "): "
                "200 rules over the telemetry stream of 20,000 lights and 200 sensors; every "
                "light changes level each round (one event per light), batches of 1,000 as the relay "
                "ingests them; the baseline is the same rounds ingested with no rule active, "
                "alternated in the same run.\n\n" + "\n".join(f"- {line}" for line in lines) + "\n",
            )
        engine.dispose()
    finally:
        if drop:
            drop()
    return 0 if ratio >= 0.8 else 1


if __name__ == "__main__":
    raise SystemExit(main())

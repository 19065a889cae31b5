"""Open data benchmark: generating every snapshot from 5 years of the territory's data, against a plain dump.

Run from the repository root::

    .venv/bin/python bench/opendata.py [--scales 1,10,50]
    .venv/bin/python bench/opendata.py --database-url postgresql://postgres@127.0.0.1:5432/test

A fresh database (a SQLite file by default, or a new schema on the PostgreSQL
given, dropped afterwards) is filled with five years of data: reports (3,000
a year), hourly readings of 3 border crossings and 2 air stations, daily energy
of 300 streetlights in 40 groups (kept per group and month), 90 days of waiting-time
estimates (one a minute, 8 opening hours a day), shops and alerts; ``--scales``
runs it again for a territory 10 or 50 times larger (reports, crossings, air
stations and lights multiplied). The planner's statistics are taken after the
fill (``ANALYZE``), as autovacuum and Eclor's retention job keep them on a running
database.

1. **snapshots**: ``app.opendata.snapshots.generate`` writes every published
   dataset (CSV, GeoJSON, Table Schema; anonymised, aggregated, streamed).
2. **baseline**: a plain dump of the same source rows, with nothing done per
   row: ``COPY (SELECT ...) TO STDOUT`` on PostgreSQL, ``SELECT`` + ``csv.writer``
   on SQLite, into files.

Each is timed (best of 2) and its peak Python memory measured in a separate
pass (``tracemalloc``), first on half the years: a flat peak shows the rows
are streamed, not held. It prints the figures and the ratio (target ≤ 3×)
and rewrites the "Open data snapshots" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from app import domains
from app.db import make_engine, write_session
from app.migrate import upgrade
from app.models.lighting import LightEnergyMonth, LightGroup, Streetlight
from app.models.push import Alert
from app.models.reports import Report
from app.models.sensors import Sensor, SensorHourly, WasteCentreEstimate
from app.opendata import snapshots
from bench.report import write_section

UTC = dt.UTC
COMMUNES = ["57038", "57041", "57097", "57529", "57565", "57602", "54523", "54580"]
CATEGORIES = [
    "household_waste",
    "bulky_items",
    "rubble",
    "green_waste",
    "tyres",
    "hazardous",
    "other",
]
STATUSES = ["new", "confirmed", "resolved", "resolved", "resolved", "rejected", "duplicate"]
SOURCES = {  # what each dataset reads, dumped as is by the baseline
    "reports": "SELECT category, status, commune_insee, created_at, resolved_at, lat, lon FROM reports",
    "sensor_hourly": "SELECT s.id, s.commune_insee, s.lat, s.lon, h.hour, h.sums_json, h.samples "
    "FROM sensor_hourly h JOIN sensors s ON s.id = h.sensor_id",
    "light_energy_months": "SELECT e.month, g.commune_insee, e.energy_wh FROM light_energy_months e "
    "LEFT JOIN light_groups g ON g.id = e.group_id",
    "waste_centre_estimates": "SELECT sensor_id, ts, wait_min, saturated FROM waste_centre_estimates",
    "streetlights": "SELECT * FROM streetlights",
    "alerts": "SELECT identifier, sent_at, msg_type, category, event, title FROM alerts",
}


def scratch_url(database_url: str | None) -> tuple[str, str | None, Path | None]:
    if database_url and database_url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = make_url(database_url)
        return (
            url.set(query={**url.query, "options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False
            ),
            schema,
            None,
        )
    folder = Path(tempfile.mkdtemp(prefix="eclor-bench-opendata-"))
    return f"sqlite:///{folder / 'bench.db'}", None, folder


def _insert(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with write_session(engine) as s:
        for i in range(0, len(rows), 20_000):
            s.execute(table.__table__.insert(), rows[i : i + 20_000])


def fill(
    engine: Engine, years: int, lights: int, end: dt.datetime, scale: int = 1
) -> dict[str, int]:
    """``scale``: a territory that many times larger (reports, crossings, air stations, lights)."""
    rng = random.Random(17)
    start = end - dt.timedelta(days=365 * years)
    hours = int((end - start).total_seconds() // 3600)
    counts: dict[str, int] = {}
    reports = []
    for _ in range(3000 * years * scale):
        at = start + dt.timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
        status = rng.choice(STATUSES)
        reports.append(
            {
                "category": rng.choice(CATEGORIES),
                "status": status,
                "commune_insee": rng.choice(COMMUNES),
                "lat": 49.38 + rng.random() * 0.12,
                "lon": 5.90 + rng.random() * 0.12,
                "description": "texte libre",
                "address": "",
                "created_at": at,
                "updated_at": at,
                "resolved_at": at + dt.timedelta(days=3) if status == "resolved" else None,
                "volume": None,
                "witnessed": False,
                "approximate": False,
                "source": "web",
                "status_notes": "",
                "thanks_count": 0,
            }
        )
    _insert(engine, Report, reports)
    counts["reports"] = len(reports)
    sensors = (
        [(f"TR-B-{n + 1}", "traffic") for n in range(3 * scale)]
        + [(f"AQ-B-{n + 1}", "air_quality") for n in range(2 * scale)]
        + [("WC-B-1", "waste_centre")]
    )
    _insert(
        engine,
        Sensor,
        [
            {
                "id": i,
                "kind": k,
                "name": i,
                "commune_insee": "57038",
                "lat": 49.47 + n * 1e-3,
                "lon": 5.95,
                "meta": "{}",
                "last_values": "{}",
                "reporting_period_s": 60,
                "offline": False,
            }
            for n, (i, k) in enumerate(sensors)
        ],
    )
    counts["sensor_hourly"] = 0
    for sensor_id, kind in sensors[:-1]:
        hourly = []
        for h in range(hours):
            sums = (
                {
                    "intensity": 4 * rng.randint(100, 900),
                    "occupancy": 4 * rng.random() * 0.5,
                    "averageVehicleSpeed": 4 * rng.randint(20, 90),
                    "congested": rng.randint(0, 1),
                }
                if kind == "traffic"
                else {
                    "no2": 4 * rng.randint(5, 60),
                    "pm10": 4 * rng.randint(5, 40),
                    "pm25": 4 * rng.randint(2, 25),
                    "o3": 4 * rng.randint(20, 120),
                }
            )
            hourly.append(
                {
                    "sensor_id": sensor_id,
                    "hour": start + dt.timedelta(hours=h),
                    "samples": 4,
                    "sums_json": json.dumps(sums),
                }
            )
        _insert(engine, SensorHourly, hourly)  # a sensor at a time: memory stays flat at any scale
        counts["sensor_hourly"] += len(hourly)
    estimates = []
    for day in range(90):
        opening = (end - dt.timedelta(days=day)).replace(hour=7, minute=0, second=0, microsecond=0)
        for minute in range(480):
            estimates.append(
                {
                    "sensor_id": "WC-B-1",
                    "ts": opening + dt.timedelta(minutes=minute),
                    "wait_min": rng.random() * 20,
                    "method": "queue",
                    "saturated": rng.random() < 0.02,
                }
            )
    _insert(engine, WasteCentreEstimate, estimates)
    counts["waste_centre_estimates"] = len(estimates)
    _insert(
        engine,
        LightGroup,
        [
            {"id": f"G-{g}", "name": f"Groupe {g}", "commune_insee": COMMUNES[g % 8]}
            for g in range(40)
        ],
    )
    _insert(
        engine,
        Streetlight,
        [
            {
                "id": f"SL-{n}",
                "device_id": f"dev-{n}",
                "commune_insee": COMMUNES[n % 8],
                "group_id": f"G-{n % 40}",
                "street": "Rue",
                "lat": 49.4 + n * 1e-4,
                "lon": 5.9,
                "model": "",
                "technology": "LED",
                "nominal_w": 70.0,
                "circuit": "",
                "reporting_period_s": 60,
                "status": "ok",
                "offline": False,
            }
            for n in range(lights)
        ],
    )
    months = sorted({(start + dt.timedelta(days=d)).strftime("%Y-%m") for d in range(365 * years)})
    energy = [
        {
            "month": m,
            "group_id": f"G-{g}",
            "energy_wh": 30 * (lights // 40) * 1500 * (0.8 + rng.random() * 0.4),
        }
        for m in months
        for g in range(40)
    ]
    _insert(engine, LightEnergyMonth, energy)
    counts["light_energy_months"] = len(energy)
    _insert(
        engine,
        Alert,
        [
            {
                "identifier": f"a-{i}",
                "sender": "eclor",
                "sent_at": end - dt.timedelta(days=i),
                "status": "Actual",
                "msg_type": "Alert",
                "scope": "Public",
                "category": "Met",
                "event": "Orage",
                "cap_urgency": "Expected",
                "severity": "Moderate",
                "certainty": "Likely",
                "sender_name": "",
                "title": "Orages",
                "body": "",
                "instruction": "",
                "link": "",
                "area_desc": "",
                "topic": "weather",
                "communes": ",",
                "push_urgency": "normal",
                "ttl_s": 3600,
                "state": "active",
                "source": "staff",
                "created_at": end,
            }
            for i in range(50 * years)
        ],
    )
    return counts


def dump_baseline(engine: Engine, folder: Path) -> int:
    """The same source rows written out with nothing done per row (COPY on PostgreSQL)."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    raw = engine.raw_connection()
    try:
        postgres = engine.dialect.name == "postgresql"
        for name, sql in SOURCES.items():
            path = folder / f"{name}.csv"
            if postgres:
                with raw.cursor() as cur, path.open("wb") as out:
                    with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:  # type: ignore[attr-defined]
                        for block in copy:
                            out.write(block)
                            total += 1
            else:
                cur = raw.cursor()
                cur.execute(sql)
                with path.open("w", newline="", encoding="utf-8") as out:
                    writer = csv.writer(out)
                    writer.writerow([d[0] for d in cur.description])
                    while True:
                        rows = cur.fetchmany(5000)
                        if not rows:
                            break
                        writer.writerows(rows)
                        total += len(rows)
                cur.close()
    finally:
        raw.close()
    return total


def timed(fn: Callable[[], Any], rounds: int = 2) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def analyze(engine: Engine) -> None:
    """The planner's statistics, as a running database has them (PostgreSQL's autovacuum, Eclor's
    retention job on SQLite): right after a bulk fill it would otherwise plan for empty tables."""
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def measure(url: str, years: int, lights: int, work: Path, scale: int = 1) -> dict[str, Any]:
    domains.install()  # the datasets the domains declare, as the app and the worker see them
    upgrade(url)
    engine = make_engine(url)
    end = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    counts = fill(engine, years, lights * scale, end, scale)
    analyze(engine)
    fill_s = time.perf_counter() - started
    var_dir = work / f"var-{years}"
    generate = lambda: snapshots.generate(engine, var_dir, "https://eclor.example")
    baseline = lambda: dump_baseline(engine, work / f"dump-{years}")
    gen_s, base_s = timed(generate), timed(baseline)
    written = generate()
    slowest = ", ".join(  # per dataset, in that last untraced run
        f"{slug} {row.duration_ms}"
        for slug, row in sorted(
            snapshots.freshness(engine).items(), key=lambda kv: -kv[1].duration_ms
        )[:3]
    )
    if len(written) < 5 or sum(w.rows for w in written) == 0:
        raise SystemExit(f"the snapshots wrote {len(written)} datasets: nothing to measure")
    out = {
        "scale": scale,
        "years": years,
        "counts": counts,
        "fill_s": fill_s,
        "generate_s": gen_s,
        "baseline_s": base_s,
        "generate_mb": peak_mb(generate),
        "baseline_mb": peak_mb(baseline),
        "rows_out": sum(w.rows for w in written),
        "bytes_out": sum(w.csv_bytes + w.geojson_bytes for w in written),
        "datasets": len(written),
        "slowest": slowest,
    }
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--lights", type=int, default=300)
    parser.add_argument(
        "--scales",
        default="1",
        help="territory sizes to run, comma-separated (1,10,50: reports, crossings, air stations "
        "and lights that many times); each at half the years, then all of them",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only; docs/benchmarks.md untouched"
    )
    args = parser.parse_args()
    scales = [int(x) for x in args.scales.split(",") if x.strip()]
    runs = [(scale, years) for scale in scales for years in (max(1, args.years // 2), args.years)]
    loads = [os.getloadavg()[0]]
    results = []
    for scale, years in runs:
        url, schema, folder = scratch_url(args.database_url)
        work = Path(tempfile.mkdtemp(prefix="eclor-bench-opendata-files-"))
        try:
            results.append(measure(url, years, args.lights, work, scale))
            loads.append(os.getloadavg()[0])
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
            if schema and args.database_url:
                admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()
    database = (
        "PostgreSQL (COPY baseline)"
        if args.database_url
        else "SQLite (SELECT + csv.writer baseline)"
    )
    lines = [
        f"Database: {database}; {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, a shared machine (other work was running: figures are indicative); "
        f"load average {loads[0]:.1f} at the start, "
        + ", ".join(f"{x:.1f}" for x in loads[1:])
        + " after each run; the planner's statistics taken after the fill (ANALYZE).",
        "",
        "| scale | years | source rows | snapshots (s) | baseline dump (s) | ratio | snapshot peak memory (MB) "
        "| baseline peak (MB) | rows written | bytes written | slowest datasets (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['scale']}× | {r['years']} | {sum(r['counts'].values()):,} | {r['generate_s']:.2f} | "
            f"{r['baseline_s']:.2f} | {r['generate_s'] / r['baseline_s']:.2f}× | {r['generate_mb']:.1f} | "
            f"{r['baseline_mb']:.1f} | {r['rows_out']:,} | {r['bytes_out']:,} | {r['slowest']} |"
        )
    full = [r for r in results if r["years"] == args.years]
    worst = max(r["generate_s"] / r["baseline_s"] for r in full)
    small, big = results[0], results[-1]
    lines += [
        "",
        "Source rows at the largest run: "
        + ", ".join(f"{k} {v:,}" for k, v in big["counts"].items())
        + ".",
        f"Target ≤ 3× the plain dump: {'met' if worst <= 3 else 'NOT met'} (worst "
        f"{worst:.2f}× at {args.years} years). Memory flat: peak {small['generate_mb']:.1f} MB for "
        f"{small['scale']}× {small['years']} years, {big['generate_mb']:.1f} MB for {big['scale']}× "
        f"{big['years']} years (rows are streamed into the files).",
    ]
    print("\n".join(lines))
    if args.no_write:
        return
    heading = "## Open data snapshots" + (" (PostgreSQL)" if args.database_url else "")
    write_section(
        heading,
        heading
        + "\n\n`.venv/bin/python bench/opendata.py"
        + (" --database-url postgresql://postgres@127.0.0.1:5432/test" if args.database_url else "")
        + f" --scales {args.scales}` — "
        + __doc__.split("\n\n")[0].split(": ", 1)[1]
        + "\n\n"
        + "\n".join(lines)
        + "\n",
    )


if __name__ == "__main__":
    main()

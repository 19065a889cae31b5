"""NGSI-LD query benchmark: a ``q`` plus geo query over 20,000 lights, against the bare SQL of the same filter.

Run from the repository root::

    .venv/bin/python bench/ngsi.py [--database-url postgresql://postgres@127.0.0.1:5432/test] [--write]

A fresh database (SQLite file, or a new PostgreSQL schema dropped afterwards)
holds 20,000 streetlights spread over the territory, 2 % of them broken. The
query is ``type=Streetlight&q=status=="brokenLantern"&georel=near;maxDistance==500``
around Audun-le-Tiche, served through the whole app (Litestar test client:
parsing, SQL prefilter, entities, q and distance checks, JSON). The baseline is
the bare SQL of the same filter (status, bounding box) with the exact distance
checked on the rows it returns, in the same run. Medians of ``--runs`` after a
warm-up; both must find the same lights. Target: ≤ 3× the baseline and ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from app.db import make_engine, read_session, write_session
from app.geo import bbox, distance_m
from app.main import create_app
from app.migrate import upgrade
from app.models.lighting import LightGroup, Streetlight
from app.settings import Settings
from bench.report import write_section

CENTRE = (49.472, 5.955)  # lat, lon
RADIUS_M = 500.0


def scratch(database_url: str | None) -> tuple[str, str | None]:
    if database_url and database_url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = make_url(database_url)
        options = {**url.query, "options": f"-csearch_path={schema}"}
        return url.set(query=options).render_as_string(hide_password=False), schema
    folder = tempfile.mkdtemp(prefix="eclor-bench-ngsi-")
    return f"sqlite:///{folder}/ngsi.db", None


def seed(engine: Any, lights: int) -> None:
    rng = random.Random(16)
    with write_session(engine) as session:
        session.execute(
            LightGroup.__table__.insert(),  # type: ignore[attr-defined]
            [{"id": f"G-{g}", "name": f"Groupe {g}", "commune_insee": "57038"} for g in range(100)],
        )
        rows = [
            {
                "id": f"SL-{n:05d}",
                "device_id": f"dev-{n:05d}",
                "group_id": f"G-{n % 100}",
                "commune_insee": "57038",
                "street": "Rue",
                "lat": 49.38 + rng.random() * 0.12,
                "lon": 5.90 + rng.random() * 0.12,
                "model": "",
                "technology": "LED",
                "nominal_w": 70.0,
                "circuit": "",
                "reporting_period_s": 60,
                "status": "brokenLantern" if rng.random() < 0.02 else "ok",
                "offline": False,
                "actual_level": rng.choice([0, 50, 100]),
            }
            for n in range(lights)
        ]
        for i in range(0, len(rows), 5000):
            session.execute(Streetlight.__table__.insert(), rows[i : i + 5000])  # type: ignore[attr-defined]


def bare(engine: Any) -> list[str]:
    low_lat, high_lat, low_lon, high_lon = bbox(*CENTRE, RADIUS_M)
    with read_session(engine) as session:
        rows = session.execute(
            select(Streetlight.id, Streetlight.lat, Streetlight.lon)
            .where(
                Streetlight.status == "brokenLantern",
                Streetlight.lat.between(low_lat, high_lat),  # type: ignore[attr-defined]
                Streetlight.lon.between(low_lon, high_lon),  # type: ignore[attr-defined]
            )
            .order_by(Streetlight.id)
        ).all()
    return [r.id for r in rows if distance_m(r.lat, r.lon, *CENTRE) <= RADIUS_M]


def median_ms(fn: Any, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--lights", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from litestar.testing import TestClient

    url, schema = scratch(args.database_url)
    try:
        upgrade(url)
        engine = make_engine(url)
        seed(engine, args.lights)
        folder = tempfile.mkdtemp(prefix="eclor-bench-ngsi-media-")
        settings = Settings(database_url=url, media_dir=folder, secret_key="bench-secret" * 3)
        point = quote(json.dumps([CENTRE[1], CENTRE[0]]))
        query = (
            "/ngsi-ld/v1/entities?type=Streetlight&limit=1000&q="
            + quote('status=="brokenLantern"')
            + f"&georel=near;maxDistance=={RADIUS_M:g}&geometry=Point&coordinates={point}"
        )
        with TestClient(create_app(settings, engine), base_url="http://127.0.0.1") as client:
            served = [e["id"].rsplit(":", 1)[1] for e in client.get(query).json()]
            expected = bare(engine)
            assert served == expected and served, (served, expected)
            served_ms = median_ms(lambda: client.get(query), args.runs)
            bare_ms = median_ms(lambda: bare(engine), args.runs)
        engine.dispose()
    finally:
        if schema and args.database_url:
            admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    ratio = served_ms / bare_ms
    load = os.getloadavg()[0]
    database = "PostgreSQL" if args.database_url else "SQLite"
    lines = [
        f"{database}; {args.lights:,} lights, {len(served)} broken within {RADIUS_M:g} m; "
        f"median of {args.runs}; load average {load:.1f} on {os.cpu_count()} cores (shared machine).",
        "",
        "| query | served (ms) | bare SQL (ms) | ratio |",
        "|---|---|---|---|",
        f'| q=status=="brokenLantern" + near;maxDistance==500 | {served_ms:.1f} | {bare_ms:.1f} | '
        f"{ratio:.2f}× |",
        "",
        f"Targets ≤ 3× and ≤ 200 ms: {'met' if ratio <= 3 and served_ms <= 200 else 'NOT met'}.",
    ]
    print("\n".join(lines))
    if args.write:
        heading = f"## NGSI-LD query over 20,000 lights ({database})"
        write_section(
            heading,
            heading
            + "\n\n`.venv/bin/python bench/ngsi.py"
            + (f" --database-url {args.database_url}" if args.database_url else "")
            + " --write` — "
            + __doc__.split("\n\n")[0].split(": ", 1)[1]
            + "\n\n"
            + "\n".join(lines)
            + "\n",
        )


if __name__ == "__main__":
    main()

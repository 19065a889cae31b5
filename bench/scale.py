"""Cost that does not grow with the territory: staff pages and public APIs at 1×, 10× and 50× this territory.

For each size the script builds its own SQLite database (migrations, then bulk
inserts with executemany): 2,253 lights × size in groups of 20 and cabinets of
3 groups, 10,000 reports × size over five years, the history retention keeps
(90 days of finished commands, a year of cleared alarms plus the open ones,
measured energy per group and month for five years). Each page is requested in
process (Litestar test client, signed in as staff) after a warm-up, the sizes
interleaved request by request; the median of ``--repeat`` runs is printed with
its growth against the first size (the baseline measured in the same run).

Then:
- database size after five simulated years at 1× with retention against the
  same history without it (every command, job and delivery kept);
- job claims per second at 1,000 and at 100,000 queued jobs (SQLite), and with
  one and two workers on PostgreSQL (``--pg-url``, skipped when unreachable).

Run: .venv/bin/python bench/scale.py [--sizes 1,10,50] [--repeat 5] [--no-write] [--claims-only]
(``--sizes 1,10`` takes a few minutes on 2 shared cores; 50 adds several.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import OperationalError

from app import auth, jobs, retention
from app.db import make_engine, utcnow, write_session
from app.lighting.programs import Program
from app.migrate import analyze, upgrade
from app.settings import Settings

LIGHTS_1X = 2_253
REPORTS_1X = 10_000
PAGES = [
    (
        "lighting overview",
        "/staff/lighting",
        True,
    ),  # the lights themselves are on the live map (/staff/ops)
    ("energy", "/staff/lighting/energy", True),
    ("alarms", "/staff/lighting/alarms", True),
    ("group page", "/staff/lighting/groups/G00001", True),
    (
        "NGSI-LD lights limit=100",
        "/ngsi-ld/v1/entities?type=Streetlight&limit=100&count=true",
        True,
    ),
    (
        "NGSI-LD groups limit=100",
        "/ngsi-ld/v1/entities?type=StreetlightGroup&limit=100&count=true",
        False,
    ),
    (
        "NGSI-LD cabinets limit=100",
        "/ngsi-ld/v1/entities?type=StreetlightControlCabinet&limit=100&count=true",
        False,
    ),
    ("reports board", "/staff/reports", True),
    ("public reports list", "/reports", False),
    ("Open311 requests", "/open311/v2/requests.json", False),
    ("report stats", "/staff/reports/stats", False),
]
EXEMPT: tuple[str, ...] = ()


def _insert(engine, table: str, rows: list[dict], size: int = 50_000) -> None:  # type: ignore[no-untyped-def]
    """Bulk insert straight through sqlite3 (tuples, one transaction, no fsync): 50× in minutes."""
    if not rows:
        return
    if "territory_id" not in rows[0] and "territory_id" in {
        c["name"] for c in sa_inspect(engine).get_columns(table)
    }:  # the row belongs to the first territory, as the app's own writers give it
        with engine.connect() as connection:
            first = connection.execute(text("SELECT min(id) FROM territories")).scalar()
        rows = [{**row, "territory_id": first} for row in rows]
    cols = list(rows[0])
    if engine.dialect.name != "sqlite":
        statement = text(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
        )
        with engine.begin() as connection:
            for start in range(0, len(rows), size):
                connection.execute(statement, rows[start : start + size])
        return
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    conn = sqlite3.connect(engine.url.database)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        with conn:
            for start in range(0, len(rows), size):
                conn.executemany(
                    sql, [tuple(_value(r[c]) for c in cols) for r in rows[start : start + size]]
                )
    finally:
        conn.close()


def _value(value):  # type: ignore[no-untyped-def]
    """Datetimes as SQLAlchemy stores them on SQLite (naive UTC text), other values as they are."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def generate(
    url: str, factor: float, *, keep_everything: bool = False, seed: int = 13
) -> dict[str, int]:
    """A territory ``factor`` times this one, with five years of history (or what retention keeps of it)."""
    rng = random.Random(seed)
    engine = make_engine(url)
    now = utcnow()
    lights_n = int(LIGHTS_1X * factor)
    groups_n = max(1, lights_n // 20)
    cabinets_n = max(1, groups_n // 3)
    counts: dict[str, int] = {}
    with write_session(engine) as session:
        session.execute(
            text(
                "INSERT INTO light_programs (name, definition, updated_at, territory_id) "
                "VALUES (:n, :d, :u, (SELECT min(id) FROM territories))"
            ),
            [
                {
                    "n": f"Programme {i}",
                    "u": now,
                    "d": json.dumps(
                        Program.from_pairs(
                            [("dusk", 100), (f"{21 + i}:00", 50), ("05:30", 100), ("dawn", 0)],
                            name=f"Programme {i}",
                        ).to_dict()
                    ),
                }
                for i in range(3)
            ],
        )
    _insert(
        engine,
        "light_cabinets",
        [
            {
                "id": f"CAB{c:05d}",
                "name": f"Armoire {c}",
                "commune_insee": "57038",
                "lat": 49.45 + (c % 100) * 0.001,
                "lon": 5.90 + (c // 100) * 0.001,
                "working_mode": "automatic",
            }
            for c in range(cabinets_n)
        ],
    )
    _insert(
        engine,
        "light_groups",
        [
            {
                "id": f"G{g:05d}",
                "name": f"Groupe {g}",
                "commune_insee": "57038",
                "cabinet_id": f"CAB{g // 3 % cabinets_n:05d}",
                "program_id": 1 + g % 3,
                "calendar_id": None,
            }
            for g in range(groups_n)
        ],
    )
    lights = []
    for i in range(lights_n):
        g = i % groups_n
        lights.append(
            {
                "id": f"SL{i:06d}",
                "device_id": f"SL{i:06d}",
                "group_id": f"G{g:05d}",
                "cabinet_id": f"CAB{g // 3 % cabinets_n:05d}",
                "commune_insee": "57038",
                "street": "Rue",
                "lat": 49.40 + rng.random() * 0.12,
                "lon": 5.85 + rng.random() * 0.15,
                "model": "LED",
                "technology": "LED",
                "nominal_w": rng.choice((40.0, 70.0, 100.0)),
                "circuit": "C1",
                "reporting_period_s": 600,
                "status": "ok",
                "offline": False,
                "actual_level": 100,
                "power_w": 60.0,
                "energy_wh": 1000.0,
                "last_seen_at": now,
            }
        )
    _insert(engine, "streetlights", lights)
    counts["lights"] = lights_n
    # Five years of reports, most of them closed.
    reports = []
    for i in range(int(REPORTS_1X * factor)):
        created = now - dt.timedelta(minutes=rng.randrange(5 * 365 * 24 * 60))
        status = (
            "new"
            if i % 50 == 0
            else rng.choice(("resolved", "resolved", "rejected", "duplicate", "confirmed"))
        )
        reports.append(
            {
                "category": "bulky_items",
                "status": status,
                "description": "Dépôt",
                "lat": 49.47,
                "lon": 5.95,
                "approximate": False,
                "address": "",
                "commune_insee": "57038",
                "source": "web",
                "witnessed": False,
                "status_notes": "",
                "thanks_count": 0,
                "created_at": created,
                "updated_at": created,
                # Resolved within 40 days: the statistics' median time to resolve has them to count.
                "resolved_at": min(
                    now, created + dt.timedelta(minutes=rng.randrange(30, 40 * 24 * 60))
                )
                if status == "resolved"
                else None,
            }
        )
    _insert(engine, "reports", reports)
    counts["reports"] = len(reports)
    # Commands: one a day per light from programs (REFERENCE: ~2.9 million a year here); with retention only
    # the last 90 days remain. The bench stores 1 in 9 of them (a command every 9 days) to stay quick.
    days = 5 * 365 if keep_everything else 90
    commands = []
    for i in range(lights_n):
        for d in range(rng.randrange(9), days, 9):
            at = now - dt.timedelta(days=d, minutes=rng.randrange(600))
            commands.append(
                {
                    "command_id": uuid.uuid4().hex,
                    "light_id": f"SL{i:06d}",
                    "device_id": f"SL{i:06d}",
                    "level": 50,
                    "ramp_s": 0,
                    "reason": "program",
                    "state": "applied",
                    "issued_at": at,
                    "expires_at": at + dt.timedelta(minutes=15),
                    "attempts": 1,
                    "next_attempt_at": at,
                    "finished_at": at,
                }
            )
        if len(commands) >= 200_000:
            _insert(engine, "light_commands", commands)
            counts["commands"] = counts.get("commands", 0) + len(commands)
            commands = []
    _insert(engine, "light_commands", commands)
    counts["commands"] = counts.get("commands", 0) + len(commands)
    # Alarms: about one per light every two years, cleared within days; a few open.
    alarm_days = 5 * 365 if keep_everything else 365
    alarms = [
        {
            "device_id": f"SL{rng.randrange(lights_n):06d}",
            "device_kind": "light",
            "kind": "defectiveLamp",
            "severity": "major",
            "raised_at": now - dt.timedelta(days=d + 2),
            "cleared_at": now - dt.timedelta(days=d),
        }
        for d in (rng.randrange(alarm_days) for _ in range(int(lights_n * alarm_days / 730)))
    ]
    alarms += [
        {
            "device_id": f"SL{rng.randrange(lights_n):06d}",
            "device_kind": "light",
            "kind": "offline",
            "severity": "major",
            "raised_at": now - dt.timedelta(hours=h),
            "cleared_at": None,
        }
        for h in range(max(5, lights_n // 200))
    ]
    _insert(engine, "light_alarms", alarms)
    counts["alarms"] = len(alarms)
    # Measured energy per group and month (kept by ingestion), five years.
    local = now.astimezone(dt.UTC)
    months = []
    for back in range(60):
        year, month = local.year, local.month - back
        while month < 1:
            year, month = year - 1, month + 12
        months.append(f"{year:04d}-{month:02d}")
    _insert(
        engine,
        "light_energy_months",
        [
            {"month": m, "group_id": f"G{g:05d}", "energy_wh": 20 * 30_000.0}
            for g in range(groups_n)
            for m in months
        ],
    )
    if keep_everything:  # jobs and deliveries of five years (one mail and a few pushes per report)
        _insert(
            engine,
            "jobs",
            [
                {
                    "kind": "mail.send",
                    "payload": "{}",
                    "status": "done",
                    "attempts": 1,
                    "max_attempts": 8,
                    "run_at": r["created_at"],
                    "created_at": r["created_at"],
                    "updated_at": r["created_at"],
                    "finished_at": r["created_at"],
                }
                for r in reports
                for _ in range(3)
            ],
        )
    engine.dispose()
    analyze(url)
    return counts


def time_pages(urls: dict[float, str], tmp: Path, repeat: int) -> dict[float, dict[str, float]]:
    """Median time of each page at each size. Sizes are interleaved request by request, so the load
    others put on a shared machine falls on every size alike."""
    from contextlib import ExitStack

    from litestar.testing import TestClient

    from app.main import create_app

    clients = {}
    engines = []
    with ExitStack() as stack:
        for size, url in urls.items():
            settings = Settings(
                env="test",
                var_dir=tmp / f"var-{size:g}",
                database_url=url,
                secret_key="bench-" + "x" * 40,
                allowed_hosts=["testserver.local"],
                mqtt_url="mqtt://127.0.0.1:1",
            ).prepare()
            engine = make_engine(url)
            engines.append(engine)
            with write_session(engine) as session:
                user = auth.create_user(
                    session,
                    f"agent-{uuid.uuid4().hex[:6]}@eclor.test",
                    role="staff",
                    display_name="Nadia",
                )
                token = auth.start_session(session, user, idle_minutes=60, absolute_days=1)
            client = stack.enter_context(TestClient(app=create_app(settings, engine)))
            client.cookies.set(auth.SESSION_COOKIE, token)
            clients[size] = client
        times: dict[float, dict[str, list[float]]] = {size: {} for size in urls}
        for name, path, _target in PAGES:
            for size, client in clients.items():
                answer = client.get(path)  # warm-up (and the energy figures' first computation)
                if answer.status_code != 200:
                    raise SystemExit(f"{path} at {size:g}×: HTTP {answer.status_code}")
            for _ in range(repeat):
                for size, client in clients.items():
                    started = time.perf_counter()
                    client.get(path)
                    times[size].setdefault(name, []).append(time.perf_counter() - started)
    for engine in engines:
        engine.dispose()
    return {
        size: {name: statistics.median(values) for name, values in by_page.items()}
        for size, by_page in times.items()
    }


def database_sizes(tmp: Path) -> tuple[int, int]:
    """(bytes with retention applied, bytes with everything kept) for five simulated years at 1×."""
    sizes = []
    for keep in (False, True):
        path = tmp / f"size-{'all' if keep else 'kept'}.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        generate(url, 1, keep_everything=keep)
        if not keep:
            settings = Settings(
                env="test", var_dir=tmp / "var", database_url=url, secret_key="x" * 40
            ).prepare()
            engine = make_engine(url)
            retention.run(engine, settings)
            engine.dispose()
        raw = sqlite3.connect(path, isolation_level=None)  # VACUUM runs outside any transaction
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("VACUUM")
        raw.close()
        sizes.append(path.stat().st_size)
    return sizes[0], sizes[1]


def _queue(url: str, queued: int) -> None:
    """A backlog as a queue builds it: jobs added over time, each due a little after the one before."""
    engine = make_engine(url)
    now = utcnow() - dt.timedelta(seconds=1)
    _insert(
        engine,
        "jobs",
        [
            {
                "kind": "bench.noop",
                "payload": "{}",
                "status": "queued",
                "attempts": 0,
                "max_attempts": 8,
                "run_at": now - dt.timedelta(milliseconds=queued - i),
                "created_at": now,
                "updated_at": now,
            }
            for i in range(queued)
        ],
    )
    if engine.dialect.name == "postgresql":  # what autovacuum does within a minute of such a batch
        with engine.begin() as connection:
            connection.execute(text("ANALYZE jobs"))
    engine.dispose()


def _claim_worker(url: str, index: int, ready, go, seconds: float, batch: int, out) -> None:  # type: ignore[no-untyped-def]
    """One worker process (as ``eclor worker`` runs): claim and complete jobs for ``seconds``."""
    engine = make_engine(url)
    with engine.connect():  # connected before the clock starts
        pass
    ready.release()
    go.wait()
    stop, done = time.monotonic() + seconds, 0
    while time.monotonic() < stop:
        claimed = jobs.claim(engine, f"bench-{index}", limit=batch)
        for job in claimed:
            jobs.complete(engine, job, f"bench-{index}")
        done += len(claimed)
    engine.dispose()
    out.put(done)


def claim_rate(url: str, *, workers: int = 1, seconds: float = 5.0, batch: int = 20) -> float:
    """Jobs claimed and completed per second by ``workers`` processes, each with its own engine
    (separate processes, as workers run: threads of one process would share its interpreter lock).
    The clock starts when every process is connected."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    out, ready, go = context.Queue(), context.Semaphore(0), context.Event()
    processes = [
        context.Process(target=_claim_worker, args=(url, i, ready, go, seconds, batch, out))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire(timeout=120)
    go.set()
    total = sum(out.get(timeout=120) for _ in processes)
    for process in processes:
        process.join()
    return total / seconds


def _requeue(engine: Any) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE jobs SET status = 'queued', attempts = 0, locked_by = NULL, "
                "lease_until = NULL WHERE status = 'running'"
            )
        )


def claims_sqlite(tmp: Path, rounds: int = 10, slice_s: float = 0.5) -> tuple[float, float]:
    """Claims per second (claim only: the cost that could grow with the backlog) at 1,000 and 100,000
    queued jobs, the two queues measured in alternate slices so the machine's load falls on both."""
    urls = {}
    for queued in (1_000, 100_000):
        url = f"sqlite:///{tmp / f'claims-{queued}.db'}"
        upgrade(url)
        _queue(url, queued)
        urls[queued] = url
    engines = {queued: make_engine(url) for queued, url in urls.items()}
    claimed = dict.fromkeys(urls, 0)
    spent = dict.fromkeys(urls, 0.0)
    for round_no in range(1, rounds + 1):
        for queued, engine in engines.items():
            # Only the claims are timed. The jobs claimed go back to the queue (untimed) before a
            # tenth of the backlog is taken, so it stays at its size: a backlog topped up once ran
            # dry in the 1,000-job queue as claims got faster, and its rate counted empty claims.
            taken = 0
            while spent[queued] < slice_s * round_no:
                started = time.perf_counter()
                got = len(jobs.claim(engine, "bench", limit=20))
                spent[queued] += time.perf_counter() - started
                claimed[queued] += got
                taken += got
                if taken >= queued // 10:
                    _requeue(engine)
                    taken = 0
            _requeue(engine)
    for engine in engines.values():
        engine.dispose()
    return claimed[1_000] / spent[1_000], claimed[100_000] / spent[100_000]


def claims_pg(pg_url: str) -> tuple[float, float] | None:
    from sqlalchemy import create_engine

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except (
        OperationalError,
        ImportError,
    ) as exc:  # no PostgreSQL here: say so, do not fail the rest
        print(f"PostgreSQL unreachable ({type(exc).__name__}): claims with two workers skipped")
        return None
    url = f"{pg_url}{'&' if '?' in pg_url else '?'}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        _queue(url, 60_000)  # a backlog far larger than the runs take
        rates: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(3):  # one and two workers in turn, so the machine's load falls on both
            for workers in (1, 2):
                rates[workers].append(claim_rate(url, workers=workers, seconds=5.0))
        print(f"job claims on PostgreSQL, per run: {rates}", flush=True)
        return statistics.median(rates[1]), statistics.median(rates[2])
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1,10,50", help="territory sizes, 1 = this territory (default 1,10,50)"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ECLOR_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--claims-only", action="store_true", help="only the job-claim rates")
    parser.add_argument(
        "--data",
        default=None,
        help="folder keeping the generated databases: a size already there is migrated and reused",
    )
    parser.add_argument("--no-extras", action="store_true", help="pages only (no sizes, no claims)")
    args = parser.parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="eclor-scale-"))
    if args.claims_only:
        low, high = claims_sqlite(tmp)
        print(
            f"Job claims on SQLite (claim only): {low:.0f}/s with 1,000 queued, {high:.0f}/s with 100,000 "
            f"queued: ratio {high / low:.2f}× (target ≥ 0.8×)"
        )
        pg = claims_pg(args.pg_url)
        if pg:
            print(
                f"Job claims on PostgreSQL (claim and complete): {pg[0]:.0f}/s with one worker, {pg[1]:.0f}/s "
                f"with two: ratio {pg[1] / pg[0]:.2f}× (target ≥ 1.7×)"
            )
        return 0
    urls: dict[float, str] = {}
    data = Path(args.data) if args.data else tmp
    data.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        path = data / f"scale-{size:g}.db"
        url = f"sqlite:///{path}"
        started = time.perf_counter()
        if path.exists() and (data / f"scale-{size:g}.done").exists():
            upgrade(url)  # the generated history is kept; new migrations (indexes) apply to it
            analyze(url)
            print(f"{size:g}×: reused {path}", flush=True)
        else:
            path.unlink(missing_ok=True)
            upgrade(url)
            counts = generate(url, size)
            (data / f"scale-{size:g}.done").write_text(json.dumps(counts))
            made = time.perf_counter() - started
            print(f"{size:g}×: {counts} generated in {made:.1f} s", flush=True)
        urls[size] = url
    results = time_pages(urls, tmp, args.repeat)
    base = sizes[0]
    head = (
        "| page | "
        + " | ".join(f"{s:g}×" for s in sizes)
        + f" | growth {base:g}×→{sizes[-1]:g}× | target |"
    )
    lines = [head, "|" + "---|" * (len(sizes) + 3)]
    for name, _path, target in PAGES:
        row = [f"{results[s][name] * 1000:.1f} ms" for s in sizes]
        growth = results[sizes[-1]][name] / results[base][name]
        goal = "≤ 2×" if target and name not in EXEMPT else "—"
        lines.append(f"| {name} | " + " | ".join(row) + f" | {growth:.2f}× | {goal} |")
    table = "\n".join(lines)
    print(table, flush=True)
    print(f"load average: {os.getloadavg()}", flush=True)
    if args.no_extras:
        return 0
    kept, everything = database_sizes(tmp)
    size_line = (
        f"Database after five simulated years at 1×: {kept / 1e6:.1f} MB with retention, "
        f"{everything / 1e6:.1f} MB without (same history): ratio {kept / everything:.2f}× (target ≤ 0.25×)"
    )
    print(size_line)
    low, high = claims_sqlite(tmp)
    claim_line = (
        f"Job claims on SQLite (claim only): {low:.0f}/s with 1,000 queued, {high:.0f}/s with 100,000 queued: "
        f"ratio {high / low:.2f}× (target ≥ 0.8×)"
    )
    print(claim_line)
    pg = claims_pg(args.pg_url)
    pg_line = (
        (
            f"Job claims on PostgreSQL (claim and complete): {pg[0]:.0f}/s with one worker, {pg[1]:.0f}/s with two: "
            f"ratio {pg[1] / pg[0]:.2f}× (target ≥ 1.7×)"
        )
        if pg
        else "Job claims on PostgreSQL: not measured"
    )
    print(pg_line)
    if not args.no_write:
        from bench.report import write_section

        write_section(
            "## Scale: pages at 1×, 10×, 50× this territory (bench/scale.py)",
            "\n".join(
                [
                    "## Scale: pages at 1×, 10×, 50× this territory (bench/scale.py)",
                    "",
                    (
                        f"`.venv/bin/python bench/scale.py --sizes {args.sizes}` (shared 2-core machine: other work ran "
                        "at the same time, so single figures move; the baseline is the first size, measured in the same "
                        "run). In-process requests as staff, median of "
                        f"{args.repeat} after a warm-up. 1× = {LIGHTS_1X:,} lights, {REPORTS_1X:,} reports over five years, "
                        "90 days of commands (one in nine stored), a year of alarms, energy per group and month for five "
                        "years."
                    ),
                    "",
                    table,
                    "",
                    size_line + ".",
                    "",
                    claim_line + ".",
                    "",
                    pg_line + ".",
                    "",
                ]
            ),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

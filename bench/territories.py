"""Several territories on one install: the first territory's pages with 1 and with 50 territories.

One demo database is built (``eclor demo``), its second territory (Minett) taken out, so it
serves one territory: the baseline. A copy of it gets 49 more territories made by
``app.territory_setup.create`` (slugs ``t01``…, hosts ``t01.localhost``…, eight communes each
with their own INSEE-like codes and square outlines on a grid), and each of them a copy of the
first territory's demo data, moved into its own communes: the reports with their history, the
alerts (threads and references kept), and the street lights with their groups and cabinets.
The lighting history (daily energy and measures) is not copied: it belongs to no page measured.

Both databases are served at once by uvicorn (2 worker processes each) and loaded with wrk
(keep-alive, 32 connections) in turns, over several rounds, on the first territory's host
(the default territory): the home page, the public reports list (``/reports``) and the staff
reports board (``/staff/reports``, signed in as the demo's agent). The ratio is 50 territories
over 1, the median of the rounds' ratios (target >= 0.9). The same pages are also timed in one
process without sockets (CPU time per request, the two databases in turns), which the load of a
shared machine moves far less. Then the database sizes (after VACUUM):
total, per territory, and what each added territory costs.

SQLite only (the copy goes straight through sqlite3). Run: .venv/bin/python bench/territories.py
[--territories 50] [--seconds 8] [--rounds 3] [--port 8600] [--quick]
(``--quick``: 5 territories, 2 s runs, one round: a smoke run of a minute or so.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import wait_up, wrk  # noqa: E402

PY = sys.executable
PAGES = [
    ("home page", "/", False),
    ("reports list", "/reports", False),
    ("staff reports board", "/staff/reports", True),
]
STAFF_EMAIL = "agent@eclor.test"
COMMUNES_EACH = 8
TARGET = 0.9


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _copy(
    conn: sqlite3.Connection,
    table: str,
    where: str,
    params: tuple[Any, ...],
    change: dict[str, Callable[[Any], Any]],
    territory_id: int,
) -> int:
    """Insert a changed copy of the rows of ``table`` that ``where`` selects; a ``territory_id``
    column (if the table has one) takes the new territory's."""
    cols = _columns(conn, table)
    if "territory_id" in cols:
        change = {**change, "territory_id": lambda _v: territory_id}
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE {where}", params).fetchall()
    out = [
        tuple(change[c](v) if c in change else v for c, v in zip(cols, row, strict=True))
        for row in rows
    ]
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", out
    )
    return len(out)


def _square(lon: float, lat: float, side: float) -> list[list[float]]:
    return [
        [lon, lat],
        [lon + side, lat],
        [lon + side, lat + side],
        [lon, lat + side],
        [lon, lat],
    ]


def settings_of(number: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings and commune map of generated territory ``number`` (1 to 99)."""
    rng = random.Random(number)
    slug = f"t{number:02d}"
    base_lat, base_lon = 46.0 + (number // 10) * 0.6, 1.0 + (number % 10) * 0.6
    features = [
        {
            "type": "Feature",
            "properties": {
                "code": f"8{number:02d}{j:02d}",
                "name": f"Commune {j + 1} de {slug}",
                "country": "FR",
                "postcode": f"8{number:02d}{j:02d}",
            },
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    _square(base_lon + (j % 4) * 0.12, base_lat + (j // 4) * 0.12, 0.1)
                ],
            },
        }
        for j in range(COMMUNES_EACH)
    ]
    settings = {
        "slug": slug,
        "name": f"Territoire d’essai {number}",
        "short_name": f"Essai {number}",
        "hosts": [f"{slug}.localhost"],
        "timezone": "Europe/Paris",
        "languages": ["fr", "en"],
        "colours": {
            "primary": f"#{rng.randrange(20, 120):02x}{rng.randrange(20, 120):02x}{rng.randrange(20, 120):02x}",
            "accent": f"#{rng.randrange(180, 256):02x}{rng.randrange(120, 220):02x}{rng.randrange(0, 90):02x}",
        },
        "contact_email": f"contact@{slug}.example",
    }
    return settings, {"type": "FeatureCollection", "features": features}


def drop_second_territories(path: Path) -> None:
    """Take every territory but the first out of a demo database (the demo's Minett has its
    communes and bodies, no resident's data): the baseline serves one territory."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        first = conn.execute("SELECT min(id) FROM territories").fetchone()[0]
        tables = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if "territory_id" in _columns(conn, name)
        ]
        # Their rows of every table that has a territory (bodies, communes ...), in whichever
        # order the foreign keys allow, then the territories themselves.
        for _pass in range(len(tables) + 1):
            left = []
            for name in tables:
                try:
                    with conn:
                        conn.execute(f"DELETE FROM {name} WHERE territory_id != ?", (first,))
                except sqlite3.IntegrityError:
                    left.append(name)
            tables = left
            if not tables:
                break
        with conn:
            conn.execute("DELETE FROM territories WHERE id != ?", (first,))
    finally:
        conn.close()


def generate(path: Path, extra: int) -> dict[str, int]:
    """Add ``extra`` territories to the SQLite database at ``path``, each with a copy of the
    first territory's reports (and their history), alerts and street lights, in its own
    communes. Returns the number of rows added per table."""
    from sqlmodel import Session, col, select

    from app.db import make_engine, write_session
    from app.models.territory import Territory
    from app.territory_setup import create

    engine = make_engine(f"sqlite:///{path}")
    made: list[int] = []
    try:
        with Session(engine) as session:
            first = session.scalars(select(Territory).order_by(col(Territory.id))).first()
            assert first is not None and first.id is not None
            first_id = first.id
        for number in range(1, extra + 1):
            settings, communes = settings_of(number)
            with write_session(engine) as session:
                territory = create(session, settings, communes)
                assert territory.id is not None
                made.append(territory.id)
    finally:
        engine.dispose()

    counts: dict[str, int] = {}
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        own = [
            r[0]
            for r in conn.execute(
                "SELECT insee FROM communes WHERE territory_id = ? ORDER BY insee", (first_id,)
            )
        ]
        centre = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT insee, lat, lon FROM communes WHERE territory_id = ?", (first_id,)
            )
        }
        marks = ",".join("?" for _ in own)
        stride = {
            t: (conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] or 0) + 1
            for t in ("reports", "report_events", "alerts")
        }
        with conn:
            for k, territory_id in enumerate(made, start=1):
                theirs = [
                    r[0]
                    for r in conn.execute(
                        "SELECT insee FROM communes WHERE territory_id = ? ORDER BY insee",
                        (territory_id,),
                    )
                ]
                where_is = {
                    r[0]: (r[1], r[2])
                    for r in conn.execute(
                        "SELECT insee, lat, lon FROM communes WHERE territory_id = ?",
                        (territory_id,),
                    )
                }
                to = {old: theirs[i % len(theirs)] for i, old in enumerate(own)}
                shift_lat = statistics.mean(where_is[t][0] for t in theirs) - statistics.mean(
                    centre[o][0] for o in own
                )
                shift_lon = statistics.mean(where_is[t][1] for t in theirs) - statistics.mean(
                    centre[o][1] for o in own
                )
                suffix = f"-t{k:02d}"

                def commune(v: Any, to: dict[str, str] = to) -> Any:
                    return to.get(v, v) if v else v

                def offset(table: str, k: int = k) -> Callable[[Any], Any]:
                    return lambda v: None if v is None else v + k * stride[table]

                def moved(d: float) -> Callable[[Any], Any]:
                    return lambda v: None if v is None else round(v + d, 6)

                def named(v: Any, suffix: str = suffix) -> Any:
                    return None if v is None else f"{v}{suffix}"

                counts["reports"] = counts.get("reports", 0) + _copy(
                    conn,
                    "reports",
                    "territory_id = ?",
                    (first_id,),
                    {
                        "id": offset("reports"),
                        "duplicate_of_id": offset("reports"),
                        "commune_insee": commune,
                        "lat": moved(shift_lat),
                        "lon": moved(shift_lon),
                        "idempotency_key": lambda _v: None,
                        "token": lambda _v: None,
                    },
                    territory_id,
                )
                counts["report_events"] = counts.get("report_events", 0) + _copy(
                    conn,
                    "report_events",
                    "report_id IN (SELECT id FROM reports WHERE territory_id = ?)",
                    (first_id,),
                    {"id": offset("report_events"), "report_id": offset("reports")},
                    territory_id,
                )
                counts["alerts"] = counts.get("alerts", 0) + _copy(
                    conn,
                    "alerts",
                    "territory_id = ?",
                    (first_id,),
                    {
                        "id": offset("alerts"),
                        "thread_id": offset("alerts"),
                        "references_id": offset("alerts"),
                        "identifier": named,
                        "communes": lambda v, to=to: (
                            ",".join(to.get(c, c) for c in v.split(",")) if v else v
                        ),
                    },
                    territory_id,
                )
                in_own = (f"commune_insee IN ({marks})", tuple(own))
                for table, change in (
                    ("light_cabinets", {"id": named}),
                    ("light_groups", {"id": named, "cabinet_id": named}),
                    (
                        "streetlights",
                        {
                            "id": named,
                            "device_id": named,
                            "group_id": named,
                            "cabinet_id": named,
                            "target_command_id": lambda _v: None,
                        },
                    ),
                ):
                    change = {
                        **change,
                        "commune_insee": commune,
                        "lat": moved(shift_lat),
                        "lon": moved(shift_lon),
                    }
                    counts[table] = counts.get(table, 0) + _copy(
                        conn, table, in_own[0], in_own[1], change, territory_id
                    )
    finally:
        conn.close()
    counts["territories"] = len(made)
    return counts


def staff_cookie(path: Path) -> str:
    """A session of the demo's agent (the first territory's staff), as a cookie header value."""
    from sqlmodel import Session, select

    from app.auth import SESSION_COOKIE, start_session
    from app.db import make_engine, write_session
    from app.models.accounts import User

    engine = make_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session:
            user = session.scalars(select(User).where(User.email == STAFF_EMAIL)).one()
        with write_session(engine) as session:
            token = start_session(
                session, session.merge(user), idle_minutes=600, absolute_days=1, user_agent="wrk"
            )
    finally:
        engine.dispose()
    return f"{SESSION_COOKIE}={token}"


def vacuum(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("VACUUM")
    finally:
        conn.close()
    return path.stat().st_size


@contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[str]:
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "uvicorn",
            "app.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/healthz", timeout=180)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fetch(url: str, cookie: str = "") -> str:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200, (url, r.status)
        return r.read().decode()


def in_process(requests: int, rounds: int, cookie: str) -> dict[str, float]:
    """CPU time of this process per request of each page (median of the rounds), the app called
    as an ASGI app without server or client: the machine's load moves it far less than the
    throughput over sockets. Run in a child whose environment names the database."""
    import asyncio

    from app.asgi import app

    async def one(path: str, staff: bool) -> int:
        headers = [(b"host", b"127.0.0.1"), (b"accept-encoding", b"gzip")]
        if staff:
            headers.append((b"cookie", cookie.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        status = [0]

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]

        await app(scope, receive, send)
        return status[0]

    async def run() -> dict[str, float]:
        for _label, path, staff in PAGES:
            for _ in range(30):
                assert await one(path, staff) == 200, path
        times: dict[str, list[float]] = {label: [] for label, _p, _s in PAGES}
        for _round in range(rounds):
            for label, path, staff in PAGES:
                began = time.process_time()
                for _ in range(requests):
                    await one(path, staff)
                times[label].append((time.process_time() - began) / requests * 1000)
        return {label: statistics.median(v) for label, v in times.items()}

    return asyncio.run(run())


def cpu_per_request(
    env: dict[str, str], cookie: str, requests: int, rounds: int
) -> dict[str, float]:
    out = subprocess.run(
        [PY, str(Path(__file__).resolve()), "--in-process", str(requests), str(rounds)],
        cwd=ROOT,
        env={**env, "ECLOR_BENCH_COOKIE": cookie},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--territories", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=8, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8600, help="first of the two ports")
    parser.add_argument("--quick", action="store_true", help="5 territories, 2 s, one round")
    parser.add_argument("--in-process", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        requests, rounds = args.in_process
        print(json.dumps(in_process(requests, rounds, os.environ["ECLOR_BENCH_COOKIE"])))
        return 0
    if args.quick:
        args.territories, args.seconds, args.rounds = 5, 2, 1
    if not shutil.which("wrk"):
        print("bench/territories.py needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        one, many = tmp / "one.db", tmp / "many.db"
        env = dict(
            os.environ,
            ECLOR_VAR_DIR=tmp_dir,
            ECLOR_DATABASE_URL=f"sqlite:///{one}",
            LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD="0",
        )
        subprocess.run(
            [PY, "-m", "app.cli", "demo"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        drop_second_territories(one)
        cookie = staff_cookie(one)  # copied with the database: the same session on both
        shutil.copyfile(one, many)
        counts = generate(many, args.territories - 1)
        from app.migrate import analyze

        sizes = {}
        for path in (one, many):
            analyze(f"sqlite:///{path}")
            sizes[path] = vacuum(path)

        # CPU per request in one process, the two databases in turns (load moves it less).
        cpu: dict[str, list[dict[str, float]]] = {"one": [], "many": []}
        for _turn in range(1 if args.quick else 3):
            for name, path in (("one", one), ("many", many)):
                cpu[name].append(
                    cpu_per_request(
                        {**env, "ECLOR_DATABASE_URL": f"sqlite:///{path}"},
                        cookie,
                        requests=50 if args.quick else 200,
                        rounds=3,
                    )
                )

        runs: dict[tuple[str, str], list[dict[str, float]]] = {}
        envs = {
            "one": {**env, "ECLOR_DATABASE_URL": f"sqlite:///{one}"},
            "many": {**env, "ECLOR_DATABASE_URL": f"sqlite:///{many}"},
        }
        with (
            serving(envs["one"], args.port) as url_one,
            serving(envs["many"], args.port + 1) as url_many,
        ):
            urls = {"one": url_one, "many": url_many}
            # Both serve the same page to the first territory: the same reports, nobody else's.
            shown = {
                name: len(re.findall(r'href="/reports/\d+"', fetch(url + "/reports")))
                for name, url in urls.items()
            }
            board = {
                name: len(
                    re.findall(r'href="/staff/reports/\d+"', fetch(url + "/staff/reports", cookie))
                )
                for name, url in urls.items()
            }
            for _name, path, staff in PAGES:
                for url in urls.values():
                    wrk(url + path, 1, [f"Cookie: {cookie}"] if staff else [])  # warm-up
            for turn in range(args.rounds):
                for label, path, staff in PAGES:
                    headers = ["Accept-Encoding: gzip"] + ([f"Cookie: {cookie}"] if staff else [])
                    # Each install goes first in every other round: neither always gets the
                    # quieter (or busier) moment.
                    order = list(urls.items())
                    for name, url in order if turn % 2 == 0 else order[::-1]:
                        runs.setdefault((label, name), []).append(
                            wrk(url + path, args.seconds, headers)
                        )
        load_after = os.getloadavg()

    n = args.territories
    print(
        f"Territories on one install: the first territory's pages with 1 and with {n} territories "
        f"(each with the demo's reports, alerts and lights); uvicorn 2 workers each, wrk -t2 -c32, "
        f"{args.seconds} s per run, {args.rounds} round(s), medians"
    )
    print(
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
        f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
    )
    print("rows added: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(
        f"report links on /reports: {shown['one']} (1) and {shown['many']} ({n}); on the staff "
        f"board: {board['one']} and {board['many']}"
    )
    print(
        f"{'':22} {'1: req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {f'{n}: req/s':>9} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'ratio':>6}  rounds"
    )
    ok = shown["one"] == shown["many"] and board["one"] == board["many"]
    worst = 1.0
    for label, _path, _staff in PAGES:
        a, b = runs[(label, "one")], runs[(label, "many")]
        ratios = [y["rps"] / x["rps"] for x, y in zip(a, b, strict=True)]
        ratio = statistics.median(ratios)
        worst = min(worst, ratio)

        def med(rs: list[dict[str, float]], key: str) -> float:
            return statistics.median(r[key] for r in rs)

        errors = sum(r["errors"] for r in a + b)
        ok = ok and errors == 0
        print(
            f"{label:22} {med(a, 'rps'):>9.0f} {med(a, 'p50'):>7.1f} {med(a, 'p99'):>7.1f} "
            f"{med(b, 'rps'):>9.0f} {med(b, 'p50'):>7.1f} {med(b, 'p99'):>7.1f} {ratio:>6.2f}  "
            + ", ".join(f"{x:.2f}" for x in ratios)
            + (f"  ({errors:.0f} non-2xx)" if errors else "")
        )
    print("in process, CPU per request (ms; median of the turns), 1 and %d territories:" % n)
    for label, _path, _staff in PAGES:
        a = statistics.median(c[label] for c in cpu["one"])
        b = statistics.median(c[label] for c in cpu["many"])
        print(f"  {label:22} {a:>7.2f} {b:>7.2f}  ratio {a / b:.2f}")
    mb = 1024 * 1024
    size_one, size_many = sizes[one], sizes[many]
    print(
        f"database (SQLite, after VACUUM): 1 territory {size_one / mb:.1f} MB; {n} territories "
        f"{size_many / mb:.1f} MB, {size_many / n / mb:.2f} MB per territory; each added territory "
        f"{(size_many - size_one) / max(1, n - 1) / mb:.2f} MB (the first's demo data without its "
        "lighting history and photos)"
    )
    cpu_worst = min(
        statistics.median(c[label] for c in cpu["one"])
        / statistics.median(c[label] for c in cpu["many"])
        for label, _path, _staff in PAGES
    )
    print(
        f"in process, worst ratio {cpu_worst:.2f}: "
        + ("PASS" if cpu_worst >= TARGET else "FAIL")
        + " (less moved by a shared machine's load than the throughput)"
    )
    ok = ok and worst >= TARGET
    print(f"over HTTP, worst ratio {worst:.2f} (target >= {TARGET}): " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

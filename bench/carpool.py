"""Carpool search benchmark: searches against 20,000 active ads.

Run from the repository root::

    .venv/bin/python bench/carpool.py                       # SQLite (scratch file), 20,000 ads
    .venv/bin/python bench/carpool.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/carpool.py --ads 5000 --searches 200 --no-write

A scratch database (a SQLite file, or a new PostgreSQL schema dropped at the
end) is migrated and filled with 20,000 active ads shaped like the territory's
traffic: starts around the 8 communes, ends at the Luxembourg destinations,
Esch/Belval and inside the territory; 70% regular commutes (weekdays, 06:00–
09:30 or 16:00–19:00), 30% one-off trips over the next 30 days; 85% drivers.

Each search is a passenger (or a driver looking for passengers) starting near
a commune. In one run, taking turns, it times:

- the **baseline**: the bare SQL query that fetches the same candidates
  (``app.carpool.ranking.candidates_statement`` executed on the same connection and
  fetched, nothing else);
- the **search**: ``app.carpool.matching.search`` for a page of results (50, as the
  search page asks): the same candidates ranked in SQL by the best score they can
  reach (the geometry exactly, the time at the best the ad's window or departure
  allows, the share of searched weekdays it runs on), read a batch at a time and
  scored in Python until none left can enter the page.

It prints the median and p99 of both, their ratio, the candidates fetched
and the matches kept, and rewrites the "Carpool search" section of
``docs/benchmarks.md``. Target: search p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from app import geo
from app.carpool import matching, ranking, trips
from app.db import make_engine, read_session, write_session
from app.migrate import upgrade
from app.models.accounts import User
from app.models.carpool import CarpoolAd

COMMUNES = [
    (49.472, 5.955),
    (49.418, 5.944),
    (49.382, 5.951),
    (49.440, 6.017),
    (49.493, 5.918),
    (49.483, 5.953),
    (49.473, 5.905),
    (49.467, 5.929),
]
DESTINATIONS = [  # (lat, lon, weight)
    (49.6296, 6.1619, 18),
    (49.5999, 6.1335, 14),
    (49.5811, 6.1150, 12),
    (49.5006, 5.9430, 16),
    (49.4985, 5.9806, 12),
    (49.5242, 5.8914, 7),
    (49.4806, 6.0875, 6),
    (49.5817, 6.1398, 4),
    (49.6085, 6.1005, 3),
    (49.6365, 6.1746, 3),
    (49.4870, 5.9360, 2),
    (49.359, 6.168, 3),  # + Thionville
]


def jitter(lat: float, lon: float, rng: random.Random, metres: float) -> tuple[float, float]:
    r = metres * rng.random() ** 0.5
    a = rng.random() * 6.283
    return lat + r * 0.000009 * __import__("math").cos(a), lon + r * 0.0000138 * __import__(
        "math"
    ).sin(a)


def pick_destination(rng: random.Random) -> tuple[float, float]:
    lat, lon, _w = rng.choices(DESTINATIONS, weights=[d[2] for d in DESTINATIONS])[0]
    if rng.random() < 0.12:  # trips inside the territory
        return rng.choice(COMMUNES)
    return lat, lon


def fill(engine, n_ads: int, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with write_session(engine) as s:
        s.execute(
            insert(User),
            [
                {
                    "email": f"bench{i}@eclor.test",
                    "role": "resident",
                    "display_name": f"B{i}",
                    "locale": "fr",
                    "is_active": True,
                    "created_at": now,
                }
                for i in range(500)
            ],
        )
        first = s.execute(text("SELECT min(id) FROM users")).scalar_one()
    rows = []
    for i in range(n_ads):
        role = "driver" if rng.random() < 0.85 else "passenger"
        a = jitter(*rng.choice(COMMUNES), rng, 1500)
        b = jitter(*pick_destination(rng), rng, 1200)
        if geo.distance_m(*a, *b) < 1500:
            b = jitter(49.6296, 6.1619, rng, 800)
        regular = rng.random() < 0.7
        evening = rng.random() < 0.35
        minute = rng.randint(16 * 60, 19 * 60) if evening else rng.randint(6 * 60, 9 * 60 + 30)
        margin = rng.choice((10, 15, 15, 30))
        seats = rng.randint(1, 4)
        row = {
            "user_id": first + rng.randrange(500),
            "role": role,
            "frequency": "regular" if regular else "punctual",
            "leg": "outward",
            "from_label": "A",
            "from_lat": a[0],
            "from_lon": a[1],
            "to_label": "B",
            "to_lat": b[0],
            "to_lon": b[1],
            "distance_m": trips.road_m(*a, *b),
            "cross_border": trips.country_of(*a) != trips.country_of(*b),
            "margin_min": margin,
            "seats": seats,
            "seats_left": seats,
            "price_per_km_cents": 8 if role == "driver" else 0,
            "comment": "",
            "status": "active",
            "created_at": now,
            "updated_at": now,
            "departure_at": None,
            "valid_until": None,
        }
        if regular:
            days = [d for d in range(5) if rng.random() < 0.85] or [rng.randrange(5)]
            sched = {d: (minute + rng.choice((0, 0, 5, -5)), margin) for d in days}
            row.update(
                schedule=trips.dump_schedule(sched),
                days_mask=trips.mask_of(sched),
                window_start=min(m - g for m, g in sched.values()),
                window_end=max(m + g for m, g in sched.values()),
            )
        else:
            day = (trips.local(now) + timedelta(days=rng.randint(1, 30))).date()
            dep = datetime.combine(day, datetime.min.time(), tzinfo=trips.PARIS).astimezone(
                UTC
            ) + timedelta(minutes=minute)
            loc = trips.local(dep)
            m = loc.hour * 60 + loc.minute
            row.update(
                departure_at=dep,
                schedule=trips.dump_schedule({loc.weekday(): (m, margin)}),
                days_mask=trips.mask_of([loc.weekday()]),
                window_start=m - margin,
                window_end=m + margin,
            )
        rows.append(row)
    with write_session(engine) as s:
        for i in range(0, len(rows), 2000):
            s.execute(insert(CarpoolAd), rows[i : i + 2000])
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def make_queries(n: int, rng: random.Random) -> list[matching.Query]:
    now = datetime.now(UTC)
    out = []
    for _ in range(n):
        a = jitter(*rng.choice(COMMUNES), rng, 1500)
        b = jitter(*pick_destination(rng), rng, 800)
        role = "driver" if rng.random() < 0.8 else "passenger"
        minute = rng.randint(6 * 60 + 30, 9 * 60)
        if rng.random() < 0.5:
            out.append(
                matching.Query(
                    *a,
                    *b,
                    role=role,
                    frequency="regular",
                    days_mask=trips.mask_of(d for d in range(5) if rng.random() < 0.8) or 1,
                    minute=minute,
                    margin_min=rng.choice((15, 30, 45)),
                )
            )
        else:
            day = (trips.local(now) + timedelta(days=rng.randint(1, 30))).date()
            when = datetime.combine(day, datetime.min.time(), tzinfo=trips.PARIS).astimezone(
                UTC
            ) + timedelta(minutes=minute)
            out.append(
                matching.Query(*a, *b, role=role, when=when, margin_min=rng.choice((15, 30, 45)))
            )
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def scratch_url(database_url: str | None) -> tuple[str, str | None, Path | None]:
    if database_url and database_url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = make_url(database_url)
        query = dict(url.query)
        query["options"] = f"-csearch_path={schema}"
        return url.set(query=query).render_as_string(hide_password=False), schema, None
    folder = Path(tempfile.mkdtemp(prefix="eclor-bench-carpool-"))
    return f"sqlite:///{folder / 'bench.db'}", None, folder


def write_section(subsection: str, lines: list[str]) -> None:
    """Rewrite this database's part of the "Carpool search" section of docs/benchmarks.md (nothing else)."""
    doc = ROOT / "docs" / "benchmarks.md"
    intro = "# Benchmarks\n\nLatest benchmark figures; rerun with the command under each heading.\n"
    text_ = doc.read_text() if doc.exists() else intro
    start = text_.find("## Carpool search")
    if start < 0:
        text_ = text_.rstrip("\n") + "\n\n## Carpool search\n"
        start = text_.find("## Carpool search")
    nxt = text_.find("\n## ", start + 3)
    end = nxt + 1 if nxt >= 0 else len(text_)
    section = text_[start:end]
    parts: dict[str, str] = {}
    for chunk in section.split("\n### ")[1:]:
        title, _sep, body = chunk.partition("\n")
        parts[title.strip()] = body.strip("\n")
    parts[subsection] = "\n".join(lines)
    order = [k for k in ("SQLite", "PostgreSQL") if k in parts] + [
        k for k in parts if k not in ("SQLite", "PostgreSQL")
    ]
    body = "".join(f"\n### {k}\n\n{parts[k]}\n" for k in order)
    new_section = "## Carpool search\n" + body + ("\n" if nxt >= 0 else "")
    doc.write_text(text_[:start] + new_section + text_[end:])


def exhaustive_check(session, queries: list[matching.Query]) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """How many of ``queries`` the search answers with exactly the matches of scoring every active
    ad in Python (the SQL's other rules applied by hand: status, role, seats, validity)."""
    ads = (
        session.connection()
        .execute(select(*ranking.CANDIDATE_COLUMNS, CarpoolAd.status, CarpoolAd.valid_until))
        .all()
    )
    same = 0
    for q in queries:
        last_day = (q.local_when or trips.local(datetime.now(UTC))).date()
        expected = []
        for ad in ads:
            if ad.status != "active" or ad.role != q.role or ad.seats_left < q.seats:
                continue
            if ad.valid_until is not None and ad.valid_until < last_day:
                continue
            if ad.frequency == "punctual" and (q.frequency != "punctual" or q.when is None):
                continue
            m = matching.score(q, ad)
            if m is not None:
                expected.append((m.ad_id, m.score))
        expected.sort(key=lambda m: (-m[1], m[0]))
        got = [(m.ad_id, m.score) for m in matching.search(session, q, limit=10**7)]
        page = [(m.ad_id, m.score) for m in matching.search(session, q)]  # a page: ranked in SQL
        same += got == expected and page == expected[: trips.SEARCH_LIMIT]
    return same, len(queries)


def scored_per_page(session, queries: list[matching.Query]) -> list[int]:  # type: ignore[no-untyped-def]
    """How many candidates each search scores in Python before its page is settled (untimed)."""
    counts = [0]
    score = matching.score

    def counting(q: matching.Query, row):  # type: ignore[no-untyped-def]
        counts[0] += 1
        return score(q, row)

    out = []
    matching.score = counting  # type: ignore[assignment]
    try:
        for q in queries:
            counts[0] = 0
            matching.search(session, q)
            out.append(counts[0])
    finally:
        matching.score = score  # type: ignore[assignment]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ads", type=int, default=20_000)
    parser.add_argument("--searches", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--check", type=int, default=20, help="searches compared with an exhaustive search"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    url, schema, folder = scratch_url(args.database_url)
    rng = random.Random(args.seed)
    load_before = os.getloadavg()[0]
    try:
        upgrade(url)
        engine = make_engine(url)
        t0 = time.perf_counter()
        fill(engine, args.ads, rng)
        fill_s = time.perf_counter() - t0
        queries = make_queries(args.searches, rng)
        bare: list[float] = []
        boxes: list[float] = []
        windows: list[float] = []
        full: list[float] = []
        fetched: list[int] = []
        kept: list[int] = []
        with read_session(engine) as s:
            for q in queries[:20]:  # warm-up: caches, statement compilation
                s.connection().execute(ranking.candidates_statement(q)).all()
                matching.search(s, q)
            for i, q in enumerate(queries):
                order = (0, 1, 2, 3) if i % 2 == 0 else (3, 2, 1, 0)
                for which in order:
                    start = time.perf_counter()
                    if which == 2:  # the same query with the boxes alone (before the grid cells)
                        s.connection().execute(
                            ranking.candidates_statement(q, use_cells=False)
                        ).all()
                        boxes.append((time.perf_counter() - start) * 1000)
                    elif which == 3:  # regular ads read for every window (before their index)
                        s.connection().execute(
                            ranking.candidates_statement(q, window_range=False)
                        ).all()
                        windows.append((time.perf_counter() - start) * 1000)
                    elif which == 0:
                        rows = s.connection().execute(ranking.candidates_statement(q)).all()
                        bare.append((time.perf_counter() - start) * 1000)
                        fetched.append(len(rows))
                    else:
                        matches = matching.search(s, q)  # a page of results, as people get it
                        full.append((time.perf_counter() - start) * 1000)
                        kept.append(len(matches))
            same, compared = exhaustive_check(s, queries[: args.check])
            scored = scored_per_page(s, queries)
        engine.dispose()
    finally:
        if schema:
            admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        if folder:
            for f in folder.iterdir():
                f.unlink()
            folder.rmdir()

    load_after = os.getloadavg()[0]
    db = "PostgreSQL" if schema else "SQLite (WAL, file)"
    b_med, b_p99 = statistics.median(bare), pct(bare, 99)
    x_med, x_p99 = statistics.median(boxes), pct(boxes, 99)
    f_med, f_p99 = statistics.median(full), pct(full, 99)
    w_med, w_p99 = statistics.median(windows), pct(windows, 99)
    target = "met" if f_p99 <= 50 else "NOT met"
    print(f"{args.ads} active ads, {len(queries)} searches, {db}; filled in {fill_s:.1f} s")
    print(f"baseline (bare candidate query): median {b_med:.2f} ms, p99 {b_p99:.2f} ms")
    print(f"same query, boxes alone (before): median {x_med:.2f} ms, p99 {x_p99:.2f} ms")
    print(
        f"same query, regular ads for every window (before): median {w_med:.2f} ms, p99 {w_p99:.2f} ms; "
        f"ratio with / without the window range: median {b_med / w_med:.2f}x, p99 {b_p99 / w_p99:.2f}x"
    )
    print(f"same matches as an exhaustive search: {same} of {compared} searches")
    print(f"search (query + scoring):        median {f_med:.2f} ms, p99 {f_p99:.2f} ms")
    print(
        f"ratio search / baseline: median {f_med / b_med:.2f}x, p99 {f_p99 / b_p99:.2f}x; target p99 <= 50 ms: {target}"
    )
    print(
        f"load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"candidates fetched: median {statistics.median(fetched):.0f}, max {max(fetched)}; "
        f"matches kept: median {statistics.median(kept):.0f}, max {max(kept)}"
    )
    print(
        f"candidates scored in Python per page: median {statistics.median(scored):.0f}, "
        f"p99 {pct(scored, 99):.0f}, max {max(scored)}"
    )
    if args.no_write:
        return
    cmd = "`.venv/bin/python bench/carpool.py`"
    if schema:
        cmd = "`.venv/bin/python bench/carpool.py --database-url postgresql://postgres@127.0.0.1:5432/test`"
    lines = [
        (
            f"{cmd} — {args.ads:,} active ads shaped like the territory's commutes (starts around the 8 communes, "
            "ends in Luxembourg, Esch/Belval and the territory; 70% regular, 30% one-off, 85% drivers), "
            f"{len(queries)} searches (half regular, half one-off), taking turns between the baseline and the search "
            f"in one run. Database: {db}. Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"load average {load_before:.1f} before and {load_after:.1f} after the run (a shared machine); "
            f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC."
        ),
        "",
        "| figure | median | p99 |",
        "|---|---|---|",
        f"| baseline: bare SQL query fetching the same candidates | {b_med:.2f} ms | {b_p99:.2f} ms |",
        f"| `app.carpool.matching.search`, a page of {trips.SEARCH_LIMIT} (ranked in SQL, then scored) | {f_med:.2f} ms | {f_p99:.2f} ms |",
        f"| ratio search / baseline | {f_med / b_med:.2f}× | {f_p99 / b_p99:.2f}× |",
        f"| comparison: the candidate query with the boxes alone (no grid cells, as before) | {x_med:.2f} ms | {x_p99:.2f} ms |",
        f"| comparison: the candidate query reading regular ads for every window (before `ix_carpool_ads_cells_regular`) | {w_med:.2f} ms | {w_p99:.2f} ms |",
        f"| candidates fetched per search | {statistics.median(fetched):.0f} | {pct(fetched, 99):.0f} |",
        f"| candidates scored in Python per page (the rest never leave the ranking) | {statistics.median(scored):.0f} | {pct(scored, 99):.0f} |",
        f"| matches returned per search (a page at most) | {statistics.median(kept):.0f} | {pct(kept, 99):.0f} |",
        "",
        f"Same matches as an exhaustive search (every active ad scored in Python): {same} of {compared} searches"
        " compared, both every match (no limit) and the first page. The prefilter reads both ends by grid cell"
        " (`ix_carpool_ads_cells`); the ranking's `LIMIT` reads the candidates in batches, best bound first, and"
        " never drops a match that belongs on the page.",
        "",
        f"Target: search p99 ≤ 50 ms — {target}.",
    ]
    write_section("PostgreSQL" if schema else "SQLite", lines)


if __name__ == "__main__":
    main()

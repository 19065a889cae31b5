"""Decision-support benchmark: every insights page with five years of data, for this territory and
for one 20 times larger (20× the communes, with populations, and 20× everything in them), against
the bare aggregate queries those pages need, in the same run.

For each size: each page's first visit (``cold``: the complete months computed and kept in
``insights_monthly``) and its median over later visits (``warm``), through the whole app (guard,
session, template, gzip); the baseline is the domains' own aggregate queries for the 24 months a
page compares (every figure of the theme) and the month's trips for the origin–destination matrix,
run bare. Target: ≤ 500 ms per page at 20×.

    .venv/bin/python -m bench.insights [--quick] [--database-url postgresql://...] [--write]

Figures come from a shared machine: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")

from app import auth, domains, months  # noqa: E402
from app.db import make_engine, read_session, utcnow, write_session  # noqa: E402
from app.insights import figures, registry  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.report import write_section  # noqa: E402
from tests.insights_seed import seed  # noqa: E402

TARGET_S = 0.5


def pages(month: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, path, the themes whose figures it reads)."""
    all_themes = tuple(slug for slug, _t, _i in figures.THEMES)
    out = [
        ("index", f"/staff/insights?month={month}", all_themes),
        ("summary", f"/staff/insights/summary?month={month}", all_themes + ("od",)),
        ("summary.pdf", f"/staff/insights/summary.pdf?month={month}", all_themes + ("od",)),
        ("od.json", f"/staff/insights/od.json?month={month}", ("od",)),
    ]
    for slug in all_themes:
        extra = ("od",) if slug == "mobility" else ()
        out.append((slug, f"/staff/insights/{slug}?month={month}", (slug,) + extra))
        out.append((f"{slug}.csv", f"/staff/insights/{slug}/figures.csv?month={month}", (slug,)))
    return out


def baseline(engine: Any, month: str, themes: tuple[str, ...], repeat: int) -> float:
    """The bare aggregate queries a page needs: each figure over 24 months, the month's trips."""
    first = months.shift(month, -23)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        with read_session(engine) as session:
            for slug in themes:
                if slug == "od":
                    for source in registry.trip_sources():
                        sum(1 for _t in source.load(session, month, month))
                    continue
                for figure in registry.figures(slug)[: figures.MAX_HEADLINES]:
                    figure.load(session, first, month)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(size: int, database_url: str | None, tmp: Path, repeat: int, years: int) -> dict[str, Any]:
    from litestar.testing import TestClient

    from app.main import create_app

    if database_url:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        schema = f"bench_insights_{uuid.uuid4().hex[:8]}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        u = make_url(database_url)
        url = u.set(query={**u.query, "options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    else:
        url = f"sqlite:///{tmp / f'insights-{size}.db'}"
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    counts = seed(engine, years=years, scale=size)
    seeded_s = time.perf_counter() - started
    from app.migrate import analyze

    analyze(url)
    settings = Settings(
        env="test",
        var_dir=tmp / f"var-{size}",
        database_url=url,
        secret_key="bench-" + "x" * 40,
        allowed_hosts=["testserver.local"],
        mqtt_url="mqtt://127.0.0.1:1",
    ).prepare()
    with write_session(engine) as session:
        user = auth.create_user(session, f"agent-{size}@eclor.test", role="staff")
        token = auth.start_session(session, user, idle_minutes=600, absolute_days=1)
    month = months.shift(months.of(utcnow()), -1)
    out: dict[str, Any] = {"size": size, "counts": counts, "seeded_s": seeded_s, "pages": {}}
    with TestClient(app=create_app(settings, engine)) as client:
        client.cookies.set(auth.SESSION_COOKIE, token)
        for name, path, themes in pages(month):
            t0 = time.perf_counter()
            answer = client.get(path)
            cold = time.perf_counter() - t0
            if answer.status_code != 200:
                raise SystemExit(f"{path} at {size}×: HTTP {answer.status_code}")
            warm = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                client.get(path)
                warm.append(time.perf_counter() - t0)
            out["pages"][name] = {
                "cold": cold,
                "warm": statistics.median(warm),
                "bare": baseline(engine, month, themes, max(1, repeat // 2)),
            }
    engine.dispose()
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| page | "
        + " | ".join(
            f"{r['size']}× cold | {r['size']}× warm | {r['size']}× bare queries | {r['size']}× warm / bare"
            for r in results
        )
        + " |",
        "|---|" + "---:|" * (4 * len(results)),
    ]
    for name in results[0]["pages"]:
        cells = []
        for r in results:
            p = r["pages"][name]
            cells += [
                f"{p['cold'] * 1000:.0f} ms",
                f"{p['warm'] * 1000:.0f} ms",
                f"{p['bare'] * 1000:.0f} ms",
                f"{p['warm'] / p['bare']:.2f}",
            ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--quick", action="store_true", help="1 year and 5× instead of 5 years and 20×"
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--write", action="store_true", help="write the figures into docs/benchmarks.md"
    )
    args = parser.parse_args()
    domains.install()
    years, big = (1, 5) if args.quick else (5, 20)
    tmp = Path(tempfile.mkdtemp(prefix="eclor-bench-insights-"))
    load_before = os.getloadavg()
    results = [run(size, args.database_url, tmp, args.repeat, years) for size in (1, big)]
    load_after = os.getloadavg()
    database = "PostgreSQL" if args.database_url else "SQLite"
    worst = max(p["warm"] for p in results[-1]["pages"].values())
    worst_cold = max(p["cold"] for p in results[-1]["pages"].values())
    text = "\n".join(
        [
            "## Decision support (bench/insights.py)",
            "",
            f"`.venv/bin/python -m bench.insights{' --quick' if args.quick else ''}` on {database}: {years} years of data, "
            f"this territory (1×) and one {big}× larger. Rows at {big}×: "
            + ", ".join(f"{k} {v:,}" for k, v in results[-1]["counts"].items())
            + ". Cold: the page's first visit (complete months computed and kept in `insights_monthly`); "
            "warm: the median of later visits; bare queries: the domains' own aggregates for the 24 months "
            "the page compares and the month's trips, run directly, in the same run.",
            "",
            table(results),
            "",
            f"Slowest page at {big}×: {worst * 1000:.0f} ms warm, {worst_cold * 1000:.0f} ms cold "
            f"(target ≤ {TARGET_S * 1000:.0f} ms). Load average before/after: "
            f"{load_before[0]:.2f}/{load_after[0]:.2f} (1 min), {load_before[1]:.2f}/{load_after[1]:.2f} (5 min).",
        ]
    )
    print(text)
    if args.write:
        write_section("## Decision support (bench/insights.py)", text)


if __name__ == "__main__":
    main()

"""Push fan-out through the database: 50,000 subscription rows, the real ``push.alert`` job.

Run from the repository root::

    .venv/bin/python bench/push_fanout_db.py                  # SQLite, 50,000 subscriptions
    .venv/bin/python bench/push_fanout_db.py --pg             # PostgreSQL (scratch schema, dropped after)
    .venv/bin/python bench/push_fanout_db.py --count 5000 --no-write

Unlike ``bench/push_fanout.py`` (the sender alone), this goes the way an alert
really goes: ``app.alerts.publish.publish`` writes the alert and its job, the worker
(``workers.runner``, in this process) claims the job, plans one
``push_deliveries`` row per matching subscription, marks each batch
``sending`` before the POSTs and records the answers after, against the local
push service (``tests/pushreceiver.py``, its own process, VAPID checked and
every body decrypted). Baseline measured in the same run: encrypting the same
N messages without sending (``app.push.encrypt_payload``). It checks that
every subscription got exactly one message and every row ended ``delivered``,
prints the figures and rewrites the "Push fan-out through the database"
section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")

from sqlalchemy import create_engine, func, insert, select, text

from app import push
from app.alerts import publish as alerts
from app.alerts import topics
from app.db import make_engine, write_session
from app.migrate import upgrade
from app.models.jobs import Job
from app.models.push import PushDelivery, PushSubscription
from app.settings import Settings
from tests.pushreceiver import PushReceiver
from workers import runner

HEADING = "## Push fan-out through the database"
SUBJECT = "mailto:exploitation@eclor.fr"


def rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


class Sampler:
    def __init__(self, period: float = 0.5) -> None:
        self.period = period
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - start, rss_mib()))
            self._stop.wait(self.period)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def database(pg: bool, tmp: Path) -> tuple[str, Any]:
    if not pg:
        return f"sqlite:///{tmp / 'bench.db'}", None
    base = os.environ.get("ECLOR_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    n = args.count
    private, public = push.generate_vapid_keys()

    with tempfile.TemporaryDirectory() as tmpdir, PushReceiver(mode="summary") as receiver:
        tmp = Path(tmpdir)
        url, drop = database(args.pg, tmp)
        try:
            upgrade(url)
            settings = Settings(
                env="test",
                var_dir=tmp / "var",
                database_url=url,
                secret_key="b" * 40,
                vapid_private_key=private,
                vapid_subject=SUBJECT,
                worker_poll_seconds=0.05,
            ).prepare()
            engine = make_engine(url)
            t0 = time.perf_counter()
            names = [f"s{i:06d}" for i in range(n)]
            subscriptions: list[dict[str, Any]] = []
            for start in range(0, n, 5000):
                subscriptions += receiver.make_subscription_jsons(
                    names[start : start + 5000], public
                )
            with write_session(engine) as session:
                from app import auth

                user_id = auth.create_user(session, "bench@eclor.test").id
            rows = [
                {
                    "user_id": user_id,
                    "endpoint": s["endpoint"],
                    "p256dh": s["keys"]["p256dh"],
                    "auth": s["keys"]["auth"],
                    "topics": ",traffic,weather,",
                    "communes": ",",
                    "device": "bench",
                    "created_at": alerts.utcnow(),
                    "updated_at": alerts.utcnow(),
                }
                for s in subscriptions
            ]
            with write_session(engine) as session:
                for start in range(0, n, 5000):
                    session.execute(insert(PushSubscription), rows[start : start + 5000])
            setup_s = time.perf_counter() - t0

            # Baseline, same run: encryption only, the same N messages.
            infos = [
                push.PushSubscriptionInfo.from_json(s, allow_insecure_loopback=True)
                for s in subscriptions
            ]
            del rows, subscriptions
            with write_session(engine) as session:
                body = (
                    "Bouchon de 3 km vers Esch-sur-Alzette depuis 6 h 40 : passez par "
                    "Russange ou Rédange."
                )
                data = alerts.clean_input(
                    session,
                    title="Frontière saturée à Audun-le-Tiche",
                    body=body,
                    topic="traffic",
                    communes=[],
                    urgency="high",
                    ttl_s=3600,
                    link="/carpool",
                )
                alert = alerts.publish(session, data, source="cli", sender="eclor@bench")
                alert_id = alert.id
                payload = push.encode_payload(alerts.alert_payload(alert))
            t = time.perf_counter()
            for info in infos:
                push.encrypt_payload(info, payload)
            encrypt_s = time.perf_counter() - t
            del infos

            rss_before = rss_mib()
            load_before = os.getloadavg()[0]
            cpu0, t = cpu_s(), time.perf_counter()
            receiver_cpu0 = receiver.cpu_seconds()
            with Sampler() as sampler:
                asyncio.run(
                    runner.run(settings, engine, once=True, services=False, install_signals=False)
                )
            fanout_s = time.perf_counter() - t
            sender_cpu = cpu_s() - cpu0
            load_after = os.getloadavg()[0]
            receiver_cpu = receiver.cpu_seconds() - receiver_cpu0

            stats = receiver.stats()
            with write_session(engine) as session:
                states = dict(
                    session.execute(
                        select(PushDelivery.status, func.count())
                        .where(PushDelivery.alert_id == alert_id)
                        .group_by(PushDelivery.status)
                    ).all()
                )
                job = session.scalars(
                    select(Job).where(Job.dedupe_key == f"push.alert:{alert_id}")
                ).one()
            engine.dispose()
        finally:
            if drop:
                drop()

    ok = (
        stats["distinct_subscriptions"] == n
        and stats["max_per_subscription"] == 1
        and stats["errors"] == 0
        and stats["verified"] == n
        and states == {"delivered": n}
        and job.status == "done"
        and len(stats["payload_digests"]) == 1
    )
    rate = n / fanout_s
    enc_rate = n / encrypt_s
    rss = [r for _, r in sampler.samples]
    over_time = ", ".join(
        f"{s:.0f} s: {r:.0f}" for s, r in sampler.samples[:: max(1, len(sampler.samples) // 10)]
    )
    db = "PostgreSQL" if args.pg else "SQLite (WAL)"
    figures = [
        ("database", db),
        (
            "setup (receiver keys, 50,000 rows inserted)" if n == 50_000 else "setup",
            f"{setup_s:.1f} s",
        ),
        (f"publish → job done, {n:,} messages", f"{fanout_s:.1f} s, {rate:,.0f} msg/s"),
        ("delivery rows", ", ".join(f"{k} {v:,}" for k, v in sorted(states.items()))),
        ("receiver: verified and decrypted, errors", f"{stats['verified']:,}, {stats['errors']}"),
        ("each subscription exactly once, payload intact", "yes" if ok else "NO"),
        (
            "CPU during the fan-out: worker process / receiver",
            f"{sender_cpu:.1f} s ({sender_cpu / n * 1e6:.0f} µs/msg) / {receiver_cpu:.1f} s",
        ),
        (
            "load average (1 min) before / after (other work on the machine)",
            f"{load_before:.2f} / {load_after:.2f}",
        ),
        (
            "batch (rows marked sending per transaction) / messages in flight",
            f"{topics.FANOUT_BATCH} / {topics.FANOUT_CONCURRENCY}",
        ),
        (
            "baseline: encryption only (`encrypt_payload`), same messages",
            f"{encrypt_s:.1f} s, {enc_rate:,.0f} msg/s",
        ),
        ("ratio fan-out rate / encryption-only rate", f"{rate / enc_rate:.2f}"),
        (
            "worker RSS before / during (min–max)",
            f"{rss_before:.0f} / {min(rss):.0f}–{max(rss):.0f} MiB",
        ),
        ("worker RSS over time (MiB)", over_time),
    ]
    width = max(len(k) for k, _ in figures)
    for key, value in figures:
        print(f"{key:<{width}}  {value}")
    if not ok:
        print("FAILED: not every subscription got exactly one verified message", file=sys.stderr)
        raise SystemExit(1)
    if not args.no_write:
        write_docs(figures, n, db)


def write_docs(figures: list[tuple[str, str]], n: int, db: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text_ = path.read_text() if path.exists() else "# Benchmarks\n"
    cmd = "bench/push_fanout_db.py" + (" --pg" if db == "PostgreSQL" else "")
    section = [
        HEADING + (" (PostgreSQL)" if db == "PostgreSQL" else ""),
        "",
        f"`.venv/bin/python {cmd}` — one alert to {n:,} subscription rows through the",
        "real path: `app.alerts.publish.publish` → `push.alert` job → worker (plan the delivery rows, mark a batch",
        "`sending`, send, record the answers) → local push service (`tests/pushreceiver.py`, VAPID checked,",
        "every body decrypted).",
        (
            f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; "
            f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
        ),
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in figures],
        "",
    ]
    heading = section[0]
    lines = text_.rstrip("\n").split("\n")
    if heading in lines:
        start = lines.index(heading)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines[start:end] = section
    else:
        anchor = next((i for i, line in enumerate(lines) if line == "## Photos"), len(lines))
        lines[anchor:anchor] = section
    path.write_text("\n".join(lines).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()

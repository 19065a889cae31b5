"""The surge after an alert: 500 anonymous visitors and 200 bookings at once.

Runs ``eclor serve`` on its defaults (one process) against SQLite and, when
``--pg`` gives a PostgreSQL server, against PostgreSQL, with the demo data,
then in the same run:

- baseline: the alert page opened by one client at a time (its latency and
  throughput alone);
- surge: 500 anonymous clients open the page the newest alert points to,
  all arriving within ``--spread`` seconds, each waiting at most 10 s;
- bookings: 200 signed-in residents each open a carpool ad and book a seat,
  all at once;
- after: how long the reports page takes right after the surge.

A prober, in a process of its own as a load balancer's check would be, asks ``/healthz`` every
250 ms throughout; its p50/p99 are printed for the whole run and for each surge. The run passes
when every request is answered 2xx (or 3xx) or 503 with ``Retry-After`` within 10 s, with no 500,
and ``/healthz`` always answered within 1 s.

Figures come from a shared 2-core machine: the load generator and the server
share it, so read ratios rather than absolute numbers.

Run: .venv/bin/python bench/surge.py [--root DIR] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
``--root`` runs the server from another checkout (to measure an older commit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.served import PY, free_port, server_env, serving  # noqa: E402

DEADLINE_S = 10.0
HEALTH_BOUND_S = 1.0

SETUP = r"""
import json, sys
from datetime import timedelta
sys.path.insert(0, sys.argv[1])
from sqlmodel import select
from app import auth
from app.db import make_engine, write_session, utcnow
from app.settings import get_settings
from app.models.carpool import CarpoolAd
from app.models.push import Alert
try:  # domain packages (app/alerts/) or the older flat layout, so an older checkout can be measured
    from app.alerts import publish as alerts
except ImportError:
    import app.alerts as alerts

n_users, n_ads = int(sys.argv[2]), int(sys.argv[3])
settings = get_settings()
engine = make_engine(settings.resolved_database_url)
out = {"tokens": [], "ads": []}
with write_session(engine) as s:
    data = alerts.clean_input(s, title="Fermeture de la route de Longwy", body="Déviation par Crusnes.",
                              topic="traffic", communes=[], urgency="high", link="", ttl_s=3600)
    alert = alerts.publish(s, data, source="cli", sender="bench@eclor")
    out["alert"] = f"/alerts/{alert.id}"
    owner = auth.create_user(s, "conducteur-bench@eclor.test", role="resident", display_name="Conducteur")
    template = s.scalars(select(CarpoolAd).where(CarpoolAd.role == "driver", CarpoolAd.status == "active")).first()
    for i in range(n_ads):
        ad = CarpoolAd(**{k: v for k, v in template.model_dump().items() if k not in ("id", "pair_id")})
        ad.user_id = owner.id
        ad.frequency = "punctual"
        ad.departure_at = utcnow() + timedelta(days=2)
        ad.seats = ad.seats_left = 8
        ad.status = "active"
        s.add(ad)
        s.flush()
        out["ads"].append(ad.id)
    hashed = None
    for i in range(n_users):
        user = auth.create_user(s, f"passager{i}-bench@eclor.test", role="resident", display_name=f"P{i}")
        out["tokens"].append(auth.start_session(s, user, idle_minutes=600, absolute_days=1))
print(json.dumps(out))
"""


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0

    def add(self, label: str, latency: float | None) -> None:
        self.statuses[label] = self.statuses.get(label, 0) + 1
        if latency is not None:
            self.latencies.append(latency)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for k, n in self.statuses.items() if k in ("2xx", "3xx", "503+Retry-After"))

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000

    @property
    def throughput(self) -> float:
        span = max(self.ended - self.started, 1e-6)
        return len(self.latencies) / span  # requests answered (any status) per second


def label_of(status: int, headers: "aiohttp.typedefs.LooseHeaders") -> str:
    if status == 503:
        return "503+Retry-After" if "Retry-After" in headers else "503 without Retry-After"  # type: ignore[operator]
    if status >= 500:
        return f"{status}"
    return f"{status // 100}xx"


async def timed(
    session: aiohttp.ClientSession, method: str, url: str, out: Outcome, **kw: object
) -> int | None:
    t0 = time.monotonic()
    try:
        async with session.request(
            method,
            url,
            timeout=aiohttp.ClientTimeout(total=DEADLINE_S),
            allow_redirects=False,
            **kw,
        ) as r:  # type: ignore[arg-type]
            await r.read()
            out.add(label_of(r.status, r.headers), time.monotonic() - t0)
            return r.status
    except TimeoutError:
        out.add("timeout (> 10 s)", None)
    except aiohttp.ClientError as exc:
        out.add(f"connection error ({type(exc).__name__})", None)
    return None


async def probe_loop(
    base: str, stop: asyncio.Event, samples: list[tuple[float, float | None]]
) -> None:
    """``/healthz`` every 250 ms, each on a new connection: (when it was sent, seconds or None)."""
    conn = aiohttp.TCPConnector(limit=1, force_close=True)
    async with aiohttp.ClientSession(connector=conn) as session:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                async with session.get(
                    base + "/healthz", timeout=aiohttp.ClientTimeout(total=5)
                ) as r:
                    await r.read()
                    samples.append((t0, time.monotonic() - t0 if r.status == 200 else None))
            except (TimeoutError, aiohttp.ClientError):
                samples.append((t0, None))
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.25)
            except TimeoutError:
                pass


def probe_process(base: str, out: Path) -> None:
    """The prober in a process of its own (``--probe``), as a load balancer's health check is: the
    load generator's event loop, busy with hundreds of clients, must not delay or time it.
    Stops on SIGTERM and writes its samples to ``out`` (JSON)."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        samples: list[tuple[float, float | None]] = []
        await probe_loop(base, stop, samples)
        out.write_text(json.dumps(samples))

    asyncio.run(main())


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    """How late the load generator's own event loop wakes a 50 ms sleep (its lag, in seconds)."""
    while not stop.is_set():
        t0 = time.monotonic()
        await asyncio.sleep(0.05)
        lags.append(time.monotonic() - t0 - 0.05)


async def baseline(base: str, path: str, n: int = 30) -> Outcome:
    out = Outcome()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        out.started = time.monotonic()
        for _ in range(n):
            await timed(session, "GET", base + path, out)
        out.ended = time.monotonic()
    return out


async def anonymous_surge(base: str, path: str, clients: int, spread: float) -> Outcome:
    out = Outcome()
    conn = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(
        connector=conn, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        out.started = time.monotonic()

        async def one(i: int) -> None:
            await asyncio.sleep(spread * i / clients)
            await timed(session, "GET", base + path, out)

        await asyncio.gather(*(one(i) for i in range(clients)))
        out.ended = time.monotonic()
    return out


async def booking_surge(base: str, tokens: list[str], ads: list[int]) -> Outcome:
    out = Outcome()
    out.started = time.monotonic()

    async def one(i: int, token: str) -> None:
        ad = ads[i % len(ads)]
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies({"eclor_session": token}, response_url=aiohttp.client.URL(base))
        async with aiohttp.ClientSession(
            cookie_jar=jar, connector=aiohttp.TCPConnector(force_close=True)
        ) as s:
            status = await timed(s, "GET", f"{base}/carpool/ads/{ad}", out)
            if status != 200:
                return
            csrf = next((c.value for c in jar if c.key == "csrftoken"), "")
            await timed(
                s,
                "POST",
                f"{base}/carpool/ads/{ad}/book",
                out,
                data={"seats": "1", "_csrf_token": csrf},
            )

    await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
    out.ended = time.monotonic()
    return out


async def recovery(base: str) -> float:
    t0 = time.monotonic()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        while time.monotonic() - t0 < 120:
            try:
                async with session.get(
                    base + "/reports", timeout=aiohttp.ClientTimeout(total=30)
                ) as r:
                    await r.read()
                    if r.status == 200:
                        return time.monotonic() - t0
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(0.1)
    return float("inf")


async def scenario(
    base: str, info: dict[str, object], clients: int, bookings: int, spread: float
) -> dict[str, object]:
    alert_path = str(info["alert"])
    base_out = await baseline(base, alert_path)
    stop = asyncio.Event()
    lags: list[float] = []
    lagger = asyncio.create_task(loop_lag(stop, lags))
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        probe_file = Path(tmp.name)
    prober = subprocess.Popen(  # noqa: ASYNC220  (returns at once)
        [PY, str(Path(__file__).resolve()), "--probe", base, "--probe-out", str(probe_file)]
    )
    await asyncio.sleep(1.5)  # the prober's interpreter starts
    surge = await anonymous_surge(base, alert_path, clients, spread)
    await asyncio.sleep(1)
    books = await booking_surge(base, list(info["tokens"])[:bookings], list(info["ads"]))  # type: ignore[call-overload]
    await asyncio.sleep(1)
    stop.set()
    await lagger
    prober.terminate()
    await asyncio.to_thread(prober.wait, 30)
    samples = [tuple(x) for x in json.loads(probe_file.read_text() or "[]")]
    probe_file.unlink()
    after = await recovery(base)
    return {
        "baseline": base_out,
        "surge": surge,
        "bookings": books,
        "health": samples,
        "lags": lags,
        "recovery_s": after,
    }


def _probe_line(label: str, samples: list[tuple[float, float | None]]) -> str:
    answered = sorted(h for _t, h in samples if h is not None)
    failed = sum(1 for _t, h in samples if h is None)
    slow = sum(1 for h in answered if h > HEALTH_BOUND_S)

    def pct(p: float) -> float:
        if not answered:
            return float("nan")
        return answered[min(len(answered) - 1, int(round(p / 100 * (len(answered) - 1))))] * 1000

    return (
        f"/healthz probes {label}: {len(samples)}, failed or timed out: {failed}, over 1 s: {slow}, "
        f"p50 {pct(50):.0f} ms, p99 {pct(99):.0f} ms, slowest {pct(100):.0f} ms"
    )


def report(name: str, r: dict[str, object]) -> tuple[list[str], bool]:
    lines = [
        f"### {name}",
        "",
        "| phase | requests | answered OK (2xx/3xx/503+Retry-After) | other outcomes | p50 ms | p99 ms | answers/s |",
        "|---|---|---|---|---|---|---|",
    ]
    ok = True
    for key, label in (
        ("baseline", "alert page, one client at a time (baseline)"),
        ("surge", "alert page, anonymous surge"),
        ("bookings", "bookings (GET ad + POST book)"),
    ):
        o: Outcome = r[key]  # type: ignore[assignment]
        others = (
            ", ".join(
                f"{k}: {v}"
                for k, v in sorted(o.statuses.items())
                if k not in ("2xx", "3xx", "503+Retry-After")
            )
            or "none"
        )
        answered = ", ".join(
            f"{k}: {v}"
            for k, v in sorted(o.statuses.items())
            if k in ("2xx", "3xx", "503+Retry-After")
        )
        lines.append(
            f"| {label} | {o.total} | {answered} | {others} | {o.pct(50):.0f} | {o.pct(99):.0f} "
            f"| {o.throughput:.1f} |"
        )
        if o.ok != o.total:
            ok = False
    health: list[tuple[float, float | None]] = r["health"]  # type: ignore[assignment]
    failed = sum(1 for _t, h in health if h is None)
    slow = sum(1 for _t, h in health if h is not None and h > HEALTH_BOUND_S)
    ok = ok and failed == 0 and slow == 0
    base_o: Outcome = r["baseline"]  # type: ignore[assignment]
    surge_o: Outcome = r["surge"]  # type: ignore[assignment]
    books_o: Outcome = r["bookings"]  # type: ignore[assignment]
    lags: list[float] = r["lags"]  # type: ignore[assignment]
    lines += [
        "",
        _probe_line("throughout", health),
        _probe_line(
            "during the anonymous surge",
            [(t, h) for t, h in health if surge_o.started <= t <= surge_o.ended],
        ),
        _probe_line(
            "during the bookings",
            [(t, h) for t, h in health if books_o.started <= t <= books_o.ended],
        ),
        f"(the prober runs in a process of its own; the load generator's loop woke up to "
        f"{max(lags, default=0.0) * 1000:.0f} ms late)",
        f"ratio surge p50 / baseline p50: {surge_o.pct(50) / max(base_o.pct(50), 1e-9):.1f}; "
        f"surge answers/s / baseline answers/s: {surge_o.throughput / max(base_o.throughput, 1e-9):.2f}",
        f"/reports answered {r['recovery_s']:.2f} s after the surge ended",
        f"verdict: {'PASS' if ok else 'FAIL'}",
        "",
    ]
    return lines, ok


def run_one(
    db_label: str, db_url: str | None, server_root: Path, args: argparse.Namespace
) -> tuple[list[str], bool]:
    with tempfile.TemporaryDirectory() as tmp:
        port = args.port or free_port()
        env = server_env(tmp, db_url, port, mqtt_port=free_port())
        env["PYTHONPATH"] = str(server_root)
        subprocess.run(
            [PY, "-m", "app.cli", "demo"], cwd=server_root, env=env, check=True, capture_output=True
        )
        made = subprocess.run(
            [
                PY,
                "-c",
                SETUP,
                str(server_root),
                str(args.bookings),
                str(max(1, args.bookings // 8)),
            ],
            cwd=server_root,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        info = json.loads(made.stdout.strip().splitlines()[-1])
        with serving(server_root, env, port) as served:
            result = asyncio.run(
                scenario(served.base, info, args.clients, args.bookings, args.spread)
            )
        lines, ok = report(f"{args.label}: eclor serve (defaults), {db_label}", result)
        lines.insert(-2, f"server tracebacks in its log: {served.tracebacks}")
        return lines, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose server is measured")
    parser.add_argument("--label", default="this commit")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument(
        "--spread", type=float, default=1.0, help="seconds over which the anonymous clients arrive"
    )
    parser.add_argument(
        "--pg", default="", help="PostgreSQL admin URL; a scratch database is made and dropped"
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--probe-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe_process(args.probe, args.probe_out)
        return 0
    random.seed(1)
    out: list[str] = []
    all_ok = True
    if args.only != "postgresql":
        lines, ok = run_one("SQLite", None, args.root.resolve(), args)
        out += lines
        all_ok &= ok
        print("\n".join(lines), flush=True)
    if args.pg and args.only != "sqlite":
        import psycopg

        name = f"eclor_surge_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = args.pg.rsplit("/", 1)[0] + "/" + name
        try:
            lines, ok = run_one("PostgreSQL", url, args.root.resolve(), args)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        out += lines
        all_ok &= ok
        print("\n".join(lines), flush=True)
    print("PASS" if all_ok else "FAIL")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

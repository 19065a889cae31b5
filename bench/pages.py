"""Home page throughput and latency: Eclor's real page against a bare handler.

Both run under uvicorn with 2 worker processes on this machine and are loaded
with wrk (keep-alive, 32 connections) in the same run, in turns over several rounds
(the ratio is the median of the rounds' ratios):
- baseline: bench/bare_home.py, the same template with the same data, no
  middleware, no per-request database work;
- real: app.asgi:app (security headers, locale, sessions, CSRF cookie, gzip,
  database queries for the panels and communes).
Also measures the home page weight (HTML + CSS + JS, gzip) against the 50 KB
budget, and the CPU time per request of each case in one process (no sockets), which the
load of a shared machine moves far less. Run: .venv/bin/python bench/pages.py [--seconds 10]
[--rounds 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable


_next_port = int(os.environ.get("ECLOR_BENCH_PORT", "0"))  # else ports the system picks


def free_port() -> int:
    global _next_port
    if _next_port:
        _next_port += 1
        return _next_port - 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def serve(target: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "uvicorn",
            target,
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
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_up(url)
    except RuntimeError:
        proc.terminate()  # a server that did not come up is not left running
        proc.wait(timeout=20)
        raise
    return proc, url


def wrk(url: str, seconds: int, headers: list[str]) -> dict[str, float]:
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)  # type: ignore[union-attr]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def page_weight(url: str) -> dict[str, int]:
    def fetch(u: str) -> tuple[bytes, bytes]:
        req = urllib.request.Request(u, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            return raw, (
                gzip.decompress(raw) if r.headers.get("Content-Encoding") == "gzip" else raw
            )

    wire, html = fetch(url)
    sizes = {"html": len(wire)}
    base = url.rstrip("/")
    for asset in re.findall(rb'(?:href|src)="(/static/[^"]+\.(?:css|js)[^"]*)"', html):
        raw, plain = fetch(base + asset.decode())
        # Static files are served compressed when large enough; count what goes over the wire.
        sizes[asset.decode().split("?")[0]] = (
            len(raw) if len(raw) < len(plain) else len(gzip.compress(plain))
        )
    return sizes


def in_process(rounds: int, requests: int) -> dict[str, float]:
    """CPU time per request of each case, in this process, without server or client.

    Run in a child with the demo database in its environment: the bare app and Eclor's are
    called as ASGI apps in turns, ``requests`` requests per case and round; the figure is the
    thread CPU time per request (median of the rounds), which the machine's load moves far less
    than the throughput over sockets.
    """
    import asyncio

    from app.asgi import app as real
    from bench.bare_home import app as bare

    async def one(app: Any, headers: list[tuple[bytes, bytes]]) -> list[Any]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "root_path": "",
            "headers": list(headers),
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        out: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            out.append(message)

        await app(scope, receive, send)
        return out

    async def run() -> dict[str, float]:
        first = [(b"host", b"127.0.0.1"), (b"accept-encoding", b"gzip"), (b"user-agent", b"wrk")]
        start = (await one(real, first))[0]
        cookie = next(v for k, v in start["headers"] if k == b"set-cookie").split(b";")[0]
        cases = {
            "bare": (bare, first),
            "real": (real, first),
            "real-returning": (real, [*first, (b"cookie", cookie)]),
        }
        for app, headers in cases.values():
            for _ in range(200):
                answer = await one(app, headers)
            assert answer[0]["status"] == 200, answer[0]
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _round in range(rounds):
            for name, (app, headers) in cases.items():
                began = time.thread_time()
                for _ in range(requests):
                    await one(app, headers)
                times[name].append((time.thread_time() - began) / requests * 1000)
        return {name: statistics.median(values) for name, values in times.items()}

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three runs, in turns")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(in_process(rounds=15, requests=300)))
        return 0
    if not shutil.which("wrk"):
        print("bench/pages.py needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            ECLOR_VAR_DIR=tmp,
            ECLOR_DATABASE_URL=f"sqlite:///{tmp}/eclor.db",
            LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD="0",
        )
        subprocess.run(
            [PY, "-m", "app.cli", "demo"], cwd=ROOT, env=env, check=True, capture_output=True
        )

        cpu = json.loads(
            subprocess.run(
                [PY, str(Path(__file__).resolve()), "--in-process"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )

        # Both servers are up together and measured in turns (bare, first visit, returning
        # visitor) over several rounds: on a shared machine the load moves from one minute to the
        # next, and each round's ratio compares runs made under the same load.
        procs: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
        runs: dict[str, list[dict[str, float]]] = {"bare": [], "real": [], "real-returning": []}
        try:
            for name, target in (("bare", "bench.bare_home:app"), ("real", "app.asgi:app")):
                procs[name] = serve(target, env)
            bare_url, url = procs["bare"][1], procs["real"][1]
            weight = page_weight(url)
            # A returning visitor sends back the CSRF cookie it was given.
            with urllib.request.urlopen(url) as r:
                cookie = r.headers["set-cookie"].split(";")[0]
            cases = {
                "bare": (bare_url, ["Accept-Encoding: gzip"]),
                "real": (url, ["Accept-Encoding: gzip"]),
                "real-returning": (url, ["Accept-Encoding: gzip", f"Cookie: {cookie}"]),
            }
            for case_url, _headers in cases.values():
                wrk(case_url, 2, [])  # warm-up
            for _round in range(args.rounds):
                for name, (case_url, headers) in cases.items():
                    runs[name].append(wrk(case_url, args.seconds, headers))
        finally:
            for proc, _url in procs.values():
                proc.terminate()
                proc.wait(timeout=20)

    def median_run(name: str) -> dict[str, float]:
        return {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}

    results = {name: median_run(name) for name in runs}
    ratios = [r["rps"] / b["rps"] for r, b in zip(runs["real"], runs["bare"], strict=True)]
    ratios_returning = [
        r["rps"] / b["rps"] for r, b in zip(runs["real-returning"], runs["bare"], strict=True)
    ]
    real = results["real"]
    ratio = statistics.median(ratios)
    ratio_returning = statistics.median(ratios_returning)
    total_kb = sum(weight.values()) / 1024
    print(
        f"Home page, uvicorn 2 workers, wrk -t2 -c32, {args.seconds} s per run, {args.rounds} rounds "
        f"(medians); load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    labels = {
        "bare": "bare",
        "real": "real, first visit (no cookie)",
        "real-returning": "real, returning visitor",
    }
    print(f"{'':32} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name in ("bare", "real", "real-returning"):
        r = results[name]
        print(
            f"{labels[name]:32} {r['rps']:>10.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['errors']:>8.0f}"
        )
    print(
        f"ratio real/bare throughput (median of the rounds): first visit {ratio:.2f}, returning "
        f"visitor {ratio_returning:.2f} (target >= 0.60)"
    )
    print(
        "  each round: first visit "
        + ", ".join(f"{x:.2f}" for x in ratios)
        + "; returning "
        + ", ".join(f"{x:.2f}" for x in ratios_returning)
    )
    print(
        f"in process, CPU per request (median of 15 rounds of 300): bare {cpu['bare']:.3f} ms, "
        f"first visit {cpu['real']:.3f} ms, returning {cpu['real-returning']:.3f} ms; ratio "
        f"{cpu['bare'] / cpu['real']:.2f} / {cpu['bare'] / cpu['real-returning']:.2f}"
    )
    print(
        "page weight (gzip): "
        + ", ".join(f"{k} {v / 1024:.1f} KB" for k, v in weight.items())
        + f"; total {total_kb:.1f} KB (target <= 50 KB)"
    )
    ok = min(ratio, ratio_returning) >= 0.60 and total_kb <= 50 and real["errors"] == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

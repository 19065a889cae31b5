"""Home page throughput and latency: Eclor's real page against a bare handler.

Both run under uvicorn with 2 worker processes on this machine and are loaded
with wrk (keep-alive, 32 connections) in the same run:
- baseline: bench/bare_home.py, the same template with the same data, no
  middleware, no per-request database work;
- real: app.asgi:app (security headers, locale, sessions, CSRF cookie, gzip,
  database queries for the panels and communes).
Also measures the home page weight (HTML + CSS + JS, gzip) against the 50 KB
budget. Run: .venv/bin/python bench/pages.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 30) -> None:
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
    wait_up(url)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench/pages.py needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
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

        results = {}
        for name, target in (("bare", "bench.bare_home:app"), ("real", "app.asgi:app")):
            proc, url = serve(target, env)
            try:
                wrk(url, 2, [])  # warm-up
                results[name] = wrk(url, args.seconds, ["Accept-Encoding: gzip"])
                if name == "real":
                    weight = page_weight(url)
                    # A returning visitor sends back the CSRF cookie it was given.
                    with urllib.request.urlopen(url) as r:
                        cookie = r.headers["set-cookie"].split(";")[0]
                    results["real-returning"] = wrk(
                        url, args.seconds, ["Accept-Encoding: gzip", f"Cookie: {cookie}"]
                    )
            finally:
                proc.terminate()
                proc.wait(timeout=20)

    bare, real = results["bare"], results["real"]
    ratio = real["rps"] / bare["rps"]
    ratio_returning = results["real-returning"]["rps"] / bare["rps"]
    total_kb = sum(weight.values()) / 1024
    print("Home page, uvicorn 2 workers, wrk -t2 -c32, %d s" % args.seconds)
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
        f"ratio real/bare throughput: first visit {ratio:.2f}, returning visitor {ratio_returning:.2f} (target >= 0.60)"
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

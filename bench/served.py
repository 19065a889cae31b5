"""Running ``eclor serve`` for a benchmark: its environment, waiting for it, stopping it.

Shared by the benchmarks that measure the server as a newcomer runs it (one process,
its defaults) from the outside, over HTTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, timeout: float = 300) -> None:
    """Wait for ``url`` to answer 200 (a loaded machine starts slowly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def percentile_ms(values: list[float], p: float) -> float:
    """The ``p``-th percentile of latencies in seconds, in milliseconds (nearest rank)."""
    if not values:
        return float("nan")
    data = sorted(values)
    return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000


def server_env(tmp: str, db_url: str | None, port: int, mqtt_port: int) -> dict[str, str]:
    """The environment of a server whose files live in ``tmp`` (SQLite there unless ``db_url``)."""
    return dict(
        os.environ,
        ECLOR_VAR_DIR=tmp,
        ECLOR_MQTT_EMBEDDED_PORT=str(mqtt_port),
        LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD="0",
        ECLOR_BASE_URL=f"http://127.0.0.1:{port}",
        ECLOR_DATABASE_URL=db_url or f"sqlite:///{tmp}/eclor.db",
    )


class Served:
    """A running server: its address, and once stopped, the tracebacks its log holds."""

    def __init__(self, base: str, pid: int = 0) -> None:
        self.base = base
        self.pid = pid
        self.stderr = ""

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server and its web processes have used so far."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid = int(stat.parent.name)
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, ValueError):
                continue  # a process that ended meanwhile
            if pid == self.pid or int(fields[1]) == self.pid:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    @property
    def tracebacks(self) -> int:
        return sum(1 for line in self.stderr.splitlines() if "Traceback" in line)


@contextmanager
def serving(root: Path, env: dict[str, str], port: int, workers: int = 1) -> Iterator[Served]:
    """``eclor serve`` on ``port`` from the checkout ``root`` (``workers`` web processes), up
    (``/healthz``) until the block ends."""
    proc = subprocess.Popen(
        [PY, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    served = Served(f"http://127.0.0.1:{port}", proc.pid)
    try:
        wait_up(served.base + "/healthz")
        yield served
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        served.stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""

"""Runs a real worker process for the queue tests: python -m tests.worker_harness URL ID [options]."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")

import tests.job_kinds  # noqa: E402,F401
from app import logs  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.settings import Settings  # noqa: E402
from workers import runner  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("worker_id")
    parser.add_argument("--var", required=True)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--lease", type=int, default=60)
    parser.add_argument("--go-file", default="")
    args = parser.parse_args()
    settings = Settings(
        env="test",
        database_url=args.url,
        var_dir=Path(args.var),
        secret_key="k" * 40,
        worker_lease_seconds=args.lease,
        worker_poll_seconds=0.05,
    ).prepare()
    logs.setup()
    engine = make_engine(args.url)
    if args.go_file:
        runner.load_handlers()  # heavy imports before the start line, so both racers start even
        Path(args.go_file + "." + args.worker_id).touch()  # ready
        while not Path(args.go_file).exists():
            time.sleep(0.01)
    asyncio.run(
        runner.run(settings, engine, once=args.once, worker_id=args.worker_id, services=False)
    )


if __name__ == "__main__":
    main()

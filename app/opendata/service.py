"""The worker service that regenerates every open data snapshot every ``opendata_snapshot_minutes``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from app.opendata import snapshots

log = logging.getLogger("eclor.opendata")


async def snapshot_service(rt: Any) -> None:
    settings = rt.settings
    period = max(60, settings.opendata_snapshot_minutes * 60)
    while not rt.stop.is_set():
        try:
            written = await asyncio.to_thread(
                snapshots.generate, rt.engine, settings.var_dir, settings.base_url
            )
            log.info(
                "open data snapshots",
                extra={"datasets": len(written), "rows": sum(w.rows for w in written)},
            )
        except Exception:
            log.exception("open data snapshots failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rt.stop.wait(), timeout=period)

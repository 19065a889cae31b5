"""KPI values kept until what they count changes, so the KPI tiles cost a few indexed reads.

A KPI that declares ``fresh`` (``app.ops.contracts.Freshness``) is computed once per version: the
newest outbox event of each layer it follows, its stamp (cheap aggregates that also catch writers
without an event), and, with ``fresh.expires``, the moment time alone changes it (rows leaving a
window). The version is read before the values, so values kept under a version are at least that
new. One cache per app and process, like the layers' (``app.ops.layercache``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models.events import Event
from app.ops.contracts import Kpi


@dataclass(frozen=True)
class _Kept:
    version: tuple[Any, ...]
    expires: dt.datetime | None
    values: dict[str, Any]


class KpiCache:
    def __init__(self) -> None:
        self._kept: dict[str, _Kept] = {}
        self.computed = 0  # how many times a kept KPI was computed (tests read it)

    def values(self, kpis: list[Kpi], session: Session, now: dt.datetime) -> dict[str, Any]:
        """Every KPI's values keyed by INSEE code, by KPI name."""
        newest: dict[str, int] = {}  # each layer's newest event, read once per request
        stamps: dict[Any, Any] = {}  # each stamp function's value, read once per request

        def latest(layer: str) -> int:
            if layer not in newest:
                newest[layer] = int(
                    session.scalar(select(func.max(col(Event.id))).where(col(Event.layer) == layer))
                    or 0
                )
            return newest[layer]

        out: dict[str, Any] = {}
        for kpi in kpis:
            fresh = kpi.fresh
            if fresh is None:
                out[kpi.name] = kpi.load(session, now)
                continue
            if fresh.stamp is not None and fresh.stamp not in stamps:
                stamps[fresh.stamp] = fresh.stamp(session)
            version = (
                tuple(latest(layer) for layer in fresh.events),
                stamps[fresh.stamp] if fresh.stamp is not None else None,
            )
            kept = self._kept.get(kpi.name)
            if (
                kept is not None
                and kept.version == version
                and (kept.expires is None or now < kept.expires)
            ):
                out[kpi.name] = kept.values
                continue
            values = kpi.load(session, now)
            expires = fresh.expires(session, now) if fresh.expires is not None else None
            self._kept[kpi.name] = _Kept(version, expires, values)
            self.computed += 1
            out[kpi.name] = values
        return out


def for_app(state: Any) -> KpiCache:
    """This app's cache (created on first use)."""
    cache = getattr(state, "kpi_cache", None)
    if cache is None:
        cache = state.kpi_cache = KpiCache()
    return cache

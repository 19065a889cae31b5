"""KPI values kept until what they count changes, so the KPI tiles cost a few indexed reads.

A KPI that declares ``fresh`` (``app.ops.contracts.Freshness``) is computed once per version: the
newest outbox event of each layer it follows, its stamp (cheap aggregates that also catch writers
without an event), and, with ``fresh.expires``, the moment time alone changes it (rows leaving a
window). The version is read before the values, so values kept under a version are at least that
new. One cache per app and process, like the layers' (``app.ops.layercache``).

After a change, a KPI that can be computed for some communes only (``Kpi.some``) is computed again
for the communes the change touched, not for the whole territory: the features the new events name
(and those ``fresh.changed`` finds when the stamp moved) give their communes (``Kpi.communes``), and
the values of the other communes are kept. When that cannot be told (events pruned, an event for
every feature, too many features, the stamp moved without ``fresh.changed``, the window expired),
the KPI is computed whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models.events import Event
from app.ops.contracts import Kpi

MAX_IDS = 2000  # more changed features than this: the KPI is computed whole
# Computed whole at least this often while changes come: a feature that moved to another commune
# changes the old one's values too, which the communes of its id no longer tell.
WHOLE_EVERY = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class _Kept:
    version: tuple[Any, ...]
    expires: dt.datetime | None
    values: dict[str, Any]
    whole_at: dt.datetime  # when it was last computed whole


def _changed_communes(
    kpi: Kpi, session: Session, kept: _Kept, version: tuple[Any, ...]
) -> set[str] | None:
    """The communes whose values may have changed since ``kept``, or None: compute it whole."""
    fresh = kpi.fresh
    assert fresh is not None
    if kpi.some is None or kpi.communes is None:
        return None
    ids: set[str] = set()
    if kept.version[1] != version[1]:
        if fresh.changed is None:
            return None
        shown = fresh.changed(session, kept.version[1], ())
        if shown is None:
            return None
        ids.update(shown)
    oldest: int | None = None
    for name, before, now_ in zip(fresh.events, kept.version[0], version[0], strict=True):
        if now_ == before:
            continue
        if oldest is None:
            oldest = int(session.scalar(select(func.min(col(Event.id)))) or 0)
        if now_ < before or oldest > before + 1:
            return None  # events forgotten since (pruned): cannot tell what changed
        named = session.scalars(
            select(col(Event.feature_id))
            .where(col(Event.layer) == name, col(Event.id) > before, col(Event.id) <= now_)
            .distinct()
            .limit(MAX_IDS + 1)
        ).all()
        if "*" in named:
            return None
        ids.update(named)
        if len(ids) > MAX_IDS:
            return None
    communes = kpi.communes(session, sorted(ids))
    return None if communes is None else {c for c in communes if c}


class KpiCache:
    def __init__(self) -> None:
        self._kept: dict[str, _Kept] = {}
        self.computed = 0  # how many times a kept KPI was computed whole (tests read it)
        self.partial = 0  # how many times for the communes a change touched only

    def values(self, kpis: list[Kpi], session: Session, now: dt.datetime) -> dict[str, Any]:
        """Every KPI's values keyed by INSEE code, by KPI name."""
        stamps: dict[Any, Any] = {}  # each stamp function's value, read once per request
        # each layer's newest event, all in one statement (one step down the index each)
        layers = sorted({layer for kpi in kpis if kpi.fresh for layer in kpi.fresh.events})
        newest: dict[str, int] = {}
        if layers:
            row = session.execute(
                select(
                    *(
                        select(func.max(col(Event.id)))
                        .where(col(Event.layer) == layer)
                        .scalar_subquery()
                        for layer in layers
                    )
                )
            ).one()
            newest = {layer: int(value or 0) for layer, value in zip(layers, row, strict=True)}

        def latest(layer: str) -> int:
            return newest[layer]

        # the communes a change touched, by (what finds them, from which version, to which): KPIs
        # of the same layer (open reports, time to resolve) ask once per request
        touched: dict[tuple[Any, ...], set[str] | None] = {}
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
            expired = kept is not None and kept.expires is not None and now >= kept.expires
            if kept is not None and kept.version == version and not expired:
                out[kpi.name] = kept.values
                continue
            communes = None
            if (
                kpi.some is not None
                and kept is not None
                and not expired
                and now - kept.whole_at < WHOLE_EVERY
            ):
                key = (kpi.communes, fresh.events, fresh.changed, kept.version, version)
                if key not in touched:
                    touched[key] = _changed_communes(kpi, session, kept, version)
                communes = touched[key]
            if kept is not None and communes is not None and kpi.some is not None:
                values = {k: v for k, v in kept.values.items() if k not in communes}
                values.update(kpi.some(session, now, communes) if communes else {})
                whole_at = kept.whole_at
                self.partial += 1
            else:
                values = kpi.load(session, now)
                whole_at = now
                self.computed += 1
            expires = fresh.expires(session, now) if fresh.expires is not None else None
            self._kept[kpi.name] = _Kept(version, expires, values, whole_at)
            out[kpi.name] = values
        return out


def for_app(state: Any) -> KpiCache:
    """This app's cache (created on first use)."""
    cache = getattr(state, "kpi_cache", None)
    if cache is None:
        cache = state.kpi_cache = KpiCache()
    return cache

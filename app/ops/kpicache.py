"""KPI values kept until what they count changes, so the KPI tiles cost a few indexed reads.

A KPI that declares ``fresh`` (``app.ops.contracts.Freshness``) is computed once per version: the
newest outbox event of each layer it follows, its stamp (cheap aggregates that also catch writers
without an event), and, with ``fresh.expires``, the moment time alone changes it (rows leaving a
window). The version is read before the values, so values kept under a version are at least that
new. One cache per app and process, like the layers' (``app.ops.layercache``), with one copy per
territory: the values are those the KPI's functions compute on a session bound to the request's
territory (its time zone, its rows), never another territory's.

After a change, a KPI that can be computed for some communes only (``Kpi.some``) is computed again
for the communes the change touched, not for the whole territory: the features the new events name
(and those ``fresh.changed`` finds when the stamp moved) give their communes (``Kpi.communes``), and
the values of the other communes are kept. When that cannot be told (events pruned, an event for
every feature, too many features, the stamp moved without ``fresh.changed``, the window expired),
the KPI is computed whole.

On PostgreSQL every statement is a round trip, so the version of every KPI is read in one
statement: the newest event of each layer, the oldest event kept, and every stamp declared as a
``Stamp`` (``app.ops.contracts``) side by side. After a change, the features named by the new
events of all layers are read in one more statement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_
from sqlmodel import Session, col, select

from app.models.events import Event
from app.ops.contracts import Kpi, Stamp, read_together, territory_key

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


class _Named:
    """The feature ids named by the events of some layers between two ids, read once per request
    for every layer a KPI needs (one statement)."""

    def __init__(self, oldest: int) -> None:
        self.oldest = oldest
        self._read: dict[tuple[str, int, int], list[str]] = {}

    def ids(
        self, session: Session, wanted: list[tuple[str, int, int]]
    ) -> dict[tuple[str, int, int], list[str]]:
        missing = [w for w in wanted if w not in self._read]
        if missing:
            rows = session.execute(
                select(col(Event.layer), col(Event.id), col(Event.feature_id)).where(
                    or_(
                        *(
                            (col(Event.layer) == name)
                            & (col(Event.id) > before)
                            & (col(Event.id) <= now_)
                            for name, before, now_ in missing
                        )
                    )
                )
            ).all()
            for key in missing:
                self._read[key] = []
            for layer, event_id, feature_id in rows:
                for key in missing:
                    if key[0] == layer and key[1] < event_id <= key[2]:
                        self._read[key].append(feature_id)
        return {w: self._read[w] for w in wanted}


def _changed_communes(
    kpi: Kpi, session: Session, kept: _Kept, version: tuple[Any, ...], named: _Named
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
    spans = []
    for name, before, now_ in zip(fresh.events, kept.version[0], version[0], strict=True):
        if now_ == before:
            continue
        if now_ < before or named.oldest > before + 1:
            return None  # events forgotten since (pruned): cannot tell what changed
        if now_ - before > 4 * MAX_IDS:
            return None  # more events than is worth reading
        spans.append((name, before, now_))
    for feature_ids in named.ids(session, spans).values():
        if "*" in feature_ids:
            return None
        ids.update(feature_ids)
        if len(ids) > MAX_IDS:
            return None
    communes = kpi.communes(session, sorted(ids))
    return None if communes is None else {c for c in communes if c}


class KpiCache:
    def __init__(self) -> None:
        self._kept: dict[tuple[int, str], _Kept] = {}  # by (territory id, 0: none; KPI name)
        self.computed = 0  # how many times a kept KPI was computed whole (tests read it)
        self.partial = 0  # how many times for the communes a change touched only

    def values(self, kpis: list[Kpi], session: Session, now: dt.datetime) -> dict[str, Any]:
        """Every KPI's values keyed by INSEE code, by KPI name."""
        territory = territory_key(session)
        stamps: dict[Any, Any] = {}  # each stamp's value, read once per request
        # Each layer's newest event (one step down the index each), the oldest event kept and
        # every ``Stamp``: all in one statement.
        layers = sorted({layer for kpi in kpis if kpi.fresh for layer in kpi.fresh.events})
        batched: list[Stamp] = []
        for kpi in kpis:
            stamp = kpi.fresh.stamp if kpi.fresh else None
            if isinstance(stamp, Stamp) and stamp not in batched:
                batched.append(stamp)
        events: list[Select[Any]] = [
            select(func.max(col(Event.id))).where(col(Event.layer) == layer) for layer in layers
        ]
        events.append(select(func.min(col(Event.id))))
        read = read_together(session, [events, *(stamp.queries for stamp in batched)])
        newest = {layer: int(value or 0) for layer, value in zip(layers, read[0], strict=False)}
        named = _Named(int(read[0][-1] or 0))
        stamps.update(zip(batched, read[1:], strict=True))
        # the events every KPI kept for some communes may read, in one statement
        spans = set()
        for kpi in kpis:
            kept_ = self._kept.get((territory, kpi.name))
            if kpi.fresh is None or kpi.some is None or kept_ is None:
                continue
            for name, before in zip(kpi.fresh.events, kept_.version[0], strict=True):
                if before < newest[name] <= before + 4 * MAX_IDS and named.oldest <= before + 1:
                    spans.add((name, before, newest[name]))
        if spans:
            named.ids(session, sorted(spans))

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
            kept = self._kept.get((territory, kpi.name))
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
                    touched[key] = _changed_communes(kpi, session, kept, version, named)
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
            self._kept[(territory, kpi.name)] = _Kept(version, expires, values, whole_at)
            out[kpi.name] = values
        return out


def for_app(state: Any) -> KpiCache:
    """This app's cache (created on first use)."""
    cache = getattr(state, "kpi_cache", None)
    if cache is None:
        cache = state.kpi_cache = KpiCache()
    return cache

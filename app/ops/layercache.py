"""Big layers served from bytes built once per change, not once per request.

A layer that declares ``fresh`` (``app.ops.contracts.Freshness``) is serialised and gzipped once;
later requests get the same bytes until its version changes. The version is read from the
database on every request, before the rows, in the same read:

- the newest outbox event of each layer named in ``fresh.events`` (``app.events``: an event is
  committed with its change and ids grow in commit order, so a newer change always shows as a
  newer id);
- ``fresh.stamp(session)``: cheap aggregates of the rows (counts, newest change) that also catch a
  writer that publishes nothing;
- the locale (labels are translated) and, with ``fresh.expires``, the moment time alone changes
  the layer (rows leaving a window).

Reading the version first means the bytes kept under a version are at least that new: a change
committed between the two reads only makes the next request build again. Every app in every process
keeps its own copy (no shared state between web nodes); one build at a time per layer and locale, the others
wait for it rather than build the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models.events import Event
from app.ops.contracts import Layer

GZIP_LEVEL = 6  # once per change: compress well


@dataclass(frozen=True)
class Built:
    version: tuple[Any, ...]
    body: bytes
    gzipped: bytes
    etag: str
    expires: dt.datetime | None

    def valid(self, version: tuple[Any, ...], now: dt.datetime) -> bool:
        return self.version == version and (self.expires is None or now < self.expires)


def version(layer: Layer, session: Session, locale: str) -> tuple[Any, ...]:
    """What the layer's bytes depend on, read before its rows."""
    assert layer.fresh is not None
    newest = tuple(
        session.scalar(select(func.max(col(Event.id))).where(col(Event.layer) == name)) or 0
        for name in layer.fresh.events
    )
    stamp = layer.fresh.stamp(session) if layer.fresh.stamp is not None else None
    return (locale, newest, stamp)


def _gzip(body: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


Build = Callable[[Layer, Session, dt.datetime], bytes]


class LayerCache:
    """The kept bytes of one app's layers (one per app and process: ``for_app``)."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, str], Built] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self.builds = 0  # how many times bytes were built (tests and the benchmark read it)

    def get(
        self, layer: Layer, session: Session, now: dt.datetime, locale: str, build: Build
    ) -> Built:
        """The layer's bytes for this version: kept ones, or ``build(layer, session, now)`` once."""
        assert layer.fresh is not None
        current = version(layer, session, locale)
        key = (layer.name, locale)
        kept = self._built.get(key)
        if kept is not None and kept.valid(current, now):
            return kept
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            kept = self._built.get(key)
            if kept is not None and kept.valid(current, now):
                return kept  # built by the request this one waited for
            body = build(layer, session, now)
            expires = layer.fresh.expires(session, now) if layer.fresh.expires else None
            made = Built(
                current,
                body,
                _gzip(body),
                '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"',
                expires,
            )
            self._built[key] = made
            self.builds += 1
            return made


def for_app(state: Any) -> LayerCache:
    """This app's cache (created on first use)."""
    cache = getattr(state, "layer_cache", None)
    if cache is None:
        cache = state.layer_cache = LayerCache()
    return cache

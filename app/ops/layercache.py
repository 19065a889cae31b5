"""Big layers served from bytes built once per change, and rebuilt only where they changed.

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

A layer that can encode its features by id (``fresh.features``) is kept as the text of each
feature, in runs of ``RUN`` features each compressed on its own (raw deflate ended by a full
flush, so the runs join into one gzip stream). When the version moves, the ids named by the new
events (and by ``fresh.changed`` when the stamp moved) are read again, their runs re-encoded and
re-compressed, and the body is joined from the kept runs: a change costs the changed rows, not
the 20,000 others. Whatever the cache cannot account for (the locale, a window expiring, an
event for every feature "*", the stamp moving without ``fresh.changed``, events pruned, too many
ids) builds the layer whole.

Reading the version first means the bytes kept under a version are at least that new: a change
committed between the two reads only makes the next request read those ids again. Every app in
every process keeps its own copy (no shared state between web nodes); one build at a time per
layer and locale, the others wait for it rather than build the same bytes.

On an install of several territories the layer's functions keep to the territory bound to the
session (``app.ops.contracts.mine``), and the cache keeps one copy per territory, layer and
locale: one territory's bytes, and the tiles cut from them, are never another's.
"""

from __future__ import annotations

import bisect
import datetime as dt
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models.events import Event
from app.ops.contracts import FeatureText, Layer, collection_head, territory_key
from app.ops.tiles import TileIndex

GZIP_LEVEL = 6  # once per change: compress well
RUN = 256  # features per compressed run: a change re-compresses about 50 kB of lights
MAX_IDS = 5000  # more changed ids than this: the layer is built whole
# The tiles of one map view come as a burst of 20-40 requests: the layer's version (its newest event,
# its stamp, a count of the fleet) is read again for them once this many seconds have passed.
TILE_RECHECK = 0.5
_GZIP_HEAD = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no time, unknown OS


def _deflate(text: bytes) -> bytes:
    """Raw deflate of ``text`` ending on a byte boundary with no reference to what came before."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(text) + compressor.flush(zlib.Z_FULL_FLUSH)


_COMMA = _deflate(b",")
_FINISH = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


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


def _etag(body: bytes, crc: int | None = None) -> str:
    """The body's CRC-32 (the gzip trailer's, already computed) and length: a change of any run of
    up to 32 bits is certain to change it, at a fraction of a cryptographic hash's cost."""
    crc = zlib.crc32(body) if crc is None else crc
    return f'"{crc:08x}-{len(body):x}"'


@dataclass
class _Run:
    """Consecutive features (by order key) and their compressed text."""

    keys: list[Any]
    ids: list[str]
    texts: list[str]
    text: bytes = b""
    deflated: bytes = b""
    dirty: bool = True

    def pack(self) -> None:
        if self.dirty:
            self.text = ",".join(self.texts).encode()
            self.deflated = _deflate(self.text)
            self.dirty = False


@dataclass
class Pieces:
    """A layer kept as the text of each feature, in compressed runs (see the module's docstring)."""

    head: bytes
    runs: list[_Run] = field(default_factory=list)
    where: dict[str, _Run] = field(default_factory=dict)  # feature id -> its run

    @classmethod
    def of(cls, name: str, features: Iterable[FeatureText]) -> Pieces:
        pieces = cls(collection_head(name).encode())
        for feature_id, key, text in sorted(features, key=lambda f: f[1]):
            if not pieces.runs or len(pieces.runs[-1].ids) >= RUN:
                pieces.runs.append(_Run([], [], []))
            run = pieces.runs[-1]
            run.keys.append(key)
            run.ids.append(feature_id)
            run.texts.append(text)
            pieces.where[feature_id] = run
        return pieces

    def __len__(self) -> int:
        return len(self.where)

    def text(self, feature_id: str) -> str | None:
        run = self.where.get(feature_id)
        return None if run is None else run.texts[run.ids.index(feature_id)]

    def items(self) -> Iterable[tuple[str, str]]:
        """(feature id, text) of every feature."""
        for run in self.runs:
            yield from zip(run.ids, run.texts, strict=True)

    def drop(self, feature_id: str) -> None:
        run = self.where.pop(feature_id, None)
        if run is None:
            return
        index = run.ids.index(feature_id)
        del run.keys[index], run.ids[index], run.texts[index]
        run.dirty = True
        if not run.ids:
            self.runs.remove(run)

    def put(self, feature_id: str, key: Any, text: str) -> None:
        run = self.where.get(feature_id)
        if run is not None:
            index = run.ids.index(feature_id)
            if run.keys[index] == key:
                if run.texts[index] != text:
                    run.texts[index] = text
                    run.dirty = True
                return
            self.drop(feature_id)  # its place in the order changed
        if not self.runs:
            self.runs.append(_Run([], [], []))
        at = max(0, bisect.bisect_right([r.keys[0] for r in self.runs], key) - 1)
        run = self.runs[at]
        index = bisect.bisect_right(run.keys, key)
        run.keys.insert(index, key)
        run.ids.insert(index, feature_id)
        run.texts.insert(index, text)
        run.dirty = True
        self.where[feature_id] = run
        if len(run.ids) >= 2 * RUN:  # split a run grown by additions
            half = _Run(run.keys[RUN:], run.ids[RUN:], run.texts[RUN:])
            del run.keys[RUN:], run.ids[RUN:], run.texts[RUN:]
            self.runs.insert(at + 1, half)
            for moved in half.ids:
                self.where[moved] = half

    def assemble(self) -> tuple[bytes, bytes, int]:
        """The layer's body and its gzip, re-compressing only the runs that changed."""
        for run in self.runs:
            run.pack()
        body_parts = [self.head]
        gzip_parts = [_GZIP_HEAD, _deflate(self.head)]
        for index, run in enumerate(self.runs):
            if index:
                body_parts.append(b",")
                gzip_parts.append(_COMMA)
            body_parts.append(run.text)
            gzip_parts.append(run.deflated)
        body_parts.append(b"]}")
        body = b"".join(body_parts)
        gzip_parts += [_deflate(b"]}"), _FINISH]
        crc = zlib.crc32(body)
        gzip_parts.append(struct.pack("<II", crc, len(body) & 0xFFFFFFFF))
        return body, b"".join(gzip_parts), crc


@dataclass
class _Kept:
    built: Built
    pieces: Pieces | None  # for layers rebuilt by ids
    tiles: TileIndex | None = None  # made on the first tile asked, then follows the pieces
    checked: float = 0.0  # when its version was last read (time.monotonic)


Build = Callable[[Layer, Session, dt.datetime], bytes]


def _changed_ids(
    layer: Layer, session: Session, kept: Built, pieces: Pieces, current: tuple[Any, ...]
) -> set[str] | None:
    """The ids changed between the kept version and the current one, or None: build it whole."""
    fresh = layer.fresh
    assert fresh is not None
    if kept.version[0] != current[0]:
        return None  # another language: every label
    ids: set[str] = set()
    if kept.version[2] != current[2]:
        if fresh.changed is None:
            return None
        shown = fresh.changed(session, kept.version[2], pieces.where.keys())
        if shown is None:
            return None
        ids.update(shown)
    oldest = session.scalar(select(func.min(col(Event.id)))) or 0
    for name, before, now_ in zip(fresh.events, kept.version[1], current[1], strict=True):
        if now_ == before:
            continue
        if now_ < before or oldest > before + 1:
            return None  # events forgotten since (pruned): cannot tell what changed
        named = session.scalars(
            select(col(Event.feature_id))
            .where(col(Event.layer) == name, col(Event.id) > before, col(Event.id) <= now_)
            .distinct()
        ).all()
        if "*" in named:
            return None
        ids.update(named)
        if len(ids) > MAX_IDS:
            return None
    return ids


class LayerCache:
    """The kept bytes of one app's layers (one per app and process: ``for_app``)."""

    def __init__(self) -> None:
        # by (territory id, 0 for the whole install; layer; locale)
        self._kept: dict[tuple[int, str, str], _Kept] = {}
        self._locks: dict[tuple[int, str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self.builds = 0  # how many times bytes were built (tests and the benchmark read it)
        self.whole = 0  # of those, how many read every row of the layer

    @property
    def _built(self) -> dict[tuple[int, str, str], Built]:
        return {key: kept.built for key, kept in self._kept.items()}

    def get(
        self, layer: Layer, session: Session, now: dt.datetime, locale: str, build: Build
    ) -> Built:
        """The layer's bytes for this version: kept ones, or built once (by ids when it can)."""
        assert layer.fresh is not None
        current = version(layer, session, locale)
        key = (territory_key(session), layer.name, locale)
        kept = self._kept.get(key)
        if kept is not None and kept.built.valid(current, now):
            kept.checked = time.monotonic()
            return kept.built
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            kept = self._kept.get(key)
            if kept is not None and kept.built.valid(current, now):
                return kept.built  # built by the request this one waited for
            made = self._build(layer, session, now, current, build)
            self._kept[key].checked = time.monotonic()
            self.builds += 1
            return made

    def _build(
        self,
        layer: Layer,
        session: Session,
        now: dt.datetime,
        current: tuple[Any, ...],
        build: Build,
    ) -> Built:
        fresh = layer.fresh
        assert fresh is not None
        key = (territory_key(session), layer.name, current[0])
        expires = fresh.expires(session, now) if fresh.expires else None
        if fresh.features is None:
            body = build(layer, session, now)
            made = Built(current, body, _gzip(body), _etag(body), expires)
            self._kept[key] = _Kept(made, None)
            self.whole += 1
            return made
        kept = self._kept.get(key)
        ids = None
        if (
            kept is not None
            and kept.pieces is not None
            and (kept.built.expires is None or now < kept.built.expires)
        ):
            ids = _changed_ids(layer, session, kept.built, kept.pieces, current)
        tiles = None
        if ids is None or kept is None or kept.pieces is None:
            pieces = Pieces.of(layer.name, fresh.features(session, now, None))
            self.whole += 1
        else:
            tiles = kept.tiles
            pieces = kept.pieces
            self._kept.pop(key)  # changed in place below: not kept if this fails half-way
            wanted = sorted(ids)
            found = {
                fid: (order, text) for fid, order, text in fresh.features(session, now, wanted)
            }
            for feature_id in wanted:
                if feature_id in found:
                    pieces.put(feature_id, *found[feature_id])
                    if tiles is not None:
                        tiles.put(feature_id, found[feature_id][1])
                else:
                    pieces.drop(feature_id)  # deleted, or no longer on this layer
                    if tiles is not None:
                        tiles.drop(feature_id)
        body, gzipped, crc = pieces.assemble()
        made = Built(current, body, gzipped, _etag(body, crc), expires)
        self._kept[key] = _Kept(made, pieces, tiles)
        return made

    def size(
        self, layer: Layer, session: Session, now: dt.datetime, locale: str, build: Build
    ) -> int | None:
        """How many features the layer has now (layers kept by ids), or None."""
        self.get(layer, session, now, locale, build)
        kept = self._kept.get((territory_key(session), layer.name, locale))
        return None if kept is None or kept.pieces is None else len(kept.pieces)

    def tile(
        self,
        layer: Layer,
        session: Session,
        now: dt.datetime,
        locale: str,
        build: Build,
        read: Callable[[TileIndex, Pieces, Built], bytes],
    ) -> bytes | None:
        """``read(index, pieces, built)`` on the layer's tile index for this version (made on first
        use), under the layer's lock so that no change moves it meanwhile; None for a layer not
        kept by ids. The version is read again once ``TILE_RECHECK`` seconds have passed."""
        key = (territory_key(session), layer.name, locale)
        kept = self._kept.get(key)
        if (
            kept is None
            or time.monotonic() - kept.checked >= TILE_RECHECK
            or (kept.built.expires is not None and now >= kept.built.expires)
        ):
            self.get(layer, session, now, locale, build)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            kept = self._kept.get(key)
            if kept is None or kept.pieces is None:
                return None
            if kept.tiles is None:
                kept.tiles = TileIndex.of(kept.pieces.items())
            return read(kept.tiles, kept.pieces, kept.built)


def for_app(state: Any) -> LayerCache:
    """This app's cache (created on first use)."""
    cache = getattr(state, "layer_cache", None)
    if cache is None:
        cache = state.layer_cache = LayerCache()
    return cache

"""A small per-process cache with a time-to-live, for data that is the same for everyone
and may be a few seconds old (the territory's communes, the anonymous home page's panels).

Every web process keeps its own copy; nothing here is shared state, so a
value is at most ``ttl`` seconds stale on any node.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")

_values: dict[Any, tuple[float, Any]] = {}
_lock = threading.Lock()


def get_or_compute(key: Any, ttl_s: float, compute: Callable[[], T]) -> T:
    now = time.monotonic()
    hit = _values.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    with _lock:
        _values[key] = (now + ttl_s, value)
    return value


_flights: dict[Any, asyncio.Lock] = {}


async def shared(key: Any, ttl_s: float, compute: Callable[[], T], *, stale_s: float = 0.0) -> T:
    """The value of ``key``, computed in a worker thread by one request at a time when missing.

    A crowd arriving together (everyone opening the page an alert points to)
    waits for the one computation instead of each querying the database. With ``stale_s``, while
    that one request recomputes an expired value, the others are answered at once with the value
    it replaces (expired less than ``stale_s`` ago) instead of waiting; a value dropped
    (:func:`drop`) is never served stale.
    """
    hit = _values.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    lock = _flights.setdefault(key, asyncio.Lock())
    if lock.locked() and hit is not None and now < hit[0] + stale_s:
        return hit[1]
    async with lock:
        hit = _values.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        value = await anyio.to_thread.run_sync(compute)
        with _lock:
            _values[key] = (time.monotonic() + ttl_s, value)
    if not lock.locked():
        _flights.pop(key, None)
    return value


def peek(key: Any) -> Any | None:
    """The value of ``key`` if it is there and has not expired, else None (no computing)."""
    hit = _values.get(key)
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def drop(kind: str) -> None:
    """Forget every value whose key is a tuple starting with ``kind``."""
    with _lock:
        for key in [k for k in _values if isinstance(k, tuple) and k and k[0] == kind]:
            del _values[key]


def clear() -> None:
    with _lock:
        _values.clear()

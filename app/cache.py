"""A small per-process cache with a time-to-live, for data that is the same for everyone
and may be a few seconds old (the territory's communes, the anonymous home page's panels).

Every web process keeps its own copy; nothing here is shared state, so a
value is at most ``ttl`` seconds stale on any node.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_values: dict[Any, tuple[float, Any]] = {}
_lock = threading.Lock()


def get_or_compute(key: Any, ttl_s: float, compute: Callable[[], T]) -> T:
    now = time.monotonic()
    hit = _values.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _values[key] = (now + ttl_s, value)
    return value


def peek(key: Any) -> Any | None:
    """The value of ``key`` if it is there and has not expired, else None (no computing)."""
    hit = _values.get(key)
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def clear() -> None:
    with _lock:
        _values.clear()

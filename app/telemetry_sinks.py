"""Where the relay hands device messages of a kind it does not store itself (sensor telemetry).

The relay (``app.lighting.relay``) reads every device's MQTT messages; a domain that owns devices
declares what stores their messages (``Contribution.telemetry_sinks``), handed here by
``app.domains.install()``, so the relay and that domain never import each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlmodel import Session

# (session, messages of the kind, now, the batch's counters) -> how many readings were stored
Sink = Callable[[Session, Sequence[Any], dt.datetime, Any], int]

_SINKS: dict[str, Sink] = {}
_WARM_UPS: list[Callable[[], None]] = []


def install(sinks: Mapping[str, Sink], warm_ups: Sequence[Callable[[], None]] = ()) -> None:
    _SINKS.clear()
    _SINKS.update(sinks)
    _WARM_UPS[:] = warm_ups


def warm_up() -> None:
    """Load what the sinks would load with their first message (pvlib...): the relay calls this
    before a batch's transaction, so no batch holds the write lock while a library loads (seconds
    on a busy machine). Once loaded, a call costs next to nothing."""
    for warm in _WARM_UPS:
        warm()


def sink(kind: str) -> Sink:
    """What stores messages of ``kind``; a kind no domain declared is a configuration error."""
    try:
        return _SINKS[kind]
    except KeyError:
        raise LookupError(
            f"no domain stores {kind!r} device messages (domains.install())"
        ) from None

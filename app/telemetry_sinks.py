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


def install(sinks: Mapping[str, Sink]) -> None:
    _SINKS.clear()
    _SINKS.update(sinks)


def sink(kind: str) -> Sink:
    """What stores messages of ``kind``; a kind no domain declared is a configuration error."""
    try:
        return _SINKS[kind]
    except KeyError:
        raise LookupError(
            f"no domain stores {kind!r} device messages (domains.install())"
        ) from None

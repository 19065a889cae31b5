"""Live open data: one Server-Sent Events stream per changing dataset, fed by the event outbox.

Each event the domains record (``app.events``) whose ``layer:kind`` the
dataset declared is turned by the dataset's own ``live_row`` into the public
row (anonymised like the files); the stream sends it with the event's id, so a
reader that reconnects with ``Last-Event-ID`` misses nothing still in the outbox.
A stream is its territory's: the rows are read in a session bound to it, and a change of another
territory's row gives none.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from app.db import read_session
from app.opendata.contrib import OpenDataset
from app.territories import Branding, bind

RETRY_MS = 5000


def matches(patterns: Sequence[str], layer: str, kind: str) -> bool:
    for pattern in patterns:
        want_layer, _, want_kind = pattern.partition(":")
        if want_layer == layer and want_kind in ("*", kind):
            return True
    return False


def public_rows(
    engine: Engine,
    dataset: OpenDataset,
    batch: Sequence[Any],
    base_url: str,
    publisher: Branding | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """The (event id, public row) pairs of ``batch`` for ``dataset``, read in one session (bound to
    ``publisher``: its rows only; None: the whole install)."""
    if dataset.live_row is None:
        return []
    wanted = [e for e in batch if matches(dataset.live_kinds, e.layer, e.kind)]
    if not wanted:
        return []
    out = []
    with read_session(engine) as session:
        if publisher is not None:
            bind(session, publisher)
        for event in wanted:
            row = dataset.live_row(
                session,
                {
                    "layer": event.layer,
                    "feature_id": event.feature_id,
                    "kind": event.kind,
                    "payload": event.payload,
                },
                base_url,
            )
            if row is not None:
                out.append((event.id, row))
    return out


def message(event_id: int | None, name: str, data: Any) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return (
        head
        + f"event: {name}\ndata: "
        + json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        + "\n\n"
    ).encode()


async def stream(
    state: Any,
    engine: Engine,
    dataset: OpenDataset,
    base_url: str,
    last_event_id: str | None,
    publisher: Branding | None = None,
) -> AsyncIterator[bytes]:
    from app import events  # the operations centre's outbox (app.events)

    hub = events.hub(state, engine)
    after = (
        int(last_event_id) if last_event_id and last_event_id.isdigit() else await hub.position()
    )
    yield f"retry: {RETRY_MS}\n".encode() + message(
        None, "ready", {"dataset": dataset.slug, "columns": dataset.column_names}
    )
    async for batch in hub.follow(after):
        if not batch:
            yield b": keep-alive\n\n"
            continue
        rows = await asyncio.to_thread(public_rows, engine, dataset, batch, base_url, publisher)
        for event_id, row in rows:
            yield message(event_id, dataset.slug, row)
        if not rows:
            yield f"id: {batch[-1].id}\n\n".encode()  # move Last-Event-ID past events of other datasets

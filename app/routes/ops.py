"""The operations centre for staff: the live map, its GeoJSON layers, KPIs per commune, the event stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, get
from litestar.exceptions import ValidationException
from litestar.response import ServerSentEvent, ServerSentEventMessage

from app import events
from app.auth import STAFF
from app.i18n import gettext as _

RETRY_MS = 2000


def _after(request: Request[Any, Any, Any]) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("since")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationException(_("Identifiant d'évènement invalide : un entier est attendu.")) from None
    if value < 0:
        raise ValidationException(_("Identifiant d'évènement invalide : un entier est attendu."))
    return value


@get("/staff/ops/stream", opt=STAFF, name="ops_stream")
async def ops_stream(request: Request[Any, Any, Any], layers: str | None = None) -> ServerSentEvent:
    """Server-Sent Events: one event per change (id = the outbox id, data = layer, feature id, kind, payload).

    ``Last-Event-ID`` (or ``?since=``) resumes after that id without loss; ``?layers=a,b`` filters.
    """
    after = _after(request)
    wanted = {name for name in (layers or "").split(",") if name} or None
    hub = events.hub(request.app.state, request.app.state.engine)
    if after is None:
        after = await hub.position()
    start = after

    async def messages() -> AsyncIterator[ServerSentEventMessage]:
        yield ServerSentEventMessage(data=None, comment="eclor", retry=RETRY_MS)
        async for batch in hub.follow(start):
            if not batch:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            for event in batch:
                if wanted is not None and event.layer not in wanted:
                    continue
                yield ServerSentEventMessage(id=str(event.id),
                                             data=json.dumps(event.to_dict(), separators=(",", ":")))

    return ServerSentEvent(messages(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


ROUTES = [ops_stream]

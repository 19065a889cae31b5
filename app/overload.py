"""Overload is answered, never hung: a bounded number of requests at once per process.

``ConcurrencyLimit`` (pure ASGI, outermost) lets at most
``http_max_concurrency`` requests run at once (by default the database pool's
size plus its overflow, so a running request always finds a connection). A
request that finds no free slot waits ``http_queue_seconds`` at most, then
gets ``503 Service Unavailable`` with ``Retry-After``: the client is told to
come back instead of hanging, and the process keeps answering.

The probes (``/livez``, ``/readyz``, ``/healthz``) and static files never
wait for a slot. An event stream (``text/event-stream``: the operations centre's, open data's)
holds its slot until its response starts, not for its life: a stream is fed from memory by the
process's event hub, and fifty staff screens left open must not take every slot from the pages. The same 503 answers a database that is saturated (no pool
connection within ``db_pool_timeout_s``, or SQLite's lock not obtained in
time); see ``app.errors``.
"""

from __future__ import annotations

import asyncio
import time

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from app.i18n import gettext as _

BYPASS_PREFIXES = (
    "/static/",
    "/territory-icons/",
    "/livez",
    "/readyz",
    "/healthz",
    "/sw.js",
    "/manifest.webmanifest",
)


def busy_body(path: str) -> tuple[bytes, bytes]:
    """The 503 page: JSON on APIs, a small French page elsewhere (no script, no database)."""
    message = _("Le service est momentanément très demandé. Réessayez dans quelques instants.")
    if path.startswith(("/api/", "/open311/", "/ngsi-ld/", "/push/")) or path.endswith(
        (".json", ".xml")
    ):
        import json

        return b"application/json", json.dumps({"status_code": 503, "detail": message}).encode()
    title = _("Service très demandé")
    html = (
        f'<!doctype html><html lang="fr"><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><title>{title}</title>'
        f"<main>"
        f'<h1>{title}</h1><p>{message}</p><p><a href="">{_("Réessayer")}</a></p></main></html>'
    )
    return b"text/html; charset=utf-8", html.encode()


async def send_busy(send: Send, path: str, retry_after_s: int) -> None:
    ctype, body = busy_body(path)
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", ctype),
            (b"retry-after", str(retry_after_s).encode()),
            (b"cache-control", b"no-store"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


class ConcurrencyLimit:
    def __init__(
        self, app: ASGIApp, *, limit: int, queue_seconds: float, retry_after_s: int
    ) -> None:
        self.app = app
        self.limit = max(1, limit)
        self.queue_seconds = queue_seconds
        self.retry_after_s = max(1, retry_after_s)
        self._slots: asyncio.Semaphore | None = None
        self.running = 0
        self.refused = 0
        self.last_refused_at = 0.0

    @property
    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:  # made in the serving loop, not at import
            self._slots = asyncio.Semaphore(self.limit)
        return self._slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(BYPASS_PREFIXES):
            await self.app(scope, receive, send)
            return
        slots = self.slots
        if not slots.locked():
            # A free slot (the usual case): taken at once, without the task and timer of wait_for.
            await slots.acquire()
        elif self.queue_seconds <= 0:
            await self._refuse(send, scope["path"])
            return
        else:
            try:
                await asyncio.wait_for(slots.acquire(), timeout=self.queue_seconds)
            except TimeoutError:
                await self._refuse(send, scope["path"])
                return
        self.running += 1
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self.running -= 1
                slots.release()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and any(
                name == b"content-type" and value.startswith(b"text/event-stream")
                for name, value in message.get("headers", ())
            ):
                release()  # a stream: its setup was bounded, its life is not
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            release()

    async def _refuse(self, send: Send, path: str) -> None:
        self.refused += 1
        self.last_refused_at = time.monotonic()
        await send_busy(send, path, self.retry_after_s)

"""create_app(): the one place where Eclor's web app is wired."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from litestar import Litestar, Router
from litestar.datastructures import CacheControlHeader
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig

from app.openapi_public import PublicJsonRenderPlugin, PublicYamlRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import (
    ASGIApp,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Receive,
    Scope,
    Send,
)
from litestar.plugins.jinja import JinjaTemplateEngine
from sqlalchemy.engine import Engine

from app import __version__, csrf, domains, events, logs
from app.auth import PUBLIC, access_guard
from app.db import engine_for
from app.deps import REQUEST_SESSIONS, end_idle_write, provide_db
from app.errors import handle_exception, ids_in_range
from app.overload import ConcurrencyLimit
from app.settings import Settings, get_settings
from app.templating import STATIC, make_environment
from app.web import EclorMiddleware, GzipMiddleware

os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")


class Eclor(Litestar):
    """Eclor's web app: Litestar with the request pipeline wrapped around it at the ASGI boundary.

    The concurrency limit, ``EclorMiddleware`` (host check, security headers, locale) and
    ``GzipMiddleware`` sit outside routing and the exception handler, so every response
    (404s and errors included) goes through them; lifespan events go straight to Litestar.
    """

    pipeline: ASGIApp | None = None

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if self.pipeline is None or scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
        else:
            # An HTTP or WebSocket scope comes with its own receive and send, which mypy does not
            # narrow along with the scope (Litestar's own __call__ says the same).
            sessions = REQUEST_SESSIONS.set([])
            try:
                await self.pipeline(scope, receive, send)  # type: ignore[arg-type]
            finally:
                REQUEST_SESSIONS.reset(sessions)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Litestar's own entry point (lifespan, routing, exception handling)."""
        await super().__call__(scope, receive, send)


async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Every route's checks in one guard: who may use it, then ids no row can have (404).

    One guard, not two: Litestar copies the route handler for every guard it runs on a request.
    """
    await access_guard(connection, handler)
    await ids_in_range(connection, handler)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Eclor:
    settings = settings or get_settings()
    settings.prepare()
    engine = engine or engine_for(settings)
    logs.setup()

    domains.install()
    handlers: list[Any] = domains.routes()
    handlers.append(
        create_static_files_router(
            path="/static",
            directories=[STATIC],
            opt=PUBLIC,
            cache_control=CacheControlHeader(max_age=31_536_000, public=True),
            include_in_schema=False,
            name="static",
        )
    )

    env = make_environment(settings.source_url)

    @asynccontextmanager
    async def database(_app: Litestar) -> AsyncIterator[None]:
        """The territories' host map is read before the first request (no request pays for it);
        the engine's connections are closed when the app shuts down."""
        await anyio.to_thread.run_sync(_app.state.territories.reload)
        try:
            yield
        finally:
            engine.dispose()

    app = Eclor(
        # One router for every handler: each handler is registered once (registered one by one,
        # a sync handler on a path shared with other methods was wrapped for threads once per method).
        route_handlers=[Router(path="/", route_handlers=handlers)],
        dependencies={"db": Provide(provide_db)},
        guards=[guard],
        # A write transaction that wrote nothing ends before the page is rendered (app.deps).
        after_request=end_idle_write,
        # Litestar's CSRF check (double submit), with the cookie header written once (app.csrf).
        middleware=[
            DefineMiddleware(
                csrf.CsrfMiddleware, config=csrf.config(settings.secret_key, secure=settings.https)
            )
        ],
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(env)),
        exception_handlers={Exception: handle_exception},
        openapi_config=OpenAPIConfig(
            title="Eclor",
            version=__version__,
            path="/schema",
            # The description of the public APIs is public: a partner generates its client from it.
            openapi_router=Router(path="/schema", route_handlers=[], opt=PUBLIC),
            # The documents only (JSON, also at /schema, and YAML): the rendered viewers load their
            # scripts from outside CDNs.
            # The public APIs described fully (app.openapi_public): documents, codes, media types.
            render_plugins=[PublicJsonRenderPlugin(), PublicYamlRenderPlugin()],
        ),
        request_max_body_size=settings.max_upload_bytes * 4,
        debug=False,
        logging_config=None,
        lifespan=[database],
        on_shutdown=[events.stop_hub],
    )
    # Around everything: a bounded number of requests at once, the others told to come back (503).
    web = EclorMiddleware(GzipMiddleware(app.dispatch), settings=settings, engine=engine)
    limiter = ConcurrencyLimit(
        web,
        limit=settings.max_concurrency,
        queue_seconds=settings.http_queue_seconds,
        retry_after_s=settings.http_retry_after_s,
    )
    app.pipeline = limiter
    app.state.limiter = limiter
    app.state.settings = settings
    app.state.cache_ns = uuid.uuid4().hex  # per-app key space of app.cache
    app.state.engine = engine
    app.state.territories = web.territories
    app.state.jinja = env
    return app

"""create_app(): the one place where Eclor's web app is wired."""

from __future__ import annotations

import os
import uuid
from typing import Any

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.utils.sync import AsyncCallable
from litestar.contrib.jinja import JinjaTemplateEngine
from sqlalchemy.engine import Engine

from app import __version__, domains, events, logs
from app.auth import PUBLIC, access_guard
from app.db import engine_for
from app.deps import provide_db
from app.errors import handle_exception
from app.overload import ConcurrencyLimit
from app.settings import Settings, get_settings
from app.templating import STATIC, make_environment
from app.web import EclorMiddleware, GzipMiddleware

os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")


def _single_thread_wrapper(app: Litestar) -> None:
    """Undo a double ``sync_to_thread`` wrapping of sync handlers that share a path.

    Litestar re-registers the handlers already on a path when a handler for
    another method is added to it, and wraps a sync handler once more each
    time: it would then answer with an un-awaited coroutine. Keep one wrapper.
    """
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            fn = getattr(handler, "_fn", None)
            while isinstance(fn, AsyncCallable) and isinstance(fn.func, AsyncCallable):
                fn = fn.func
            if fn is not None:
                handler._fn = fn


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Litestar:
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
    app = Litestar(
        route_handlers=handlers,
        dependencies={"db": Provide(provide_db)},
        guards=[access_guard],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.https,
            cookie_httponly=True,
            cookie_samesite="lax",
        ),
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(env)),
        exception_handlers={Exception: handle_exception},
        openapi_config=OpenAPIConfig(title="Eclor", version=__version__, path="/schema"),
        request_max_body_size=settings.max_upload_bytes * 4,
        debug=False,
        logging_config=None,
        on_shutdown=[events.stop_hub],
    )
    _single_thread_wrapper(app)
    # Outermost layer, around routing and the exception handler, so that every
    # response (404s and errors included) gets the security headers and the locale.
    app.asgi_handler = EclorMiddleware(GzipMiddleware(app.asgi_handler), settings=settings, engine=engine)
    # Around everything: a bounded number of requests at once, the others told to come back (503).
    limiter = ConcurrencyLimit(app.asgi_handler, limit=settings.max_concurrency,
                               queue_seconds=settings.http_queue_seconds, retry_after_s=settings.http_retry_after_s)
    app.asgi_handler = limiter
    app.state.limiter = limiter
    app.state.settings = settings
    app.state.cache_ns = uuid.uuid4().hex  # per-app key space of app.cache
    app.state.engine = engine
    app.state.jinja = env
    return app

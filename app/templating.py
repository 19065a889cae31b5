"""Jinja2 for Eclor's pages: one environment, French by default, strings through gettext."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Request, Response
from litestar.response import Template
from litestar.plugins.htmx import HTMXDetails

from app.deps import end_idle_writes
from app import __version__, i18n, territories
from app.auth import current_user
from app.sections import STAFF_LINKS
from app.scope import extras as scope_extras

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
VERSION = __version__


@lru_cache(maxsize=512)
def static_url(path: str) -> str:
    """URL of a static file with a content hash, so it can be cached for a year."""
    file = STATIC / path
    try:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    except OSError:
        digest = VERSION
    return f"/static/{path}?v={digest}"


def make_environment(source_url: str = "/source") -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    # The i18n extension adds this method to the environment when it is loaded.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext, npgettext=i18n.npgettext
    )
    env.globals.update(
        static=static_url,
        locales=i18n.LOCALE_NAMES,
        version=VERSION,
        staff_links=STAFF_LINKS,
        source_url=source_url,
        territory=territories.FALLBACK,  # outside a request (e-mails): given in the context
    )
    env.filters["dt"] = format_datetime
    env.filters["d"] = format_date
    env.filters["num"] = format_number
    env.filters["km"] = format_km
    return env


def format_number(value: Any, digits: int = 0) -> str:
    """A number written for the reader's locale (``1,5`` in French, ``1.5`` in English), Babel."""
    from babel.numbers import format_decimal

    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(
        round(float(value), digits), format=pattern, locale=i18n.current_locale.get()
    )


def format_km(metres: Any, digits: int = 1) -> str:
    """A distance in kilometres for the reader's locale (``1,2 km``), Babel."""
    from babel.units import format_unit

    if metres is None:
        return ""
    value = round(float(metres) / 1000, digits)
    return format_unit(
        value,
        "length-kilometer",
        length="short",
        format="#,##0." + "0" * digits,
        locale=i18n.current_locale.get(),
    )


def format_datetime(value: Any, fmt: str = "short") -> str:
    from babel.dates import format_datetime as babel_dt
    from babel.dates import get_timezone

    if value is None:
        return ""
    return babel_dt(
        value,
        format=fmt,
        tzinfo=get_timezone(i18n.current_timezone.get()),  # the territory's of the host asked
        locale=i18n.current_locale.get(),
    )


def format_date(value: Any, fmt: str = "medium") -> str:
    from babel.dates import format_date as babel_d

    if value is None:
        return ""
    return babel_d(value, format=fmt, locale=i18n.current_locale.get())


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    anonymous: bool = False,
    **context: Any,
) -> Template:
    """Render a page with what every template needs (user, nonce, locale, active section).

    ``anonymous``: render as for a visitor, whoever asks (pages kept in a shared cache, like /offline).

    Called in a worker thread (a sync handler, or work handed to a thread), the
    page is rendered there and then, in the request's language
    (:class:`RenderedPage`): the event loop, which answers every other request
    and the health probes, never spends its time rendering it. Called on the
    event loop, it is left for Litestar to render (or for :func:`rendered`).
    """
    scope = scope_extras(request.scope)
    context.setdefault("section", "")
    context.update(
        user=None if anonymous else current_user(request),
        csp_nonce=scope.get("eclor_nonce", ""),
        locale=scope.get("eclor_locale", i18n.SOURCE_LOCALE),
        path=request.scope.get("root_path", "")
        + request.scope["path"],  # request.url's path, unparsed
        htmx=bool(HTMXDetails(request)),
        territory=scope.get("eclor_territory", territories.FALLBACK),
    )
    if context["territory"].tile_url:  # the territory's own map tiles, on every map of its pages
        context["tile_url"] = context["territory"].tile_url
        context["tile_attribution"] = context["territory"].tile_attribution
    made = Template(
        template_name=template,
        context=context,
        status_code=status_code,
        headers=headers,
        # Litestar would guess it from the name's suffixes (pathlib and mimetypes) on every page.
        media_type=MediaType.HTML if template.endswith(".html") else None,
    )
    if on_event_loop():  # an async handler: Litestar renders it (or it goes through rendered())
        return made
    # A sync handler, in its worker thread: rendered here, so the event loop never renders it, and
    # outside the request's write transaction if that wrote nothing (a form sent back, a refusal).
    end_idle_writes()
    return RenderedPage(made, render_body(request, made))


RENDER_THREADS = 4
"""Pages rendered at once off the event loop: few, so the loop still gets the interpreter often."""


_RENDER_THREADS: list[anyio.CapacityLimiter] = []
_RENDERING = threading.BoundedSemaphore(RENDER_THREADS)


def _render_limiter() -> anyio.CapacityLimiter:
    if not _RENDER_THREADS:  # made in the serving loop, not at import
        _RENDER_THREADS.append(anyio.CapacityLimiter(RENDER_THREADS))
    return _RENDER_THREADS[0]


def on_event_loop() -> bool:
    """Whether this code runs on the serving event loop (not in a worker thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextmanager
def bound_locale(locale: str, timezone: str | None = None) -> Iterator[None]:
    """``gettext`` and the Babel filters speak ``locale`` (and show times in ``timezone``, when
    given) within (a thread carries no request)."""
    token = i18n.current_locale.set(locale)
    zone = i18n.current_timezone.set(timezone) if timezone else None
    try:
        yield
    finally:
        if zone is not None:
            i18n.current_timezone.reset(zone)
        i18n.current_locale.reset(token)


def render_body(request: Request[Any, Any, Any], template: Template) -> bytes:
    """``template`` rendered here and now, in the request's language whatever the thread.

    The request's language and time zone are read from the request
    (``scope["eclor_locale"]``, ``scope["eclor_territory"]``, set by the middleware), not from the calling thread's context variables:
    a worker thread may have been started without the request's context.
    """
    engine = request.app.template_engine
    assert engine is not None and template.template_name is not None
    context = template.create_template_context(request)
    extras = scope_extras(request.scope)
    locale = extras.get("eclor_locale", i18n.SOURCE_LOCALE)
    territory = extras.get("eclor_territory", territories.FALLBACK)
    with _RENDERING, bound_locale(locale, territory.timezone):
        html = engine.get_template(template.template_name).render(**context)
    return html.encode(template.encoding)


class RenderedPage(Template):
    """A page already rendered (in a worker thread): answering it costs the event loop nothing.

    It stays a :class:`Template` for the code that handles pages, keeping its
    status, headers and cookies; only its body is fixed.
    """

    def __init__(self, template: Template, body: bytes) -> None:
        super().__init__(
            template_name=template.template_name,
            context=template.context,
            status_code=template.status_code or 200,
            headers=dict(template.headers),
            cookies=list(template.cookies),
            background=template.background,
            encoding=template.encoding,
            media_type=HTML_MEDIA_TYPE,
        )
        self.content = body

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **kwargs: Any) -> Any:
        # The plain response's path: the body as it is, no template rendered on the loop.
        return Response.to_asgi_response(self, app, request, **kwargs)


HTML_MEDIA_TYPE = "text/html; charset=utf-8"


async def rendered(request: Request[Any, Any, Any], template: Template) -> Response[bytes]:
    """``template`` (from :func:`page`) rendered in a worker thread, not on the event loop.

    Litestar renders a returned ``Template`` on the event loop; under a burst
    of one page (the page an alert points to) the loop then spends its time
    rendering and the health probes wait behind the renders. Async handlers
    whose pages take such bursts return them through this; pages made in a
    worker thread (sync handlers) are rendered there by :func:`page` itself.
    """
    body = await anyio.to_thread.run_sync(render_body, request, template, limiter=_render_limiter())
    return Response(
        body,
        status_code=template.status_code or 200,
        media_type=HTML_MEDIA_TYPE,
        headers=template.headers,
    )

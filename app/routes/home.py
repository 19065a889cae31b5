"""Home, about/legal, the source archive, the PWA shell (manifest, service worker, offline
page), health, language."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import anyio

from app import cache, jobs, pwa, source, territory_icons
from app.auth import PUBLIC, current_user
from app.db import make_engine
from app.i18n import current_locale
from app.home import load_panels
from app.models.territory import Commune, Territory
from app.templating import bound_locale, page
from app.territories import Branding, request_territory
from app.interfaces import Contribution


# What the anonymous home page shows is the same for everyone: computed at most
# every few seconds per process (an alert shows up within that delay).
ANONYMOUS_PANELS_TTL_S = 5.0
COMMUNES_TTL_S = 300.0


def _communes(engine: Any, territory_id: int) -> list[Commune]:
    with Session(engine) as db:
        query = select(Commune).order_by(col(Commune.name))
        if territory_id:  # 0: the fallback of an install without territories
            query = query.where(col(Commune.territory_id) == territory_id)
        return list(db.scalars(query).all())


def _panels(engine: Any, user: Any, territory: Any) -> list[Any]:
    with Session(engine) as db:  # no connection is taken until a query runs
        return load_panels(db, user, territory)


@get("/", opt=PUBLIC, name="home")
async def home(request: Request[Any, Any, Any]) -> Template:
    user = current_user(request)
    engine, ns = request.app.state.engine, request.app.state.cache_ns
    territory = request_territory(request)  # each territory's own communes and panels
    # Served from memory while fresh: no thread, no database. When the value expires one request
    # recomputes it and the others meanwhile get the one it replaces (a crowd never computes it
    # once each: the panels take tens of milliseconds of CPU that the event loop would wait for).
    communes = cache.peek(("communes", ns, territory.id))
    if communes is None:
        communes = await cache.shared(
            ("communes", ns, territory.id),
            COMMUNES_TTL_S,
            functools.partial(_communes, engine, territory.id),
            stale_s=60.0,
        )
    panels: list[Any] | None = None
    if user is not None:
        panels = await anyio.to_thread.run_sync(_panels, engine, user, territory)
    else:
        panels = cache.peek(("home-panels", ns, territory.id))
        if panels is None:
            panels = await cache.shared(
                ("home-panels", ns, territory.id),
                ANONYMOUS_PANELS_TTL_S,
                functools.partial(_panels, engine, None, territory),
                stale_s=ANONYMOUS_PANELS_TTL_S,
            )
    return page(request, "home/index.html", section="home", panels=panels, communes=communes)


@get("/about", opt=PUBLIC, name="about")
async def about(request: Request[Any, Any, Any]) -> Template:
    return page(request, "home/about.html", section="about")


@get("/source", opt=PUBLIC, name="source")
async def source_archive(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The Corresponding Source of this running Eclor (AGPL-3.0 §13), as a .tar.gz."""
    data, etag = await anyio.to_thread.run_sync(source.archive)
    headers = {"etag": etag, "cache-control": "public, max-age=3600"}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    headers["content-disposition"] = f'attachment; filename="{source.filename()}"'
    return Response(data, media_type="application/gzip", headers=headers)


@get("/offline", opt=PUBLIC, name="offline")
async def offline(request: Request[Any, Any, Any]) -> Template:
    # Kept by the service worker and shown to whoever uses the phone next: never anyone's name.
    return page(request, "home/offline.html", anonymous=True, headers={"cache-control": "no-store"})


@get("/manifest.webmanifest", opt=PUBLIC, name="manifest")
async def manifest(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The host's territory's manifest in the language of the page that links it (``?lang=``, one
    the territory offers; else the request's): a browser fetches it without the language cookie."""
    territory = request_territory(request)
    asked = request.query_params.get("lang")
    with bound_locale(asked if asked in territory.locales else current_locale.get()):
        body = json.dumps(pwa.manifest(territory), ensure_ascii=False).encode()
    return Response(
        body,
        media_type="application/manifest+json",
        headers={"cache-control": "public, max-age=3600", "vary": "Accept-Language"},
    )


@get("/territory.css", opt=PUBLIC, name="territory_css")
async def territory_css(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The colours of the host's territory (linked with ``?v=`` their version: kept a year)."""
    return Response(
        request_territory(request).css().encode(),
        media_type="text/css",
        headers={"cache-control": "public, max-age=31536000"},
    )


def _territory_by_slug(engine: Engine, slug: str) -> Territory | None:
    with Session(engine) as session:
        return session.scalars(select(Territory).where(col(Territory.slug) == slug[:64])).first()


@get("/territory-icons/{name:str}", opt=PUBLIC, name="territory_icon")
async def territory_icon(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """One of the host's territory's icons: kept a year at its version (``?v=``), else revalidated
    by its ETag (the notification icon's address has no version)."""
    territory = request_territory(request)
    slug = request.query_params.get("territory")
    if slug and slug != territory.slug:  # another territory's, shown on a page of several
        row = await anyio.to_thread.run_sync(_territory_by_slug, request.app.state.engine, slug)
        if row is None:
            raise NotFoundException()
        territory = Branding.of(row)
    data = await anyio.to_thread.run_sync(territory_icons.icon, territory, name)
    if data is None:
        raise NotFoundException()
    etag = f'"{territory.icon_version}"'
    versioned = request.query_params.get("v") == territory.icon_version
    headers = {
        "etag": etag,
        "cache-control": "public, max-age=31536000, immutable" if versioned else "no-cache",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(data, media_type="image/png", headers=headers)


@get("/sw.js", opt=PUBLIC, name="service_worker")
async def service_worker(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(
        pwa.service_worker_js(request_territory(request)),
        media_type="text/javascript",
        headers={"cache-control": "no-cache", "service-worker-allowed": "/"},
    )


PROBE_TIMEOUT_S = 0.8
_probe_threads: list[anyio.CapacityLimiter] = []


def _probe_limiter() -> anyio.CapacityLimiter:
    """Threads of their own for the probes, so a burst that fills the request threads never delays them."""
    if not _probe_threads:
        _probe_threads.append(anyio.CapacityLimiter(4))
    return _probe_threads[0]


def _probe_engine(request: Request[Any, Any, Any]) -> Engine:
    """An engine of its own for the probes, keeping no connection: they never wait behind the requests' pool."""
    state = request.app.state
    engine: Engine = state.engine
    cached = getattr(state, "probe_engine", None)
    if cached is None or getattr(state, "probe_engine_of", None) is not engine:
        cached = make_engine(
            engine.url.render_as_string(hide_password=False),
            pooled=False,
            lock_timeout_ms=int(PROBE_TIMEOUT_S * 1000),
        )
        state.probe_engine, state.probe_engine_of = cached, engine
    return cached


def _check_database(engine: Engine, *, with_worker: bool) -> dict[str, Any]:
    with Session(engine) as db:
        db.execute(text("SELECT 1"))
        return {"worker": jobs.worker_health(db)} if with_worker else {}


async def _probe(
    request: Request[Any, Any, Any], *, with_worker: bool
) -> tuple[dict[str, Any], bool]:
    try:
        with anyio.fail_after(PROBE_TIMEOUT_S):
            found = await anyio.to_thread.run_sync(
                functools.partial(_check_database, _probe_engine(request), with_worker=with_worker),
                limiter=_probe_limiter(),
                abandon_on_cancel=True,
            )
    except TimeoutError:
        return {"status": "error", "database": "timeout"}, False
    except Exception as exc:  # the database does not answer: say so, with 503
        return {"status": "error", "database": type(exc).__name__}, False
    return {"status": "ok", "database": "ok", **found}, True


@get("/livez", opt=PUBLIC, name="livez")
async def livez() -> Response[dict[str, str]]:
    """Liveness: the process answers (nothing else is checked; restart it if this fails)."""
    return Response({"status": "ok"}, headers={"cache-control": "no-store"})


@get("/readyz", opt=PUBLIC, name="readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Readiness: the database answers and this process has a free slot (else 503: send traffic elsewhere)."""
    body, ok = await _probe(request, with_worker=False)
    limiter = getattr(request.app.state, "limiter", None)
    if limiter is not None:
        body["load"] = {"running": limiter.running, "limit": limiter.limit}
        if limiter.running >= limiter.limit:
            body["status"], ok = "busy", False
    return Response(body, status_code=200 if ok else 503, headers={"cache-control": "no-store"})


@get("/healthz", opt=PUBLIC, name="healthz")
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Health: the database answers, and the workers that run are alive (their heartbeat is recent).

    ``worker.status`` is ``ok``, ``none`` (no worker runs) or ``stale`` (a
    worker stopped beating without saying goodbye: 503).
    """
    body, ok = await _probe(request, with_worker=True)
    if ok and body["worker"]["status"] == "stale":
        body["status"], ok = "error", False
    return Response(body, status_code=200 if ok else 503, headers={"cache-control": "no-store"})


@post("/lang", opt=PUBLIC, name="set_language")
async def set_language(
    request: Request[Any, Any, Any],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect:
    lang = data.get("lang", "")
    back = data.get("next", "/")
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    response = Redirect(back, status_code=303)
    if lang in request_territory(request).locales:
        response.set_cookie(
            "lang",
            lang,
            max_age=365 * 86400,
            samesite="lax",
            httponly=True,
            secure=request.app.state.settings.https,
        )
    return response


ROUTES = [
    home,
    about,
    source_archive,
    offline,
    manifest,
    territory_css,
    territory_icon,
    service_worker,
    healthz,
    livez,
    readyz,
    set_language,
]

CONTRIBUTES = Contribution(routes=ROUTES)

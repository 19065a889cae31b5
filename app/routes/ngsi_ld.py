"""The NGSI-LD API: entities (``/ngsi-ld/v1/entities``), the served ``@context``, types and attributes.

Thin handlers over ``app.sensors.ngsi_search`` (queries) and ``app.sensors.ngsi_ld``
(entities). Content negotiation as NGSI-LD brokers do it: ``application/json``
(the ``@context`` in a ``Link`` header), ``application/ld+json`` (in the body),
``application/geo+json`` (a FeatureCollection); anything else is 406. Pages
carry ``Link`` headers with ``rel="next"`` and ``rel="prev"``; errors are
ProblemDetails (``application/json``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from app.auth import PUBLIC
from app.interfaces import Contribution
from app import ngsi_context as ldctx
from app.ngsi import NgsiError
from app.ngsi_context import LdContext
from app.sensors import ngsi_ld, ngsi_search
from app.territories import bind, request_territory

JSON, LD, GEO = "application/json", "application/ld+json", "application/geo+json"


def _territory(request: Request[Any, Any, Any], db: Session) -> None:
    """Keep the session's entities to the request's territory (the host's): app.ngsi.territory_of."""
    bind(db, request_territory(request))


def _media(request: Request[Any, Any, Any]) -> str:
    """The representation asked for by ``Accept`` (406 when none of NGSI-LD's is acceptable)."""
    accept = request.headers.get("accept", "")
    if not accept.strip():
        return JSON
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        params = part.split(";")[1:]
        if any(p.strip().replace(" ", "") in ("q=0", "q=0.0", "q=0.00") for p in params):
            continue
        if media in (JSON, LD, GEO):
            return media
        if media in ("*/*", "application/*"):
            return JSON
    raise NgsiError(
        406,
        "NotAcceptable",
        "Not acceptable",
        "Accept one of application/json, application/ld+json, application/geo+json",
    )


def _context_url(request: Request[Any, Any, Any]) -> str:
    return request.app.state.settings.base_url.rstrip("/") + ngsi_ld.CONTEXT_PATH


def ld_context(request: Request[Any, Any, Any]) -> LdContext:
    """The request's ``@context`` (its ``Link`` header), then the core one."""
    url = ldctx.link_url(request.headers.get("link"))
    if url is None:
        return ldctx.CORE
    own = ngsi_ld.context()
    known = {
        _context_url(request): own,
        str(request.base_url).rstrip("/") + ngsi_ld.CONTEXT_PATH: own,
    }
    load = ldctx.loader(known, request.app.state.settings.outbound_allows_loopback)
    return ldctx.build(url, url, load)


def _link(url: str) -> str:
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def _feature(entity: dict[str, Any], geoproperty: str, simplified: bool) -> dict[str, Any]:
    place = entity.get(geoproperty)
    geometry = place if simplified else (place or {}).get("value")
    properties = {k: v for k, v in entity.items() if k not in ("id", "@context")}
    return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}


def _respond(
    request: Request[Any, Any, Any],
    body: Any,
    media: str,
    *,
    ctx: LdContext = ldctx.CORE,
    simplified: bool = False,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    context = ctx.url or _context_url(request)
    out = dict(headers or {})
    if media == GEO:
        geoproperty = request.query_params.get("geoproperty") or "location"
        if isinstance(body, list):
            body = {
                "type": "FeatureCollection",
                "features": [_feature(e, geoproperty, simplified) for e in body],
            }
        else:
            body = _feature(body, geoproperty, simplified)
        out["link"] = _link(context)
    elif media == LD:
        if isinstance(body, list):
            body = [{**item, "@context": context} for item in body]
        else:
            body = {**body, "@context": context}
    else:
        out["link"] = _link(context)
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        status_code=200,
        media_type=media,
        headers=out,
    )


def problem(error: NgsiError) -> Response[bytes]:
    return Response(json.dumps(error.body()).encode(), status_code=error.status, media_type=JSON)


def _params(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {key: value for key, value in request.query_params.items()}


def _page_links(request: Request[Any, Any, Any], query: Any, total: int, shown: int) -> list[str]:
    params = _params(request)
    links = []
    base = request.app.state.settings.base_url.rstrip("/") + request.url.path
    if query.offset + shown < total and shown > 0:
        links.append(
            f'<{base}?{urlencode({**params, "offset": query.offset + query.limit})}>; rel="next"'
        )
    if query.offset > 0:
        previous = max(0, query.offset - query.limit)
        links.append(f'<{base}?{urlencode({**params, "offset": previous})}>; rel="prev"')
    return links


@get("/ngsi-ld/v1/entities", opt=PUBLIC, sync_to_thread=True, name="ngsi_entities")
def ngsi_entities(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    _territory(request, db)
    try:
        media = _media(request)
        ctx = ld_context(request)
        query = ngsi_search.parse(_params(request), ctx)
        entities, total = ngsi_search.search(db, query)
    except NgsiError as exc:
        return problem(exc)
    headers = {"ngsild-results-count": str(total)} if query.count else {}
    entities = [ngsi_search.compact(e, ctx) for e in entities]
    response = _respond(
        request, entities, media, ctx=ctx, simplified=query.simplified, headers=headers
    )
    links = _page_links(request, query, total, len(entities))
    if links:
        response.headers["link"] = ", ".join([response.headers.get("link", "")] + links).lstrip(
            ", "
        )
    return response


@get("/ngsi-ld/v1/entities/{entity_id:str}", opt=PUBLIC, sync_to_thread=True, name="ngsi_entity")
def ngsi_entity(
    request: Request[Any, Any, Any], db: NamedDependency[Session], entity_id: FromPath[str]
) -> Response[bytes]:
    _territory(request, db)
    try:
        media = _media(request)
        ctx = ld_context(request)
        params = _params(request)
        entity = ngsi_search.compact(ngsi_search.one(db, entity_id, params, ctx), ctx)
    except NgsiError as exc:
        return problem(exc)
    return _respond(request, entity, media, ctx=ctx, simplified=ngsi_search.representation(params))


@get(ngsi_ld.CONTEXT_PATH, opt=PUBLIC, name="ngsi_context")
async def ngsi_context() -> Response[bytes]:
    return Response(
        json.dumps(ngsi_ld.context(), indent=1).encode(),
        media_type=LD,
        headers={"cache-control": "public, max-age=86400"},
    )


def _listing(request: Request[Any, Any, Any], build: Any) -> Response[bytes]:
    try:
        media = _media(request)
        if media == GEO:
            raise NgsiError(406, "NotAcceptable", "Not acceptable", "types and attributes are JSON")
        params = _params(request)
        unknown = sorted(set(params) - {"details", "local"})
        if unknown:
            raise NgsiError(400, "OperationNotSupported", "Not supported", unknown[0][:40])
        details = (params.get("details") or "false") == "true"
        ctx = ld_context(request)
        body = build(details, ctx)
    except NgsiError as exc:
        return problem(exc)
    return _respond(request, body, media, ctx=ctx)


@get("/ngsi-ld/v1/types", opt=PUBLIC, sync_to_thread=True, name="ngsi_types")
def ngsi_types(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    _territory(request, db)
    return _listing(request, lambda details, ctx: ngsi_search.types(db, details, ctx))


@get("/ngsi-ld/v1/types/{name:str}", opt=PUBLIC, sync_to_thread=True, name="ngsi_type")
def ngsi_type(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> Response[bytes]:
    _territory(request, db)
    return _listing(request, lambda details, ctx: ngsi_search.type_info(db, name, ctx))


@get("/ngsi-ld/v1/attributes", opt=PUBLIC, sync_to_thread=True, name="ngsi_attributes")
def ngsi_attributes(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[bytes]:
    _territory(request, db)
    return _listing(request, lambda details, ctx: ngsi_search.attributes(db, details, ctx))


@get("/ngsi-ld/v1/attributes/{name:str}", opt=PUBLIC, sync_to_thread=True, name="ngsi_attribute")
def ngsi_attribute(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> Response[bytes]:
    _territory(request, db)
    return _listing(request, lambda details, ctx: ngsi_search.attribute_info(db, name, ctx))


ROUTES = [
    ngsi_entities,
    ngsi_entity,
    ngsi_context,
    ngsi_types,
    ngsi_type,
    ngsi_attributes,
    ngsi_attribute,
]
CONTRIBUTES = Contribution(routes=ROUTES)

"""NGSI-LD subscriptions (``/ngsi-ld/v1/subscriptions``): create, list, read, update, delete.

Thin handlers over ``app.sensors.ngsi_subscriptions``; notifications are sent
by the worker (``app.sensors.ngsi_notifier``), never by these requests. A
partner authenticates with its NGSI-LD API key (``X-Api-Key`` or
``Authorization: Bearer``) and sees only its own subscriptions; signed-in staff
see and manage all of them (their changes carry the CSRF header, as the pages'
scripts do). Errors are ProblemDetails: 401 without a valid key, 404 for a
subscription that is not the caller's, 409 for an id already taken, 415 for a
body that is not JSON.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import anyio
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from app import ngsi_context as ldctx
from app import ngsi_core_context as core_context
from app.auth import PUBLIC, current_user
from app.db import utcnow
from app.deps import late_write, start_writing
from app.interfaces import Contribution
from app.models.ngsi import NgsiApiKey, NgsiSubscription
from app.ngsi import NgsiError
from app.ngsi_context import LdContext
from app.routes.ngsi_ld import JSON, LD, _media, _page_links, _respond, ld_context, problem
from app.sensors import ngsi_ld
from app.sensors import ngsi_subscriptions as subs
from app.territories import request_territory

PATH = "/ngsi-ld/v1/subscriptions"
OPEN = {**PUBLIC, "exclude_from_csrf": True}  # checked here: API key, or staff with the CSRF header


def _caller(request: Request[Any, Any, Any], db: Session) -> tuple[NgsiApiKey | None, bool]:
    """(the partner's key, whether staff): 401 for anyone else."""
    key = subs.key_of(request.headers)
    if key is not None:
        row = subs.check_key(db, key)
        if row is None:
            raise NgsiError(401, "Unauthorized", "Unknown or revoked API key")
        return row, False
    user = current_user(request)
    if user is not None and user.is_staff:
        if request.method not in ("GET", "HEAD"):
            token = request.headers.get("x-csrftoken") or ""
            if not token or token != request.cookies.get("csrftoken"):
                raise NgsiError(403, "Forbidden", "CSRF token missing or wrong")
        return None, True
    raise NgsiError(401, "Unauthorized", "An NGSI-LD API key is required (X-Api-Key)")


async def _body(request: Request[Any, Any, Any]) -> tuple[Any, str]:
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in (JSON, LD):
        raise NgsiError(
            415, "InvalidRequest", "Unsupported media type", "application/json or ld+json"
        )
    raw = await request.body()
    try:
        return json.loads(raw), media
    except ValueError:
        raise NgsiError(400, "InvalidRequest", "Invalid JSON", "the body is not JSON") from None


def _body_context(request: Request[Any, Any, Any], body: Any, media: str) -> LdContext:
    """The context of a request with a body: ``@context`` in it (ld+json), or the Link header."""
    if media == JSON:
        return ld_context(request)
    if request.headers.get("link"):
        raise NgsiError(
            400, "BadRequestData", "Link header with ld+json", "put the @context in the body"
        )
    value = body.get("@context") if isinstance(body, dict) else None
    if value is None:
        raise NgsiError(400, "BadRequestData", "@context missing", "ld+json needs @context")
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise NgsiError(
            400,
            "OperationNotSupported",
            "Inline @context not supported",
            "give the @context as the URL of a context document",
        )
    others = [u for u in urls if u not in core_context.URLS]
    if not others:
        return ldctx.CORE
    if len(others) > 1:
        raise NgsiError(
            400, "OperationNotSupported", "Not supported", "one context document besides the core"
        )
    own_url = request.app.state.settings.base_url.rstrip("/") + ngsi_ld.CONTEXT_PATH
    load = ldctx.loader(
        {own_url: ngsi_ld.context()}, request.app.state.settings.outbound_allows_loopback
    )
    return ldctx.build(others[0], others[0], load)


def _find(
    db: Session, sub_id: str, key: NgsiApiKey | None, staff: bool, territory_id: int
) -> NgsiSubscription:
    """The caller's subscription made on this territory's host; anything else is not found."""
    row = db.get(NgsiSubscription, sub_id)
    if (
        row is None
        or row.territory_id != territory_id
        or (not staff and (key is None or row.api_key_id != key.id))
    ):
        raise NgsiError(404, "ResourceNotFound", "Subscription not found", sub_id[:200])
    return row


@post(PATH, opt=late_write(OPEN), name="ngsi_subscription_create")
async def create_subscription(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[bytes]:
    try:
        key, staff = await anyio.to_thread.run_sync(_caller, request, db)
        body, media = await _body(request)
        ctx = await anyio.to_thread.run_sync(_body_context, request, body, media)
        settings = request.app.state.settings
        spec = subs.check(body, ctx, allow_loopback=settings.outbound_allows_loopback)
        sub_id = subs.new_id(body)

        def store() -> None:
            start_writing(db)
            if db.get(NgsiSubscription, sub_id) is not None:
                raise NgsiError(409, "AlreadyExists", "Subscription exists", sub_id[:200])
            if key is not None and subs.count_owned(db, key) >= subs.MAX_PER_OWNER:
                raise NgsiError(
                    400, "BadRequestData", "Too many subscriptions", str(subs.MAX_PER_OWNER)
                )
            user = current_user(request)
            row = NgsiSubscription(
                id=sub_id,
                api_key_id=key.id if key else None,
                user_id=user.id if staff and user else None,
                territory_id=request_territory(request).id,
                spec="{}",
            )
            subs.apply(row, spec)
            db.add(row)
            if key is not None:
                key.last_used_at = utcnow()
                db.add(key)
            db.commit()

        await anyio.to_thread.run_sync(store)
    except NgsiError as exc:
        return problem(exc)
    location = settings.base_url.rstrip("/") + f"{PATH}/{sub_id}"
    return Response(b"", status_code=201, headers={"location": location})


@get(PATH, opt=OPEN, sync_to_thread=True, name="ngsi_subscriptions")
def list_subscriptions(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[bytes]:
    try:
        key, staff = _caller(request, db)
        media = _media(request)
        ctx = ld_context(request)
        params = dict(request.query_params.items())
        unknown = sorted(set(params) - {"limit", "offset", "count"})
        if unknown:
            raise NgsiError(400, "OperationNotSupported", "Not supported", unknown[0][:40])
        limit, offset = (
            _number(params, "limit", 20, 1000),
            _number(params, "offset", 0, 10**9),
        )
        rows = list(subs.owned(db, key, staff, request_territory(request).id))
    except NgsiError as exc:
        return problem(exc)
    now = utcnow()
    page = [subs.as_json(r, ctx, now) for r in rows[offset : offset + limit]]
    headers = {"ngsild-results-count": str(len(rows))} if params.get("count") == "true" else {}
    response = _respond(request, page, JSON if media != LD else LD, ctx=ctx, headers=headers)

    links = _page_links(request, SimpleNamespace(offset=offset, limit=limit), len(rows), len(page))
    if links:
        response.headers["link"] = ", ".join([response.headers.get("link", "")] + links).lstrip(
            ", "
        )
    return response


def _number(params: dict[str, str], name: str, default: int, most: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > most:
        raise NgsiError(400, "BadRequestData", f"Invalid {name}", f"0..{most}")
    return int(raw)


@get(f"{PATH}/{{sub_id:str}}", opt=OPEN, sync_to_thread=True, name="ngsi_subscription")
def read_subscription(
    request: Request[Any, Any, Any], db: NamedDependency[Session], sub_id: FromPath[str]
) -> Response[bytes]:
    try:
        key, staff = _caller(request, db)
        media = _media(request)
        ctx = ld_context(request)
        row = _find(db, sub_id, key, staff, request_territory(request).id)
    except NgsiError as exc:
        return problem(exc)
    return _respond(request, subs.as_json(row, ctx, utcnow()), JSON if media != LD else LD, ctx=ctx)


@patch(
    f"{PATH}/{{sub_id:str}}",
    opt=late_write(OPEN),
    name="ngsi_subscription_update",
)
async def update_subscription(
    request: Request[Any, Any, Any], db: NamedDependency[Session], sub_id: FromPath[str]
) -> Response[bytes]:
    try:
        key, staff = await anyio.to_thread.run_sync(_caller, request, db)
        body, media = await _body(request)
        if not isinstance(body, dict) or not (set(body) - {"@context"}):
            raise NgsiError(400, "BadRequestData", "Empty update", "nothing to change")
        if "id" in body and body["id"] != sub_id:
            raise NgsiError(400, "BadRequestData", "id cannot change", sub_id[:200])
        ctx = await anyio.to_thread.run_sync(_body_context, request, body, media)
        settings = request.app.state.settings

        def store() -> None:
            start_writing(db)
            row = _find(db, sub_id, key, staff, request_territory(request).id)
            previous = json.loads(row.spec)
            if ctx.url is None and previous.get("context"):
                previous.pop("context")
            spec = subs.check(
                {k: v for k, v in body.items() if k != "id"},
                ctx,
                allow_loopback=settings.outbound_allows_loopback,
                previous=previous,
            )
            subs.apply(row, spec)
            db.add(row)
            db.commit()

        await anyio.to_thread.run_sync(store)
    except NgsiError as exc:
        return problem(exc)
    return Response(b"", status_code=204)


@delete(
    f"{PATH}/{{sub_id:str}}",
    opt=OPEN,
    sync_to_thread=True,
    status_code=200,  # the answer's own: 204, or a ProblemDetails
    name="ngsi_subscription_delete",
)
def delete_subscription(
    request: Request[Any, Any, Any], db: NamedDependency[Session], sub_id: FromPath[str]
) -> Response[bytes]:
    try:
        key, staff = _caller(request, db)
        row = _find(db, sub_id, key, staff, request_territory(request).id)
    except NgsiError as exc:
        return problem(exc)
    db.delete(row)
    db.commit()
    return Response(b"", status_code=204)


ROUTES = [
    create_subscription,
    list_subscriptions,
    read_subscription,
    update_subscription,
    delete_subscription,
]
CONTRIBUTES = Contribution(routes=ROUTES)

"""The standard-covoiturage API under /api/carpool (see ``app.carpool.standard``).

Search and ``/status`` are public; bookings and messages need an operator's
key (``eclor carpool operator add NAME``) in ``Authorization: Bearer KEY``,
``X-API-Key`` or ``api_key``. Errors are ``{"error": "..."}`` with the
standard's status codes.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from app.auth import PUBLIC
from app.carpool import standard
from app.carpool.operators import operator_for_key
from app.models.carpool_interop import CarpoolOperator
from app.routes.carpool_forms import searched
from app.territories import request_territory

API = {**PUBLIC, "exclude_from_csrf": True}
MAX_BODY = 64 * 1024


def _ctx(request: Request[Any, Any, Any], db: Session) -> standard.Context:
    """The answers' settings, and the territories whose journeys the host's API finds (its own and
    those sharing their offers with it both ways)."""
    settings = request.app.state.settings
    return standard.Context(
        base=settings.base_url.rstrip("/"),
        secret=settings.secret_key,
        territories=searched(db, request),
        zone=request_territory(request).zone,
    )


def _error(status: int, message: str) -> Response[Any]:
    return Response({"error": message}, status_code=status)


def _operator(request: Request[Any, Any, Any], db: Session) -> CarpoolOperator | None:
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    key = key or request.headers.get("x-api-key", "") or request.headers.get("api_key", "")
    return operator_for_key(db, key.strip())


async def _body(request: Request[Any, Any, Any]) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise standard.StandardError(400, "The body is too large.")
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise standard.StandardError(400, "The body must be JSON.") from None


def _search(kind: str, request: Request[Any, Any, Any], db: Session) -> Response[Any]:
    params = dict(request.query_params)
    ctx = _ctx(request, db)
    try:
        if kind.endswith("journeys"):
            found = standard.search_journeys(db, ctx, kind.split("_")[0], params)
        else:
            found = standard.search_regular(db, ctx, kind.split("_")[0], params)
    except standard.StandardError as exc:
        return _error(exc.status, str(exc))
    return Response(found, headers={"cache-control": "public, max-age=60"})


@get(
    "/api/carpool/driver_journeys",
    opt=PUBLIC,
    sync_to_thread=True,
    name="carpool_api_driver_journeys",
)
def driver_journeys(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[Any]:
    """Planned driver journeys around ``departureDate`` (standard-covoiturage)."""
    return _search("driver_journeys", request, db)


@get(
    "/api/carpool/passenger_journeys",
    opt=PUBLIC,
    sync_to_thread=True,
    name="carpool_api_passenger_journeys",
)
def passenger_journeys(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[Any]:
    """Planned passenger journeys around ``departureDate`` (standard-covoiturage)."""
    return _search("passenger_journeys", request, db)


@get(
    "/api/carpool/driver_regular_trips",
    opt=PUBLIC,
    sync_to_thread=True,
    name="carpool_api_driver_regular",
)
def driver_regular_trips(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[Any]:
    """Regular driver trips with their weekly schedules (standard-covoiturage)."""
    return _search("driver_regular_trips", request, db)


@get(
    "/api/carpool/passenger_regular_trips",
    opt=PUBLIC,
    sync_to_thread=True,
    name="carpool_api_passenger_regular",
)
def passenger_regular_trips(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[Any]:
    """Regular passenger trips with their weekly schedules (standard-covoiturage)."""
    return _search("passenger_regular_trips", request, db)


@get("/api/carpool/status", opt=PUBLIC, sync_to_thread=True, name="carpool_api_status")
def status(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[Any]:
    """Health of the carpool API (``activeJourneys``: whether the host's API finds any)."""
    return Response(
        standard.status_of(db, searched(db, request)), headers={"cache-control": "no-store"}
    )


@post("/api/carpool/bookings", opt=API, name="carpool_api_book")
async def book(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[Any]:
    """An operator's user books an Eclor journey (answers the Booking, 201)."""
    try:
        body = await _body(request)
    except standard.StandardError as exc:
        return _error(exc.status, str(exc))
    return await _in_thread(_book, request, db, body)


def _book(request: Request[Any, Any, Any], db: Session, body: Any) -> Response[Any]:
    operator = _operator(request, db)
    if operator is None:
        db.rollback()
        return _error(401, "An operator key is required (Authorization: Bearer KEY).")
    try:
        booking = standard.create_booking(db, _ctx(request, db), operator, body)
        answer = standard.booking_json(db, _ctx(request, db), booking)
    except standard.StandardError as exc:
        db.rollback()
        return _error(exc.status, str(exc))
    db.commit()
    return Response(answer, status_code=201)


@get(
    "/api/carpool/bookings/{booking_id:str}",
    opt=PUBLIC,
    sync_to_thread=True,
    name="carpool_api_booking",
)
def read_booking(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[str]
) -> Response[Any]:
    """The Booking as Eclor has it (only for the operator that made it)."""
    operator = _operator(request, db)
    if operator is None:
        return _error(401, "An operator key is required (Authorization: Bearer KEY).")
    try:
        booking = standard.operator_booking(db, operator, booking_id)
    except standard.StandardError as exc:
        return _error(exc.status, str(exc))
    return Response(
        standard.booking_json(db, _ctx(request, db), booking), headers={"cache-control": "no-store"}
    )


@patch(
    "/api/carpool/bookings/{booking_id:str}",
    opt=API,
    sync_to_thread=True,
    name="carpool_api_update_booking",
)
def update_booking(
    request: Request[Any, Any, Any], db: NamedDependency[Session], booking_id: FromPath[str]
) -> Response[Any]:
    """``?status=CANCELLED`` (and an optional ``message``) from the operator that made the booking."""
    operator = _operator(request, db)
    if operator is None:
        db.rollback()
        return _error(401, "An operator key is required (Authorization: Bearer KEY).")
    new = request.query_params.get("status") or ""
    message = request.query_params.get("message") or ""
    if len(message) > 500:
        db.rollback()
        return _error(400, "message is 500 characters at most.")
    try:
        standard.update_booking(db, operator, booking_id, new, message)
    except standard.StandardError as exc:
        db.rollback()
        return _error(exc.status, str(exc))
    db.commit()
    return Response({"status": new}, status_code=200)


@post("/api/carpool/messages", opt=API, name="carpool_api_message")
async def message(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[Any]:
    """A message from an operator's user to the Eclor member of their booking (201)."""
    try:
        body = await _body(request)
    except standard.StandardError as exc:
        return _error(exc.status, str(exc))
    return await _in_thread(_message, request, db, body)


def _message(request: Request[Any, Any, Any], db: Session, body: Any) -> Response[Any]:
    operator = _operator(request, db)
    if operator is None:
        db.rollback()
        return _error(401, "An operator key is required (Authorization: Bearer KEY).")
    try:
        standard.post_message(db, operator, body)
    except standard.StandardError as exc:
        db.rollback()
        return _error(exc.status, str(exc))
    db.commit()
    return Response(None, status_code=201)


async def _in_thread(fn: Any, *args: Any) -> Response[Any]:
    import anyio

    result: Response[Any] = await anyio.to_thread.run_sync(fn, *args)
    return result


ROUTES = [
    driver_journeys,
    passenger_journeys,
    driver_regular_trips,
    passenger_regular_trips,
    status,
    book,
    read_booking,
    update_booking,
    message,
]

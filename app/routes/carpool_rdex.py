"""The RDEX+ carpool API (journeys searched by other platforms)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from sqlmodel import Session

from app.auth import PUBLIC
from app.carpool import matching, rdex
from app.carpool import trips as carpool_trips
from app.db import utcnow
from app.routes.carpool_forms import searched
from app.territories import request_territory

# --- RDEX+ ------------------------------------------------------------------------------


def _rdex_error(exc: rdex.RdexError) -> Response[Any]:
    return Response({"errorCode": exc.code, "errorMessage": str(exc)}, status_code=400)


@get("/api/rdex/journeys", opt=PUBLIC, sync_to_thread=True, name="rdex_journeys")
def rdex_journeys(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[Any]:
    """Carpool ads as RDEX+ journeys: ``{"journeys": [...], "nbJourneys": n}``.

    Parameters as in RDEX+ 2.0.1 (``departureLat``, ``departureLng``,
    ``arrivalLat``, ``arrivalLng`` required; ``carpoolerType``, ``frequency``,
    ``departureDate`` and ``maxDate`` in UNIX seconds, ``regularSchedule`` as
    JSON, ``timeDelta``, ``departureRadius``, ``arrivalRadius``, ``count``),
    or their RDEX v1 ``p[...]`` forms (see ``app.carpool.rdex``). The journeys of the host's
    territory and of those sharing their offers with it both ways.
    """
    try:
        search = rdex.parse_search(dict(request.query_params), request_territory(request).zone)
    except rdex.RdexError as exc:
        return _rdex_error(exc)
    base = request.app.state.settings.base_url.rstrip("/")
    secret = request.app.state.settings.secret_key
    ads = rdex.find(db, search, searched(db, request))
    names = matching.display_names(db, [a.user_id for a in ads])
    start = carpool_trips.local(max(search.when, utcnow()), request_territory(request).zone).date()
    body = [rdex.journey(a, names.get(a.user_id, ""), base, secret, start=start) for a in ads]
    return Response(
        {"journeys": body, "nbJourneys": len(body)}, headers={"cache-control": "public, max-age=60"}
    )

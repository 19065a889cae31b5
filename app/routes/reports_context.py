"""What the dump-site report pages share: the signed-in user, a report one may see, map tiles, the list's context and paging."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.plugins.htmx import HTMXDetails
from sqlmodel import Session, col, select

from app import ratelimit
from app.auth import CurrentUser, current_user
from app.models.reports import (
    Report,
)
from app.reports import catalogue, intake
from app.reports import categories as cats
from app.territories import request_territory

PAGE_SIZE = 50
REPORT_LIMIT = ratelimit.Limit("report_create", 30, 60 * 60)


def signed_in(request: Request[Any, Any, Any]) -> CurrentUser | None:
    return current_user(request)


def media_root(request: Request[Any, Any, Any]) -> Path:
    return request.app.state.settings.resolved_media_dir


def map_tiles(request: Request[Any, Any, Any]) -> dict[str, Any]:
    settings = request.app.state.settings
    return {"tile_url": settings.tile_url, "tile_attribution": settings.tile_attribution}


def needs_full_load(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """Pages with a map and page script load in full: a boosted (htmx) navigation would not run their scripts."""
    htmx = HTMXDetails(request)
    if htmx.boosted and htmx.target is None:
        url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Response(b"", headers={"HX-Redirect": url, "Vary": "HX-Request"})
    return None


def here(request: Request[Any, Any, Any]) -> int:
    """The id of the request's territory (its host's): every reports query is kept to it."""
    return request_territory(request).id


def get_report(db: Session, report_id: int, territory_id: int) -> Report:
    """The report of that id in the territory; 404 when there is none (or it is another's)."""
    report = catalogue.report_in(db, report_id, territory_id)
    if report is None:
        raise NotFoundException("Ce signalement n’existe pas.")
    return report


def visible_to(report: Report, user: CurrentUser | None) -> bool:
    if report.status != "hidden":
        return True
    return user is not None and (user.is_staff or report.reporter_id == user.id)


# --- public pages ------------------------------------------------------------------------------------


def list_context(
    db: Session, filters: catalogue.Filters, *, staff: bool, page_no: int, territory_id: int
) -> dict[str, Any]:
    def query(what: Any) -> Any:
        return catalogue.scoped(filters.apply(select(what), staff=staff), territory_id)

    total, capped = catalogue.bounded_count(db, query(col(Report.id)))
    offset = (page_no - 1) * PAGE_SIZE
    if staff:  # the new ones first, then the others, each newest first (two index-ordered reads)
        new = query(Report).where(col(Report.status) == "new")
        others = query(Report).where(col(Report.status) != "new")
        new_count, _new_capped = catalogue.bounded_count(
            db, query(col(Report.id)).where(col(Report.status) == "new")
        )
        rows = list(
            db.scalars(new.order_by(col(Report.created_at).desc()).offset(offset).limit(PAGE_SIZE))
        )
        if len(rows) < PAGE_SIZE:
            rows += db.scalars(
                others.order_by(col(Report.created_at).desc())
                .offset(max(0, offset - new_count))
                .limit(PAGE_SIZE - len(rows))
            )
    else:
        stmt = query(Report)
        rows = list(
            db.scalars(stmt.order_by(col(Report.created_at).desc()).offset(offset).limit(PAGE_SIZE))
        )
    return {
        "reports": rows,
        "total": total,
        "total_capped": capped,
        "page_no": page_no,
        "pages": max(1, math.ceil(total / PAGE_SIZE)),
        "thumbs": intake.photos_of(db, [r.id for r in rows], "overview"),
        "communes": catalogue.communes(db, territory_id),
        "commune_names": {c.insee: c.name for c in catalogue.communes(db, territory_id)},
        "filters": filters,
        "categories": cats.of_territory(db, territory_id).labels,
        "statuses": catalogue.STATUSES,
        "public_statuses": catalogue.PUBLIC_STATUSES,
        "number": catalogue.number,
        "public_position": catalogue.public_position,
    }


def page_number(value: str | None) -> int:
    try:
        return max(1, min(10_000, int(value or 1)))
    except ValueError:
        return 1


def back_to(report_id: int, data: dict[str, str]) -> str:
    nxt = data.get("next", "")
    if nxt.startswith("/reports") and not nxt.startswith("//"):
        return nxt
    return f"/reports/{report_id}"


def pickup_at(expected_on: str | None, zone: ZoneInfo) -> datetime | None:
    """A pick-up day from a date field, as 9:00 in the territory's time (``zone``; ValueError if
    not a date)."""
    if not expected_on:
        return None
    day = datetime.fromisoformat(expected_on).date()
    return datetime.combine(day, time(9, 0), zone).astimezone(UTC)

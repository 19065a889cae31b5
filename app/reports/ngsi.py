"""The NGSI-LD twin of the reports' open data: each public report, and today's count per category.

- ``Open311ServiceRequest`` (Smart Data Models, dataModel.IssueTracking): one
  entity per public report, built from the open dataset's own row
  (``app.reports.opendata.public_row``): category, Open311 status, commune,
  day of the report and of its resolution, position rounded like the file. No
  description, address, photo, author or exact time.
- ``DailyReportCount`` (no Smart Data Models type counts reports: Eclor's own
  terms, expanded by NGSI-LD's default vocabulary, except ``dateObserved``):
  one entity per category with the number of reports received today (the
  day of the request's territory), the live form of the "signalements-quotidiens" dataset.

Served by ``/ngsi-ld/v1/entities`` through ``app.ngsi.EntityType``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db import utcnow
from app.models.reports import Report
from app import ngsi
from app.ngsi import SDM, EntityType, compact, geo, prop, urn
from app.reports import categories as cats
from app.reports.catalogue import OPEN_STATUSES, PUBLIC_STATUSES
from app.reports.opendata import day_counts, local_day, public_row
from app.territories import zone as territory_zone

REQUEST = "Open311ServiceRequest"
COUNT = "DailyReportCount"
_ISSUES = f"{SDM}dataModel.IssueTracking/"


def _report_ids(ids: list[str] | None) -> list[int] | None:
    return None if ids is None else [int(i) for i in ids if i.isdigit()]


def _public(ids: list[str] | None, territory_id: int | None = None) -> Any:
    """The public reports (of one territory when given: the NGSI-LD request's host's)."""
    query = select(Report).where(col(Report.status).in_(PUBLIC_STATUSES))
    if territory_id is not None:
        query = query.where(col(Report.territory_id) == territory_id)
    wanted = _report_ids(ids)
    if wanted is not None:
        query = query.where(col(Report.id).in_(wanted))
    return query


def _count_requests(session: Session, ids: list[str] | None) -> int:
    query = _public(ids, ngsi.territory_of(session)).with_only_columns(func.count())
    return int(session.scalar(query) or 0)


def request_entity(
    session: Session, report: Report, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A public report as an NGSI-LD entity; ``labels``: its territory's category names."""
    category, status, commune, day, resolved, lat, lon = public_row(session, report)
    return compact(
        {
            "id": urn(REQUEST, str(report.id)),
            "type": REQUEST,
            "service_code": prop(category),
            "service_name": prop(str((labels or {}).get(category, category))),
            "status": prop("open" if status in OPEN_STATUSES else "closed"),
            "workflowState": prop(status),
            "jurisdiction_id": prop(commune) if commune else None,
            "requested_datetime": prop(day),
            "updated_datetime": prop(resolved) if resolved else None,
            "location": geo(lat, lon),  # already rounded by the public row
        }
    )


def _requests(
    session: Session, ids: list[str] | None, offset: int, limit: int
) -> Iterator[dict[str, Any]]:
    position, remaining = offset, limit
    while remaining > 0:
        size = min(1000, remaining)
        batch = session.scalars(
            _public(ids, ngsi.territory_of(session))
            .order_by(col(Report.id))
            .offset(position)
            .limit(size)
        ).all()
        labels = cats.of_territory(session, ngsi.territory_of(session)).labels
        yield from (request_entity(session, report, labels) for report in batch)
        if len(batch) < size:
            return
        position += size
        remaining -= size


def _categories(session: Session, ids: list[str] | None) -> list[str]:
    """The territory's category codes (the install's outside a request)."""
    known = cats.of_territory(session, ngsi.territory_of(session)).codes
    return sorted(c for c in known if ids is None or c in ids)


def _count_counts(session: Session, ids: list[str] | None) -> int:
    return len(_categories(session, ids))


def _counts(
    session: Session, ids: list[str] | None, offset: int, limit: int
) -> Iterator[dict[str, Any]]:
    now = utcnow()
    day = local_day(now, territory_zone(session))  # the day of the request's territory
    assert day is not None
    counts = day_counts(session, day)
    for category in _categories(session, ids)[offset : offset + limit]:
        yield {
            "id": urn(COUNT, category),
            "type": COUNT,
            "category": prop(category),
            "dateObserved": {"type": "Property", "value": {"@type": "Date", "@value": day}},
            "numberOfReports": prop(counts.get(category, 0), now),
        }


REQUESTS = EntityType(
    REQUEST,
    _count_requests,
    _requests,
    terms={
        REQUEST: f"{_ISSUES}{REQUEST}",
        **{
            name: f"{_ISSUES}{name}"
            for name in (
                "service_code",
                "service_name",
                "jurisdiction_id",
                "requested_datetime",
                "updated_datetime",
            )
        },
    },
)
COUNTS = EntityType(COUNT, _count_counts, _counts, terms={"dateObserved": f"{SDM}dateObserved"})
NGSI_TYPES = (REQUESTS, COUNTS)

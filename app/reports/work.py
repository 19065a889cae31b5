"""The reports as maintenance sees them (``WorkSource``): rules count them around a place and watch
their deadline; closing a work order resolves them with its "after" photo and tells every reporter
and follower, through the same ``change_status`` as the staff desk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from app.interfaces import WorkItem, WorkSource
from app.models.reports import Report
from app.reports import categories as cats
from app.reports.catalogue import OPEN_STATUSES, number
from app.reports.intake import nearby
from app.reports.workflow import change_status


def _item(report: Report) -> WorkItem:
    return WorkItem(
        id=report.id or 0,
        number=number(report),
        category=report.category,
        commune_insee=report.commune_insee,
        lat=report.lat,
        lon=report.lon,
        created_at=report.created_at,
        is_open=report.status in OPEN_STATUSES,
        url=f"/staff/reports/{report.id}",
        territory_id=report.territory_id,
    )


def load(session: Session, ids: Sequence[int]) -> list[WorkItem]:
    if not ids:
        return []
    rows = session.scalars(
        select(Report).where(col(Report.id).in_(list(ids))).order_by(col(Report.id))
    )
    return [_item(r) for r in rows]


def around(
    session: Session, lat: float, lon: float, metres: int, since: datetime, category: str
) -> list[WorkItem]:
    """Open reports (of ``category`` unless empty) within ``metres``, created since ``since``."""
    found = nearby(session, lat, lon, category or None, metres=metres, limit=10_000)
    return sorted((_item(r) for r, _d in found if r.created_at >= since), key=lambda item: item.id)


def overdue(session: Session, before: datetime, territory_id: int | None = None) -> list[WorkItem]:
    """The open reports created before ``before`` (the oldest thousand), of the territory when
    given: another territory's never crowd them out."""
    query = select(Report).where(
        col(Report.status).in_(OPEN_STATUSES), col(Report.created_at) < before
    )
    if territory_id is not None:
        query = query.where(col(Report.territory_id) == territory_id)
    rows = session.scalars(query.order_by(col(Report.id)).limit(1000))
    return [_item(r) for r in rows]


def resolve(
    session: Session,
    ids: Sequence[int],
    actor_id: int | None,
    note: str,
    after_photo: Any,
    media_dir: Path | None,
) -> list[int]:
    done = []
    for report in session.scalars(
        select(Report)
        .where(col(Report.id).in_(list(ids)))
        .order_by(col(Report.id))
        .with_for_update()
    ):
        if report.status not in OPEN_STATUSES:
            continue
        change_status(
            session,
            report,
            "resolved",
            actor_id=actor_id,
            note=note,
            after_photo=after_photo,
            media_dir=media_dir,
        )
        done.append(report.id or 0)
    return done


def categories(session: Session) -> list[tuple[str, str]]:
    """The categories of the session's territory (the install's outside a request), archived ones
    after the others: (code, label)."""
    return list(cats.of_session(session).labels.items())


def offered(session: Session) -> list[tuple[str, str]]:
    """The categories of the session's territory a new rule or watch may name: the active ones."""
    return list(cats.of_session(session).offered.items())


SOURCES = (WorkSource("reports", load, around, overdue, resolve, categories, offered),)

"""Sharing staff pages: reported items and their moderation."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlmodel import Session, col

from app import moderation
from app.auth import STAFF
from app.forms import Form
from app.models.sharing import (
    ItemReport,
    SharedItem,
)
from app.routes.sharing_context import signed_in, territory
from app.sharing import scope
from app.sharing import moderation as moderating
from app.templating import page

# --- staff ---------------------------------------------------------------------------------------


@get("/sharing/reports", opt=STAFF, sync_to_thread=True, name="sharing_reports")
def reports(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _reports_page(request, db)


def _reports_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    errors: dict[int, str] | None = None,
    status_code: int = 200,
) -> Template:
    rows = db.execute(
        select(ItemReport, SharedItem)
        .join(SharedItem, col(SharedItem.id) == col(ItemReport.item_id))
        .where(*scope.items_in(territory(request)), col(ItemReport.status) == "open")
        .order_by(col(ItemReport.created_at))
    ).all()
    return page(
        request,
        "sharing/reports.html",
        section="sharing",
        rows=rows,
        reasons=moderation.REASONS,
        hidden=moderating.hidden_items(db, territory(request)),
        errors=errors or {},
        status_code=status_code,
    )


@post(
    "/sharing/reports/{report_id:int}/{decision:str}",
    opt=STAFF,
    sync_to_thread=True,
    name="sharing_moderate",
)
def moderate(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    decision: FromPath[str],
    data: Form,
) -> Redirect | Template:
    """``hide`` (with a reason; the owner is told, staff can restore it) or ``dismiss`` a reported ad."""
    report = db.get(ItemReport, report_id)
    if report is None or decision not in ("dismiss", "hide"):
        raise NotFoundException()
    item = db.get(SharedItem, report.item_id)
    if item is None or not scope.is_here(db, item.commune_insee, territory(request)):
        raise NotFoundException()  # staff moderate their own territory's ads
    try:
        if decision == "hide" and item is not None:
            moderating.hide(
                db,
                item,
                signed_in(request).id,
                str(data.get("reason", "")),
                str(data.get("note", "")),
            )
        else:
            moderating.dismiss(db, report)
    except moderation.ModerationError as exc:
        db.rollback()
        return _reports_page(request, db, errors={report_id: str(exc)}, status_code=400)
    db.commit()
    return Redirect("/sharing/reports", status_code=303)


@post(
    "/sharing/items/{item_id:int}/restore", opt=STAFF, sync_to_thread=True, name="sharing_restore"
)
def restore(
    request: Request[Any, Any, Any], db: NamedDependency[Session], item_id: FromPath[int]
) -> Redirect:
    item = db.get(SharedItem, item_id)
    if item is None or not scope.is_here(db, item.commune_insee, territory(request)):
        raise NotFoundException()
    if item.status == "hidden":  # restoring twice (two agents, a double click) changes nothing more
        moderating.restore(db, item, signed_in(request).id)
        db.commit()
    return Redirect("/sharing/reports", status_code=303)

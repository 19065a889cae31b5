"""Carpool staff pages: moderation of reported ads and proofs of carpooling."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from app.auth import STAFF
from app.carpool import ads as cp
from app.carpool import matching, proofs
from app.carpool import trips as carpool_trips
from app.db import utcnow
from app.forms import TextForm as Form
from app.i18n import gettext as _
from app.models.carpool import (
    CarpoolAd,
    CarpoolReport,
)
from app.routes.carpool_forms import me
from app.templating import page

# --- staff ------------------------------------------------------------------------------


@get("/carpool/staff", opt=STAFF, sync_to_thread=True, name="carpool_staff")
def staff_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    reports = db.execute(
        select(CarpoolReport, CarpoolAd)
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolReport.ad_id))
        .where(col(CarpoolReport.status) == "open")
        .order_by(col(CarpoolReport.created_at))
    ).all()
    hidden = db.scalars(
        select(CarpoolAd)
        .where(col(CarpoolAd.status) == "hidden")
        .order_by(col(CarpoolAd.updated_at).desc())
        .limit(50)
    ).all()
    today = carpool_trips.local(utcnow()).date()
    return page(
        request,
        "carpool/staff.html",
        section="staff",
        stats=proofs.statistics(db),
        reports=reports,
        hidden=hidden,
        reasons=carpool_trips.REPORT_REASONS,
        cp=carpool_trips,
        names=matching.display_names(
            db, [a.user_id for _r, a in reports] + [a.user_id for a in hidden]
        ),
        default_from=(today.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat(),
        default_to=today.isoformat(),
    )


@post(
    "/carpool/staff/reports/{report_id:int}",
    opt=STAFF,
    sync_to_thread=True,
    name="carpool_moderate",
)
def moderate(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect:
    report = db.get(CarpoolReport, report_id)
    if report is None:
        raise NotFoundException()
    try:
        cp.moderate(db, report, me(request).id, data.get("action", ""))
    except carpool_trips.CarpoolError as exc:
        from litestar.exceptions import ClientException

        raise ClientException(str(exc)) from None
    db.commit()
    return Redirect("/carpool/staff", status_code=303)


@post(
    "/carpool/staff/ads/{ad_id:int}/restore",
    opt=STAFF,
    sync_to_thread=True,
    name="carpool_restore_ad",
)
def restore_ad(
    request: Request[Any, Any, Any], db: NamedDependency[Session], ad_id: FromPath[int]
) -> Redirect:
    ad = db.get(CarpoolAd, ad_id)
    if ad is None or ad.status != "hidden":
        raise NotFoundException()
    cp.restore(db, ad)
    db.commit()
    return Redirect("/carpool/staff", status_code=303)


def _period(request: Request[Any, Any, Any]) -> tuple[datetime, datetime]:
    from litestar.exceptions import ClientException

    params = request.query_params
    today = carpool_trips.local(utcnow()).date()
    try:
        start = date.fromisoformat(params.get("from") or (today - timedelta(days=30)).isoformat())
        end = date.fromisoformat(params.get("to") or today.isoformat())
    except ValueError:
        raise ClientException(_("Dates invalides (format AAAA-MM-JJ).")) from None
    if end < start or (end - start).days > 366:
        raise ClientException(_("La période doit aller d'une date à une autre, un an au plus."))

    def to_utc(d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=carpool_trips.PARIS).astimezone(UTC)

    return to_utc(start), to_utc(end + timedelta(days=1))


@get("/carpool/staff/proofs.json", opt=STAFF, sync_to_thread=True, name="carpool_proofs_json")
def proofs_json(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    start, end = _period(request)
    items = proofs.proofs(db, start, end, request.app.state.settings.secret_key)
    return Response(
        json.dumps(items, ensure_ascii=False, indent=1).encode(),
        media_type="application/json",
        headers={
            "content-disposition": 'attachment; filename="eclor-covoiturage-preuves.json"',
            "cache-control": "no-store",
        },
    )


@get("/carpool/staff/proofs.csv", opt=STAFF, sync_to_thread=True, name="carpool_proofs_csv")
def proofs_csv(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    start, end = _period(request)
    items = proofs.proofs(db, start, end, request.app.state.settings.secret_key)
    return Response(
        proofs.proofs_csv(items).encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": 'attachment; filename="eclor-covoiturage-preuves.csv"',
            "cache-control": "no-store",
        },
    )

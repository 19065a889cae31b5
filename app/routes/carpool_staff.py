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
from app.carpool import matching, proofs, shares
from app.carpool import trips as carpool_trips
from app.db import utcnow
from app.forms import TextForm as Form
from app.i18n import gettext as _
from app.models.carpool import (
    CarpoolAd,
    CarpoolReport,
)
from app.models.territory import Territory
from app.routes.carpool_forms import me, territory
from app.templating import page
from app.territories import request_territory

# --- staff ------------------------------------------------------------------------------


def _here(request: Request[Any, Any, Any]) -> tuple[Any, ...]:
    """The condition keeping ads to the host's territory (staff moderate their own territory's)."""
    here = territory(request)
    return (col(CarpoolAd.territory_id) == here,) if here else ()


@get("/carpool/staff", opt=STAFF, sync_to_thread=True, name="carpool_staff")
def staff_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    """Reports, hidden ads and figures of the host's territory's ads only (not of the territories
    sharing offers with it: each territory moderates its own)."""
    reports = db.execute(
        select(CarpoolReport, CarpoolAd)
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolReport.ad_id))
        .where(*_here(request), col(CarpoolReport.status) == "open")
        .order_by(col(CarpoolReport.created_at))
    ).all()
    hidden = db.scalars(
        select(CarpoolAd)
        .where(*_here(request), col(CarpoolAd.status) == "hidden")
        .order_by(col(CarpoolAd.updated_at).desc())
        .limit(50)
    ).all()
    today = carpool_trips.local(utcnow(), request_territory(request).zone).date()
    here = territory(request)
    neighbours = db.scalars(
        select(Territory).where(col(Territory.id) != here).order_by(col(Territory.name))
    ).all()
    return page(
        request,
        "carpool/staff.html",
        neighbours=neighbours if here else [],
        shared=shares.shared_with(db, here) if here else set(),
        asking=shares.asking(db, here) if here else set(),
        section="staff",
        stats=proofs.statistics(db, territory_id=territory(request) or None),
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


@post("/carpool/staff/shares", opt=STAFF, sync_to_thread=True, name="carpool_staff_shares")
def save_shares(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Redirect:
    """Say which territories the host's territory shares its offers with (the checked ones; their
    ads are found here once they say the same)."""
    here = territory(request)
    if not here:
        raise NotFoundException()
    chosen: Any = data.get("partner") or []  # one value, or a list when several are checked
    ids = {int(v) for v in ([chosen] if isinstance(chosen, str) else chosen) if str(v).isdigit()}
    shares.set_shared(db, here, ids)
    db.commit()
    return Redirect("/carpool/staff#shares-title", status_code=303)


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
    report = db.scalars(
        select(CarpoolReport)
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolReport.ad_id))
        .where(col(CarpoolReport.id) == report_id, *_here(request))
    ).first()
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
    here = territory(request)
    if ad is None or ad.status != "hidden" or (here and ad.territory_id != here):
        raise NotFoundException()
    cp.restore(db, ad)
    db.commit()
    return Redirect("/carpool/staff", status_code=303)


def _period(request: Request[Any, Any, Any]) -> tuple[datetime, datetime]:
    from litestar.exceptions import ClientException

    params = request.query_params
    today = carpool_trips.local(utcnow(), request_territory(request).zone).date()
    try:
        start = date.fromisoformat(params.get("from") or (today - timedelta(days=30)).isoformat())
        end = date.fromisoformat(params.get("to") or today.isoformat())
    except ValueError:
        raise ClientException(_("Dates invalides (format AAAA-MM-JJ).")) from None
    if end < start or (end - start).days > 366:
        raise ClientException(_("La période doit aller d'une date à une autre, un an au plus."))

    def to_utc(d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=request_territory(request).zone).astimezone(UTC)

    return to_utc(start), to_utc(end + timedelta(days=1))


@get("/carpool/staff/proofs.json", opt=STAFF, sync_to_thread=True, name="carpool_proofs_json")
def proofs_json(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    start, end = _period(request)
    items = proofs.proofs(
        db,
        start,
        end,
        request.app.state.settings.secret_key,
        territory_id=territory(request) or None,
    )
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
    items = proofs.proofs(
        db,
        start,
        end,
        request.app.state.settings.secret_key,
        territory_id=territory(request) or None,
    )
    return Response(
        proofs.proofs_csv(items).encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": 'attachment; filename="eclor-covoiturage-preuves.csv"',
            "cache-control": "no-store",
        },
    )

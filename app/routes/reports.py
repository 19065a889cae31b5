"""Dump-site reports: the public map and list, the report form, one's own reports, staff triage."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.response import File, Redirect, Stream, Template
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXDetails
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, or_, select
from sqlmodel import Session

from app.numbers import parse_int
from app import images, ratelimit
from app.auth import PUBLIC, SIGNED_IN, STAFF, CurrentUser, current_user
from app.db import read_session, utcnow, write_session
from app.forms import TextForm as Form
from app.forms import parse_form
from app.i18n import gettext as _
from app.models.reports import (
    RejectReason,
    Report,
    ReportApiKey,
    ReportFollow,
    ReportPhoto,
    ReportThanks,
    ResponseTemplate,
)
from app.models.territory import Commune
from app.reports import triage
from app.reports import workflow as rp
from app.templating import page
from app.interfaces import Contribution, Link, Panel

PARIS = ZoneInfo("Europe/Paris")
PAGE_SIZE = 50
REPORT_LIMIT = ratelimit.Limit("report_create", 30, 60 * 60)


def _user(request: Request[Any, Any, Any]) -> CurrentUser | None:
    return current_user(request)


def _media(request: Request[Any, Any, Any]) -> Path:
    return request.app.state.settings.resolved_media_dir


def _tiles(request: Request[Any, Any, Any]) -> dict[str, str]:
    settings = request.app.state.settings
    return {"tile_url": settings.tile_url, "tile_attribution": settings.tile_attribution}


def _needs_full_load(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """Pages with a map and page script load in full: a boosted (htmx) navigation would not run their scripts."""
    htmx = HTMXDetails(request)
    if htmx.boosted and htmx.target is None:
        url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Response(b"", headers={"HX-Redirect": url, "Vary": "HX-Request"})
    return None


def _get_report(db: Session, report_id: int) -> Report:
    report = db.get(Report, report_id)
    if report is None:
        raise NotFoundException("Ce signalement n’existe pas.")
    return report


def _visible(report: Report, user: CurrentUser | None) -> bool:
    if report.status != "hidden":
        return True
    return user is not None and (user.is_staff or report.reporter_id == user.id)


# --- the report form -----------------------------------------------------------------------------


class ReportForm(BaseModel):
    category: Literal[
        "household_waste", "bulky_items", "rubble", "green_waste", "tyres", "hazardous", "other"
    ]
    description: str = Field(default="", max_length=2000)
    volume: Literal["bag", "car", "van", "truck"] | None = None
    witnessed: bool = False
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    commune: str | None = Field(default=None, pattern=r"^\d[0-9AB]\d{3}$")
    address: str = Field(default="", max_length=200)
    idempotency_key: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")

    @field_validator("witnessed", mode="before")
    @classmethod
    def _check(cls, value: object) -> object:
        return value in ("yes", "on", "true", "1", True)

    @field_validator("lat", "lon")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("Valeur invalide.")
        return value


def _form_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "reports/new.html",
        section="reports",
        status_code=status_code,
        form=form,
        errors=errors,
        categories=rp.CATEGORIES,
        hints=rp.CATEGORY_HINTS,
        volumes=rp.VOLUMES,
        communes=rp.communes(db),
        max_photos=rp.MAX_PHOTOS,
        max_mb=request.app.state.settings.max_upload_bytes // (1024 * 1024),
        **_tiles(request),
    )


@get("/reports/new", opt=SIGNED_IN, sync_to_thread=True, name="reports_new")
def new_form(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    category: FromQuery[str | None] = None,
) -> Template | Response[bytes]:
    if (full := _needs_full_load(request)) is not None:
        return full
    form: dict[str, Any] = {"idempotency_key": str(uuid.uuid4())}
    if category in rp.CATEGORIES:
        form["category"] = category
    return _form_page(request, db, form=form, errors={})


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("x-eclor-queue") == "1" or request.headers.get(
        "accept", ""
    ).startswith("application/json")


@post("/reports/new", opt=SIGNED_IN, name="reports_create")
async def create(request: Request[Any, Any, Any]) -> Response[Any]:
    """Create a report from the multipart form (plain form, or the page script's queue)."""
    user = _user(request)
    assert user is not None
    settings = request.app.state.settings
    engine = request.app.state.engine
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "_csrf_token"}
    uploads: list[bytes] = []
    for item in form.getall("photos") if "photos" in form else []:
        if isinstance(item, UploadFile):
            data = await item.read()
            if data:
                uploads.append(data)
    parsed, errors = parse_form(ReportForm, fields)
    if not uploads:
        errors.setdefault("photos", _("Ajoutez au moins une photo du dépôt."))
    if parsed is not None and (parsed.lat is None) != (parsed.lon is None):
        errors.setdefault("place", _("La position est incomplète : placez le point sur la carte."))

    def work() -> rp.Created:
        assert parsed is not None
        with write_session(engine) as session:
            existing = rp.find_by_key(session, parsed.idempotency_key)
            if existing is not None:
                if existing.reporter_id != user.id:
                    raise rp.ReportError(_("Ce formulaire a déjà servi. Rechargez la page."))
                return rp.Created(existing, True)
            ratelimit.check(session, settings.secret_key, [(REPORT_LIMIT, str(user.id))])
        photos = rp.check_photos(uploads, settings.max_upload_bytes)
        new = rp.NewReport(
            category=parsed.category,
            description=parsed.description,
            volume=parsed.volume,
            witnessed=parsed.witnessed,
            lat=parsed.lat,
            lon=parsed.lon,
            commune_insee=parsed.commune,
            address=parsed.address,
            idempotency_key=parsed.idempotency_key,
            reporter_id=user.id,
            photos=photos,
        )
        created = rp.create_report(engine, new, settings.resolved_media_dir)
        if created.existing and created.report.reporter_id != user.id:
            raise rp.ReportError(_("Ce formulaire a déjà servi. Rechargez la page."))
        return created

    if parsed is not None and not errors:
        try:
            created = await anyio.to_thread.run_sync(work)
        except rp.ReportError as exc:
            errors[exc.field] = exc.message
        else:
            report = created.report
            url = f"/reports/{report.id}"
            if _wants_json(request):
                return Response(
                    {
                        "id": report.id,
                        "number": rp.number(report),
                        "url": url,
                        "existing": created.existing,
                    },
                    status_code=200 if created.existing else 201,
                )
            return Redirect(url + ("" if created.existing else "?sent=1"), status_code=303)
    if _wants_json(request):
        return Response({"errors": errors}, status_code=400)
    shown = dict(fields)
    shown.setdefault("idempotency_key", str(uuid.uuid4()))

    def render() -> Template:
        with read_session(engine) as db:
            return _form_page(request, db, form=shown, errors=errors, status_code=400)

    return await anyio.to_thread.run_sync(render)


@get("/reports/nearby", opt=SIGNED_IN, sync_to_thread=True, name="reports_nearby")
def nearby_fragment(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    lat: FromQuery[float | None] = None,
    lon: FromQuery[float | None] = None,
    category: FromQuery[str | None] = None,
) -> Template:
    """Open reports of any kind near a place, the given kind first (a fragment for the form).

    Signed-in residents only, a limited number of times, and answered from
    rounded positions only: asking again and again from nearby points tells
    nothing more than the public map does.
    """
    found: list[tuple[Report, float]] = []
    if lat is not None and lon is not None and math.isfinite(lat) and math.isfinite(lon):
        viewer = _user(request)
        with write_session(request.app.state.engine) as counter:
            ratelimit.check(
                counter,
                request.app.state.settings.secret_key,
                [(ratelimit.NEARBY_ACCOUNT, str(viewer.id if viewer else ""))],
            )
        found = rp.nearby(
            db, lat, lon, None, first=category if category in rp.CATEGORIES else None, public=True
        )
    user = _user(request)
    following = set()
    if user and found:
        following = set(
            db.scalars(
                select(ReportFollow.report_id).where(
                    ReportFollow.user_id == user.id,
                    ReportFollow.report_id.in_([r.id for r, _d in found]),
                )
            )
        )  # type: ignore[attr-defined]
    thumbs = rp.photos_of(db, [r.id for r, _d in found], "overview")  # type: ignore[misc]
    return page(
        request,
        "reports/_nearby.html",
        found=found,
        following=following,
        thumbs=thumbs,
        categories=rp.CATEGORIES,
        statuses=rp.STATUSES,
        number=rp.number,
        headers={"Vary": "HX-Request", "Cache-Control": "no-store"},
    )


# --- public pages ------------------------------------------------------------------------------------


def _list_context(db: Session, filters: rp.Filters, *, staff: bool, page_no: int) -> dict[str, Any]:
    total, capped = rp.bounded_count(db, filters.apply(select(Report.id), staff=staff))
    offset = (page_no - 1) * PAGE_SIZE
    if staff:  # the new ones first, then the others, each newest first (two index-ordered reads)
        new = filters.apply(select(Report), staff=True).where(Report.status == "new")
        others = filters.apply(select(Report), staff=True).where(Report.status != "new")
        new_count, _new_capped = rp.bounded_count(
            db, filters.apply(select(Report.id), staff=True).where(Report.status == "new")
        )
        rows = list(
            db.scalars(new.order_by(Report.created_at.desc()).offset(offset).limit(PAGE_SIZE))
        )  # type: ignore[attr-defined]
        if len(rows) < PAGE_SIZE:
            rows += db.scalars(
                others.order_by(Report.created_at.desc())  # type: ignore[attr-defined]
                .offset(max(0, offset - new_count))
                .limit(PAGE_SIZE - len(rows))
            )
    else:
        stmt = filters.apply(select(Report), staff=staff)
        rows = list(
            db.scalars(stmt.order_by(Report.created_at.desc()).offset(offset).limit(PAGE_SIZE))
        )  # type: ignore[attr-defined]
    return {
        "reports": rows,
        "total": total,
        "total_capped": capped,
        "page_no": page_no,
        "pages": max(1, math.ceil(total / PAGE_SIZE)),
        "thumbs": rp.photos_of(db, [r.id for r in rows], "overview"),  # type: ignore[misc]
        "communes": rp.communes(db),
        "commune_names": {c.insee: c.name for c in rp.communes(db)},
        "filters": filters,
        "categories": rp.CATEGORIES,
        "statuses": rp.STATUSES,
        "public_statuses": rp.PUBLIC_STATUSES,
        "number": rp.number,
        "public_position": rp.public_position,
    }


def _page_no(value: str | None) -> int:
    try:
        return max(1, min(10_000, int(value or 1)))
    except ValueError:
        return 1


@get("/reports", opt=PUBLIC, sync_to_thread=True, name="reports_list")
def list_reports(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Template | Response[bytes]:
    if (full := _needs_full_load(request)) is not None:
        return full
    filters = rp.Filters.parse(request.query_params, staff=False)
    ctx = _list_context(
        db, filters, staff=False, page_no=_page_no(request.query_params.get("page"))
    )
    template = (
        "reports/_results.html" if HTMXDetails(request).target == "results" else "reports/list.html"
    )
    return page(
        request,
        template,
        section="reports",
        **ctx,
        **_tiles(request),
        headers={"Vary": "HX-Request"},
    )


@get("/reports/mine", opt=SIGNED_IN, sync_to_thread=True, name="reports_mine")
def mine(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Template | Response[bytes]:
    if (full := _needs_full_load(request)) is not None:
        return full
    user = _user(request)
    assert user is not None
    rows = list(
        db.scalars(
            select(Report).where(Report.reporter_id == user.id).order_by(Report.created_at.desc())
        )
    )  # type: ignore[attr-defined]
    followed = list(
        db.scalars(
            select(Report)
            .join(ReportFollow, ReportFollow.report_id == Report.id)
            .where(
                ReportFollow.user_id == user.id,
                or_(Report.reporter_id.is_(None), Report.reporter_id != user.id),  # type: ignore[union-attr]
                Report.status != "hidden",
            )
            .order_by(Report.updated_at.desc())
        )
    )  # type: ignore[attr-defined]
    ids = [r.id for r in rows + followed]
    return page(
        request,
        "reports/mine.html",
        section="reports",
        reports=rows,
        followed=followed,
        thumbs=rp.photos_of(db, ids, "overview"),
        statuses=rp.STATUSES,  # type: ignore[arg-type]
        categories=rp.CATEGORIES,
        number=rp.number,
        commune_names={c.insee: c.name for c in rp.communes(db)},
    )


@get("/reports/{report_id:int}", opt=PUBLIC, sync_to_thread=True, name="reports_detail")
def detail(
    request: Request[Any, Any, Any], db: NamedDependency[Session], report_id: FromPath[int]
) -> Template | Response[bytes]:
    if (full := _needs_full_load(request)) is not None:
        return full
    user = _user(request)
    report = _get_report(db, report_id)
    if not _visible(report, user):
        raise NotFoundException("Ce signalement n’existe pas.")
    owner = user is not None and report.reporter_id == user.id
    exact = owner or (user is not None and user.is_staff)
    lat, lon = (report.lat, report.lon) if exact else rp.public_position(report.lat, report.lon)
    photos = rp.photos_of(db, [report.id]).get(report.id, [])  # type: ignore[list-item]
    following = bool(user and db.get(ReportFollow, (report.id, user.id)))
    thanked = bool(user and db.get(ReportThanks, (report.id, user.id)))
    commune = db.get(Commune, report.commune_insee) if report.commune_insee else None
    duplicate_of = db.get(Report, report.duplicate_of_id) if report.duplicate_of_id else None
    return page(
        request,
        "reports/detail.html",
        section="reports",
        report=report,
        owner=owner,
        lat=lat,
        lon=lon,
        photos=photos,
        following=following,
        thanked=thanked,
        commune=commune,
        events=rp.history(db, report.id, include_internal=False),  # type: ignore[arg-type]
        can_reopen=rp.can_reopen(report, user.id if user else None),
        reopen_days=rp.REOPEN_DAYS,
        duplicate_of=duplicate_of,
        number=rp.number,
        categories=rp.CATEGORIES,
        statuses=rp.STATUSES,
        volumes=rp.VOLUMES,
        is_open=rp.is_open(report.status),
        sent=request.query_params.get("sent") == "1",
        **_tiles(request),
    )


def _back(report_id: int, data: dict[str, str]) -> str:
    nxt = data.get("next", "")
    if nxt.startswith("/reports") and not nxt.startswith("//"):
        return nxt
    return f"/reports/{report_id}"


@post("/reports/{report_id:int}/follow", opt=SIGNED_IN, sync_to_thread=True, name="reports_follow")
def follow(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect:
    user = _user(request)
    report = _get_report(db, report_id)
    if not _visible(report, user):
        raise NotFoundException("Ce signalement n’existe pas.")
    rp.follow(db, report, user.id, data.get("on", "1") != "0")  # type: ignore[union-attr]
    db.commit()
    return Redirect(_back(report_id, data), status_code=303)


@post("/reports/{report_id:int}/thank", opt=SIGNED_IN, sync_to_thread=True, name="reports_thank")
def thank(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect:
    user = _user(request)
    report = _get_report(db, report_id)
    if not _visible(report, user):
        raise NotFoundException("Ce signalement n’existe pas.")
    rp.thank(db, report, user.id)  # type: ignore[union-attr]
    db.commit()
    return Redirect(_back(report_id, data), status_code=303)


@post("/reports/{report_id:int}/reopen", opt=SIGNED_IN, sync_to_thread=True, name="reports_reopen")
def reopen(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    user = _user(request)
    report = _get_report(db, report_id)
    if report.reporter_id != user.id:  # type: ignore[union-attr]
        raise NotFoundException("Ce signalement n’existe pas.")
    try:
        rp.reopen(db, report, user_id=user.id, text=data.get("text", ""))  # type: ignore[union-attr]
    except rp.ReportError as exc:
        db.rollback()
        return page(
            request,
            "reports/message.html",
            section="reports",
            status_code=400,
            title=_("Impossible de rouvrir"),
            message=exc.message,
            back=f"/reports/{report_id}",
        )
    db.commit()
    return Redirect(f"/reports/{report_id}", status_code=303)


@get("/reports/photos/{name:str}", opt=PUBLIC, sync_to_thread=True, name="reports_photo")
def photo(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> File:
    row = db.scalars(
        select(ReportPhoto).where(
            or_(ReportPhoto.display_name == name, ReportPhoto.thumb_name == name)
        )
    ).first()
    report = db.get(Report, row.report_id) if row else None
    if row is None or report is None or not _visible(report, _user(request)):
        raise NotFoundException("Cette photo n’existe pas.")
    try:
        path = images.open_path(name, _media(request))
    except (images.InvalidPhotoName, FileNotFoundError):
        raise NotFoundException("Cette photo n’existe pas.") from None
    cache = "public, max-age=86400" if report.status != "hidden" else "private, no-store"
    return File(
        path=path,
        media_type=images.OUTPUT_MIME,
        content_disposition_type="inline",
        filename=name,
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )


# --- home panel --------------------------------------------------------------------------------------


def my_reports_panel(session: Session, user: CurrentUser | None) -> dict[str, Any] | None:
    if user is None:
        return None
    rows = list(
        session.scalars(
            select(Report)
            .where(Report.reporter_id == user.id)
            .order_by(Report.updated_at.desc())
            .limit(3)
        )
    )  # type: ignore[attr-defined]
    if not rows:
        return None
    return {
        "reports": rows,
        "statuses": rp.STATUSES,
        "categories": rp.CATEGORIES,
        "number": rp.number,
    }


# --- staff --------------------------------------------------------------------------------------------


def _board(
    request: Request[Any, Any, Any],
    db: Session,
    params: Any,
    *,
    selected: list[int] | None = None,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    filters = rp.Filters.parse(params, staff=True)
    ctx = _list_context(db, filters, staff=True, page_no=_page_no(params.get("page")))
    counts: dict[str, int | str] = {}
    for code in rp.STATUSES:  # per status, index-read and bounded
        n, capped = rp.bounded_count(db, select(Report.id).where(Report.status == code))
        counts[code] = f"{n}+" if capped else n
    done = params.get("done")
    return page(
        request,
        "reports/staff_board.html",
        section="staff",
        status_code=status_code,
        **ctx,
        counts=counts,
        reasons=rp.reject_reasons(db),
        flash=done if done and done.isdigit() else None,
        done_action=rp.STATUSES.get(params.get("action") or ""),
        skipped=triage.skipped_lines(db, params.get("skipped") or ""),
        selected=set(selected or []),
        shown_ids={r.id for r in ctx["reports"]},
        errors=errors or {},
        form=form or {},
        **_tiles(request),
    )


@get("/staff/reports", opt=STAFF, sync_to_thread=True, name="staff_reports")
def staff_board(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Template | Response[bytes]:
    if (full := _needs_full_load(request)) is not None:
        return full
    return _board(request, db, request.query_params)


@get("/staff/reports.csv", opt=STAFF, sync_to_thread=True, name="staff_reports_csv")
def staff_csv(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Stream:
    filters = rp.Filters.parse(request.query_params, staff=True)
    stamp = utcnow().astimezone(PARIS).strftime("%Y%m%d-%H%M")
    return Stream(
        rp.export_csv(db.get_bind(), filters),
        media_type="text/csv; charset=utf-8",  # type: ignore[arg-type]
        headers={
            "Content-Disposition": f'attachment; filename="signalements-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


@get("/staff/reports/stats", opt=STAFF, sync_to_thread=True, name="staff_reports_stats")
def staff_stats(
    request: Request[Any, Any, Any], db: NamedDependency[Session], months: FromQuery[int] = 12
) -> Template:
    months = max(1, min(120, months))
    stats = rp.stats(db, since=utcnow() - timedelta(days=31 * months))
    return page(
        request,
        "reports/staff_stats.html",
        section="staff",
        stats=stats,
        months=months,
        categories=rp.CATEGORIES,
        statuses=rp.STATUSES,
    )


class BulkForm(BaseModel):
    action: Literal["confirmed", "scheduled", "in_progress", "resolved", "rejected", "hidden"]
    reject_reason: int | None = None
    note: str = Field(default="", max_length=2000)
    expected_on: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


def _pickup_at(expected_on: str | None) -> datetime | None:
    """A pick-up day from a date field, as 9:00 in the territory's time (ValueError if not a date)."""
    if not expected_on:
        return None
    day = datetime.fromisoformat(expected_on).date()
    return datetime.combine(day, time(9, 0), PARIS).astimezone(ZoneInfo("UTC"))


@post("/staff/reports/bulk", opt=STAFF, name="staff_reports_bulk")
async def staff_bulk(request: Request[Any, Any, Any]) -> Redirect | Template:
    """One action on the checked reports; the board then says what changed and what was skipped, and why.

    A form that cannot apply (nothing checked, a rejection with no reason...)
    shows the board again with the same selection and the message at its field.
    """
    form = await request.form()
    user = _user(request)
    ids = (
        [n for v in form.getall("ids") if (n := parse_int(v)) is not None] if "ids" in form else []
    )
    fields = {
        k: v
        for k, v in form.items()
        if isinstance(v, str) and k in ("action", "reject_reason", "note", "expected_on")
    }
    parsed, errors = parse_form(BulkForm, fields)
    query = form.get("query")
    query = query if isinstance(query, str) and not query.startswith(("/", "\\")) else ""
    if not ids:
        errors["ids"] = _("Cochez au moins un signalement.")
    engine = request.app.state.engine

    def work() -> triage.BulkResult | Template:
        problems = dict(errors)
        if parsed is not None and not problems:
            try:
                with write_session(engine) as db:
                    return triage.bulk_change(
                        db,
                        ids,
                        parsed.action,
                        actor_id=user.id,  # type: ignore[union-attr]
                        note=parsed.note,
                        reject_reason_id=parsed.reject_reason,
                        expected_at=_pickup_at(parsed.expected_on),
                    )
            except rp.ReportError as exc:
                problems[exc.field] = exc.message
            except ValueError:
                problems["expected_on"] = _("Date invalide.")
        with read_session(engine) as db:
            return _board(
                request,
                db,
                dict(parse_qsl(query)),
                selected=ids,
                errors=problems,
                form=fields,
                status_code=400,
            )

    result = await anyio.to_thread.run_sync(work)
    if isinstance(result, Template):
        return result
    params = dict(parse_qsl(query))
    params.update(done=str(len(result.changed)), action=parsed.action)  # type: ignore[union-attr]
    if result.skipped:
        params["skipped"] = triage.encode_skipped(result.skipped)
    return Redirect("/staff/reports?" + urlencode(params), status_code=303)


def _staff_page(
    request: Request[Any, Any, Any],
    db: Session,
    report: Report,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> Template:
    photos = rp.photos_of(db, [report.id]).get(report.id, [])  # type: ignore[list-item]
    reporter = None
    if report.reporter_id:
        from app.models.accounts import User

        reporter = db.get(User, report.reporter_id)
    followers = db.scalar(
        select(func.count()).select_from(ReportFollow).where(ReportFollow.report_id == report.id)
    )
    return page(
        request,
        "reports/staff_detail.html",
        section="staff",
        status_code=status_code,
        report=report,
        photos=photos,
        reporter=reporter,
        followers=followers or 0,
        events=rp.history(db, report.id, include_internal=True),  # type: ignore[arg-type]
        transitions=rp.TRANSITIONS[report.status],
        statuses=rp.STATUSES,
        categories=rp.CATEGORIES,
        volumes=rp.VOLUMES,
        reasons=rp.reject_reasons(db),
        templates=rp.response_templates(db),
        commune=db.get(Commune, report.commune_insee) if report.commune_insee else None,
        candidates=triage.duplicate_candidates(db, report) if report.status != "duplicate" else [],
        duplicate_of=db.get(Report, report.duplicate_of_id) if report.duplicate_of_id else None,
        number=rp.number,
        errors=errors or {},
        form=form or {},
        pickup_date=rp.pickup_date_text,
        **_tiles(request),
    )


@get("/staff/reports/{report_id:int}", opt=STAFF, sync_to_thread=True, name="staff_report")
def staff_detail(
    request: Request[Any, Any, Any], db: NamedDependency[Session], report_id: FromPath[int]
) -> Template | Response[bytes]:
    if (full := _needs_full_load(request)) is not None:
        return full
    return _staff_page(request, db, _get_report(db, report_id))


class StatusForm(BaseModel):
    status: str = Field(max_length=16)
    note: str = Field(default="", max_length=2000)
    reject_reason: int | None = None
    duplicate_of: str | None = Field(default=None, max_length=40)
    duplicate_confirm: bool = False
    expected_on: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    template: int | None = None  # a response template, used when no message is written


@post("/staff/reports/{report_id:int}/status", opt=STAFF, name="staff_report_status")
async def staff_status(
    request: Request[Any, Any, Any], report_id: FromPath[int]
) -> Redirect | Template:
    form = await request.form()
    user = _user(request)
    settings = request.app.state.settings
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "_csrf_token"}
    after = form.get("after_photo")
    after_bytes = await after.read() if isinstance(after, UploadFile) else b""
    parsed, errors = parse_form(StatusForm, fields)

    def work() -> Template | None:
        engine = request.app.state.engine
        problems = dict(errors)
        if parsed is not None and not problems:
            try:
                photo_ok = (
                    rp.check_photos([after_bytes], settings.max_upload_bytes) if after_bytes else []
                )
                with write_session(engine) as db:
                    report = _get_report(db, report_id)
                    note = parsed.note
                    chosen = db.get(ResponseTemplate, parsed.template) if parsed.template else None
                    if not note.strip() and chosen is not None and chosen.active:
                        note = chosen.body
                    rp.change_status(
                        db,
                        report,
                        parsed.status,
                        actor_id=user.id,
                        note=note,  # type: ignore[union-attr]
                        reject_reason_id=parsed.reject_reason,
                        duplicate_of=parsed.duplicate_of,
                        duplicate_confirm=parsed.duplicate_confirm,
                        expected_at=_pickup_at(parsed.expected_on),
                        after_photo=photo_ok[0] if photo_ok else None,
                        media_dir=settings.resolved_media_dir,
                    )
                return None
            except rp.ReportError as exc:
                problems[exc.field] = exc.message
            except ValueError:
                problems["expected_on"] = _("Date invalide.")
        with read_session(engine) as db:
            return _staff_page(
                request,
                db,
                _get_report(db, report_id),
                errors=problems,
                status_code=400,
                form=fields,
            )

    result = await anyio.to_thread.run_sync(work)
    return result or Redirect(f"/staff/reports/{report_id}", status_code=303)


def _staff_change(
    request: Request[Any, Any, Any], db: Session, report_id: int, fn: Any
) -> Redirect | Template:
    report = _get_report(db, report_id)
    try:
        fn(report)
    except rp.ReportError as exc:
        db.rollback()
        return _staff_page(
            request,
            db,
            _get_report(db, report_id),
            errors={exc.field: exc.message},
            status_code=400,
        )
    db.commit()
    return Redirect(f"/staff/reports/{report_id}", status_code=303)


@post(
    "/staff/reports/{report_id:int}/note", opt=STAFF, sync_to_thread=True, name="staff_report_note"
)
def staff_note(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    uid = _user(request).id  # type: ignore[union-attr]
    return _staff_change(
        request,
        db,
        report_id,
        lambda r: rp.add_note(db, r, actor_id=uid, text=data.get("note", "")),
    )


@post(
    "/staff/reports/{report_id:int}/category",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_report_category",
)
def staff_category(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    uid = _user(request).id  # type: ignore[union-attr]
    return _staff_change(
        request,
        db,
        report_id,
        lambda r: rp.recategorise(db, r, data.get("category", ""), actor_id=uid),
    )


@post(
    "/staff/reports/{report_id:int}/move", opt=STAFF, sync_to_thread=True, name="staff_report_move"
)
def staff_move(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    uid = _user(request).id  # type: ignore[union-attr]

    def run(report: Report) -> None:
        try:
            lat, lon = float(data.get("lat", "")), float(data.get("lon", ""))
        except ValueError:
            raise rp.ReportError(_("Position invalide."), "place") from None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise rp.ReportError(_("Position invalide."), "place")
        rp.move(db, report, lat, lon, actor_id=uid)

    return _staff_change(request, db, report_id, run)


# --- staff lists: reject reasons, response templates, Open311 keys ------------------------------------


@get("/staff/reports/settings", opt=STAFF, sync_to_thread=True, name="staff_reports_settings")
def staff_settings(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return page(
        request,
        "reports/staff_settings.html",
        section="staff",
        reasons=rp.reject_reasons(db, active_only=False),
        templates=list(db.scalars(select(ResponseTemplate).order_by(ResponseTemplate.title))),
        errors={},
    )


def _settings_error(
    request: Request[Any, Any, Any], db: Session, errors: dict[str, str]
) -> Template:
    db.rollback()
    return page(
        request,
        "reports/staff_settings.html",
        section="staff",
        status_code=400,
        reasons=rp.reject_reasons(db, active_only=False),
        templates=list(db.scalars(select(ResponseTemplate).order_by(ResponseTemplate.title))),
        errors=errors,
    )


@post("/staff/reports/reasons", opt=STAFF, sync_to_thread=True, name="staff_reports_reason_add")
def reason_add(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Redirect | Template:
    label = data.get("label", "").strip()
    if not 3 <= len(label) <= 200:
        return _settings_error(
            request, db, {"label": _("Le motif doit faire entre 3 et 200 caractères.")}
        )
    if db.scalars(select(RejectReason).where(RejectReason.label == label)).first():
        return _settings_error(request, db, {"label": _("Ce motif existe déjà.")})
    db.add(RejectReason(label=label))
    db.commit()
    return Redirect("/staff/reports/settings", status_code=303)


@post(
    "/staff/reports/reasons/{item_id:int}/toggle",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_reports_reason_toggle",
)
def reason_toggle(db: NamedDependency[Session], item_id: FromPath[int]) -> Redirect:
    row = db.get(RejectReason, item_id)
    if row is None:
        raise NotFoundException("Ce motif n’existe pas.")
    row.active = not row.active
    db.commit()
    return Redirect("/staff/reports/settings", status_code=303)


@post("/staff/reports/templates", opt=STAFF, sync_to_thread=True, name="staff_reports_template_add")
def template_add(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Redirect | Template:
    title, body = data.get("title", "").strip(), data.get("body", "").strip()
    if not 2 <= len(title) <= 120 or not 2 <= len(body) <= 2000:
        return _settings_error(
            request,
            db,
            {
                "template": _(
                    "Donnez un titre (120 caractères au plus) et un texte "
                    "(2000 caractères au plus)."
                )
            },
        )
    db.add(ResponseTemplate(title=title, body=body))
    db.commit()
    return Redirect("/staff/reports/settings", status_code=303)


@post(
    "/staff/reports/templates/{item_id:int}/toggle",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_reports_template_toggle",
)
def template_toggle(db: NamedDependency[Session], item_id: FromPath[int]) -> Redirect:
    row = db.get(ResponseTemplate, item_id)
    if row is None:
        raise NotFoundException("Cette réponse type n’existe pas.")
    row.active = not row.active
    db.commit()
    return Redirect("/staff/reports/settings", status_code=303)


@get("/staff/reports/api-keys", opt=STAFF, sync_to_thread=True, name="staff_reports_keys")
def api_keys(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    keys = list(db.scalars(select(ReportApiKey).order_by(ReportApiKey.created_at.desc())))  # type: ignore[attr-defined]
    return page(
        request, "reports/staff_keys.html", section="staff", keys=keys, new_key=None, errors={}
    )


@post("/staff/reports/api-keys", opt=STAFF, sync_to_thread=True, name="staff_reports_key_add")
def api_key_add(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template:
    name = data.get("name", "").strip()
    errors = {}
    new_key = None
    if not 2 <= len(name) <= 120:
        errors["name"] = _("Nommez la clé (l’application ou le partenaire qui l’utilisera).")
    else:
        _row, new_key = rp.issue_api_key(db, name, _user(request).id)  # type: ignore[union-attr]
        db.commit()
    keys = list(db.scalars(select(ReportApiKey).order_by(ReportApiKey.created_at.desc())))  # type: ignore[attr-defined]
    # The key is shown once, in this answer only (never stored in clear, never in a URL).
    return page(
        request,
        "reports/staff_keys.html",
        section="staff",
        keys=keys,
        new_key=new_key,
        errors=errors,
        status_code=400 if errors else 201,
        headers={"Cache-Control": "no-store"},
    )


@post(
    "/staff/reports/api-keys/{key_id:int}/revoke",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_reports_key_revoke",
)
def api_key_revoke(db: NamedDependency[Session], key_id: FromPath[int]) -> Redirect:
    row = db.get(ReportApiKey, key_id)
    if row is None:
        raise NotFoundException("Cette clé n’existe pas.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.commit()
    return Redirect("/staff/reports/api-keys", status_code=303)


ROUTES = [
    new_form,
    create,
    nearby_fragment,
    list_reports,
    mine,
    detail,
    follow,
    thank,
    reopen,
    photo,
    staff_board,
    staff_csv,
    staff_stats,
    staff_bulk,
    staff_detail,
    staff_status,
    staff_note,
    staff_category,
    staff_move,
    staff_settings,
    reason_add,
    reason_toggle,
    template_add,
    template_toggle,
    api_keys,
    api_key_add,
    api_key_revoke,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    home_panels=(Panel("my_reports", 20, "reports/_home_panel.html", my_reports_panel),),
    staff_links=(
        Link(
            10,
            "/staff/reports",
            "Signalements",
            "Trier les dépôts sauvages signalés, les suivre, répondre.",
        ),
        Link(
            11,
            "/staff/reports/stats",
            "Statistiques des signalements",
            "Par commune, catégorie, mois ; délai médian.",
        ),
        Link(
            12,
            "/staff/reports/settings",
            "Motifs et réponses types",
            "Listes utilisées pour répondre aux signalements.",
        ),
        Link(
            13,
            "/staff/reports/api-keys",
            "Clés Open311",
            "Accès des applications partenaires à l’API Open311.",
        ),
    ),
)

"""Dump-site report staff pages: the triage board, bulk changes, a report's staff page and its changes, CSV and statistics."""

from __future__ import annotations

import math
from functools import partial
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from app import bodies
from app.auth import STAFF, signed_in_user
from app.db import read_session, saved_id, utcnow, write_session
from app.forms import TextForm as Form
from app.forms import parse_form
from app.i18n import gettext as _
from app.models.reports import (
    Report,
    ReportFollow,
    ResponseTemplate,
)
from app.models.territory import Commune
from app.numbers import parse_int
from app.reports import catalogue, exports, intake, triage
from app.reports import categories as cats
from app.reports import workflow as rp
from app.routes.reports_context import (
    get_report,
    here,
    list_context,
    map_tiles,
    needs_full_load,
    page_number,
    pickup_at,
)
from app.templating import page
from app.territories import request_territory
from app.territories import zone as territory_zone

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
    tree = bodies.of_territory(db, here(request))
    filters = catalogue.Filters.parse(
        params, staff=True, tree=tree, categories=cats.of_territory(db, here(request)).codes
    )
    ctx = list_context(
        db,
        filters,
        staff=True,
        page_no=page_number(params.get("page")),
        territory_id=here(request),
    )
    counts: dict[str, int | str] = {}
    for code in catalogue.STATUSES:  # per status, index-read and bounded
        n, capped = catalogue.bounded_count(
            db,
            catalogue.scoped(select(col(Report.id)), here(request)).where(
                col(Report.status) == code
            ),
        )
        counts[code] = f"{n}+" if capped else n
    done = params.get("done")
    return page(
        request,
        "reports/staff_board.html",
        section="staff",
        status_code=status_code,
        **ctx,
        counts=counts,
        bodies=tree,
        reasons=rp.reject_reasons(db, here(request)),
        flash=done if done and done.isdigit() else None,
        done_action=catalogue.STATUSES.get(params.get("action") or ""),
        skipped=triage.skipped_lines(db, params.get("skipped") or "", here(request)),
        selected=set(selected or []),
        shown_ids={r.id for r in ctx["reports"]},
        errors=errors or {},
        form=form or {},
        **map_tiles(request),
    )


@get("/staff/reports", opt=STAFF, sync_to_thread=True, name="staff_reports")
def staff_board(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Template | Response[bytes]:
    if (full := needs_full_load(request)) is not None:
        return full
    return _board(request, db, request.query_params)


@get("/staff/reports.csv", opt=STAFF, sync_to_thread=True, name="staff_reports_csv")
def staff_csv(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Stream:
    filters = catalogue.Filters.parse(
        request.query_params,
        staff=True,
        tree=bodies.of_territory(db, here(request)),
        categories=cats.of_territory(db, here(request)).codes,
    )
    stamp = utcnow().astimezone(request_territory(request).zone).strftime("%Y%m%d-%H%M")
    return Stream(
        exports.export_csv(db.get_bind(), filters, territory_id=here(request)),
        media_type="text/csv; charset=utf-8",
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
    since_month = exports.first_month(utcnow(), months)
    stats = exports.stats(db, since_month=since_month, territory_id=here(request))
    return page(
        request,
        "reports/staff_stats.html",
        section="staff",
        stats=stats,
        months=months,
        since_month=since_month,
        categories=cats.of_territory(db, here(request)).labels,
        statuses=catalogue.STATUSES,
    )


class BulkForm(BaseModel):
    action: Literal["confirmed", "scheduled", "in_progress", "resolved", "rejected", "hidden"]
    reject_reason: int | None = None
    note: str = Field(default="", max_length=2000)
    expected_on: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


@post("/staff/reports/bulk", opt=STAFF, name="staff_reports_bulk")
async def staff_bulk(request: Request[Any, Any, Any]) -> Redirect | Template:
    """One action on the checked reports; the board then says what changed and what was skipped, and why.

    A form that cannot apply (nothing checked, a rejection with no reason...)
    shows the board again with the same selection and the message at its field.
    """
    form = await request.form()
    user = signed_in_user(request)
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
                        actor_id=user.id,
                        territory_id=here(request),
                        note=parsed.note,
                        reject_reason_id=parsed.reject_reason,
                        expected_at=pickup_at(parsed.expected_on, request_territory(request).zone),
                    )
            except catalogue.ReportError as exc:
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
    assert parsed is not None  # work() answers the page itself when the form does not parse
    params = dict(parse_qsl(query))
    params.update(done=str(len(result.changed)), action=parsed.action)
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
    photos = intake.photos_of(db, [saved_id(report)]).get(saved_id(report), [])
    reporter = None
    if report.reporter_id:
        from app.models.accounts import User

        reporter = db.get(User, report.reporter_id)
    followers = db.scalar(
        select(func.count())
        .select_from(ReportFollow)
        .where(col(ReportFollow.report_id) == report.id)
    )
    known = cats.of_territory(db, report.territory_id)
    return page(
        request,
        "reports/staff_detail.html",
        section="staff",
        status_code=status_code,
        report=report,
        photos=photos,
        reporter=reporter,
        followers=followers or 0,
        events=intake.history(db, saved_id(report), include_internal=True),
        transitions=catalogue.TRANSITIONS[report.status],
        statuses=catalogue.STATUSES,
        categories=known.labels,
        # the categories offered, and the report's own when it is archived
        category_choices={
            code: label
            for code, label in known.labels.items()
            if known.is_offered(code) or code == report.category
        },
        volumes=catalogue.VOLUMES,
        reasons=rp.reject_reasons(db, report.territory_id),
        templates=rp.response_templates(db, report.territory_id),
        commune=db.get(Commune, report.commune_insee) if report.commune_insee else None,
        candidates=triage.duplicate_candidates(db, report) if report.status != "duplicate" else [],
        bodies=bodies.of_territory(db, report.territory_id),
        duplicate_of=catalogue.report_in(db, report.duplicate_of_id, here(request)),
        number=catalogue.number,
        errors=errors or {},
        form=form or {},
        pickup_date=partial(rp.pickup_date_text, zone=territory_zone(db, report.territory_id)),
        **map_tiles(request),
    )


@get("/staff/reports/{report_id:int}", opt=STAFF, sync_to_thread=True, name="staff_report")
def staff_detail(
    request: Request[Any, Any, Any], db: NamedDependency[Session], report_id: FromPath[int]
) -> Template | Response[bytes]:
    if (full := needs_full_load(request)) is not None:
        return full
    return _staff_page(request, db, get_report(db, report_id, here(request)))


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
    user = signed_in_user(request)
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
                    intake.check_photos([after_bytes], settings.max_upload_bytes)
                    if after_bytes
                    else []
                )
                with write_session(engine) as db:
                    report = get_report(db, report_id, here(request))
                    note = parsed.note
                    chosen = db.get(ResponseTemplate, parsed.template) if parsed.template else None
                    if not note.strip() and chosen is not None and chosen.active:
                        note = chosen.body
                    rp.change_status(
                        db,
                        report,
                        parsed.status,
                        actor_id=user.id,
                        note=note,
                        reject_reason_id=parsed.reject_reason,
                        duplicate_of=parsed.duplicate_of,
                        duplicate_confirm=parsed.duplicate_confirm,
                        expected_at=pickup_at(parsed.expected_on, request_territory(request).zone),
                        after_photo=photo_ok[0] if photo_ok else None,
                        media_dir=settings.resolved_media_dir,
                    )
                return None
            except catalogue.ReportError as exc:
                problems[exc.field] = exc.message
            except ValueError:
                problems["expected_on"] = _("Date invalide.")
        with read_session(engine) as db:
            return _staff_page(
                request,
                db,
                get_report(db, report_id, here(request)),
                errors=problems,
                status_code=400,
                form=fields,
            )

    result = await anyio.to_thread.run_sync(work)
    return result or Redirect(f"/staff/reports/{report_id}", status_code=303)


def _staff_change(
    request: Request[Any, Any, Any], db: Session, report_id: int, fn: Any
) -> Redirect | Template:
    report = get_report(db, report_id, here(request))
    try:
        fn(report)
    except catalogue.ReportError as exc:
        db.rollback()
        return _staff_page(
            request,
            db,
            get_report(db, report_id, here(request)),
            errors={exc.field: exc.message},
            status_code=400,
        )
    db.commit()
    if report.territory_id != here(request):  # moved into another territory: handed to it
        return Redirect("/staff/reports", status_code=303)
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
    uid = signed_in_user(request).id
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
    uid = signed_in_user(request).id
    return _staff_change(
        request,
        db,
        report_id,
        lambda r: rp.recategorise(db, r, data.get("category", ""), actor_id=uid),
    )


@post(
    "/staff/reports/{report_id:int}/body", opt=STAFF, sync_to_thread=True, name="staff_report_body"
)
def staff_body(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    """Hand the report to another body of its territory (empty: the territory itself)."""
    uid = signed_in_user(request).id
    raw = data.get("body", "")

    def run(report: Report) -> None:
        body_id = parse_int(raw) if raw else None
        if raw and body_id is None:
            raise catalogue.ReportError(_("Organisme inconnu sur ce territoire."), "body")
        rp.hand_to_body(db, report, body_id, actor_id=uid)

    return _staff_change(request, db, report_id, run)


@post(
    "/staff/reports/{report_id:int}/move", opt=STAFF, sync_to_thread=True, name="staff_report_move"
)
def staff_move(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    uid = signed_in_user(request).id

    def run(report: Report) -> None:
        try:
            lat, lon = float(data.get("lat", "")), float(data.get("lon", ""))
        except ValueError:
            raise catalogue.ReportError(_("Position invalide."), "place") from None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise catalogue.ReportError(_("Position invalide."), "place")
        rp.move(db, report, lat, lon, actor_id=uid)

    return _staff_change(request, db, report_id, run)

"""Access rules of the dump-site reports (public pages, the reporter's own, staff triage) and Open311."""

from __future__ import annotations

import io
from typing import Any

from tests.access import AccessContext, Row, roles_only, same_for_all, signed_in_only

ANONYMOUS_POST = 401  # an unsafe request without a session is refused, not redirected
STAFF_ONLY = ("staff", "admin")


def _report(ctx: AccessContext, status: str = "new", photo: bool = False) -> int:
    from PIL import Image

    from app import images
    from app.db import write_session
    from app.models.reports import Report
    from app.reports import intake
    from app.reports import workflow as rp

    photos = []
    if photo:
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (100, 90, 80)).save(buf, format="JPEG")
        photos.append(images.process(buf.getvalue()))
    created = intake.create_report(
        ctx.engine,
        intake.NewReport(
            category="tyres",
            lat=49.472,
            lon=5.955,
            reporter_id=ctx.user_ids["resident"],
            photos=photos,
        ),
        ctx.settings.resolved_media_dir,
    )
    if status != "new":
        with write_session(ctx.engine) as s:
            report = s.get(Report, created.report.id)
            rp.change_status(
                s,
                report,
                status,
                actor_id=None,
                notify_people=False,
                reject_reason_id=rp.ensure_reject_reasons(s)[0].id,
            )
    return created.report.id


def a_report(ctx: AccessContext) -> dict[str, Any]:
    """An open report made by ``resident``."""
    return {"report_id": _report(ctx)}


def a_report_with_a_body(ctx: AccessContext) -> dict[str, Any]:
    """An open report handled by a body nested in the first territory (handed back to it below)."""
    from app.db import write_session
    from app.models.reports import Report
    from app.models.territory import Body

    report_id = _report(ctx)
    with write_session(ctx.engine) as session:
        report = session.get(Report, report_id)
        assert report is not None
        body = Body(territory_id=report.territory_id, name=f"Services techniques {report_id}")
        session.add(body)
        session.flush()
        report.body_id = body.id
    return {"report_id": report_id}


def a_hidden_report(ctx: AccessContext) -> dict[str, Any]:
    return {"report_id": _report(ctx, "hidden")}


def a_resolved_report(ctx: AccessContext) -> dict[str, Any]:
    return {"report_id": _report(ctx, "resolved")}


def a_photo(ctx: AccessContext) -> dict[str, Any]:
    from sqlalchemy import select

    from app.db import read_session
    from app.models.reports import ReportPhoto

    report_id = _report(ctx, photo=True)
    with read_session(ctx.engine) as s:
        name = s.scalar(select(ReportPhoto.thumb_name).where(ReportPhoto.report_id == report_id))
    return {"name": name}


def a_numbered_report(ctx: AccessContext) -> dict[str, Any]:
    from app.db import read_session
    from app.models.reports import Report
    from app.reports import catalogue

    report_id = _report(ctx)
    with read_session(ctx.engine) as s:
        return {"name": catalogue.number(s.get(Report, report_id)) + ".json"}


def a_reject_reason(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.reports import workflow as rp

    with write_session(ctx.engine) as s:
        return {"item_id": rp.ensure_reject_reasons(s)[0].id}


def a_report_category(ctx: AccessContext) -> dict[str, Any]:
    from sqlmodel import col, select

    from app.db import write_session
    from app.models.reports import ReportCategory

    with write_session(ctx.engine) as s:
        row = s.scalars(
            select(ReportCategory).where(
                col(ReportCategory.territory_id) == 1, col(ReportCategory.code) == "rubble"
            )
        ).one()
        return {"item_id": row.id}


def a_response_template(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.models.reports import ResponseTemplate

    with write_session(ctx.engine) as s:
        row = ResponseTemplate(title="Pris en compte", body="Merci, nos équipes vont intervenir.")
        s.add(row)
        s.flush()
        return {"item_id": row.id}


def an_api_key(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.reports import workflow as rp

    with write_session(ctx.engine) as s:
        row, _key = rp.issue_api_key(s, "Partenaire", None)
        return {"key_id": row.id}


def staff_post(
    staff: int | tuple[int, ...] = 303, admin: int | tuple[int, ...] | None = None
) -> dict[str, Any]:
    expect = roles_only(STAFF_ONLY, staff, anonymous=ANONYMOUS_POST)
    if admin is not None:
        expect["admin"] = admin
    return expect


def signed_in_post(status: int | tuple[int, ...], **overrides: int) -> dict[str, Any]:
    expect = signed_in_only(status, anonymous=ANONYMOUS_POST)
    expect.update(overrides)
    return expect


ROWS = [
    # public pages and the reporter's own
    Row("GET", "/reports", same_for_all(200)),
    Row("GET", "/reports/new", signed_in_only(200)),
    Row(
        "POST",
        "/reports/new",
        signed_in_post(400),
        data={"category": "tyres", "idempotency_key": "access-0001"},
        notes="no photo: the form comes back with its message",
    ),
    Row(
        "GET",
        "/reports/nearby?lat=49.472&lon=5.955&category=tyres",
        signed_in_only(200),
        route="/reports/nearby",
    ),
    Row("GET", "/reports/mine", signed_in_only(200)),
    Row("GET", "/reports/{report_id}", same_for_all(200), setup=a_report),
    Row(
        "GET",
        "/reports/{report_id}",
        {
            "anonymous": 404,
            "resident": 200,
            "other_resident": 404,
            "merchant": 404,
            "other_merchant": 404,
            "staff": 200,
            "admin": 200,
        },
        setup=a_hidden_report,
        notes="hidden: its reporter and staff only",
    ),
    Row(
        "POST", "/reports/{report_id}/follow", signed_in_post(303), setup=a_report, data={"on": "1"}
    ),
    Row("POST", "/reports/{report_id}/thank", signed_in_post(303), setup=a_report),
    Row(
        "POST",
        "/reports/{report_id}/reopen",
        signed_in_post(404, resident=303),
        setup=a_resolved_report,
        data={"text": "Toujours là"},
        notes="only the reporter may re-open",
    ),
    Row(
        "GET",
        "/reports/{report_id}/handed",
        signed_in_only(404),
        setup=a_report,
        notes="only for its reporter, of a report handed to another territory "
        "(tests/test_territory_reports.py); this one stayed here",
    ),
    Row("GET", "/reports/photos/{name}", same_for_all(200), setup=a_photo),
    # staff triage
    Row("GET", "/staff/reports", roles_only(STAFF_ONLY)),
    Row("GET", "/staff/reports.csv", roles_only(STAFF_ONLY)),
    Row("GET", "/staff/reports/stats", roles_only(STAFF_ONLY)),
    Row("GET", "/staff/reports/settings", roles_only(STAFF_ONLY)),
    Row("GET", "/staff/reports/api-keys", roles_only(STAFF_ONLY)),
    Row("GET", "/staff/reports/{report_id}", roles_only(STAFF_ONLY), setup=a_report),
    Row(
        "POST",
        "/staff/reports/bulk",
        staff_post(400),
        data={"action": "confirmed"},
        notes="nothing checked: a clear message",
    ),
    Row(
        "POST",
        "/staff/reports/{report_id}/status",
        staff_post(303, admin=400),
        setup=a_report,
        data={"status": "confirmed"},
        notes="admin comes second: already confirmed",
    ),
    Row(
        "POST",
        "/staff/reports/{report_id}/note",
        staff_post(303),
        setup=a_report,
        data={"note": "Vu"},
    ),
    Row(
        "POST",
        "/staff/reports/{report_id}/category",
        staff_post(303, admin=400),
        setup=a_report,
        data={"category": "rubble"},
    ),
    Row(
        "POST",
        "/staff/reports/{report_id}/body",
        staff_post(303, admin=400),
        setup=a_report_with_a_body,
        data={"body": ""},
        notes="admin comes second: already handed back to the territory",
    ),
    Row(
        "POST",
        "/staff/reports/{report_id}/move",
        staff_post(303),
        setup=a_report,
        data={"lat": "49.4675", "lon": "5.929"},
    ),
    # the territory's categories: its admins change them
    Row(
        "POST",
        "/staff/reports/categories",
        roles_only(("admin",), 303, anonymous=ANONYMOUS_POST),
        data={"label": "Catégorie ajoutée"},
    ),
    Row(
        "POST",
        "/staff/reports/categories/{item_id}/rename",
        roles_only(("admin",), 303, anonymous=ANONYMOUS_POST),
        setup=a_report_category,
        data={"label": "Gravats et plâtre", "hint": ""},
    ),
    Row(
        "POST",
        "/staff/reports/categories/{item_id}/move",
        roles_only(("admin",), 303, anonymous=ANONYMOUS_POST),
        setup=a_report_category,
        data={"direction": "up"},
    ),
    Row(
        "POST",
        "/staff/reports/categories/{item_id}/toggle",
        roles_only(("admin",), 303, anonymous=ANONYMOUS_POST),
        setup=a_report_category,
        data={"active": "0"},
    ),
    Row(
        "POST", "/staff/reports/reasons", staff_post(303, admin=400), data={"label": "Motif ajouté"}
    ),
    Row("POST", "/staff/reports/reasons/{item_id}/toggle", staff_post(303), setup=a_reject_reason),
    Row(
        "POST",
        "/staff/reports/templates",
        staff_post(303),
        data={"title": "Merci", "body": "Merci !"},
    ),
    Row(
        "POST",
        "/staff/reports/templates/{item_id}/toggle",
        staff_post(303),
        setup=a_response_template,
    ),
    Row("POST", "/staff/reports/api-keys", staff_post(201), data={"name": "Application"}),
    Row("POST", "/staff/reports/api-keys/{key_id}/revoke", staff_post(303), setup=an_api_key),
    # Open311: reading is public, posting needs an api_key (no cookies, no CSRF token)
    Row("GET", "/open311/v2/services.json", same_for_all(200), route="/open311/v2/{name}"),
    Row(
        "GET",
        "/open311/v2/services/tyres.xml",
        same_for_all(200),
        route="/open311/v2/services/{name}",
    ),
    Row("GET", "/open311/v2/requests/{name}", same_for_all(200), setup=a_numbered_report),
    Row(
        "GET",
        "/open311/v2/tokens/unknown.json",
        same_for_all(404),
        route="/open311/v2/tokens/{name}",
    ),
    Row(
        "POST",
        "/open311/v2/requests.json",
        same_for_all(403),
        route="/open311/v2/{name}",
        data={"service_code": "tyres", "lat": "49.47", "long": "5.95"},
        notes="no api_key",
    ),
]

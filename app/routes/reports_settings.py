"""Dump-site report settings for staff: reject reasons, response templates and Open311 API keys,
each territory's own (a host's staff see and change its territory's only)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from app.auth import STAFF, signed_in_user
from app.db import utcnow
from app.forms import TextForm as Form
from app.i18n import gettext as _
from app.models.reports import (
    RejectReason,
    ReportApiKey,
    ResponseTemplate,
)
from app.reports import workflow as rp
from app.templating import page
from app.routes.reports_context import here
from app.territories import row_in


def _keys(db: Session, territory_id: int) -> list[ReportApiKey]:
    return list(
        db.scalars(
            select(ReportApiKey)
            .where(col(ReportApiKey.territory_id) == territory_id)
            .order_by(col(ReportApiKey.created_at).desc())
        )
    )


# --- staff lists: reject reasons, response templates, Open311 keys ------------------------------------


@get("/staff/reports/settings", opt=STAFF, sync_to_thread=True, name="staff_reports_settings")
def staff_settings(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return page(
        request,
        "reports/staff_settings.html",
        section="staff",
        reasons=rp.reject_reasons(db, here(request), active_only=False),
        templates=rp.response_templates(db, here(request), active_only=False),
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
        reasons=rp.reject_reasons(db, here(request), active_only=False),
        templates=rp.response_templates(db, here(request), active_only=False),
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
    territory_id = here(request)
    if db.scalars(
        select(RejectReason).where(
            col(RejectReason.territory_id) == territory_id, col(RejectReason.label) == label
        )
    ).first():
        return _settings_error(request, db, {"label": _("Ce motif existe déjà.")})
    db.add(RejectReason(label=label, territory_id=territory_id))
    db.commit()
    return Redirect("/staff/reports/settings", status_code=303)


@post(
    "/staff/reports/reasons/{item_id:int}/toggle",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_reports_reason_toggle",
)
def reason_toggle(
    request: Request[Any, Any, Any], db: NamedDependency[Session], item_id: FromPath[int]
) -> Redirect:
    row = row_in(db, RejectReason, item_id, here(request))
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
    db.add(ResponseTemplate(title=title, body=body, territory_id=here(request)))
    db.commit()
    return Redirect("/staff/reports/settings", status_code=303)


@post(
    "/staff/reports/templates/{item_id:int}/toggle",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_reports_template_toggle",
)
def template_toggle(
    request: Request[Any, Any, Any], db: NamedDependency[Session], item_id: FromPath[int]
) -> Redirect:
    row = row_in(db, ResponseTemplate, item_id, here(request))
    if row is None:
        raise NotFoundException("Cette réponse type n’existe pas.")
    row.active = not row.active
    db.commit()
    return Redirect("/staff/reports/settings", status_code=303)


@get("/staff/reports/api-keys", opt=STAFF, sync_to_thread=True, name="staff_reports_keys")
def api_keys(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    keys = _keys(db, here(request))
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
        _row, new_key = rp.issue_api_key(db, name, signed_in_user(request).id, here(request))
        db.commit()
    keys = _keys(db, here(request))
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
def api_key_revoke(
    request: Request[Any, Any, Any], db: NamedDependency[Session], key_id: FromPath[int]
) -> Redirect:
    row = row_in(db, ReportApiKey, key_id, here(request))
    if row is None:
        raise NotFoundException("Cette clé n’existe pas.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.commit()
    return Redirect("/staff/reports/api-keys", status_code=303)

"""Dump-site report settings for staff: the categories of report (changed by the territory's admins),
reject reasons, response templates and Open311 API keys, each territory's own (a host's staff see
and change its territory's only)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from app.auth import ADMIN, STAFF, current_user, signed_in_user
from app.db import utcnow
from app.forms import TextForm as Form
from app.i18n import gettext as _
from app.models.reports import (
    RejectReason,
    ReportCategory,
    ReportApiKey,
    ResponseTemplate,
)
from app.reports import catalogue
from app.reports import categories as cats
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


def _settings_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    errors: dict[str, str],
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    user = current_user(request)
    return page(
        request,
        "reports/staff_settings.html",
        section="staff",
        status_code=status_code,
        categories=cats.rows_of(db, here(request)),
        can_change_categories=user is not None and user.is_admin,
        reasons=rp.reject_reasons(db, here(request), active_only=False),
        templates=rp.response_templates(db, here(request), active_only=False),
        errors=errors,
        form=form or {},
    )


@get("/staff/reports/settings", opt=STAFF, sync_to_thread=True, name="staff_reports_settings")
def staff_settings(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _settings_page(request, db, errors={})


def _settings_error(
    request: Request[Any, Any, Any],
    db: Session,
    errors: dict[str, str],
    form: dict[str, str] | None = None,
) -> Template:
    db.rollback()
    cats.forget(db)
    return _settings_page(request, db, errors=errors, form=form, status_code=400)


# --- the territory's categories of report (its admins change them) -----------------------------------

_BACK = "/staff/reports/settings#categories"


def _here_or_404(request: Request[Any, Any, Any], db: Session, item_id: int) -> None:
    """Another territory's category is not found (as if it did not exist)."""
    if row_in(db, ReportCategory, item_id, here(request)) is None:
        raise NotFoundException("Cette catégorie n’existe pas.")


def _category_error(
    request: Request[Any, Any, Any],
    db: Session,
    exc: catalogue.ReportError,
    form: dict[str, str] | None = None,
    *,
    where: str = "",
) -> Template:
    """The page again with the error by its field (``where``: the row's own message)."""
    if exc.field == "category":  # a message of the list, not of one field
        where = "categories"
    key = where or f"category_{exc.field}"
    return _settings_error(request, db, {key: exc.message}, form)


@post("/staff/reports/categories", opt=ADMIN, sync_to_thread=True, name="staff_category_add")
def category_add(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Redirect | Template:
    form = {k: data.get(k, "")[:300] for k in ("code", "label", "hint")}
    try:
        cats.add(db, here(request), code=form["code"], label=form["label"], hint=form["hint"])
    except catalogue.ReportError as exc:
        return _category_error(request, db, exc, form)
    db.commit()
    return Redirect(_BACK, status_code=303)


@post(
    "/staff/reports/categories/{item_id:int}/rename",
    opt=ADMIN,
    sync_to_thread=True,
    name="staff_category_rename",
)
def category_rename(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    item_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    _here_or_404(request, db, item_id)
    try:
        cats.rename(
            db,
            here(request),
            item_id,
            label=data.get("label", "")[:300],
            hint=data.get("hint", "")[:300],
        )
    except catalogue.ReportError as exc:
        return _category_error(request, db, exc, where=f"category_{item_id}")
    db.commit()
    return Redirect(_BACK, status_code=303)


@post(
    "/staff/reports/categories/{item_id:int}/move",
    opt=ADMIN,
    sync_to_thread=True,
    name="staff_category_move",
)
def category_move(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    item_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    _here_or_404(request, db, item_id)
    try:
        cats.move(db, here(request), item_id, -1 if data.get("direction") == "up" else 1)
    except catalogue.ReportError as exc:
        return _category_error(request, db, exc, where="categories")
    db.commit()
    return Redirect(_BACK, status_code=303)


@post(
    "/staff/reports/categories/{item_id:int}/toggle",
    opt=ADMIN,
    sync_to_thread=True,
    name="staff_category_toggle",
)
def category_toggle(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    item_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    _here_or_404(request, db, item_id)
    try:
        cats.set_active(db, here(request), item_id, data.get("active") == "1")
    except catalogue.ReportError as exc:
        return _category_error(request, db, exc, where=f"category_{item_id}")
    db.commit()
    return Redirect(_BACK, status_code=303)


CATEGORY_ROUTES = [category_add, category_rename, category_move, category_toggle]


# --- reject reasons, response templates -------------------------------------------------------------


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

"""The territories of the install, for the super-administrator (/admin/territories): their hosts
and communes, and their branding (names, colours, contact, hosts)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.auth import SUPERADMIN
from app.forms import TextForm as Form
from app.i18n import gettext as _
from app.interfaces import Contribution
from app.models.accounts import User
from app.models.territory import Commune, Territory
from app.templating import page
from app.territories import Branding
from app.territory_setup import BRANDING_FIELDS, BrandingError, update_branding


def _list_page(request: Request[Any, Any, Any], db: Session, notice: str = "") -> Template:
    rows = db.scalars(select(Territory).order_by(col(Territory.id))).all()
    communes = dict(
        db.execute(
            select(col(Commune.territory_id), func.count()).group_by(col(Commune.territory_id))
        ).all()
    )
    staff = dict(
        db.execute(
            select(col(User.territory_id), func.count())
            .where(col(User.role).in_(("staff", "admin")))
            .group_by(col(User.territory_id))
        ).all()
    )
    first = rows[0].id if rows else None
    items = [
        {
            "row": t,
            "branding": Branding.of(t),
            "communes": communes.get(t.id, 0),
            # Staff without a territory work for the default one.
            "staff": staff.get(t.id, 0) + (staff.get(None, 0) if t.id == first else 0),
            "is_default": t.id == first,
        }
        for t in rows
    ]
    return page(
        request, "admin/territories.html", section="territories", items=items, notice=notice
    )


@get("/admin/territories", opt=SUPERADMIN, sync_to_thread=True, name="admin_territories")
def admin_territories(
    request: Request[Any, Any, Any], db: NamedDependency[Session], saved: FromQuery[str] = ""
) -> Template:
    notice = _("Les réglages du territoire sont enregistrés.") if saved else ""
    return _list_page(request, db, notice)


def _edit_page(
    request: Request[Any, Any, Any],
    territory: Territory,
    form: dict[str, str],
    *,
    status_code: int = 200,
    error: BrandingError | None = None,
) -> Template:
    return page(
        request,
        "admin/territory_edit.html",
        status_code=status_code,
        section="territories",
        territory_row=territory,
        form=form,
        error=error,
    )


def _territory(db: Session, territory_id: int) -> Territory:
    row = db.get(Territory, territory_id)
    if row is None:
        raise NotFoundException()
    return row


@get(
    "/admin/territories/{territory_id:int}",
    opt=SUPERADMIN,
    sync_to_thread=True,
    name="admin_territory",
)
def admin_territory(
    request: Request[Any, Any, Any], db: NamedDependency[Session], territory_id: FromPath[int]
) -> Template:
    row = _territory(db, territory_id)
    form = {key: getattr(row, key) for key in BRANDING_FIELDS}
    form["hosts"] = "\n".join(row.hosts or ())
    return _edit_page(request, row, form)


@post(
    "/admin/territories/{territory_id:int}",
    opt=SUPERADMIN,
    sync_to_thread=True,
    name="admin_territory_save",
)
def admin_territory_save(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    territory_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    row = _territory(db, territory_id)
    form = {key: str(data.get(key, ""))[:2000] for key in BRANDING_FIELDS}
    try:
        update_branding(db, row, form)
    except BrandingError as exc:
        db.rollback()
        return _edit_page(request, _territory(db, territory_id), form, status_code=400, error=exc)
    db.commit()
    return Redirect("/admin/territories?saved=1", status_code=303)


ROUTES = [admin_territories, admin_territory, admin_territory_save]

CONTRIBUTES = Contribution(routes=ROUTES)

"""The staff hub (/staff) and the administration of accounts (list, search, roles)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from app.accounts import invitations
from app.accounts import lifecycle as accounts
from app.numbers import parse_int
from app.forms import TextForm as Form
from app.auth import ADMIN, STAFF, signed_in_user
from app.i18n import gettext as _
from app.models.accounts import ROLES, SUPERADMIN_ROLE, User
from app.sections import STAFF_LINKS
from app.templating import page
from app.territories import request_territory, site_url
from app.interfaces import Contribution, Link

PAGE_SIZE = 25
ROLE_NAMES = {
    "resident": "Habitant",
    "merchant": "Commerçant",
    "staff": "Agent",
    "admin": "Administrateur",
    "social_worker": "Travailleur social (CCAS)",
    "elected": "Élu (aide à la décision, lecture seule)",
    "superadmin": "Super-administrateur (territoires)",
}
# What an administrator may give: every role but the super-administrator's (the command line's).
ASSIGNABLE_ROLES = tuple(r for r in ROLES if r != SUPERADMIN_ROLE)


@get("/staff", opt=STAFF, name="staff_hub")
async def staff_hub(request: Request[Any, Any, Any]) -> Template:
    user = signed_in_user(request)
    links = [link for link in STAFF_LINKS if not link.roles or user.role in link.roles]
    return page(request, "admin/staff.html", section="staff", links=links)


def _users_page(
    request: Request[Any, Any, Any],
    db: Session,
    q: str,
    page_no: int,
    *,
    status_code: int = 200,
    error: str = "",
    notice: str = "",
    invite_form: dict[str, str] | None = None,
    invite_errors: dict[str, str] | None = None,
) -> Template:
    q = q.strip()[:100]
    query = select(User)
    count = select(func.count()).select_from(User)
    if q:
        like = f"%{q.lower()}%"
        cond = or_(
            func.lower(col(User.email)).like(like), func.lower(col(User.display_name)).like(like)
        )
        query = query.where(cond)
        count = count.where(cond)
    total = int(db.scalar(count) or 0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page_no = min(max(1, page_no), pages)
    users = db.scalars(
        query.order_by(col(User.email)).offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()

    def url(n: int) -> str:
        params = {"q": q, "page": n} if q else {"page": n}
        return "/admin/users?" + urlencode(params)

    return page(
        request,
        "admin/users.html",
        status_code=status_code,
        section="staff",
        users=users,
        q=q,
        page_no=page_no,
        pages=pages,
        total=total,
        roles=ASSIGNABLE_ROLES,
        role_names=ROLE_NAMES,
        prev_url=url(page_no - 1) if page_no > 1 else "",
        next_url=url(page_no + 1) if page_no < pages else "",
        back=url(page_no),
        error=error,
        notice=notice,
        invite_form=invite_form or {"role": "staff"},
        invite_errors=invite_errors or {},
        invitation_days=invitations.INVITATION_DAYS,
    )


@get("/admin/users", opt=ADMIN, sync_to_thread=True, name="admin_users")
def admin_users(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    q: FromQuery[str] = "",
    page: FromQuery[str] = "1",
    changed: FromQuery[str] = "",
    invited: FromQuery[str] = "",
) -> Template:
    page_no = parse_int(page, max_digits=6) or 1
    notice = _("Le rôle a été changé ; la personne devra se reconnecter.") if changed == "1" else ""
    if invited:
        notice = _(
            "Invitation envoyée à %(e)s : le lien pour choisir un mot de passe est valable %(d)s jours."
        ) % {"e": invited[:254], "d": invitations.INVITATION_DAYS}
    return _users_page(request, db, q, page_no, notice=notice)


@post("/admin/users/{user_id:int}/role", opt=ADMIN, sync_to_thread=True, name="admin_user_role")
def admin_user_role(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    user_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    target = db.get(User, user_id)
    if target is None:
        raise NotFoundException()
    back = data.get("back", "/admin/users")
    if not back.startswith("/admin/users"):
        back = "/admin/users"
    role = data.get("role", "")
    if role not in ASSIGNABLE_ROLES:
        return _users_page(request, db, "", 1, status_code=400, error=_("Rôle inconnu."))
    if target.role == SUPERADMIN_ROLE:
        return _users_page(
            request,
            db,
            "",
            1,
            status_code=400,
            error=_("Le rôle d’un super-administrateur ne se change qu’en ligne de commande."),
        )
    if target.id == signed_in_user(request).id:
        return _users_page(
            request,
            db,
            "",
            1,
            status_code=400,
            error=_(
                "Vous ne pouvez pas changer votre propre rôle : demandez à un autre administrateur."
            ),
        )
    accounts.change_role(db, target, role)
    db.commit()
    sep = "&" if "?" in back else "?"
    return Redirect(f"{back}{sep}changed=1", status_code=303)


@post("/admin/users/invite", opt=ADMIN, sync_to_thread=True, name="admin_user_invite")
def admin_user_invite(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    """Create a staff or admin account and e-mail it a single-use link to set its password."""
    me = signed_in_user(request)
    form = {k: str(data.get(k, ""))[:300] for k in ("email", "display_name", "role")}
    try:
        user = invitations.invite(
            db,
            form["email"],
            role=form["role"],
            display_name=form["display_name"],
            invited_by=me.display_name or me.email,
            base_url=site_url(request, request.app.state.settings.base_url),
            jinja=request.app.state.jinja,
            territory=request_territory(request),
        )
    except invitations.InvitationError as exc:
        db.rollback()
        return _users_page(
            request,
            db,
            "",
            1,
            status_code=400,
            invite_form=form,
            invite_errors={exc.field: exc.message},
        )
    db.commit()
    return Redirect("/admin/users?" + urlencode({"invited": user.email}), status_code=303)


ROUTES = [staff_hub, admin_users, admin_user_role, admin_user_invite]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(
            900,
            "/admin/users",
            "Comptes et rôles",
            "Inviter un agent, chercher une personne, changer son rôle.",
            roles=("admin",),
        ),
    ),
)

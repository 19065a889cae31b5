"""The teams page: an administrator creates teams of staff (voirie, éclairage, déchets, espaces
verts...), renames or archives them and chooses their members, in plain forms."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlmodel import Session

from app.auth import ADMIN
from app.forms import Form, parse_form
from app.i18n import gettext as _
from app.maintenance import alarms, teams
from app.templating import page


def _page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    new: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    failed: str = "",
    saved: str = "",
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "maintenance/teams.html",
        section="staff",
        status_code=status_code,
        rows=teams.listing(db),
        members=teams.members(db),
        staff_people=alarms.staff_members(db),
        new=new or {},
        errors=errors or {},
        failed=failed,
        saved=saved,
    )


@get("/staff/teams", opt=ADMIN, sync_to_thread=True, name="staff_teams")
def team_list(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    saved: Annotated[str | None, QueryParameter(pattern=teams.CODE)] = None,
) -> Template:
    return _page(request, db, saved=saved or "")


@post("/staff/teams", opt=ADMIN, sync_to_thread=True, name="staff_team_create")
def team_create(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    fields = {k: data.get(k, "") for k in ("code", "name")}
    form, errors = parse_form(teams.NewTeam, fields)
    if "code" in errors:
        errors["code"] = _(
            "Le code commence par une lettre et ne compte que des minuscules sans accent, des chiffres et « _ » (2 à 20)."
        )
    if form is not None:
        try:
            teams.create(db, form)
        except teams.TeamError as exc:
            errors = {exc.field: str(exc)}
    if errors or form is None:
        db.rollback()
        return _page(request, db, new=fields, errors=errors, failed="new", status_code=400)
    db.commit()
    return Redirect(f"/staff/teams?saved={form.code}#team-{form.code}", status_code=303)


@post("/staff/teams/{code:str}", opt=ADMIN, sync_to_thread=True, name="staff_team_update")
def team_update(
    request: Request[Any, Any, Any], db: NamedDependency[Session], code: FromPath[str], data: Form
) -> Template | Redirect:
    given = data.get("members")
    raw = given if isinstance(given, list) else [given] if isinstance(given, str) and given else []
    name = data.get("name")
    errors: dict[str, str] = {}
    if not all(isinstance(v, str) and v.isascii() and v.isdigit() and len(v) < 12 for v in raw):
        errors = {"members": _("Choix invalide.")}
    else:
        try:
            teams.update(
                db,
                code,
                name=name if isinstance(name, str) else "",
                active=data.get("archived") != "on",
                member_ids=[int(v) for v in raw],
            )
        except teams.TeamError as exc:
            if exc.field == "team":
                raise NotFoundException() from None
            errors = {exc.field: str(exc)}
    if errors:
        db.rollback()
        return _page(request, db, errors=errors, failed=code, status_code=400)
    db.commit()
    return Redirect(f"/staff/teams?saved={code}#team-{code}", status_code=303)


TEAM_ROUTES = [team_list, team_create, team_update]

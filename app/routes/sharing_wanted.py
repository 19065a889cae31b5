"""Sharing pages for "looking for" requests."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session

from app.auth import PUBLIC, SIGNED_IN, current_user
from app.db import utcnow
from app.forms import Form, parse_form
from app.i18n import gettext as _
from app.models.sharing import (
    WantedRequest,
)
from app.routes.sharing_context import (
    WantedForm,
    commune_choices,
    form_text,
    signed_in,
    territory,
)
from app.sharing import scope
from app.sharing import loans as logic
from app.templating import page


@get("/sharing/wanted/new", opt=SIGNED_IN, sync_to_thread=True, name="sharing_wanted_new")
def wanted_form(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return page(
        request,
        "sharing/wanted_form.html",
        section="sharing",
        form={},
        errors={},
        communes=commune_choices(db, territory(request)),
        categories=logic.CATEGORIES,
    )


@post("/sharing/wanted", opt=SIGNED_IN, sync_to_thread=True, name="sharing_wanted_create")
def create_wanted(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    user = signed_in(request)
    form, errors = parse_form(WantedForm, data)
    if form is not None and form.commune_insee not in commune_choices(db, territory(request)):
        errors["commune_insee"] = _("Choisissez une commune du territoire.")
    if form is None or errors:
        return page(
            request,
            "sharing/wanted_form.html",
            section="sharing",
            status_code=400,
            form=form_text(data),
            errors=errors,
            communes=commune_choices(db, territory(request)),
            categories=logic.CATEGORIES,
        )
    wanted = WantedRequest(user_id=user.id, expires_at=utcnow(), **form.model_dump())
    logic.post_wanted(db, wanted)
    db.commit()
    return Redirect(f"/sharing/wanted/{wanted.id}", status_code=303)


@get("/sharing/wanted/{wanted_id:int}", opt=PUBLIC, sync_to_thread=True, name="sharing_wanted")
def wanted_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], wanted_id: FromPath[int]
) -> Template:
    """A wanted request of the host's territory (its author's own on every host), with the ads
    of the territory that may answer it."""
    user = current_user(request)
    wanted = db.get(WantedRequest, wanted_id)
    if wanted is None or not (
        (user is not None and user.id == wanted.user_id)
        or scope.is_here(db, wanted.commune_insee, territory(request))
    ):
        raise NotFoundException()
    names = logic.user_names(db, [wanted.user_id])
    matches = logic.search(db, category=wanted.category, limit=6, territory_id=territory(request))
    return page(
        request,
        "sharing/wanted.html",
        section="sharing",
        wanted=wanted,
        name=names.get(wanted.user_id, ""),
        mine=user is not None and user.id == wanted.user_id,
        categories=logic.CATEGORIES,
        communes=commune_choices(db, territory(request)),
        matches=matches,
        open=wanted.status == "open" and wanted.expires_at > utcnow(),
    )


@post(
    "/sharing/wanted/{wanted_id:int}/close",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="sharing_wanted_close",
)
def close_wanted(
    request: Request[Any, Any, Any], db: NamedDependency[Session], wanted_id: FromPath[int]
) -> Redirect:
    wanted = db.get(WantedRequest, wanted_id)
    if wanted is None or wanted.user_id != signed_in(request).id:
        raise NotFoundException()
    wanted.status = "closed"
    db.add(wanted)
    db.commit()
    return Redirect("/sharing/mine", status_code=303)

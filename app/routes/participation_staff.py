"""Participation, staff pages: budgets and their phases, projects and their review, one-time codes
handed out at the town hall, votes entered by a helper (médiateur numérique) for a resident,
paper ballots, and the work orders that build the winning projects."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlmodel import Session, col

from app import work_orders
from app.auth import STAFF, signed_in_user
from app.db import saved_id
from app.forms import Form, parse_form
from app.i18n import gettext as _
from app.models.participation import MODES, PHASES, Budget, BudgetProject, ProjectOrder
from app.participation import budgets as logic
from app.participation import scope
from app.routes.participation_context import (
    budget_or_404,
    communes,
    euros,
    ints,
    many,
    project_or_404,
    text,
)
from app.templating import page


class BudgetForm(BaseModel):
    title: str = Field(min_length=3, max_length=160)
    description: str = Field(default="", max_length=4000)
    commune_insee: str = ""  # empty: the whole territory
    envelope: int = Field(ge=1, le=100_000_000)
    mode: str = "envelope"
    pick_n: int = Field(default=3, ge=1, le=50)

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if value not in MODES:
            raise ValueError("Choisissez le mode de vote.")
        return value


class ProjectForm(BaseModel):
    title: str = Field(min_length=3, max_length=160)
    description: str = Field(default="", max_length=4000)
    cost: int = Field(ge=1, le=100_000_000)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class PersonForm(BaseModel):
    """A resident identified at the town hall or by a helper."""

    name: str = Field(min_length=3, max_length=120)
    birth_date: date
    commune_insee: str = Field(min_length=5, max_length=5)


def _list_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "participation/staff_index.html",
        section="staff",
        budgets=db.scalars(
            select(Budget).where(*scope.budgets_here(db)).order_by(col(Budget.id).desc())
        ).all(),
        communes=communes(db),
        phases=logic.PHASE_LABELS,
        modes=logic.MODE_LABELS,
        form=form or {"mode": "envelope", "pick_n": 3},
        errors=errors or {},
        status_code=status_code,
    )


@get("/participation/staff", opt=STAFF, sync_to_thread=True, name="pb_staff")
def staff_index(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _list_page(request, db)


@post("/participation/staff/budgets", opt=STAFF, sync_to_thread=True, name="pb_staff_create")
def create_budget(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    form, errors = parse_form(BudgetForm, data)
    if form is not None and form.commune_insee and form.commune_insee not in communes(db):
        errors["commune_insee"] = _("Choisissez une commune du territoire.")
    if form is None or errors:
        db.rollback()
        return _list_page(request, db, form=dict(data), errors=errors, status_code=400)
    budget = Budget(**{**form.model_dump(), "commune_insee": form.commune_insee or None})
    if scope.here(db):  # the territory of the staff who make it
        budget.territory_id = scope.here(db)
    db.add(budget)
    db.commit()
    return Redirect(f"/participation/staff/budgets/{budget.id}", status_code=303)


def _manage_page(
    request: Request[Any, Any, Any],
    db: Session,
    budget: Budget,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    issued: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Template:
    budget_id = saved_id(budget)
    all_projects = logic.projects(db, budget_id)
    links = logic.order_ids(db, [saved_id(p) for p in all_projects])
    return page(
        request,
        "participation/staff_budget.html",
        section="staff",
        status_code=status_code,
        budget=budget,
        projects=all_projects,
        votable=[p for p in all_projects if p.status == "feasible"],
        links=links,
        orders=work_orders.progress(db, [o for ids in links.values() for o in ids]),
        recent_orders=work_orders.recent(db, 50) if budget.phase in ("results", "works") else [],
        channels=logic.ballots_by_channel(db, budget_id),
        channel_labels=logic.CHANNEL_LABELS,
        communes=communes(db),
        phases=logic.PHASE_LABELS,
        all_phases=PHASES,
        modes=logic.MODE_LABELS,
        errors=errors or {},
        form=form or {},
        issued=issued,
        notice=notice,
        euros=euros,
    )


@get(
    "/participation/staff/budgets/{budget_id:int}",
    opt=STAFF,
    sync_to_thread=True,
    name="pb_staff_budget",
)
def manage(
    request: Request[Any, Any, Any], db: NamedDependency[Session], budget_id: FromPath[int]
) -> Template:
    return _manage_page(request, db, budget_or_404(db, budget_id))


@post(
    "/participation/staff/budgets/{budget_id:int}/phase",
    opt=STAFF,
    sync_to_thread=True,
    name="pb_staff_phase",
)
def move_phase(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    budget = budget_or_404(db, budget_id)
    try:
        logic.move_phase(db, budget, text(data, "phase", 10))
    except logic.VoteError as exc:
        db.rollback()
        return _manage_page(request, db, budget, errors={"phase": str(exc)}, status_code=400)
    db.commit()
    return Redirect(f"/participation/staff/budgets/{budget_id}", status_code=303)


@post(
    "/participation/staff/budgets/{budget_id:int}/projects",
    opt=STAFF,
    sync_to_thread=True,
    name="pb_staff_project",
)
def add_project(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    budget = budget_or_404(db, budget_id)
    form, errors = parse_form(ProjectForm, data)
    if form is None or errors:
        db.rollback()
        return _manage_page(request, db, budget, errors=errors, form=dict(data), status_code=400)
    db.add(
        BudgetProject(
            budget_id=budget_id,
            commune_insee=budget.commune_insee,
            status="feasible" if budget.phase != "ideas" else "proposed",
            **form.model_dump(),
        )
    )
    db.commit()
    return Redirect(f"/participation/staff/budgets/{budget_id}#projects", status_code=303)


@post(
    "/participation/staff/projects/{project_id:int}/review",
    opt=STAFF,
    sync_to_thread=True,
    name="pb_staff_review",
)
def review(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    project_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """The technical review: feasible (on the ballot) or not, with a note shown to everyone."""
    project, budget = project_or_404(db, project_id)
    status = text(data, "status", 12)
    note = text(data, "note", 500)
    if status not in ("feasible", "unfeasible") or (status == "unfeasible" and not note):
        db.rollback()
        return _manage_page(
            request,
            db,
            budget,
            errors={f"review-{project_id}": _("Indiquez l’avis, et la raison d’un refus.")},
            status_code=400,
        )
    if budget.phase in ("vote", "results", "works"):
        db.rollback()
        return _manage_page(
            request,
            db,
            budget,
            errors={f"review-{project_id}": _("Le vote a commencé : l’étude est close.")},
            status_code=400,
        )
    project.status = status
    project.review_note = note
    db.add(project)
    db.commit()
    return Redirect(f"/participation/staff/budgets/{budget.id}#projects", status_code=303)


def _person(db: Session, data: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    form, errors = parse_form(PersonForm, data)
    if form is not None and form.commune_insee not in communes(db):
        errors["commune_insee"] = _("Choisissez une commune du territoire.")
    if form is None or errors:
        return "", "", errors
    return (
        logic.person_voter(form.name, form.birth_date, form.commune_insee),
        form.commune_insee,
        {},
    )


@post(
    "/participation/staff/budgets/{budget_id:int}/codes",
    opt=STAFF,
    sync_to_thread=True,
    name="pb_staff_code",
)
def town_hall_code(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    data: Form,
) -> Template:
    """A one-time code for a resident whose identity the town hall checked (shown once)."""
    budget = budget_or_404(db, budget_id)
    voter, insee, errors = _person(db, data)
    code = ""
    if not errors:
        try:
            code = logic.issue_code(
                db,
                budget,
                voter=voter,
                commune_insee=insee,
                issued_by=signed_in_user(request).id,
            )
        except logic.VoteError as exc:
            errors = {"name": str(exc)}
    if errors:
        db.rollback()
        return _manage_page(request, db, budget, errors=errors, form=dict(data), status_code=400)
    db.commit()
    return _manage_page(request, db, budget, issued=code)


@post(
    "/participation/staff/budgets/{budget_id:int}/helper",
    opt=STAFF,
    sync_to_thread=True,
    name="pb_staff_helper",
)
def helper_vote(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """A vote entered by a helper (médiateur numérique) on a resident's behalf; the helper is
    recorded on the ballot."""
    budget = budget_or_404(db, budget_id)
    voter, insee, errors = _person(db, data)
    ids = ints(many(data, "project"))
    if ids is None:
        errors["project"] = _("Choix invalide.")
    if not errors and ids is not None:
        helper = signed_in_user(request).id
        try:
            logic.cast(
                db,
                logic.Vote(budget_id, ids, voter, insee, channel="helper", helper_id=helper),
            )
        except logic.VoteError as exc:
            errors = {"project": str(exc)}
    if errors:
        db.rollback()
        return _manage_page(
            request,
            db,
            budget,
            errors={f"helper-{k}": v for k, v in errors.items()},
            form=dict(data),
            status_code=400,
        )
    db.commit()
    return _manage_page(request, db, budget, notice=_("Vote enregistré pour cet habitant."))


@post(
    "/participation/staff/budgets/{budget_id:int}/paper",
    opt=STAFF,
    sync_to_thread=True,
    name="pb_staff_paper",
)
def paper_ballot(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """A paper ballot from a polling station, entered by staff and counted apart."""
    budget = budget_or_404(db, budget_id)
    ids = ints(many(data, "project"))
    insee = text(data, "commune_insee", 5) or budget.commune_insee
    error = ""
    if ids is None:
        error = _("Choix invalide.")
    elif insee is not None and insee not in communes(db):
        error = _("Choisissez une commune du territoire.")
    else:
        try:
            logic.cast(
                db,
                logic.Vote(
                    budget_id,
                    ids,
                    logic.paper_voter(),
                    insee,
                    channel="paper",
                    entered_by=signed_in_user(request).id,
                ),
            )
        except logic.VoteError as exc:
            error = str(exc)
    if error:
        db.rollback()
        return _manage_page(request, db, budget, errors={"paper-project": error}, status_code=400)
    db.commit()
    return Redirect(f"/participation/staff/budgets/{budget_id}?paper=1#paper", status_code=303)


@post(
    "/participation/staff/projects/{project_id:int}/orders",
    opt=STAFF,
    sync_to_thread=True,
    name="pb_staff_order",
)
def link_order(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    project_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """Link a work order that builds this winning project; everyone then sees its progress."""
    project, budget = project_or_404(db, project_id)
    ids = ints([text(data, "order_id", 10)])
    found = work_orders.progress(db, ids) if ids else {}
    if not ids or not found or not project.selected:
        db.rollback()
        return _manage_page(
            request,
            db,
            budget,
            errors={
                f"order-{project_id}": _("Choisissez un ordre de travail d’un projet lauréat.")
            },
            status_code=400,
        )
    if db.get(ProjectOrder, (project_id, ids[0])) is None:
        db.add(ProjectOrder(project_id=project_id, order_id=ids[0]))
    db.commit()
    return Redirect(f"/participation/staff/budgets/{budget.id}#projects", status_code=303)


ROUTES = [
    staff_index,
    create_budget,
    manage,
    move_phase,
    add_project,
    review,
    town_hall_code,
    helper_vote,
    paper_ballot,
    link_order,
]

__all__ = ["ROUTES", "euros"]

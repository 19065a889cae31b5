"""Citizen participation, residents' pages: the budgets, voting (signed in or with a one-time
code), the results per commune and the progress of the winning projects; ``ROUTES`` lists every
participation route (staff pages in ``participation_staff``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session, col

from app import work_orders
from app.auth import PUBLIC, SIGNED_IN, CurrentUser, current_user
from app.db import saved_id, utcnow
from app.forms import Form, parse_form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link, Panel
from app.mail import send_mail
from app.models.accounts import User
from app.models.participation import Budget
from app.participation import budgets as logic
from app.participation import consultations as consultation_logic
from app.participation import maps
from app.participation import scope
from app.routes.participation_context import budget_or_404, communes, euros, ints, many, text
from app.routes.participation_context import declare_commune as declare
from app.routes.participation_context import me_of
from app.routes import participation_consultations as consultations
from app.routes import participation_consultations_staff as consultations_staff
from app.routes import participation_proposals as proposals
from app.routes import participation_staff as staff
from app.templating import page


def _open_budgets(db: Session) -> list[Budget]:
    return list(
        db.scalars(
            select(Budget)
            .where(*scope.budgets_here(db), col(Budget.phase) != "ideas")
            .order_by(col(Budget.updated_at).desc())
        ).all()
    ) + list(
        db.scalars(
            select(Budget).where(*scope.budgets_here(db), col(Budget.phase) == "ideas")
        ).all()
    )


@get("/participation", opt=PUBLIC, sync_to_thread=True, name="participation_index")
def index(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return page(
        request,
        "participation/index.html",
        section="participation",
        budgets=_open_budgets(db),
        consultations=consultation_logic.listed(db),
        consultation_state=consultation_logic.state,
        consultation_states=consultation_logic.STATE_LABELS,
        communes=communes(db),
        phases=logic.PHASE_LABELS,
    )


def _budget_page(
    request: Request[Any, Any, Any],
    db: Session,
    budget: Budget,
    *,
    errors: dict[str, str] | None = None,
    chosen: list[int] | None = None,
    notice: str = "",
    idea: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    user = current_user(request)
    me = me_of(db, user)
    budget_id = saved_id(budget)
    voted = me is not None and logic.has_voted(db, budget_id, logic.user_voter(saved_id(me)))
    return page(
        request,
        "participation/budget.html",
        section="participation",
        status_code=status_code,
        budget=budget,
        projects=logic.projects(db, budget_id, votable=budget.phase != "ideas"),
        errors=errors or {},
        chosen=set(chosen or []),
        notice=notice,
        idea=idea or {},
        me=me,
        voted=voted,
        may_vote=me is not None and logic.may_vote_in(budget, me.commune_insee, db),
        communes=communes(db),
        phases=logic.PHASE_LABELS,
        modes=logic.MODE_LABELS,
        euros=euros,
    )


@get("/participation/budgets/{budget_id:int}", opt=PUBLIC, sync_to_thread=True, name="pb_budget")
def budget_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    voted: FromQuery[str] = "",
    sent: FromQuery[str] = "",
    proposed: FromQuery[str] = "",
) -> Template:
    notice = ""
    if proposed:
        notice = _("Merci, votre idée est enregistrée : les services l’étudieront.")
    elif voted:
        notice = _("Merci, votre vote est enregistré.")
    elif sent:
        notice = _(
            "Si cette adresse est celle du compte d’un habitant de la commune, un code à usage "
            "unique vient d’y être envoyé."
        )
    return _budget_page(request, db, budget_or_404(db, budget_id), notice=notice)


@post(
    "/participation/budgets/{budget_id:int}/vote", opt=PUBLIC, sync_to_thread=True, name="pb_vote"
)
def vote(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """Check the basket and show it for confirmation; with ``confirm``, record the vote."""
    budget = budget_or_404(db, budget_id)
    ids = ints(many(data, "project"))
    code = text(data, "code", 40)
    user = current_user(request)
    me = me_of(db, user)
    if ids is None:
        db.rollback()
        return _budget_page(
            request, db, budget, errors={"project": _("Choix invalide.")}, status_code=400
        )
    votable = logic.projects(db, budget_id, votable=True)
    chosen = [p for p in votable if p.id in set(ids)]
    try:
        if len(chosen) != len(set(ids)):
            raise logic.VoteError(_("Un des projets choisis ne fait pas partie du vote."))
        if budget.phase != "vote":
            raise logic.VoteError(_("Le vote n’est pas ouvert."))
        total = logic.check_basket(budget, chosen)
        if me is None and not code:
            raise logic.VoteError(
                _("Connectez-vous, ou saisissez le code à usage unique reçu pour voter.")
            )
        if not data.get("confirm"):
            db.rollback()
            return page(
                request,
                "participation/confirm.html",
                section="participation",
                budget=budget,
                chosen=chosen,
                total=total,
                code=code,
                euros=euros,
            )
        if code:
            row = logic.spend_code(db, budget_id, code, utcnow())
            ballot = logic.Vote(
                budget_id, ids, row.voter, row.commune_insee, channel="code", user_id=row.user_id
            )
        else:
            assert me is not None
            ballot = logic.Vote(
                budget_id,
                ids,
                logic.user_voter(saved_id(me)),
                me.commune_insee,
                user_id=me.id,
            )
        logic.cast(db, ballot, votable)
    except logic.VoteError as exc:
        db.rollback()
        field = "code" if code and "code" in str(exc).lower() else "project"
        return _budget_page(
            request, db, budget, errors={field: str(exc)}, chosen=ids, status_code=400
        )
    db.commit()
    return Redirect(f"/participation/budgets/{budget_id}?voted=1", status_code=303)


class IdeaForm(BaseModel):
    title: str = Field(min_length=5, max_length=160)
    description: str = Field(min_length=10, max_length=4000)
    cost: int | None = Field(default=None, ge=1, le=100_000_000)


@post(
    "/participation/budgets/{budget_id:int}/ideas",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="pb_idea",
)
def propose_idea(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """A resident of the commune proposes a project while the budget collects ideas."""
    budget = budget_or_404(db, budget_id)
    me = me_of(db, current_user(request))
    form, errors = parse_form(IdeaForm, data)
    if form is not None and me is not None:
        try:
            logic.propose_idea(
                db,
                budget,
                proposer_id=saved_id(me),
                commune_insee=me.commune_insee,
                title=" ".join(form.title.split()),
                description=form.description.strip(),
                cost=form.cost,
            )
        except logic.VoteError as exc:
            errors = {"idea": str(exc)}
    if form is None or errors or me is None:
        db.rollback()
        return _budget_page(request, db, budget, errors=errors, idea=dict(data), status_code=400)
    db.commit()
    return Redirect(f"/participation/budgets/{budget_id}?proposed=1#ideas", status_code=303)


@post(
    "/participation/budgets/{budget_id:int}/commune",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="pb_commune",
)
def declare_commune(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """A resident declares their commune once (changing it afterwards is the town hall's job)."""
    budget = budget_or_404(db, budget_id)
    if not declare(db, current_user(request), data):
        db.rollback()
        return _budget_page(
            request,
            db,
            budget,
            errors={"commune_insee": _("Choisissez une commune du territoire.")},
            status_code=400,
        )
    db.commit()
    return Redirect(f"/participation/budgets/{budget_id}", status_code=303)


@post(
    "/participation/budgets/{budget_id:int}/code",
    opt=PUBLIC,
    sync_to_thread=True,
    name="pb_email_code",
)
def email_code(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    budget_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """A one-time code e-mailed to the verified address of a resident's account (the answer is
    the same whether the address is known or not)."""
    budget = budget_or_404(db, budget_id)
    email = text(data, "email", 254).lower()
    if "@" not in email:
        db.rollback()
        return _budget_page(
            request, db, budget, errors={"email": _("Adresse e-mail invalide.")}, status_code=400
        )
    user = db.scalars(
        select(User).where(col(User.email) == email, col(User.is_active).is_(True))
    ).first()
    if user is not None and budget.phase == "vote":
        try:
            code = logic.issue_code(
                db,
                budget,
                voter=logic.user_voter(saved_id(user)),
                commune_insee=user.commune_insee,
                user_id=user.id,
            )
        except logic.VoteError:
            code = ""
        if code:
            send_mail(
                db,
                user.email,
                _("Votre code pour voter : %(t)s") % {"t": budget.title},
                _(
                    "Votre code à usage unique pour voter au budget participatif « %(t)s » : "
                    "%(c)s\n\nIl sert une seule fois, pendant %(d)s jours."
                )
                % {"t": budget.title, "c": code, "d": logic.CODE_DAYS},
            )
    db.commit()
    return Redirect(f"/participation/budgets/{budget_id}?sent=1#code", status_code=303)


@get(
    "/participation/budgets/{budget_id:int}/results",
    opt=PUBLIC,
    sync_to_thread=True,
    name="pb_results",
)
def results(
    request: Request[Any, Any, Any], db: NamedDependency[Session], budget_id: FromPath[int]
) -> Template:
    budget = budget_or_404(db, budget_id)
    closed = budget.phase in ("results", "works")
    ranked = logic.results(db, budget_id) if closed else []
    won = {saved_id(r.project) for r in logic.winners(budget, ranked)}
    links = logic.order_ids(db, sorted(won))
    orders = work_orders.progress(db, [o for ids in links.values() for o in ids])
    by_commune = logic.ballots_by_commune(db, budget_id) if closed else {}
    return page(
        request,
        "participation/results.html",
        section="participation",
        status_code=200 if closed else 403,
        budget=budget,
        closed=closed,
        ranked=ranked,
        won=won,
        links=links,
        orders=orders,
        channels=logic.ballots_by_channel(db, budget_id) if closed else {},
        channel_labels=logic.CHANNEL_LABELS,
        by_commune=by_commune,
        area_map=maps.commune_map(db, by_commune),
        communes=communes(db),
        euros=euros,
        phases=logic.PHASE_LABELS,
    )


@get(
    "/api/participation/budgets/{budget_id:int}/results",
    opt=PUBLIC,
    sync_to_thread=True,
    name="pb_results_api",
)
def results_api(db: NamedDependency[Session], budget_id: FromPath[int]) -> dict[str, Any]:
    budget = budget_or_404(db, budget_id)
    closed = budget.phase in ("results", "works")
    ranked = logic.results(db, budget_id) if closed else []
    won = {saved_id(r.project) for r in logic.winners(budget, ranked)}
    return {
        "budget": {
            "id": budget.id,
            "title": budget.title,
            "commune": budget.commune_insee,
            "envelope_eur": budget.envelope,
            "mode": budget.mode,
            "phase": budget.phase,
        },
        "closed": closed,
        "projects": [
            {
                "id": r.project.id,
                "title": r.project.title,
                "cost_eur": r.project.cost,
                "votes_online": r.online,
                "votes_paper": r.paper,
                "votes": r.votes,
                "selected": saved_id(r.project) in won,
            }
            for r in ranked
        ],
        "ballots_by_channel": logic.ballots_by_channel(db, budget_id) if closed else {},
        "ballots_by_commune": logic.ballots_by_commune(db, budget_id) if closed else {},
    }


def home_panel(db: Session, user: CurrentUser | None) -> dict[str, Any] | None:
    voting = db.scalars(
        select(Budget)
        .where(*scope.budgets_here(db), col(Budget.phase) == "vote")
        .order_by(col(Budget.id))
    ).all()
    return {"voting": voting} if voting else None


ROUTES = [
    index,
    budget_page,
    vote,
    propose_idea,
    declare_commune,
    email_code,
    results,
    results_api,
    *staff.ROUTES,
    *proposals.ROUTES,
    *consultations.ROUTES,
    *consultations_staff.ROUTES,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    home_panels=(Panel("participation", 50, "participation/_home_panel.html", home_panel),),
    staff_links=(
        Link(
            70,
            "/participation/staff",
            "Participation citoyenne",
            "Budgets participatifs : phases, projets, codes, votes papier.",
        ),
        Link(
            72,
            "/participation/staff/consultations",
            "Consultations",
            "Questionnaires aux habitants : questions, publication, textes à relire, export.",
        ),
        Link(
            71,
            "/participation/staff/comments",
            "Commentaires signalés",
            "Modération des commentaires des propositions citoyennes.",
        ),
    ),
)

"""Participation in the operations centre: residents' proposals and the winning budget projects
where they are, with their side panel, and the residents who took part this week per commune
(votes, consultation responses and proposals)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.i18n import gettext as _
from app.models.participation import (
    Ballot,
    Budget,
    BudgetProject,
    ConsultationResponse,
    Proposal,
    ProposalSupport,
)
from app.ops.contracts import Freshness, Kpi, Layer, Panel, Stamp, in_communes, point
from app.participation.proposals import STATUS_LABELS
from app.participation.scope import budgets_here, is_here, proposals_here

N_ = str
WEEK = dt.timedelta(days=7)
STATES = {
    **STATUS_LABELS,
    "won": N_("Projet lauréat"),
}
COUNTED = (
    (Ballot, Ballot.created_at, Ballot.commune_insee),
    (ConsultationResponse, ConsultationResponse.created_at, ConsultationResponse.commune_insee),
    (Proposal, Proposal.created_at, Proposal.commune_insee),
)


def participation_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for p in session.scalars(
        select(Proposal)
        .where(
            col(Proposal.hidden).is_(False),
            col(Proposal.lat).is_not(None),
            col(Proposal.lon).is_not(None),
            *proposals_here(session),
        )
        .order_by(col(Proposal.id))
    ):
        assert p.lat is not None and p.lon is not None
        out.append(
            point(
                f"proposal-{p.id}",
                p.lon,
                p.lat,
                kind="proposal",
                state=p.status,
                label=p.title,
                url=f"/participation/proposals/{p.id}",
                commune=p.commune_insee,
            )
        )
    for project, budget_id in session.execute(
        select(BudgetProject, col(Budget.id))
        .join(Budget, col(Budget.id) == BudgetProject.budget_id)
        .where(
            col(BudgetProject.selected).is_(True),
            col(BudgetProject.lat).is_not(None),
            col(BudgetProject.lon).is_not(None),
            *budgets_here(session),
        )
        .order_by(col(BudgetProject.id))
    ).all():
        out.append(
            point(
                f"project-{project.id}",
                project.lon,
                project.lat,
                kind="budget_project",
                state="won",
                label=project.title,
                url=f"/participation/staff/budgets/{budget_id}",
                commune=project.commune_insee,
            )
        )
    return out


def participation_panel(session: Session, feature_id: str, now: dt.datetime) -> Panel | None:
    kind, _sep, raw = feature_id.partition("-")
    if not raw.isdigit():
        return None
    if kind == "proposal":
        p = session.get(Proposal, int(raw))
        if p is None or p.hidden or not is_here(session, p):
            return None  # (another territory's proposal is not found on this host)
        supports = session.scalar(
            select(func.count()).where(col(ProposalSupport.proposal_id) == p.id)
        )
        return Panel(
            title=p.title,
            state=p.status,
            state_label=_(STATUS_LABELS.get(p.status, p.status)),
            facts=[
                (_("Soutiens"), str(supports or 0)),
                (_("Lieu"), p.place or "—"),
                (_("Proposée le"), p.created_at.strftime("%d/%m/%Y")),
            ],
            link=f"/participation/proposals/{p.id}",
            commune=p.commune_insee,
        )
    if kind == "project":
        project = session.get(BudgetProject, int(raw))
        budget = session.get(Budget, project.budget_id) if project is not None else None
        if (
            project is None
            or not project.selected
            or budget is None
            or not is_here(session, budget)
        ):
            return None  # (another territory's project is not found on this host)
        return Panel(
            title=project.title,
            state="won",
            state_label=_(STATES["won"]),
            facts=[(_("Coût"), f"{project.cost:,} €".replace(",", "\u202f"))],
            link=f"/participation/staff/budgets/{project.budget_id}",
            commune=project.commune_insee,
        )
    return None


def participants_week_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Votes, consultation responses and proposals of the last 7 days, by commune of the session's
    territory."""
    out: dict[str, Any] = {}
    for _table, created, commune in COUNTED:
        for insee, n in session.execute(
            select(col(commune), func.count())
            .where(
                col(created) >= now - WEEK,
                col(commune).is_not(None),
                in_communes(session, col(commune)),
            )
            .group_by(col(commune))
        ).all():
            out[insee] = out.get(insee, 0) + n
    return out


# Participation publishes no events: the count and newest id of each table counted.
participation_stamp = Stamp(
    tuple(select(func.count(), func.max(table.id)) for table, _created, _commune in COUNTED)
)


def participation_expires(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the oldest row counted leaves the 7-day window."""
    oldest = [
        session.scalar(select(func.min(col(created))).where(col(created) >= now - WEEK))
        for _table, created, _commune in COUNTED
    ]
    known = [o if o.tzinfo else o.replace(tzinfo=dt.UTC) for o in oldest if o is not None]
    return min(known) + WEEK if known else None


OPS_LAYERS = [
    Layer(
        "participation",
        N_("Participation citoyenne"),
        70,
        participation_layer,
        participation_panel,
        {},
        STATES,
    )
]
OPS_KPIS = [
    Kpi(
        "participation_week",
        N_("Participants cette semaine"),
        "",
        80,
        participants_week_kpi,
        Freshness((), participation_stamp, participation_expires),
    )
]

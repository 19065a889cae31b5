"""Access rules of the participation routes (budgets, votes, codes, staff pages)."""

from __future__ import annotations

from typing import Any

from tests.access import AccessContext, Row, roles_only, same_for_all, signed_in_only

STAFF_ROLES = ("staff", "admin")
STAFF_POST = roles_only(STAFF_ROLES, 303, anonymous=401)


def a_budget(ctx: AccessContext, phase: str = "vote") -> dict[str, Any]:
    from app.db import write_session
    from app.models.accounts import User
    from app.models.participation import Budget, BudgetProject

    with write_session(ctx.engine) as session:
        budget = Budget(title="Budget 2027", commune_insee="57038", envelope=50_000, phase=phase)
        session.add(budget)
        session.flush()
        project = BudgetProject(budget_id=budget.id, title="Jardin", cost=10_000, status="feasible")
        session.add(project)
        for role in ("resident", "other_resident"):
            session.get(User, ctx.user_ids[role]).commune_insee = "57038"
        session.flush()
        return {"budget_id": budget.id, "project_id": project.id}


def a_closed_budget(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.models.participation import Budget
    from app.participation import budgets as logic

    ids = a_budget(ctx)
    with write_session(ctx.engine) as session:
        logic.cast(
            session,
            logic.Vote(
                ids["budget_id"], [ids["project_id"]], "person:1", "57038", channel="helper"
            ),
        )
        logic.move_phase(session, session.get(Budget, ids["budget_id"]), "works")
    return ids


def a_proposal(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.models.participation import Proposal, ProposalComment

    with write_session(ctx.engine) as session:
        proposal = Proposal(
            author_id=ctx.user_ids["resident"],
            title="Composteur rue Foch",
            body="Pour les immeubles.",
            commune_insee="57038",
        )
        session.add(proposal)
        session.flush()
        comment = ProposalComment(
            proposal_id=proposal.id, author_id=ctx.user_ids["other_resident"], body="Bonne idée"
        )
        session.add(comment)
        session.flush()
        return {"proposal_id": proposal.id, "comment_id": comment.id}


PERSON = {"name": "Jeanne Martin", "birth_date": "1950-03-02", "commune_insee": "57038"}

ROWS = [
    Row("GET", "/participation", same_for_all(200)),
    Row(
        "GET",
        "/participation/budgets/{budget_id}",
        same_for_all(200),
        setup=a_budget,
        route="/participation/budgets/{budget_id:int}",
    ),
    Row(
        "POST",
        "/participation/budgets/{budget_id}/vote",
        # Anonymous has no code: 400; each resident of the commune votes once (303); the others
        # (no commune declared) are refused with a message (400).
        {
            "anonymous": 400,
            "resident": 303,
            "other_resident": 303,
            "merchant": 400,
            "other_merchant": 400,
            "staff": 400,
            "admin": 400,
        },
        setup=a_budget,
        data={"project": "1", "confirm": "1"},  # fresh database: the first project
        route="/participation/budgets/{budget_id:int}/vote",
    ),
    Row(
        "POST",
        "/participation/budgets/{budget_id}/commune",
        {
            "anonymous": 401,
            "resident": 400,  # already declared
            "other_resident": 400,
            "merchant": 303,
            "other_merchant": 303,
            "staff": 303,
            "admin": 303,
        },
        setup=a_budget,
        data={"commune_insee": "57041"},
        route="/participation/budgets/{budget_id:int}/commune",
    ),
    Row(
        "POST",
        "/participation/budgets/{budget_id}/code",
        same_for_all(303),
        setup=a_budget,
        data={"email": "voisin@eclor.test"},
        route="/participation/budgets/{budget_id:int}/code",
    ),
    Row(
        "GET",
        "/participation/budgets/{budget_id}/results",
        same_for_all(200),
        setup=a_closed_budget,
        route="/participation/budgets/{budget_id:int}/results",
    ),
    Row(
        "GET",
        "/api/participation/budgets/{budget_id}/results",
        same_for_all(200),
        setup=a_closed_budget,
        route="/api/participation/budgets/{budget_id:int}/results",
    ),
    Row("GET", "/participation/staff", roles_only(STAFF_ROLES)),
    Row(
        "POST",
        "/participation/staff/budgets",
        STAFF_POST,
        data={"title": "Budget 2028", "envelope": "30000", "mode": "envelope", "pick_n": "3"},
    ),
    Row(
        "GET",
        "/participation/staff/budgets/{budget_id}",
        roles_only(STAFF_ROLES),
        setup=a_budget,
        route="/participation/staff/budgets/{budget_id:int}",
    ),
    Row(
        "POST",
        "/participation/staff/budgets/{budget_id}/phase",
        STAFF_POST,
        setup=a_budget,
        data={"phase": "vote"},
        route="/participation/staff/budgets/{budget_id:int}/phase",
    ),
    Row(
        "POST",
        "/participation/staff/budgets/{budget_id}/projects",
        STAFF_POST,
        setup=a_budget,
        data={"title": "Bancs", "cost": "5000"},
        route="/participation/staff/budgets/{budget_id:int}/projects",
    ),
    Row(
        "POST",
        "/participation/staff/projects/{project_id}/review",
        STAFF_POST,
        setup=lambda ctx: a_budget(ctx, "review"),
        data={"status": "feasible"},
        route="/participation/staff/projects/{project_id:int}/review",
    ),
    Row(
        "POST",
        "/participation/staff/budgets/{budget_id}/codes",
        roles_only(STAFF_ROLES, 200, anonymous=401),
        setup=a_budget,
        data=PERSON,
        route="/participation/staff/budgets/{budget_id:int}/codes",
        notes="the code is shown once on the page; issuing a second one is allowed until the vote",
    ),
    Row(
        "POST",
        "/participation/staff/budgets/{budget_id}/helper",
        {**roles_only(STAFF_ROLES, 200, anonymous=401), "admin": 400},  # staff voted for her
        setup=a_budget,
        data={**PERSON, "project": "1"},
        route="/participation/staff/budgets/{budget_id:int}/helper",
    ),
    Row(
        "POST",
        "/participation/staff/budgets/{budget_id}/paper",
        STAFF_POST,
        setup=a_budget,
        data={"commune_insee": "57038", "project": "1"},
        route="/participation/staff/budgets/{budget_id:int}/paper",
    ),
    Row(
        "POST",
        "/participation/staff/projects/{project_id}/orders",
        roles_only(STAFF_ROLES, 400, anonymous=401),
        setup=a_closed_budget,
        data={"order_id": "999999"},
        route="/participation/staff/projects/{project_id:int}/orders",
        notes="no such work order: refused with a message",
    ),
    Row("GET", "/participation/proposals", same_for_all(200)),
    Row("GET", "/participation/proposals/new", signed_in_only(200)),
    Row(
        "POST",
        "/participation/proposals",
        signed_in_only(303, anonymous=401),
        data={"title": "Des bancs au parc", "body": "Pour se reposer.", "commune_insee": "57038"},
    ),
    Row(
        "GET",
        "/participation/proposals/{proposal_id}",
        same_for_all(200),
        setup=a_proposal,
        route="/participation/proposals/{proposal_id:int}",
    ),
    Row(
        "GET",
        "/api/participation/proposals/{proposal_id}",
        same_for_all(200),
        setup=a_proposal,
        route="/api/participation/proposals/{proposal_id:int}",
    ),
    Row(
        "POST",
        "/participation/proposals/{proposal_id}/support",
        {**signed_in_only(303, anonymous=401), "resident": 400},  # not one's own proposal
        setup=a_proposal,
        route="/participation/proposals/{proposal_id:int}/support",
    ),
    Row(
        "POST",
        "/participation/proposals/{proposal_id}/comments",
        signed_in_only(303, anonymous=401),
        setup=a_proposal,
        data={"body": "Je suis pour."},
        route="/participation/proposals/{proposal_id:int}/comments",
    ),
    Row(
        "POST",
        "/participation/comments/{comment_id}/report",
        signed_in_only(303, anonymous=401),
        setup=a_proposal,
        data={"reason": "hors sujet"},
        route="/participation/comments/{comment_id:int}/report",
    ),
    Row("GET", "/participation/staff/comments", roles_only(STAFF_ROLES)),
    Row(
        "POST",
        "/participation/staff/comments/{comment_id}/hide",
        STAFF_POST,
        setup=a_proposal,
        data={"reason": "offensive"},
        route="/participation/staff/comments/{comment_id:int}/hide",
    ),
    Row(
        "POST",
        "/participation/staff/comments/{comment_id}/restore",
        STAFF_POST,
        setup=a_proposal,
        route="/participation/staff/comments/{comment_id:int}/restore",
    ),
    Row(
        "POST",
        "/participation/staff/proposals/{proposal_id}/status",
        STAFF_POST,
        setup=a_proposal,
        data={"status": "under_study", "reason": "Étude en cours."},
        route="/participation/staff/proposals/{proposal_id:int}/status",
    ),
]

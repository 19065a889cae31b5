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


def a_consultation(
    ctx: AccessContext, *, published: bool = True, closed: bool = False
) -> dict[str, Any]:
    """A consultation of Audun-le-Tiche (where both residents live) with one response."""
    from datetime import timedelta

    from sqlmodel import select

    from app.db import utcnow, write_session
    from app.models.accounts import User
    from app.models.participation import Consultation, ConsultationAnswer, ConsultationQuestion
    from app.participation import consultations as logic

    now = utcnow()
    with write_session(ctx.engine) as session:
        row = Consultation(
            title="Parc de la mairie",
            communes="57038",
            opens_at=now - timedelta(days=20 if closed else 1),
            closes_at=now - timedelta(days=1) if closed else now + timedelta(days=10),
        )
        session.add(row)
        session.flush()
        question = ConsultationQuestion(
            consultation_id=row.id,
            position=1,
            kind="single",
            label="Des bancs ?",
            options="Oui\nNon",
        )
        remark = ConsultationQuestion(
            consultation_id=row.id, position=2, kind="text", label="Remarque", required=False
        )
        session.add_all([question, remark])
        session.flush()
        response = logic.insert_response(
            session,
            row,
            [logic.Answer(question.id, choices=[0]), logic.Answer(remark.id, text="Oui, ombragés")],
            "demo:1",
            None,
            "57038",
        )
        answer = session.scalars(
            select(ConsultationAnswer).where(
                ConsultationAnswer.response_id == response.id, ConsultationAnswer.text != ""
            )
        ).one()
        row.published = published
        for role in ("resident", "other_resident"):
            session.get(User, ctx.user_ids[role]).commune_insee = "57038"
        session.flush()
        return {"consultation_id": row.id, "question_id": question.id, "answer_id": answer.id}


def a_draft(ctx: AccessContext) -> dict[str, Any]:
    return a_consultation(ctx, published=False)


def a_closed_consultation(ctx: AccessContext) -> dict[str, Any]:
    return a_consultation(ctx, closed=True)


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
            "social_worker": 400,
            "staff": 400,
            "admin": 400,
        },
        setup=a_budget,
        data={"project": "1", "confirm": "1"},  # fresh database: the first project
        route="/participation/budgets/{budget_id:int}/vote",
    ),
    Row(
        "POST",
        "/participation/budgets/{budget_id}/ideas",
        # Both residents live in the commune; the others have no commune: refused with a message.
        {
            "anonymous": 401,
            "resident": 303,
            "other_resident": 303,
            "merchant": 400,
            "other_merchant": 400,
            "staff": 400,
            "admin": 400,
        },
        setup=lambda ctx: a_budget(ctx, "ideas"),
        data={"title": "Des bancs au parc", "description": "Pour se reposer à l’ombre."},
        route="/participation/budgets/{budget_id:int}/ideas",
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
            "social_worker": 303,
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
    Row(
        "GET",
        "/participation/photos/" + "A" * 32 + ".jpg",
        same_for_all(404),
        route="/participation/photos/{name:str}",
        notes="a photo of a visible proposal is everyone's; tests/test_participation_proposals.py",
    ),
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
    Row(
        "GET",
        "/participation/consultations/{consultation_id}",
        same_for_all(200),
        setup=a_consultation,
        route="/participation/consultations/{consultation_id:int}",
    ),
    Row(
        "GET",
        "/participation/consultations/{consultation_id}",
        {**roles_only(STAFF_ROLES, 200, denied=404), "anonymous": 404},
        setup=a_draft,
        route="/participation/consultations/{consultation_id:int}",
        notes="a draft is staff's only",
    ),
    Row(
        "POST",
        "/participation/consultations/{consultation_id}/answer",
        # Both residents live in the commune consulted and answer once; the others have no
        # commune: refused with a message.
        {
            "anonymous": 401,
            "resident": 303,
            "other_resident": 303,
            "merchant": 400,
            "other_merchant": 400,
            "staff": 400,
            "admin": 400,
            "social_worker": 400,
        },
        setup=a_consultation,
        data={"q1": "1"},  # fresh database: the first question
        route="/participation/consultations/{consultation_id:int}/answer",
    ),
    Row(
        "POST",
        "/participation/consultations/{consultation_id}/commune",
        {
            "anonymous": 401,
            "resident": 400,  # already declared
            "other_resident": 400,
            "merchant": 303,
            "other_merchant": 303,
            "staff": 303,
            "admin": 303,
            "social_worker": 303,
        },
        setup=a_consultation,
        data={"commune_insee": "57041"},
        route="/participation/consultations/{consultation_id:int}/commune",
    ),
    Row(
        "GET",
        "/participation/consultations/{consultation_id}/results",
        same_for_all(200),
        setup=a_closed_consultation,
        route="/participation/consultations/{consultation_id:int}/results",
    ),
    Row(
        "GET",
        "/api/participation/consultations/{consultation_id}/results",
        same_for_all(200),
        setup=a_closed_consultation,
        route="/api/participation/consultations/{consultation_id:int}/results",
    ),
    Row("GET", "/participation/staff/consultations", roles_only(STAFF_ROLES)),
    Row(
        "POST",
        "/participation/staff/consultations",
        STAFF_POST,
        data={"title": "Marché de Noël", "first_day": "2027-01-04", "last_day": "2027-01-31"},
    ),
    Row(
        "GET",
        "/participation/staff/consultations/{consultation_id}",
        roles_only(STAFF_ROLES),
        setup=a_draft,
        route="/participation/staff/consultations/{consultation_id:int}",
    ),
    Row(
        "POST",
        "/participation/staff/consultations/{consultation_id}/questions",
        STAFF_POST,
        setup=a_draft,
        data={"kind": "text", "label": "Une idée ?"},
        route="/participation/staff/consultations/{consultation_id:int}/questions",
    ),
    Row(
        "POST",
        "/participation/staff/questions/{question_id}/delete",
        {**STAFF_POST, "admin": 404},
        setup=a_draft,
        route="/participation/staff/questions/{question_id:int}/delete",
        notes="staff removed the question first: gone for admin",
    ),
    Row(
        "POST",
        "/participation/staff/consultations/{consultation_id}/state",
        STAFF_POST,
        setup=a_draft,
        data={"action": "publish"},
        route="/participation/staff/consultations/{consultation_id:int}/state",
    ),
    Row(
        "POST",
        "/participation/staff/answers/{answer_id}/moderate",
        STAFF_POST,
        setup=a_consultation,
        data={"decision": "published"},
        route="/participation/staff/answers/{answer_id:int}/moderate",
    ),
    Row(
        "GET",
        "/participation/staff/consultations/{consultation_id}/responses.csv",
        roles_only(STAFF_ROLES),
        setup=a_consultation,
        route="/participation/staff/consultations/{consultation_id:int}/responses.csv",
    ),
]

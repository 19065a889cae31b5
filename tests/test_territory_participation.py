"""Participation on an install of several territories: a budget and a consultation belong to the
territory whose staff made them (a commune's budget to its commune's), a proposal to the territory of
its commune; every participation page and API a host answers keeps to its territory's."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from app.db import read_session, utcnow, write_session
from app.models.participation import (
    Budget,
    BudgetProject,
    Consultation,
    ConsultationQuestion,
    Proposal,
    ProposalComment,
)
from tests.participation_helpers import make_budget
from tests.territory_sweep import domain_routes
from tests.territory_sweep import refused as is_refused
from tests.test_territories import ESCH
from tests.test_territory_reports import add_minett

B_BUDGET = "Budget participatif du Minett"
B_PROJECT = "Skatepark de Lallange"
B_CONSULTATION = "Consultation sur la Place de la Résistance"
B_PROPOSAL = "Fontaine à Esch-Uelzecht"
B_COMMENT = "Commentaire-du-Minett"
DOMAIN = ("/participation", "/api/participation")


@pytest.fixture
def two(app, engine, personas) -> dict[str, Any]:
    """A budget, a consultation and a proposal in each territory (B: the Minett's, in Esch)."""
    minett = add_minett(engine)
    a_budget, a_projects = make_budget(engine)
    b_budget, b_projects = make_budget(
        engine, commune="L0204", projects=[(B_PROJECT, 20_000), ("Aire de jeux", 10_000)]
    )
    author = personas["other_resident"].id
    now = utcnow()
    with write_session(engine) as s:
        budget = s.get(Budget, b_budget)
        assert budget is not None
        budget.title, budget.territory_id = B_BUDGET, minett
        consultation = Consultation(
            title=B_CONSULTATION,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=10),
            published=True,
            territory_id=minett,
        )
        proposal = Proposal(
            author_id=author, title=B_PROPOSAL, body="Une fontaine.", commune_insee="L0204"
        )
        s.add_all([consultation, proposal])
        s.flush()
        question = ConsultationQuestion(
            consultation_id=consultation.id, kind="text", label="Votre avis ?"
        )
        comment = ProposalComment(proposal_id=proposal.id, author_id=author, body=B_COMMENT)
        s.add_all([question, comment])
        s.flush()
        ids = {
            "budget_id": b_budget,
            "project_id": b_projects[0],
            "consultation_id": consultation.id,
            "question_id": question.id,
            "proposal_id": proposal.id,
            "comment_id": comment.id,
        }
    return {"minett": minett, "a_budget": a_budget, "b": ids}


def _domain_routes(app: Any) -> list[tuple[str, str]]:
    return domain_routes(app, DOMAIN)


# Rows named by no path parameter: the poster's own (a proposal, a declared commune) or a new one
# made by staff (in the host's territory: checked below).
UNNAMED_WRITES = {
    "/participation/proposals",
    "/participation/staff/budgets",
    "/participation/staff/consultations",
}


def _fill(path: str, two: dict[str, Any]) -> list[str]:
    """The path with B's rows in its parameters (every parameter must be known to the sweep)."""
    params = re.findall(r"\{(\w+):\w+\}", path)
    values: dict[str, list[str]] = {k: [str(v)] for k, v in two["b"].items()}
    values["name"] = ["f" * 32 + ".jpg"]  # a photo no row names
    values["answer_id"] = ["999999"]
    values["decision"] = ["hide", "dismiss"]
    values["action"] = ["hide"]
    urls = [path]
    for name in params:
        if name not in values:
            raise AssertionError(f"{path}: a participation route whose {name} has no sample")
        pattern = re.compile(r"\{" + name + r":\w+\}")
        urls = [pattern.sub(v, u) for u in urls for v in values[name]]
    return urls


def _leaks(text: str) -> list[str]:
    return [m for m in (B_BUDGET, B_PROJECT, B_CONSULTATION, B_PROPOSAL, B_COMMENT) if m in text]


def _state(engine: Any, two: dict[str, Any]) -> list[Any]:
    with Session(engine) as s:
        b = two["b"]
        budget, project = s.get(Budget, b["budget_id"]), s.get(BudgetProject, b["project_id"])
        consultation = s.get(Consultation, b["consultation_id"])
        proposal, comment = (
            s.get(Proposal, b["proposal_id"]),
            s.get(ProposalComment, b["comment_id"]),
        )
        assert budget and project and consultation and proposal and comment
        return [
            (budget.phase, budget.updated_at),
            (project.status, project.title),
            (consultation.published, s.get(ConsultationQuestion, b["question_id"]) is not None),
            (proposal.status, proposal.hidden),
            comment.status,
            len(s.scalars(select(ProposalComment)).all()),
        ]


@pytest.mark.parametrize("who", ["staff", "resident", None])
def test_sweeping_every_participation_route_on_one_territorys_host_finds_nothing_of_the_other(
    app, engine, client, two, personas, who
):
    """As the first territory's staff, a resident, and anonymously."""
    c = personas[who].client if who else client
    routes = _domain_routes(app)
    assert ("GET", "/participation/staff") in routes and len(routes) >= 30
    before = _state(engine, two)
    read = refused = 0
    for method, path in routes:
        if "{" not in path:
            if method == "GET":
                for url in (path, f"{path}?commune=L0204"):
                    answer = c.get(url, follow_redirects=False)
                    assert answer.status_code < 500, (url, answer.status_code)
                    assert not _leaks(answer.text), (url, _leaks(answer.text))
                    read += 1
            else:
                assert path in UNNAMED_WRITES, f"{path}: a write this sweep has no sample for"
            continue
        for url in _fill(path, two):
            if method == "GET":
                answer = c.get(url, follow_redirects=False)
            else:
                answer = c.post_form(url, {"phase": "results", "status": "done", "body": "x"})
            assert is_refused(answer), (method, url, answer.status_code)
            assert not _leaks(answer.text), (url, _leaks(answer.text))
            refused += 1
    assert read >= 8 and refused >= 20
    assert _state(engine, two) == before


def test_the_minett_host_shows_the_minetts_participation_and_not_the_first_territorys(
    client, engine, two
):
    b = two["b"]
    there = client.get("/participation", headers=ESCH).text
    assert B_BUDGET in there and B_CONSULTATION in there
    assert "Budget participatif 2027" not in there
    assert client.get(f"/participation/budgets/{b['budget_id']}", headers=ESCH).status_code == 200
    assert client.get(f"/participation/budgets/{two['a_budget']}", headers=ESCH).status_code == 404
    assert B_PROPOSAL in client.get("/participation/proposals", headers=ESCH).text
    page = client.get(f"/participation/proposals/{b['proposal_id']}", headers=ESCH)
    assert page.status_code == 200 and B_COMMENT in page.text


def test_staff_make_budgets_and_consultations_in_their_own_territory(engine, two, personas):
    staff = personas["staff"]
    answer = staff.client.post_form(
        "/participation/staff/budgets",
        {
            "title": "Budget de Kayl",
            "envelope": "1000",
            "mode": "envelope",
            "pick_n": "3",
            "commune_insee": "L0204",
        },
    )
    assert answer.status_code == 400 and "Choisissez une commune du territoire" in answer.text
    answer = staff.client.post_form(
        "/participation/staff/budgets",
        {"title": "Budget du plateau", "envelope": "1000", "mode": "envelope", "pick_n": "3"},
    )
    assert answer.status_code == 303, answer.text
    with read_session(engine) as s:
        made = s.scalars(select(Budget).where(Budget.title == "Budget du plateau")).one()
        assert made.territory_id == 1

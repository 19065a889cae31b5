"""Participation in the operations centre: placed proposals and winning projects on a layer of
their own with their side panel, and the residents who took part this week per commune."""

from __future__ import annotations

import html
from datetime import timedelta

from app.db import utcnow, write_session
from app.models.participation import (
    Ballot,
    Budget,
    BudgetProject,
    ConsultationResponse,
    Proposal,
    ProposalSupport,
)
from tests.participation_helpers import AUDUN, AUMETZ


def seed(engine, author_id: int) -> dict[str, int]:
    now = utcnow()
    with write_session(engine) as s:
        placed = Proposal(
            author_id=author_id,
            title="Bancs au parc",
            body="Pour se reposer.",
            commune_insee=AUDUN,
            place="Parc de la mairie",
            lat=49.4723,
            lon=5.9551,
            status="under_study",
        )
        hidden = Proposal(
            author_id=author_id,
            title="Caché",
            body="…",
            commune_insee=AUDUN,
            lat=49.47,
            lon=5.95,
            hidden=True,
        )
        nowhere = Proposal(author_id=author_id, title="Sans lieu", body="…", commune_insee=AUMETZ)
        budget = Budget(title="Budget 2026", commune_insee=AUDUN, envelope=50_000, phase="works")
        s.add_all([placed, hidden, nowhere, budget])
        s.flush()
        won = BudgetProject(
            budget_id=budget.id,
            title="Jardin partagé",
            cost=18_000,
            status="feasible",
            selected=True,
            commune_insee=AUDUN,
            lat=49.4731,
            lon=5.9562,
        )
        lost = BudgetProject(
            budget_id=budget.id,
            title="Fresque",
            cost=8_000,
            status="feasible",
            lat=49.4711,
            lon=5.9501,
        )
        s.add_all([won, lost])
        s.flush()
        s.add(ProposalSupport(proposal_id=placed.id, user_id=author_id))
        # This week: 3 votes in Audun, 2 in Aumetz, 1 response in Aumetz, 3 proposals above
        # (2 in Audun, 1 in Aumetz). Ten days ago: one vote, not counted.
        for n, insee in enumerate([AUDUN, AUDUN, AUDUN, AUMETZ, AUMETZ]):
            s.add(Ballot(budget_id=budget.id, voter=f"t:{n}", commune_insee=insee))
        s.add(
            Ballot(
                budget_id=budget.id,
                voter="t:old",
                commune_insee=AUDUN,
                created_at=now - timedelta(days=10),
            )
        )
        s.add(
            ConsultationResponse(
                consultation_id=_consultation(s), respondent="t:1", commune_insee=AUMETZ
            )
        )
        return {"placed": placed.id, "hidden": hidden.id, "won": won.id, "lost": lost.id}


def _consultation(s) -> int:
    from app.models.participation import Consultation

    now = utcnow()
    row = Consultation(
        title="Q",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=1),
        published=True,
    )
    s.add(row)
    s.flush()
    return row.id


def test_placed_proposals_and_winning_projects_are_on_the_layer_with_their_panel(engine, staff):
    ids = seed(engine, staff.id)
    features = {
        f["id"]: f
        for f in staff.client.get("/staff/ops/layers/participation.geojson").json()["features"]
    }
    assert set(features) == {f"proposal-{ids['placed']}", f"project-{ids['won']}"}
    placed = features[f"proposal-{ids['placed']}"]
    assert placed["properties"]["state"] == "under_study"
    assert placed["geometry"]["coordinates"] == [5.9551, 49.4723]
    assert features[f"project-{ids['won']}"]["properties"]["state"] == "won"
    panel = html.unescape(
        staff.client.get(f"/staff/ops/panel/participation/proposal-{ids['placed']}").text
    )
    assert "Bancs au parc" in panel and "Parc de la mairie" in panel and "À l’étude" in panel
    assert "Soutiens" in panel
    project = html.unescape(
        staff.client.get(f"/staff/ops/panel/participation/project-{ids['won']}").text
    )
    assert "Jardin partagé" in project and "18\u202f000 €" in project
    for gone in (f"proposal-{ids['hidden']}", f"project-{ids['lost']}", "proposal-x", "volcan-1"):
        assert staff.client.get(f"/staff/ops/panel/participation/{gone}").status_code == 404


def test_participants_this_week_are_counted_per_commune(engine, staff):
    seed(engine, staff.id)
    body = staff.client.get("/staff/ops/kpis.json").json()
    audun, aumetz = (body["communes"][c]["kpis"]["participation_week"] for c in (AUDUN, AUMETZ))
    assert audun == 3 + 2  # three votes, two proposals (the ten-day-old vote is not counted)
    assert aumetz == 2 + 1 + 1  # two votes, one response, one proposal

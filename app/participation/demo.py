"""Demo participatory budgets for ``eclor demo``: one open to the vote in Audun-le-Tiche, one
closed for the whole territory with its counted ballots."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import saved_id
from app.models.participation import Budget, BudgetProject
from app.participation import budgets as logic

OPEN = (
    "Budget participatif 2027 — Audun-le-Tiche",
    "57038",
    60_000,
    [
        ("Jardin partagé derrière l’école", 18_000),
        ("Bancs et ombrières place du Marché", 24_000),
        ("Piste cyclable vers la gare", 45_000),
        ("Boîte à livres et à jeux", 3_500),
        ("Éclairage du terrain multisport", 21_000),
    ],
)
CLOSED = (
    "Budget participatif 2026 — territoire",
    None,
    100_000,
    [
        ("Parcours sportif en forêt", 40_000),
        ("Composteurs collectifs", 12_000),
        ("Abris vélos sécurisés aux gares", 55_000),
        ("Fresque participative", 8_000),
    ],
)
COMMUNES = ("57038", "57041", "57529", "57565")


def load_demo(session: Session, rng: random.Random) -> str | None:
    if session.scalars(select(Budget).where(col(Budget.title) == OPEN[0])).first():
        return None
    made = []
    for title, insee, envelope, items in (OPEN, CLOSED):
        budget = Budget(
            title=title,
            commune_insee=insee,
            envelope=envelope,
            mode="envelope",
            phase="vote",
            description="Proposé par les habitants, étudié par les services, choisi par vous.",
        )
        session.add(budget)
        session.flush()
        for name, cost in items:
            session.add(
                BudgetProject(
                    budget_id=saved_id(budget),
                    title=name,
                    cost=cost,
                    status="feasible",
                    commune_insee=insee,
                )
            )
        session.flush()
        made.append(budget)
    closed = made[1]
    ids = [saved_id(p) for p in logic.projects(session, saved_id(closed), votable=True)]
    costs = {saved_id(p): p.cost for p in logic.projects(session, saved_id(closed))}
    for n in range(120):
        pick = [i for i in ids if rng.random() < 0.45]
        while sum(costs[i] for i in pick) > closed.envelope:
            pick.pop()
        if not pick:
            continue
        insee = COMMUNES[n % len(COMMUNES)]
        paper = n % 5 == 0
        logic.cast(
            session,
            logic.Vote(
                saved_id(closed),
                pick,
                logic.paper_voter()
                if paper
                else logic.person_voter(f"Demo {n}", date(1980, 1, 1), insee),
                insee,
                channel="paper" if paper else "helper",
            ),
        )
    logic.move_phase(session, closed, "works")
    return f"{len(made)} budgets participatifs"

"""Budgets, projects and residents for the participation tests."""

from __future__ import annotations

from sqlalchemy import select

from app.db import read_session, write_session
from app.models.accounts import User
from app.models.participation import Ballot, BallotChoice, Budget, BudgetProject
from app.participation import budgets as logic

AUDUN = "57038"
AUMETZ = "57041"

PROJECTS = [
    ("Jardin partagé", 18_000),
    ("Bancs place du Marché", 24_000),
    ("Piste cyclable", 45_000),
    ("Boîte à livres", 3_500),
]


def make_budget(
    engine,
    *,
    commune: str | None = AUDUN,
    envelope: int = 60_000,
    mode: str = "envelope",
    pick_n: int = 2,
    phase: str = "vote",
    projects=PROJECTS,
) -> tuple[int, list[int]]:
    with write_session(engine) as s:
        budget = Budget(
            title="Budget participatif 2027",
            commune_insee=commune,
            envelope=envelope,
            mode=mode,
            pick_n=pick_n,
            phase=phase,
        )
        s.add(budget)
        s.flush()
        ids = []
        for title, cost in projects:
            p = BudgetProject(budget_id=budget.id, title=title, cost=cost, status="feasible")
            s.add(p)
            s.flush()
            ids.append(p.id)
        return budget.id, ids


def live_in(engine, user_id: int, insee: str | None) -> None:
    with write_session(engine) as s:
        user = s.get(User, user_id)
        user.commune_insee = insee
        s.add(user)


def ballots(engine, budget_id: int) -> list[Ballot]:
    with read_session(engine) as s:
        return list(s.scalars(select(Ballot).where(Ballot.budget_id == budget_id)).all())


def choices(engine, budget_id: int) -> list[tuple[int, str, int]]:
    """(ballot id, channel, project id) of every choice in the budget."""
    with read_session(engine) as s:
        rows = s.execute(
            select(Ballot.id, Ballot.channel, BallotChoice.project_id)
            .join(BallotChoice, BallotChoice.ballot_id == Ballot.id)
            .where(Ballot.budget_id == budget_id)
        ).all()
    return [tuple(r) for r in rows]


def set_phase(engine, budget_id: int, phase: str) -> None:
    with write_session(engine) as s:
        logic.move_phase(s, s.get(Budget, budget_id), phase)

"""Participatory budgets: phases, projects, casting one vote per resident, counting the results.

A ballot names its voter with a key (:func:`user_voter`, :func:`person_voter`); the database's
unique constraint on (budget, voter) is what makes "one vote per resident" hold when many
submissions run at once (a second one fails its insert and is told the resident has voted).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.db import saved_id, utcnow
from app.i18n import gettext as _
from app.models.participation import (
    PHASES,
    Ballot,
    BallotChoice,
    Budget,
    BudgetProject,
    ProjectOrder,
    VoteCode,
)
from app.models.territory import Commune


def N_(message: str) -> str:
    return message


PHASE_LABELS = {
    "ideas": N_("Dépôt des idées"),
    "review": N_("Étude technique"),
    "vote": N_("Vote"),
    "results": N_("Résultats"),
    "works": N_("Réalisation"),
}
MODE_LABELS = {
    "envelope": N_("Dépenser l’enveloppe"),
    "pick": N_("Choisir des projets"),
}
CHANNEL_LABELS = {
    "online": N_("En ligne"),
    "code": N_("Code à usage unique"),
    "helper": N_("Avec un médiateur numérique"),
    "paper": N_("Bulletin papier"),
}
CODE_DAYS = 30
TOPIC = "participation"


class VoteError(ValueError):
    """A vote or a step that is refused; the message is in French (translated when raised)."""


# --- who votes ---------------------------------------------------------------------------------


def user_voter(user_id: int) -> str:
    return f"user:{user_id}"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(text.lower().split())


def person_voter(name: str, birth_date: date, commune_insee: str) -> str:
    """The key of a resident known by name, birth date and commune (town hall, helper)."""
    raw = f"{_fold(name)}|{birth_date.isoformat()}|{commune_insee}"
    return "person:" + hashlib.sha256(raw.encode()).hexdigest()


def may_vote_in(budget: Budget, commune_insee: str | None, session: Session) -> bool:
    """A resident of the budget's commune (any commune of the territory for a territory budget)."""
    if not commune_insee:
        return False
    if budget.commune_insee is not None:
        return commune_insee == budget.commune_insee
    return session.get(Commune, commune_insee) is not None


# --- phases and projects -----------------------------------------------------------------------


def move_phase(session: Session, budget: Budget, to: str) -> None:
    if to not in PHASES:
        raise VoteError(_("Choisissez une phase."))
    if to in ("results", "works") and budget.phase in ("ideas", "review", "vote"):
        mark_winners(session, budget)
    budget.phase = to
    budget.updated_at = utcnow()
    session.add(budget)


def projects(session: Session, budget_id: int, *, votable: bool = False) -> list[BudgetProject]:
    query = select(BudgetProject).where(col(BudgetProject.budget_id) == budget_id)
    if votable:
        query = query.where(col(BudgetProject.status) == "feasible")
    return list(session.scalars(query.order_by(col(BudgetProject.id))).all())


MAX_IDEAS_PER_RESIDENT = 5


def propose_idea(
    session: Session,
    budget: Budget,
    *,
    proposer_id: int,
    commune_insee: str | None,
    title: str,
    description: str,
    cost: int | None,
) -> BudgetProject:
    """A resident's project idea, while the budget collects ideas; staff review it next (its cost
    is the resident's estimate until then)."""
    if budget.phase != "ideas":
        raise VoteError(_("Ce budget ne recueille plus d’idées."))
    if not may_vote_in(budget, commune_insee, session):
        raise VoteError(_("Les idées de ce budget viennent des habitants de la commune."))
    already = session.scalar(
        select(func.count()).where(
            col(BudgetProject.budget_id) == budget.id,
            col(BudgetProject.proposer_id) == proposer_id,
        )
    )
    if (already or 0) >= MAX_IDEAS_PER_RESIDENT:
        raise VoteError(_("Cinq idées au plus par habitant pour ce budget."))
    project = BudgetProject(
        budget_id=saved_id(budget),
        title=title,
        description=description,
        cost=cost or 0,
        commune_insee=budget.commune_insee or commune_insee,
        proposer_id=proposer_id,
        status="proposed",
    )
    session.add(project)
    session.flush()
    return project


# --- casting a vote ------------------------------------------------------------------------------


def check_basket(budget: Budget, chosen: Sequence[BudgetProject]) -> int:
    """The basket's total if it is a valid vote in this budget, else :class:`VoteError`."""
    if not chosen:
        raise VoteError(_("Choisissez au moins un projet."))
    total = sum(p.cost for p in chosen)
    if budget.mode == "envelope" and total > budget.envelope:
        raise VoteError(
            _("Votre panier (%(t)s €) dépasse l’enveloppe de %(e)s €.")
            % {"t": f"{total:,}".replace(",", " "), "e": f"{budget.envelope:,}".replace(",", " ")}
        )
    if budget.mode == "pick" and len(chosen) > budget.pick_n:
        raise VoteError(_("Choisissez au plus %(n)s projets.") % {"n": budget.pick_n})
    return total


@dataclass
class Vote:
    budget_id: int
    project_ids: list[int]
    voter: str
    commune_insee: str | None
    channel: str = "online"
    user_id: int | None = None
    helper_id: int | None = None
    entered_by: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


def cast(session: Session, vote: Vote, votable: list[BudgetProject] | None = None) -> Ballot:
    """Record a ballot (in the caller's write transaction), or raise :class:`VoteError`.

    ``votable``: the budget's votable projects when the caller has read them in this transaction.
    The insert runs in a savepoint: when the same voter has voted already (or another submission
    of theirs committed first), the unique constraint refuses it and the resident is told so.
    """
    budget = session.get(Budget, vote.budget_id)
    if budget is None:
        raise VoteError(_("Ce budget n’existe pas."))
    if budget.phase != "vote":
        raise VoteError(_("Le vote n’est pas ouvert."))
    if vote.channel != "paper" and not may_vote_in(budget, vote.commune_insee, session):
        raise VoteError(_("Ce vote est réservé aux habitants de la commune."))
    ids = sorted(set(vote.project_ids))
    if votable is None:
        votable = projects(session, saved_id(budget), votable=True)
    chosen = [p for p in votable if p.id in ids]
    if len(chosen) != len(ids):
        raise VoteError(_("Un des projets choisis ne fait pas partie du vote."))
    total = check_basket(budget, chosen)
    ballot = Ballot(
        budget_id=saved_id(budget),
        voter=vote.voter,
        user_id=vote.user_id,
        channel=vote.channel,
        helper_id=vote.helper_id,
        entered_by=vote.entered_by,
        commune_insee=vote.commune_insee,
        total=total,
    )
    try:
        with session.begin_nested():
            session.add(ballot)
            session.flush()
    except IntegrityError:
        raise VoteError(
            _("Vous avez déjà voté pour ce budget : un seul vote par habitant.")
        ) from None
    for pid in ids:
        session.add(BallotChoice(ballot_id=saved_id(ballot), project_id=pid))
    session.flush()
    return ballot


def has_voted(session: Session, budget_id: int, voter: str) -> bool:
    return (
        session.scalar(
            select(col(Ballot.id)).where(
                col(Ballot.budget_id) == budget_id, col(Ballot.voter) == voter
            )
        )
        is not None
    )


def paper_voter() -> str:
    return "paper:" + secrets.token_hex(16)


# --- one-time codes ------------------------------------------------------------------------------


def _code_digest(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace(" ", "").encode()).hexdigest()


def new_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def issue_code(
    session: Session,
    budget: Budget,
    *,
    voter: str,
    commune_insee: str | None,
    user_id: int | None = None,
    issued_by: int | None = None,
) -> str:
    """A new one-time code for this voter (the plain code is returned once, never stored)."""
    if budget.phase not in ("ideas", "review", "vote"):
        raise VoteError(_("Le vote est clos."))
    if not may_vote_in(budget, commune_insee, session):
        raise VoteError(_("Ce vote est réservé aux habitants de la commune."))
    if has_voted(session, saved_id(budget), voter):
        raise VoteError(_("Cette personne a déjà voté pour ce budget."))
    code = new_code()
    session.add(
        VoteCode(
            id=_code_digest(code),
            budget_id=saved_id(budget),
            voter=voter,
            commune_insee=commune_insee,
            user_id=user_id,
            issued_by=issued_by,
            expires_at=utcnow() + timedelta(days=CODE_DAYS),
        )
    )
    session.flush()
    return code


def spend_code(session: Session, budget_id: int, code: str, now: datetime) -> VoteCode:
    """Mark the code used (a conditional update: of two uses at once, one wins) and return it."""
    digest = _code_digest(code)
    row = session.get(VoteCode, digest)
    if row is None or row.budget_id != budget_id or row.expires_at.replace(tzinfo=now.tzinfo) < now:
        raise VoteError(_("Ce code n’est pas valable pour ce vote."))
    spent = session.execute(
        update(VoteCode)
        .where(col(VoteCode.id) == digest, col(VoteCode.used_at).is_(None))
        .values(used_at=now)
    )
    if getattr(spent, "rowcount", 0) != 1:
        raise VoteError(_("Ce code a déjà servi."))
    return row


# --- results -------------------------------------------------------------------------------------


@dataclass
class Result:
    project: BudgetProject
    online: int  # online, code and helper ballots
    paper: int

    @property
    def votes(self) -> int:
        return self.online + self.paper


def results(session: Session, budget_id: int) -> list[Result]:
    """Votes per feasible project, online and paper apart, most votes first (then cheaper)."""
    counts: dict[tuple[int, bool], int] = {}
    rows = session.execute(
        select(col(BallotChoice.project_id), col(Ballot.channel), func.count())
        .join(Ballot, col(Ballot.id) == col(BallotChoice.ballot_id))
        .where(col(Ballot.budget_id) == budget_id)
        .group_by(col(BallotChoice.project_id), col(Ballot.channel))
    ).all()
    for pid, channel, n in rows:
        key = (pid, channel == "paper")
        counts[key] = counts.get(key, 0) + n
    out = [
        Result(p, counts.get((saved_id(p), False), 0), counts.get((saved_id(p), True), 0))
        for p in projects(session, budget_id, votable=True)
    ]
    out.sort(key=lambda r: (-r.votes, r.project.cost, saved_id(r.project)))
    return out


def ballots_by_channel(session: Session, budget_id: int) -> dict[str, int]:
    rows = session.execute(
        select(col(Ballot.channel), func.count())
        .where(col(Ballot.budget_id) == budget_id)
        .group_by(col(Ballot.channel))
    ).all()
    return {channel: n for channel, n in rows}


def ballots_by_commune(session: Session, budget_id: int) -> dict[str, int]:
    rows = session.execute(
        select(col(Ballot.commune_insee), func.count())
        .where(col(Ballot.budget_id) == budget_id, col(Ballot.commune_insee).is_not(None))
        .group_by(col(Ballot.commune_insee))
    ).all()
    return {insee: n for insee, n in rows}


def winners(budget: Budget, ranked: Sequence[Result]) -> list[Result]:
    """The projects funded: in order of votes, each one that still fits in the envelope
    (and at most N of them in "pick N")."""
    left = budget.envelope
    won: list[Result] = []
    for r in ranked:
        if r.votes == 0:
            continue
        if budget.mode == "pick" and len(won) >= budget.pick_n:
            break
        if r.project.cost <= left:
            won.append(r)
            left -= r.project.cost
    return won


def mark_winners(session: Session, budget: Budget) -> list[BudgetProject]:
    ranked = results(session, saved_id(budget))
    won = {saved_id(r.project) for r in winners(budget, ranked)}
    for p in projects(session, saved_id(budget)):
        p.selected = p.id in won
        session.add(p)
    return [r.project for r in ranked if saved_id(r.project) in won]


def order_ids(session: Session, project_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    if project_ids:
        for link in session.scalars(
            select(ProjectOrder).where(col(ProjectOrder.project_id).in_(list(project_ids)))
        ).all():
            out.setdefault(link.project_id, []).append(link.order_id)
    return out

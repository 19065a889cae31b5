"""Citizen participation: participatory budgets (projects, ballots, one-time codes), proposals,
consultations (question sets, one response per resident, moderated free text)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.territory import territory_field
from app.db import utcnow

PHASES = ("ideas", "review", "vote", "results", "works")
MODES = ("envelope", "pick")
PROJECT_STATES = ("proposed", "feasible", "unfeasible")
CHANNELS = ("online", "code", "helper", "paper")


def _short_fk(name: str, target: str, *, index: bool = False, primary_key: bool = False) -> Any:
    """A reference whose constraint is named ``name``: the naming convention's name
    (``fk_<table>_<column>_<referred table>``) would pass PostgreSQL's 63 characters."""
    return Column(
        Integer,
        ForeignKey(target, ondelete="CASCADE", name=name),
        nullable=False,
        index=index,
        primary_key=primary_key,
    )


class Budget(SQLModel, table=True):
    """A participatory budget of a commune (or of the whole territory when ``commune_insee`` is None)."""

    __tablename__ = "participation_budgets"

    id: int | None = Field(default=None, primary_key=True)
    # The territory whose staff made it (its commune's, for a commune's budget).
    territory_id: int = territory_field()
    title: str = Field(max_length=160)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    envelope: int = Field(default=0)  # euros
    mode: str = Field(default="envelope", max_length=10)  # envelope: spend it; pick: choose N
    pick_n: int = Field(default=3)
    phase: str = Field(default="ideas", max_length=10)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BudgetProject(SQLModel, table=True):
    """A project of a budget, with its cost; staff review it (feasible or not) before the vote."""

    __tablename__ = "participation_projects"

    id: int | None = Field(default=None, primary_key=True)
    budget_id: int = Field(foreign_key="participation_budgets.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=160)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    cost: int = Field(default=0)  # euros
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    lat: float | None = None
    lon: float | None = None
    status: str = Field(default="proposed", max_length=12)  # proposed, feasible, unfeasible
    review_note: str = Field(default="", max_length=500)
    proposer_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    selected: bool = False  # won the vote (set when the results are published)
    created_at: datetime = Field(default_factory=utcnow)


class ProjectOrder(SQLModel, table=True):
    """A work order that builds a winning project (the order is maintenance's, read through
    ``app.work_orders``)."""

    __tablename__ = "participation_works"

    project_id: int = Field(
        foreign_key="participation_projects.id", primary_key=True, ondelete="CASCADE"
    )
    order_id: int = Field(
        foreign_key="maintenance_work_orders.id", primary_key=True, ondelete="CASCADE"
    )


class Ballot(SQLModel, table=True):
    """One resident's vote in one budget. ``voter`` names the resident (``user:12``,
    ``person:<sha256>``, ``paper:<random>``); the unique constraint makes one vote per resident
    hold whatever runs at once."""

    __tablename__ = "participation_ballots"
    __table_args__ = (
        UniqueConstraint("budget_id", "voter", name="uq_participation_ballots_voter"),
        Index("ix_participation_ballots_budget_channel", "budget_id", "channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    budget_id: int = Field(foreign_key="participation_budgets.id", ondelete="CASCADE")
    voter: str = Field(max_length=80)
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    channel: str = Field(default="online", max_length=8)  # online, code, helper, paper
    helper_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    entered_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    total: int = Field(default=0)  # euros of the basket
    created_at: datetime = Field(default_factory=utcnow)


class BallotChoice(SQLModel, table=True):
    __tablename__ = "participation_choices"

    ballot_id: int = Field(
        foreign_key="participation_ballots.id", primary_key=True, ondelete="CASCADE"
    )
    project_id: int = Field(
        foreign_key="participation_projects.id", primary_key=True, ondelete="CASCADE", index=True
    )


class VoteCode(SQLModel, table=True):
    """A one-time code to vote without signing in: handed out at the town hall (for the person
    whose identity staff checked) or e-mailed to the verified address of a resident's account.
    Only its SHA-256 is kept; ``used_at`` is set by the vote that spends it."""

    __tablename__ = "participation_codes"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the code
    budget_id: int = Field(foreign_key="participation_budgets.id", index=True, ondelete="CASCADE")
    voter: str = Field(max_length=80)  # the same key as the ballot it will cast
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    issued_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


PROPOSAL_STATES = ("open", "under_study", "accepted", "rejected", "done")


class Proposal(SQLModel, table=True):
    """A resident's idea for their commune; others support it and comment; staff answer with a status."""

    __tablename__ = "participation_proposals"
    __table_args__ = (Index("ix_participation_proposals_listing", "hidden", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    title: str = Field(max_length=160)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    commune_insee: str = Field(foreign_key="communes.insee", max_length=5)
    place: str = Field(default="", max_length=200)
    lat: float | None = None
    lon: float | None = None
    status: str = Field(default="open", max_length=12)
    status_reason: str = Field(default="", max_length=500)
    status_at: datetime | None = None
    hidden: bool = False  # hidden by moderation
    created_at: datetime = Field(default_factory=utcnow)


class ProposalPhoto(SQLModel, table=True):
    """The photo of a proposal (re-encoded without metadata; a display size and a thumbnail)."""

    __tablename__ = "participation_proposal_photos"

    proposal_id: int = Field(
        sa_column=_short_fk(
            "fk_participation_proposal_photos_proposal_id",
            "participation_proposals.id",
            primary_key=True,
        )
    )
    display_name: str = Field(max_length=40)
    thumb_name: str = Field(max_length=40)
    width: int
    height: int


class ProposalSupport(SQLModel, table=True):
    __tablename__ = "participation_supports"

    proposal_id: int = Field(
        foreign_key="participation_proposals.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class ProposalComment(SQLModel, table=True):
    """A comment on a proposal; moderation hides it (kept, restorable) with a reason."""

    __tablename__ = "participation_comments"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(
        foreign_key="participation_proposals.id", index=True, ondelete="CASCADE"
    )
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="visible", max_length=8)  # visible, hidden
    moderation_reason: str = Field(default="", max_length=400)
    moderated_at: datetime | None = None
    moderated_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class CommentReport(SQLModel, table=True):
    __tablename__ = "participation_reports"

    comment_id: int = Field(
        foreign_key="participation_comments.id", primary_key=True, ondelete="CASCADE"
    )
    reporter_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    reason: str = Field(default="", max_length=500)
    status: str = Field(default="open", max_length=10)  # open, dismissed, hidden
    created_at: datetime = Field(default_factory=utcnow)


QUESTION_KINDS = ("single", "multiple", "ranking", "text", "place")
TEXT_STATES = ("pending", "published", "hidden")


class Consultation(SQLModel, table=True):
    """A question set staff publish for the territory or some communes, open between two dates.

    ``communes`` is a comma-separated list of INSEE codes; empty means the whole territory."""

    __tablename__ = "participation_consultations"

    id: int | None = Field(default=None, primary_key=True)
    # The territory whose staff made it: its "whole territory" is that one.
    territory_id: int = territory_field()
    title: str = Field(max_length=160)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    communes: str = Field(default="", max_length=200)
    opens_at: datetime
    closes_at: datetime
    published: bool = False
    created_at: datetime = Field(default_factory=utcnow)


def _consultation_fk(table: str, *, index: bool = False) -> Any:
    return _short_fk(
        f"fk_participation_{table}_consultation_id", "participation_consultations.id", index=index
    )


class ConsultationQuestion(SQLModel, table=True):
    """One question: single or multiple choice, ranking of the options, free text, or a place.

    ``options`` holds one option a line (choice and ranking questions)."""

    __tablename__ = "participation_questions"

    id: int | None = Field(default=None, primary_key=True)
    consultation_id: int = Field(sa_column=_consultation_fk("questions", index=True))
    position: int = Field(default=0)
    kind: str = Field(max_length=8)
    label: str = Field(max_length=300)
    options: str = Field(default="", sa_column=Column(Text, nullable=False))
    required: bool = True


class ConsultationResponse(SQLModel, table=True):
    """One resident's answers to one consultation; the unique constraint keeps it to one."""

    __tablename__ = "participation_responses"
    __table_args__ = (
        UniqueConstraint(
            "consultation_id", "respondent", name="uq_participation_responses_respondent"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    consultation_id: int = Field(sa_column=_consultation_fk("responses"))
    respondent: str = Field(max_length=80)  # user:12 (erased: a random key)
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    created_at: datetime = Field(default_factory=utcnow)


class ConsultationAnswer(SQLModel, table=True):
    """An answer to one question: a chosen option (one row per option; ``rank`` for a ranking),
    a free text (published only once staff moderated it), or a place."""

    __tablename__ = "participation_answers"
    __table_args__ = (Index("ix_participation_answers_question", "question_id", "choice"),)

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(
        foreign_key="participation_responses.id", index=True, ondelete="CASCADE"
    )
    question_id: int = Field(foreign_key="participation_questions.id", ondelete="CASCADE")
    choice: int | None = None  # index of the option, from 0
    rank: int | None = None  # 1 = first, for a ranking
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    text_status: str = Field(default="", max_length=9)  # pending, published, hidden (text only)
    lat: float | None = None
    lon: float | None = None
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)

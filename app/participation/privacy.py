"""A person's participation data (ballots, codes, projects proposed, consultation responses):
export and erasure.

Erasure keeps the ballot counted (results do not change after the vote) but unlinks it from the
person; codes issued to the account are deleted. A consultation response stays counted too, under
a random respondent key; its free texts are deleted (they may name the person)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from app.models.participation import (
    Ballot,
    BallotChoice,
    BudgetProject,
    ConsultationAnswer,
    ConsultationResponse,
    Proposal,
    ProposalComment,
    ProposalPhoto,
    ProposalSupport,
    VoteCode,
)
from app.participation.consultations import erased_respondent


def _row(obj: Any) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, (date, datetime)) else v)
        for k, v in obj.model_dump().items()
    }


def export_person(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    ballots = session.scalars(select(Ballot).where(col(Ballot.user_id) == user_id)).all()
    choices: dict[int, list[int]] = {}
    if ballots:
        for c in session.scalars(
            select(BallotChoice).where(col(BallotChoice.ballot_id).in_([b.id for b in ballots]))
        ):
            choices.setdefault(c.ballot_id, []).append(c.project_id)
    helped = session.scalars(select(Ballot).where(col(Ballot.helper_id) == user_id)).all()
    data = {
        "ballots": [{**_row(b), "projects": sorted(choices.get(b.id or 0, []))} for b in ballots],
        "ballots_entered_as_helper": [
            {"budget_id": b.budget_id, "created_at": b.created_at.isoformat()} for b in helped
        ],
        "consultation_responses": _responses(session, user_id),
        "proposals": [
            _row(p)
            for p in session.scalars(select(Proposal).where(col(Proposal.author_id) == user_id))
        ],
        "proposals_supported": list(
            session.scalars(
                select(col(ProposalSupport.proposal_id)).where(
                    col(ProposalSupport.user_id) == user_id
                )
            )
        ),
        "proposal_comments": [
            _row(c)
            for c in session.scalars(
                select(ProposalComment).where(col(ProposalComment.author_id) == user_id)
            )
        ],
        "projects_proposed": [
            _row(p)
            for p in session.scalars(
                select(BudgetProject).where(col(BudgetProject.proposer_id) == user_id)
            )
        ],
    }
    return data, _photo_paths(session, user_id, media_dir, thumbs=False)


def _photo_paths(session: Session, user_id: int, media_dir: Path, *, thumbs: bool) -> list[Path]:
    """The files of the photos of the person's proposals."""
    from app import images

    paths = []
    for photo in session.scalars(
        select(ProposalPhoto)
        .join(Proposal, col(Proposal.id) == ProposalPhoto.proposal_id)
        .where(col(Proposal.author_id) == user_id)
    ):
        for name in (photo.display_name, photo.thumb_name) if thumbs else (photo.display_name,):
            try:
                paths.append(images.open_path(name, media_dir))
            except (images.InvalidPhotoName, FileNotFoundError):
                continue
    return paths


def _responses(session: Session, user_id: int) -> list[dict[str, Any]]:
    responses = session.scalars(
        select(ConsultationResponse).where(col(ConsultationResponse.user_id) == user_id)
    ).all()
    if not responses:
        return []
    answers: dict[int, list[dict[str, Any]]] = {}
    for a in session.scalars(
        select(ConsultationAnswer).where(
            col(ConsultationAnswer.response_id).in_([r.id for r in responses])
        )
    ):
        answers.setdefault(a.response_id, []).append(_row(a))
    return [{**_row(r), "answers": answers.get(r.id or 0, [])} for r in responses]


def erase_person(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    # The person's proposals stay (others supported them), without their photo: it may show home.
    files = _photo_paths(session, user_id, media_dir, thumbs=True)
    session.execute(
        delete(ProposalPhoto).where(
            col(ProposalPhoto.proposal_id).in_(
                select(col(Proposal.id)).where(col(Proposal.author_id) == user_id)
            )
        )
    )
    ids = list(
        session.scalars(
            select(col(ConsultationResponse.id)).where(col(ConsultationResponse.user_id) == user_id)
        )
    )
    if ids:
        session.execute(
            delete(ConsultationAnswer).where(
                col(ConsultationAnswer.response_id).in_(ids), col(ConsultationAnswer.text) != ""
            )
        )
        for rid in ids:
            session.execute(
                update(ConsultationResponse)
                .where(col(ConsultationResponse.id) == rid)
                .values(user_id=None, respondent=erased_respondent())
            )
    session.execute(delete(VoteCode).where(col(VoteCode.user_id) == user_id))
    session.execute(update(Ballot).where(col(Ballot.user_id) == user_id).values(user_id=None))
    session.execute(
        update(BudgetProject)
        .where(col(BudgetProject.proposer_id) == user_id)
        .values(proposer_id=None)
    )
    return files

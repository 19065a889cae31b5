"""Residents' proposals: publish, support, comment (moderated, reportable), staff's answer.

A hidden comment (:func:`hide_comment`) disappears from every reader: the pages and the JSON API
read comments through :func:`visible_comments` only. The proposer and the supporters are told of
a staff answer through the notification machinery (``app.notify``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app import moderation
from app.participation.scope import proposals_here
from app.db import saved_id, utcnow
from app.i18n import NC_
from app.i18n import gettext as _
from app.models.participation import (
    CommentReport,
    Proposal,
    ProposalComment,
    ProposalPhoto,
    ProposalSupport,
)
from app.notify import notify


def N_(message: str) -> str:
    return message


TOPIC = "participation"
STATUS_LABELS = {
    "open": N_("Ouverte"),
    "under_study": N_("À l’étude"),
    "accepted": N_("Acceptée"),
    "rejected": NC_("proposal", "Refusée"),
    "done": N_("Réalisée"),
}


class ProposalError(ValueError):
    """A refused step; the message is in French (translated when raised)."""


def proposal_of_photo(session: Session, name: str) -> Proposal | None:
    """The proposal whose photo (display or thumbnail) has this file name."""
    return session.scalars(
        select(Proposal)
        .join(ProposalPhoto, col(ProposalPhoto.proposal_id) == col(Proposal.id))
        .where(or_(col(ProposalPhoto.display_name) == name, col(ProposalPhoto.thumb_name) == name))
    ).first()


def listed(session: Session, commune: str = "") -> list[Proposal]:
    """The visible proposals of the session's territory (of one commune, if given)."""
    query = select(Proposal).where(*proposals_here(session), col(Proposal.hidden).is_(False))
    if commune:
        query = query.where(col(Proposal.commune_insee) == commune)
    return list(session.scalars(query.order_by(col(Proposal.created_at).desc()).limit(200)).all())


def supports(session: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(col(ProposalSupport.proposal_id), func.count())
        .where(col(ProposalSupport.proposal_id).in_(list(ids)))
        .group_by(col(ProposalSupport.proposal_id))
    ).all()
    return {pid: n for pid, n in rows}


def support(session: Session, proposal: Proposal, user_id: int) -> bool:
    """Support once (a second support changes nothing); False when it was already supported."""
    if proposal.author_id == user_id:
        raise ProposalError(_("Vous ne pouvez pas soutenir votre propre proposition."))
    try:
        with session.begin_nested():
            session.add(ProposalSupport(proposal_id=saved_id(proposal), user_id=user_id))
            session.flush()
    except IntegrityError:
        return False
    return True


def comment(session: Session, proposal: Proposal, user_id: int, body: str) -> ProposalComment:
    body = body.strip()
    if len(body) < 2 or len(body) > 2000:
        raise ProposalError(_("Écrivez un commentaire de 2 à 2 000 caractères."))
    row = ProposalComment(proposal_id=saved_id(proposal), author_id=user_id, body=body)
    session.add(row)
    session.flush()
    return row


def visible_comments(session: Session, proposal_id: int) -> list[ProposalComment]:
    """The comments every reader sees (pages and API alike): hidden ones are left out."""
    return list(
        session.scalars(
            select(ProposalComment)
            .where(
                col(ProposalComment.proposal_id) == proposal_id,
                col(ProposalComment.status) == "visible",
            )
            .order_by(col(ProposalComment.created_at), col(ProposalComment.id))
        ).all()
    )


def report_comment(session: Session, comment_id: int, reporter_id: int, reason: str) -> None:
    try:
        with session.begin_nested():
            session.add(
                CommentReport(
                    comment_id=comment_id, reporter_id=reporter_id, reason=reason.strip()[:500]
                )
            )
            session.flush()
    except IntegrityError:
        pass  # reported already by this person


def hide_comment(
    session: Session, row: ProposalComment, staff_id: int, code: str, note: str = ""
) -> None:
    reason = moderation.reason_text(code, note)
    row.status = "hidden"
    row.moderation_reason = reason
    row.moderated_at = utcnow()
    row.moderated_by = staff_id
    session.add(row)
    for report in session.scalars(
        select(CommentReport).where(col(CommentReport.comment_id) == row.id)
    ):
        report.status = "hidden"
        session.add(report)
    if row.author_id is not None:
        moderation.hide(
            session,
            moderation.Ad(
                row.author_id,
                row.body[:60],
                f"/participation/proposals/{row.proposal_id}",
                TOPIC,
            ),
            reason,
            dedupe=f"participation-comment-hidden:{row.id}:{row.moderated_at}",
        )


def restore_comment(session: Session, row: ProposalComment) -> None:
    row.status = "visible"
    session.add(row)


def set_status(
    session: Session, proposal: Proposal, status: str, reason: str, *, staff_id: int
) -> None:
    """Staff's answer; the proposer and every supporter are told (once per answer)."""
    if status not in STATUS_LABELS or status == "open":
        raise ProposalError(_("Choisissez une réponse."))
    reason = " ".join(reason.split())[:500]
    if status == "rejected" and not reason:
        raise ProposalError(_("Donnez la raison du refus."))
    proposal.status = status
    proposal.status_reason = reason
    proposal.status_at = utcnow()
    session.add(proposal)
    people = set(
        session.scalars(
            select(col(ProposalSupport.user_id)).where(
                col(ProposalSupport.proposal_id) == proposal.id
            )
        ).all()
    )
    if proposal.author_id is not None:
        people.add(proposal.author_id)
    label = _(STATUS_LABELS[status])
    notify(
        session,
        people,
        topic=TOPIC,
        title=_("Proposition « %(t)s » : %(s)s") % {"t": proposal.title, "s": label},
        body=reason or label,
        url=f"/participation/proposals/{proposal.id}",
        dedupe=f"participation-proposal:{proposal.id}:{status}:{proposal.status_at}",
    )

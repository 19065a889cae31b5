"""A person's sharing data (items, loans, messages, requests): export and erasure (the privacy interface)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlmodel import Session, col

from app.i18n import gettext as _
from app.models.sharing import (
    CategoryWatch,
    ItemReport,
    Loan,
    LoanMessage,
    LoanReminder,
    SharedItem,
    SharedPhoto,
    WantedRequest,
)
from app.notify import notify
from app.sharing.loans import TOPIC

# --- privacy ----------------------------------------------------------------------------------


def _row(obj: Any) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, (date, datetime)) else v)
        for k, v in obj.model_dump().items()
    }


def _photo_paths(names: Sequence[str], media_dir: Path) -> list[Path]:
    from app import images

    paths = []
    for name in names:
        try:
            paths.append(images.open_path(name, media_dir))
        except (images.InvalidPhotoName, FileNotFoundError):
            continue
    return paths


def export_person(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    items = session.scalars(select(SharedItem).where(col(SharedItem.owner_id) == user_id)).all()
    photos = (
        session.scalars(
            select(SharedPhoto).where(col(SharedPhoto.item_id).in_([i.id for i in items]))
        ).all()
        if items
        else []
    )
    data = {
        "items": [_row(i) for i in items],
        "photos": [_row(p) for p in photos],
        "loans_as_borrower": [
            _row(ln) for ln in session.scalars(select(Loan).where(col(Loan.borrower_id) == user_id))
        ],
        "messages_sent": [
            _row(m)
            for m in session.scalars(
                select(LoanMessage).where(col(LoanMessage.sender_id) == user_id)
            )
        ],
        "wanted": [
            _row(w)
            for w in session.scalars(
                select(WantedRequest).where(col(WantedRequest.user_id) == user_id)
            )
        ],
        "followed_categories": list(
            session.scalars(
                select(col(CategoryWatch.category)).where(col(CategoryWatch.user_id) == user_id)
            )
        ),
        "reports_made": [
            _row(r)
            for r in session.scalars(
                select(ItemReport).where(col(ItemReport.reporter_id) == user_id)
            )
        ],
    }
    return data, _photo_paths([p.display_name for p in photos], media_dir)


def erase_person(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Tell the other party of open loans, then delete the person's ads, loans, messages and requests."""
    own_items = select(col(SharedItem.id)).where(col(SharedItem.owner_id) == user_id)
    open_loans = session.execute(
        select(Loan, SharedItem)
        .join(SharedItem, col(SharedItem.id) == col(Loan.item_id))
        .where(
            col(Loan.status).in_(("requested", "accepted", "picked_up", "reserved")),
            or_(col(Loan.borrower_id) == user_id, col(SharedItem.owner_id) == user_id),
        )
    ).all()
    for loan, item in open_loans:
        other = loan.borrower_id if item.owner_id == user_id else item.owner_id
        notify(
            session,
            [other],
            topic=TOPIC,
            title=_("Prêt annulé : %(title)s") % {"title": item.title},
            body=_("L'autre personne a supprimé son compte."),
            url="/sharing/mine",
        )
    photos = session.scalars(
        select(SharedPhoto).where(col(SharedPhoto.item_id).in_(own_items))
    ).all()
    files = _photo_paths([n for p in photos for n in (p.display_name, p.thumb_name)], media_dir)
    loans = select(col(Loan.id)).where(
        or_(col(Loan.borrower_id) == user_id, col(Loan.item_id).in_(own_items))
    )
    session.execute(
        delete(LoanMessage).where(
            or_(col(LoanMessage.loan_id).in_(loans), col(LoanMessage.sender_id) == user_id)
        )
    )
    session.execute(delete(LoanReminder).where(col(LoanReminder.loan_id).in_(loans)))
    session.execute(delete(Loan).where(col(Loan.id).in_(loans)))
    session.execute(
        delete(ItemReport).where(
            or_(col(ItemReport.reporter_id) == user_id, col(ItemReport.item_id).in_(own_items))
        )
    )
    session.execute(delete(SharedPhoto).where(col(SharedPhoto.item_id).in_(own_items)))
    session.execute(delete(SharedItem).where(col(SharedItem.owner_id) == user_id))
    session.execute(delete(WantedRequest).where(col(WantedRequest.user_id) == user_id))
    session.execute(delete(CategoryWatch).where(col(CategoryWatch.user_id) == user_id))
    return files

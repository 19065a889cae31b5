"""A person's carpool data: export and erasure (the privacy interface)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from app.carpool.bookings import free_seats, set_status
from app.i18n import gettext as _
from app.models.carpool import (
    CarpoolAd,
    CarpoolAlertSent,
    CarpoolBlock,
    CarpoolBooking,
    CarpoolMessage,
    CarpoolProfile,
    CarpoolReport,
    CarpoolSearch,
)
from app.notify import notify

# --- GDPR -------------------------------------------------------------------------------


def _row(obj: Any) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, (datetime, date)) else v)
        for k, v in obj.model_dump().items()
    }


def export_person(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    from app import images

    profile = session.get(CarpoolProfile, user_id)
    files: list[Path] = []
    if profile is not None:
        for name in (profile.photo_name,):
            if name:
                try:
                    path = images.open_path(name, media_dir)
                except (images.InvalidPhotoName, FileNotFoundError):
                    continue
                files.append(path)
    bookings = session.scalars(
        select(CarpoolBooking).where(
            or_(
                col(CarpoolBooking.requester_id) == user_id, col(CarpoolBooking.owner_id) == user_id
            )
        )
    ).all()
    data = {
        "profile": _row(profile) if profile else None,
        "ads": [
            _row(a)
            for a in session.scalars(select(CarpoolAd).where(col(CarpoolAd.user_id) == user_id))
        ],
        "bookings": [_row(b) for b in bookings],
        "messages_sent": [
            _row(m)
            for m in session.scalars(
                select(CarpoolMessage).where(col(CarpoolMessage.sender_id) == user_id)
            )
        ],
        "saved_searches": [
            _row(s)
            for s in session.scalars(
                select(CarpoolSearch).where(col(CarpoolSearch.user_id) == user_id)
            )
        ],
        "reports_made": [
            _row(r)
            for r in session.scalars(
                select(CarpoolReport).where(col(CarpoolReport.reporter_id) == user_id)
            )
        ],
        "blocked_users": [
            b.blocked_id
            for b in session.scalars(
                select(CarpoolBlock).where(col(CarpoolBlock.blocker_id) == user_id)
            )
        ],
    }
    return data, files


def erase_person(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Cancel the person's open bookings (seats go back, the other party is told), then delete their rows."""
    from app import images

    for b in session.scalars(
        select(CarpoolBooking).where(
            col(CarpoolBooking.status).in_(("pending", "accepted")),
            or_(
                col(CarpoolBooking.requester_id) == user_id, col(CarpoolBooking.owner_id) == user_id
            ),
        )
    ).all():
        if set_status(session, b, ("pending", "accepted"), "cancelled", cancelled_by=user_id):
            free_seats(session, b)
            other = b.owner_id if b.requester_id == user_id else b.requester_id
            notify(
                session,
                [other],
                topic="carpool",
                title=_("Réservation annulée"),
                body=_("Une réservation a été annulée : la personne a supprimé son compte."),
                url="/carpool/mine",
            )
    own_ads = select(col(CarpoolAd.id)).where(col(CarpoolAd.user_id) == user_id)
    mine = select(col(CarpoolBooking.id)).where(
        or_(
            col(CarpoolBooking.requester_id) == user_id,
            col(CarpoolBooking.owner_id) == user_id,
            col(CarpoolBooking.ad_id).in_(own_ads),
        )
    )
    session.execute(
        delete(CarpoolMessage).where(
            or_(
                col(CarpoolMessage.booking_id).in_(mine),
                col(CarpoolMessage.sender_id) == user_id,
            )
        )
    )
    session.execute(delete(CarpoolBooking).where(col(CarpoolBooking.id).in_(mine)))
    session.execute(
        delete(CarpoolAlertSent).where(
            or_(
                col(CarpoolAlertSent.ad_id).in_(own_ads),
                col(CarpoolAlertSent.search_id).in_(
                    select(col(CarpoolSearch.id)).where(col(CarpoolSearch.user_id) == user_id)
                ),
            )
        )
    )
    session.execute(delete(CarpoolReport).where(col(CarpoolReport.ad_id).in_(own_ads)))
    session.execute(
        update(CarpoolReport)
        .where(col(CarpoolReport.reporter_id) == user_id)
        .values(reporter_id=None)
    )
    session.execute(delete(CarpoolAd).where(col(CarpoolAd.user_id) == user_id))
    session.execute(delete(CarpoolSearch).where(col(CarpoolSearch.user_id) == user_id))
    session.execute(
        delete(CarpoolBlock).where(
            or_(col(CarpoolBlock.blocker_id) == user_id, col(CarpoolBlock.blocked_id) == user_id)
        )
    )
    files: list[Path] = []
    profile = session.get(CarpoolProfile, user_id)
    if profile is not None:
        for name in (profile.photo_name, profile.thumb_name):
            if name:
                try:
                    files.append(images.open_path(name, media_dir))
                except (images.InvalidPhotoName, FileNotFoundError):
                    pass
        session.delete(profile)
    return files

"""A person's dump-site reports: GDPR export and erasure (the privacy interface)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from app import images
from app.db import saved_id
from app.models.reports import (
    Report,
    ReportEvent,
    ReportFollow,
    ReportPhoto,
    ReportThanks,
)
from app.reports.catalogue import number
from app.reports.intake import history, photos_of

# --- GDPR -----------------------------------------------------------------------------------------


def export_reports(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    reports = session.scalars(
        select(Report).where(col(Report.reporter_id) == user_id).order_by(col(Report.id))
    ).all()
    photos = photos_of(session, [saved_id(r) for r in reports])
    files: list[Path] = []
    out = []
    for r in reports:
        names = []
        for p in photos.get(saved_id(r), []):
            try:
                files.append(images.open_path(p.display_name, media_dir))
                names.append(p.display_name)
            except (FileNotFoundError, images.InvalidPhotoName):
                continue
        out.append(
            {
                "number": number(r),
                "category": r.category,
                "status": r.status,
                "description": r.description,
                "volume": r.volume,
                "witnessed": r.witnessed,
                "lat": r.lat,
                "lon": r.lon,
                "address": r.address,
                "commune": r.commune_insee,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
                "photos": names,
                "history": [
                    {"at": e.at.isoformat(), "kind": e.kind, "status": e.to_status, "text": e.text}
                    for e, _who in history(session, saved_id(r), include_internal=False)
                ],
            }
        )
    followed = [
        number(r)
        for r in session.scalars(
            select(Report)
            .join(ReportFollow, col(ReportFollow.report_id) == col(Report.id))
            .where(
                col(ReportFollow.user_id) == user_id,
                or_(col(Report.reporter_id).is_(None), col(Report.reporter_id) != user_id),
            )
        )
    ]
    return {"reports": out, "following": followed}, files


def erase_reports(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Public reports stay (the dump is still there), anonymised; follows and thanks go."""
    session.execute(
        update(Report)
        .where(col(Report.reporter_id) == user_id)
        .values(reporter_id=None, contact_email=None, contact_name=None)
    )
    session.execute(
        update(ReportEvent).where(col(ReportEvent.actor_id) == user_id).values(actor_id=None)
    )
    session.execute(
        update(ReportPhoto).where(col(ReportPhoto.uploaded_by) == user_id).values(uploaded_by=None)
    )
    for model in (ReportFollow, ReportThanks):
        for row in session.scalars(select(model).where(model.user_id == user_id)):
            session.delete(row)
    session.flush()
    return []

"""A person's dump-site reports: GDPR export and erasure (the privacy interface)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import Session

from app import images
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
        select(Report).where(Report.reporter_id == user_id).order_by(Report.id)
    ).all()
    photos = photos_of(session, [r.id for r in reports])  # type: ignore[misc]
    files: list[Path] = []
    out = []
    for r in reports:
        names = []
        for p in photos.get(r.id, []):  # type: ignore[arg-type]
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
                    for e, _who in history(session, r.id, include_internal=False)
                ],  # type: ignore[arg-type]
            }
        )
    followed = [
        number(r)
        for r in session.scalars(
            select(Report)
            .join(ReportFollow, ReportFollow.report_id == Report.id)
            .where(
                ReportFollow.user_id == user_id,
                or_(Report.reporter_id.is_(None), Report.reporter_id != user_id),
            )  # type: ignore[union-attr]
        )
    ]
    return {"reports": out, "following": followed}, files


def erase_reports(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Public reports stay (the dump is still there), anonymised; follows and thanks go."""
    session.execute(
        update(Report)
        .where(Report.reporter_id == user_id)
        .values(reporter_id=None, contact_email=None, contact_name=None)
    )
    session.execute(
        update(ReportEvent).where(ReportEvent.actor_id == user_id).values(actor_id=None)
    )
    session.execute(
        update(ReportPhoto).where(ReportPhoto.uploaded_by == user_id).values(uploaded_by=None)
    )
    for model in (ReportFollow, ReportThanks):
        for row in session.scalars(select(model).where(model.user_id == user_id)):  # type: ignore[attr-defined]
            session.delete(row)
    session.flush()
    return []

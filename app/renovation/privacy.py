"""A person's appointment requests (made while signed in): export and erasure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session, col

from app.models.renovation import Appointment


def export_person(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    rows = session.scalars(select(Appointment).where(col(Appointment.user_id) == user_id)).all()
    return {
        "appointments": [
            {
                "created_at": r.created_at.isoformat(),
                "name": r.name,
                "phone": r.phone,
                "email": r.email,
                "preferred": r.preferred,
                "commune": r.commune_insee,
                "summary": r.summary,
                "status": r.status,
            }
            for r in rows
        ]
    }, []


def erase_person(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    session.execute(delete(Appointment).where(col(Appointment.user_id) == user_id))
    return []

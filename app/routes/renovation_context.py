"""What the renovation pages share: the communes and the labels every template reads."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col

from app.models.territory import Commune
from app.renovation import appointments, engine, rules, scope


def communes(db: Session) -> dict[str, str]:
    """The communes of the request's territory, by name."""
    query = scope.communes(db).order_by(col(Commune.name))
    return {c.insee: c.name for c in db.scalars(query).all()}


def labels() -> dict[str, Any]:
    """What every renovation template reads to name things."""
    return {
        "brackets": engine.BRACKETS,
        "home_types": engine.HOME_TYPES,
        "heatings": engine.HEATINGS,
        "occupants": engine.OCCUPANTS,
        "works": engine.WORKS,
        "programs": rules.PROGRAM_LABELS,
        "slots": appointments.SLOTS,
        "euros": engine.euros,
    }

"""Requests for an appointment with a France Rénov' adviser: written from the result page (contact,
preferred times, consent, with a summary of the answers and the aids shown), followed up by staff
(new, called, done). A request belongs to the territory whose host it was made on, and its staff
follow it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import utcnow
from app.i18n import NC_
from app.i18n import gettext as _
from app.models.renovation import APPOINTMENT_STATES, Appointment
from app.renovation import scope
from app.renovation.engine import (
    BRACKETS,
    HEATINGS,
    HOME_TYPES,
    OCCUPANTS,
    WORKS,
    Aid,
    Household,
    euros,
)


def N_(message: str) -> str:
    return message


SLOTS = {
    "morning": N_("En semaine, le matin"),
    "afternoon": N_("En semaine, l’après-midi"),
    "evening": N_("En semaine, après 17 h"),
    "saturday": N_("Le samedi matin"),
}
STATUS_LABELS = {
    "new": N_("Nouvelle"),
    "called": N_("Rappelée"),
    "done": NC_("appointment", "Terminée"),
}
PHONE = re.compile(r"^\+?[0-9 .\-]{10,20}$")


class AppointmentError(ValueError):
    pass


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name, "")
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def summary(household: Household, aids: Sequence[Aid], year: int) -> str:
    """The answers and the aids as the adviser reads them (French, plain text)."""
    lines = [
        f"Logement : {HOME_TYPES.get(household.home_type, '')}, construit en {household.built_year}",
        f"Chauffage : {HEATINGS.get(household.heating, '')}",
        f"Ménage : {household.persons} personne(s), revenus {BRACKETS.get(household.bracket, '')}",
        "Travaux : " + ", ".join(WORKS[w].label for w in household.works),
    ]
    lines += [f"  {WORKS[k].unit_label} : {v}" for k, v in household.quantities.items()]
    if household.occupant:
        lines.append(f"Occupant : {OCCUPANTS.get(household.occupant, '')}")
    if household.cost is not None:
        lines.append(f"Coût estimé des travaux : {euros(household.cost)}")
    lines.append(f"Aides estimées (règles {year}) :")
    for aid in aids:
        value = euros(aid.amount) if aid.amount is not None else f"jusqu’à {euros(aid.up_to or 0)}"
        lines.append(f"  - {aid.rule.title} : {value}")
    return "\n".join(lines)


def request(
    session: Session,
    data: dict[str, Any],
    household: Household,
    aids: Sequence[Aid],
    year: int,
    user_id: int | None,
) -> tuple[Appointment | None, dict[str, str]]:
    """Record the request, or return the French message of each wrong field."""
    errors: dict[str, str] = {}
    name = _text(data, "name", 120)
    if len(name) < 2:
        errors["name"] = _("Indiquez votre nom.")
    phone = _text(data, "phone", 30)
    email = _text(data, "email", 254).lower()
    if phone and not PHONE.match(phone):
        errors["phone"] = _(
            "Numéro de téléphone invalide (10 chiffres, par exemple 03 82 00 00 00)."
        )
    if email and ("@" not in email or " " in email or len(email) < 5):
        errors["email"] = _("Adresse e-mail invalide.")
    if not phone and not email and "phone" not in errors:
        errors["phone"] = _(
            "Donnez un numéro de téléphone ou une adresse e-mail pour être rappelé."
        )
    raw = data.get("slots")
    slots = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) and raw else []
    if not set(slots) <= set(SLOTS):
        errors["slots"] = _("Choix invalide.")
    note = _text(data, "preferred", 120)
    if not slots and not note:
        errors["slots"] = _("Dites-nous quand vous êtes joignable.")
    if data.get("consent") != "yes":
        errors["consent"] = _(
            "Cochez la case pour accepter que le conseiller utilise ces informations pour vous "
            "rappeler."
        )
    if errors:
        return None, errors
    preferred = "; ".join([SLOTS[s] for s in SLOTS if s in slots] + ([note] if note else []))
    now = utcnow()
    row = Appointment(
        name=name,
        phone=phone,
        email=email,
        preferred=preferred[:200],
        commune_insee=household.commune,
        summary=summary(household, aids, year),
        consent_at=now,
        user_id=user_id,
        territory_id=scope.territory_id(session),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row, {}


def listed(session: Session, status: str = "") -> list[Appointment]:
    """The session's territory's requests (of one state), newest first."""
    query = (
        select(Appointment)
        .where(*scope.appointments_here(session))
        .order_by(col(Appointment.created_at).desc())
        .limit(500)
    )
    if status in APPOINTMENT_STATES:
        query = query.where(col(Appointment.status) == status)
    return list(session.scalars(query).all())


def set_status(session: Session, row: Appointment, status: str, note: str) -> None:
    if status not in APPOINTMENT_STATES:
        raise AppointmentError(_("Choisissez un état : nouvelle, rappelée ou terminée."))
    row.status = status
    row.staff_note = " ".join(note.split())[:500]
    row.updated_at = utcnow()
    session.add(row)

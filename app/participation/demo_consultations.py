"""Demo consultations: one open to every resident of the territory, one closed with its results."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlmodel import Session, col, select

from app.db import saved_id, utcnow
from app.models.participation import Consultation
from app.participation import consultations as logic

OPEN = "Se déplacer au quotidien : vos trajets et vos attentes"
CLOSED = "Horaires d’été de la déchèterie"
COMMUNES = (
    "57038",
    "57041",
    "57529",
    "57565",
)
REMARKS = (
    "Un parking relais à la frontière, avec une navette vers Esch.",
    "Plus de bus le samedi matin.",
    "Ouvrir plus tôt en été, avant la chaleur.",
)


def _open(session: Session) -> Consultation:
    now = utcnow()
    row = Consultation(
        title=OPEN,
        description=(
            "La communauté de communes prépare son plan de mobilité. Dites-nous comment vous "
            "vous déplacez et ce qui vous aiderait : dix minutes suffisent."
        ),
        opens_at=now - timedelta(days=3),
        closes_at=now + timedelta(days=25),
    )
    session.add(row)
    session.flush()
    for kind, label, options, required in (
        (
            "single",
            "Comment allez-vous au travail le plus souvent ?",
            "Voiture seul\nCovoiturage\nBus ou train\nVélo ou à pied",
            True,
        ),
        (
            "multiple",
            "Où travaillez-vous ?",
            "Dans ma commune\nAilleurs dans le territoire\nAu Luxembourg\nAilleurs en France",
            True,
        ),
        (
            "ranking",
            "Classez ces projets selon vos priorités",
            "Parking relais à la frontière\nPistes cyclables entre communes\nBus le week-end",
            True,
        ),
        ("place", "Où faudrait-il une aire de covoiturage ?", "", False),
        ("text", "Une idée, une remarque ?", "", False),
    ):
        logic.add_question(session, row, kind=kind, label=label, options=options, required=required)
    row.published = True
    session.add(row)
    return row


def _closed(session: Session, rng: random.Random) -> Consultation:
    now = utcnow()
    row = Consultation(
        title=CLOSED,
        description="Fallait-il ouvrir la déchèterie plus tôt le matin en juillet et août ?",
        opens_at=now - timedelta(days=40),
        closes_at=now - timedelta(days=10),
    )
    session.add(row)
    session.flush()
    hours = logic.add_question(
        session,
        row,
        kind="single",
        label="Quel horaire d’ouverture préférez-vous en été ?",
        options="8 h – 12 h et 14 h – 18 h (comme aujourd’hui)\n7 h – 13 h\n7 h – 12 h et 16 h – 19 h",
        required=True,
    )
    remark = logic.add_question(
        session, row, kind="text", label="Une remarque ?", options="", required=False
    )
    row.published = True
    session.add(row)
    codes = COMMUNES
    for n in range(96):
        answers = [logic.Answer(saved_id(hours), choices=[rng.choices([0, 1, 2], [3, 5, 2])[0]])]
        if n % 16 == 0:
            answers.append(logic.Answer(saved_id(remark), text=REMARKS[n % len(REMARKS)]))
        logic.insert_response(session, row, answers, f"demo:{n}", None, codes[n % len(codes)])
    for answer, _label in logic.texts_to_moderate(session, saved_id(row)):
        logic.moderate_text(session, answer, "published")
    return row


def load_demo(session: Session, rng: random.Random) -> str | None:
    if session.scalars(select(Consultation).where(col(Consultation.title) == OPEN)).first():
        return None
    _open(session)
    _closed(session, rng)
    session.flush()
    return "2 consultations"

"""``eclor demo`` for alerts: current and past alerts, with an update and a cancellation."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.alerts.publish import AlertInput, amend, publish
from app.db import utcnow
from app.models.push import Alert


def load_alerts(session: Session, rng: random.Random) -> str | None:
    if (
        session.scalars(select(col(Alert.id)).where(col(Alert.source) == "demo")).first()
        is not None
    ):
        return None
    now = utcnow()
    sender = "eclor@demo.eclor"
    made = 0

    def one(
        title: str,
        body: str,
        topic: str,
        communes: list[str],
        urgency: str,
        sent: datetime,
        hours: float,
        link: str = "",
    ) -> Alert:
        nonlocal made
        made += 1
        data = AlertInput(
            title=title,
            body=body,
            topic=topic,
            communes=communes,
            urgency=urgency,
            link=link,
            expires_at=sent + timedelta(hours=hours),
        )
        return publish(session, data, source="demo", sender=sender, now=sent)

    old = one(
        "Neige et verglas sur l’A30",
        "Chaussée glissante entre Aumetz et Boulange ; les saleuses "
        "sont passées à 5 h. Prudence dans la descente vers Thionville.",
        "road_safety",
        [],
        "high",
        now - timedelta(days=3),
        12,
    )
    update_ = amend(
        session,
        old,
        AlertInput(
            title="Neige sur l’A30 : circulation difficile",
            body="Le dégagement se poursuit ; une voie est "
            "ouverte dans chaque sens. Évitez l’A30 entre 7 h et 9 h si vous le pouvez.",
            topic="road_safety",
            communes=[],
            urgency="high",
            expires_at=now - timedelta(days=3) + timedelta(hours=14),
        ),
        source="demo",
        sender=sender,
        now=now - timedelta(days=3) + timedelta(hours=2),
    )
    amend(
        session,
        update_,
        None,
        source="demo",
        sender=sender,
        note="Routes dégagées, l’alerte est levée.",
        now=now - timedelta(days=3) + timedelta(hours=8),
    )
    made += 2
    # Current demo alerts announce what the live sensors cannot contradict (planned works, opening
    # hours); the crossings' traffic and the waiting time come from the sensors themselves.
    one(
        "Travaux de nuit au passage frontière de Rédange",
        "La route vers Belvaux est fermée de 21 h à 5 h "
        "jusqu’à vendredi. La nuit, passez par Russange ou Audun-le-Tiche.",
        "traffic",
        ["57038", "57602", "57565"],
        "normal",
        now - timedelta(minutes=25),
        72,
        "/traffic",
    )
    one(
        "Déchèterie : horaires d’hiver",
        "Jusqu’au 31 mars, la déchèterie d’Audun-le-Tiche ferme à 17 h ; "
        "le temps d’attente en direct est sur la page de la déchèterie.",
        "waste_centre",
        [],
        "low",
        now - timedelta(minutes=10),
        48,
        "/waste-centre",
    )
    one(
        "Vigilance orange vent violent",
        "Rafales jusqu’à 100 km/h attendues cette nuit. Rentrez le mobilier "
        "de jardin et évitez les abords des bois.",
        "weather",
        [],
        "normal",
        now - timedelta(hours=1),
        18,
    )
    one(
        "Coupure d’eau rue de la Gare",
        "Travaux sur le réseau : eau coupée de 9 h à 12 h.",
        "general",
        ["54580"],
        "low",
        now - timedelta(days=6),
        6,
    )
    return f"{made} alerts (current and past, with an update and a cancellation)"

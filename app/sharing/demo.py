"""Demo sharing items, loans and requests for ``eclor demo``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import utcnow, saved_id
from app.models.accounts import User
from app.models.territory import Commune
from app.models.sharing import (
    CategoryWatch,
    SharedItem,
    SharedPhoto,
    WantedRequest,
)
from app.sharing.loans import (
    local_today,
    move_loan,
    post_message,
    post_wanted,
    publish,
    request_loan,
)
from app.territories import commune_zone

# --- demo -------------------------------------------------------------------------------------

# (owner, kind, title, category, condition, commune, description, motif, colours)
DEMO_ITEMS = [
    (
        "habitant@eclor.test",
        "lend",
        "Perceuse à percussion",
        "tools",
        "good",
        "57038",
        "Perceuse Bosch 700 W avec coffret de forets béton et bois.",
        "box",
        ((225, 232, 240), (40, 110, 60)),
    ),
    (
        "habitant@eclor.test",
        "lend",
        "Tente 4 places",
        "sports",
        "fair",
        "57038",
        "Tente familiale, montage en 10 minutes. Idéale pour un week-end.",
        "box",
        ((220, 236, 224), (60, 130, 80)),
    ),
    (
        "voisine@eclor.test",
        "lend",
        "Appareil à raclette 8 personnes",
        "kitchen",
        "good",
        "54580",
        "Avec grill. Rendu propre, merci !",
        "box",
        ((245, 232, 220), (150, 60, 40)),
    ),
    (
        "voisine@eclor.test",
        "give",
        "Poussette pliable",
        "kids",
        "good",
        "54580",
        "Poussette légère, servie pour un enfant. À venir chercher.",
        "box",
        ((238, 228, 245), (110, 70, 150)),
    ),
    (
        "frontalier@eclor.test",
        "lend",
        "Taille-haie électrique",
        "garden",
        "good",
        "57602",
        "Lame de 55 cm, rallonge fournie.",
        "box",
        ((228, 242, 222), (70, 140, 50)),
    ),
    (
        "frontalier@eclor.test",
        "give",
        "Lot de romans policiers",
        "books",
        "worn",
        "57602",
        "Une vingtaine de poches, à donner ensemble.",
        "box",
        ((245, 240, 225), (170, 120, 40)),
    ),
]


def load_demo(session: Session, rng: Any) -> str | None:
    from app.demo_pictures import demo_photo, demo_store

    now = utcnow()
    created: dict[str, SharedItem] = {}
    for (
        owner_email,
        kind,
        title,
        category,
        condition,
        commune,
        description,
        motif,
        colours,
    ) in DEMO_ITEMS:
        owner = session.scalars(select(User).where(col(User.email) == owner_email)).first()
        if (
            owner is None
            or session.scalars(
                select(col(SharedItem.id)).where(
                    col(SharedItem.owner_id) == owner.id, col(SharedItem.title) == title
                )
            ).first()
        ):
            continue
        item = SharedItem(
            owner_id=saved_id(owner),
            kind=kind,
            title=title,
            category=category,
            condition=condition,
            commune_insee=commune,
            description=description,
            max_days=7,
            availability="le soir et le week-end",
            expires_at=now,
        )
        publish(session, item, now - timedelta(days=rng.randint(1, 12)))
        display, thumb, width, height = demo_store(
            demo_photo(title[:22], colours[0], colours[1], motif, rng)
        )
        session.add(
            SharedPhoto(
                item_id=saved_id(item),
                display_name=display,
                thumb_name=thumb,
                width=width,
                height=height,
            )
        )
        created[title] = item
    if not created:
        return None
    julien = session.scalars(select(User).where(col(User.email) == "habitant@eclor.test")).first()
    camille = session.scalars(select(User).where(col(User.email) == "voisine@eclor.test")).first()
    raclette = created.get("Appareil à raclette 8 personnes")
    if julien is not None and camille is not None and raclette is not None:
        start = local_today(commune_zone(session, raclette.commune_insee), now) + timedelta(days=3)
        loan = request_loan(
            session,
            saved_id(raclette),
            saved_id(julien),
            start,
            start + timedelta(days=1),
            "Bonjour Camille, pour une soirée entre amis samedi. Merci !",
            now,
        )
        move_loan(session, saved_id(loan), saved_id(camille), "accept", now)
        post_message(
            session,
            saved_id(loan),
            saved_id(camille),
            "Avec plaisir ! Passez vendredi après 18 h.",
            now,
        )
        audun = session.scalar(
            select(col(Commune.territory_id)).where(col(Commune.insee) == "57038")
        )
        if audun is not None:  # a watch is kept in the territory of the demo's requests
            session.add(
                CategoryWatch(user_id=saved_id(camille), category="garden", territory_id=audun)
            )
        post_wanted(
            session,
            WantedRequest(
                user_id=saved_id(julien),
                title="Échelle 3 plans",
                category="tools",
                commune_insee="57038",
                description="Pour nettoyer les gouttières, un samedi.",
                expires_at=now,
            ),
            now,
        )
    return f"{len(created)} shared objects, a loan and a request"

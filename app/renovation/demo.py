"""Demo data of the renovation guide: the national rules of the bundled file and one local aid."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlmodel import Session, col

from app.models.renovation import AidRule
from app.renovation import rules


def load_demo(session: Session, rng: random.Random) -> str | None:
    if session.scalars(select(AidRule).limit(1)).first() is not None:
        return None
    year, count = rules.load_file(session, rules.NATIONAL_FILE)
    session.add(
        AidRule(
            key="local-demo-villerupt",
            year=year,
            scope="local",
            program="local",
            title="Aide de démonstration : isolation des maisons anciennes de Villerupt",
            calc="rate",
            rate=20,
            expense_ceiling=20_000,
            aid_ceiling=4_000,
            brackets="tres_modeste,modeste",
            communes="54580",
            built_before=1949,
            works="isolation_murs_ext,fenetres",
            source_url="https://www.mairie-villerupt.fr/",
            source_title="Exemple de démonstration (pas une aide réelle)",
            note="Aide fictive des données de démonstration.",
            verified=False,
        )
    )
    session.flush()
    local = session.scalars(select(AidRule).where(col(AidRule.scope) == "local")).all()
    return f"{count} national renovation rules of {year}, {len(local)} local aid"

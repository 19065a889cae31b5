"""``eclor demo``: believable demo content so a newcomer sees a living app.

Each domain declares its loaders (:class:`app.interfaces.DemoLoader`) and
``eclor demo`` runs those of ``app.domains``; loaders get a write session and
must be idempotent (running ``eclor demo`` twice adds
nothing the second time).
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import auth
from app.db import write_session
from app.interfaces import DemoLoader
from app.models.accounts import User

DEMO_PASSWORD = "eclor-demo-2026"

# (e-mail, role, display name, commune)
DEMO_USERS = [
    ("admin@eclor.test", "admin", "Admin Eclor", "57038"),
    ("agent@eclor.test", "staff", "Nadia (agente)", "57038"),
    ("commercant@eclor.test", "merchant", "Marc Boulanger", "54580"),
    ("fleuriste@eclor.test", "merchant", "Sophie Fleurs", "57038"),
    ("habitant@eclor.test", "resident", "Julien", "57038"),
    ("voisine@eclor.test", "resident", "Camille", "54580"),
    ("frontalier@eclor.test", "resident", "Luca", "57602"),
]


def demo_user(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(col(User.email) == email)).first()
    if user is None:
        raise LookupError(f"demo user {email} missing: run the users loader first")
    return user


def load_users(session: Session, rng: random.Random) -> str | None:
    created = 0
    for email, role, name, insee in DEMO_USERS:
        if session.scalars(select(col(User.id)).where(col(User.email) == email)).first():
            continue
        user = auth.create_user(
            session, email, role=role, password=DEMO_PASSWORD, display_name=name
        )
        user.commune_insee = insee
        created += 1
    return f"{created} demo accounts (password: {DEMO_PASSWORD})" if created else None


def load_all(engine: Engine, loaders: Iterable[DemoLoader], seed: int = 2026) -> list[str]:
    """Run the loaders in order, each in its own transaction; return what they said."""
    said: list[str] = []
    for loader in sorted(loaders, key=lambda loader: loader.order):
        rng = random.Random(f"{seed}:{loader.name}")
        with write_session(engine) as session:
            message = loader.load(session, rng)
        if message:
            said.append(f"{loader.name}: {message}")
    return said

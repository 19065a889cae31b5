"""The home page's panels: "what matters now", contributed by each domain.

Domains declare their panels as values (:class:`app.interfaces.Panel`);
``app.domains.install`` puts them here in order. A panel's loader gets a read
session and the signed-in person (or None) and returns the template's
context, or None to show nothing. The session is bound to the request's
territory (``app.territories.of_session``), and the anonymous panels are
kept per territory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from app.auth import CurrentUser
from app.interfaces import Panel
from app.territories import FALLBACK, Branding, bind

PANELS: list[Panel] = []


def install(panels: Iterable[Panel]) -> None:
    PANELS[:] = sorted(panels, key=lambda p: p.order)


def load_panels(
    session: Session, user: CurrentUser | None, territory: Branding = FALLBACK
) -> list[tuple[Panel, dict[str, Any]]]:
    """The panels to show, for the territory of the request (bound to the session: a loader that
    is per territory reads it with ``app.territories.of_session``)."""
    bind(session, territory)
    shown = []
    for panel in PANELS:
        context = panel.load(session, user)
        if context is not None:
            shown.append((panel, context))
    return shown

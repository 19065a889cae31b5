"""The home page's panels: "what matters now", contributed by each domain.

Domains declare their panels as values (:class:`app.interfaces.Panel`);
``app.domains.install`` puts them here in order. A panel's loader gets a read
session and the signed-in person (or None) and returns the template's
context, or None to show nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from app.auth import CurrentUser
from app.interfaces import Panel

PANELS: list[Panel] = []


def install(panels: Iterable[Panel]) -> None:
    PANELS[:] = sorted(panels, key=lambda p: p.order)


def load_panels(session: Session, user: CurrentUser | None) -> list[tuple[Panel, dict[str, Any]]]:
    shown = []
    for panel in PANELS:
        context = panel.load(session, user)
        if context is not None:
            shown.append((panel, context))
    return shown

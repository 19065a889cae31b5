"""The home page's panels: "what matters now", contributed by each domain.

A domain registers a panel with ``@home_panel(name, order, template)``; its
loader gets a read session and the signed-in person (or None) and returns the
template's context, or None to show nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.auth import CurrentUser

Loader = Callable[[Session, CurrentUser | None], dict[str, Any] | None]


@dataclass(frozen=True)
class Panel:
    name: str
    order: int
    template: str
    load: Loader


PANELS: list[Panel] = []


def home_panel(name: str, order: int, template: str) -> Callable[[Loader], Loader]:
    def register(fn: Loader) -> Loader:
        PANELS[:] = [p for p in PANELS if p.name != name]
        PANELS.append(Panel(name, order, template, fn))
        PANELS.sort(key=lambda p: p.order)
        return fn

    return register


def load_panels(session: Session, user: CurrentUser | None) -> list[tuple[Panel, dict[str, Any]]]:
    shown = []
    for panel in PANELS:
        context = panel.load(session, user)
        if context is not None:
            shown.append((panel, context))
    return shown

"""What the operations centre reads from the registry of domains (``app.domains``).

Each domain defines its layers, KPIs and commune actions in ``app/<domain>/ops.py`` (see
``app.ops.contracts``) and contributes them in its ``Contribution`` (``ops_layers``, ``kpis``,
``ops_actions``). A new domain appears on the map and in the KPIs by contributing there.
"""

from __future__ import annotations

from collections.abc import Callable

from app.ops.contracts import Action, Kpi, Layer


def layers() -> list[Layer]:
    from app import domains  # the registry imports the routes, which import this module

    return sorted(domains.ops_layers(), key=lambda layer: layer.order)


def kpis() -> list[Kpi]:
    from app import domains

    return sorted(domains.kpis(), key=lambda kpi: kpi.order)


def commune_actions() -> list[Callable[[str], Action]]:
    from app import domains

    return [action for domain in domains.DOMAINS for action in domain.ops_actions]

"""What the operations centre reads from the registry of domains (``app.domains``).

Each domain defines its layers, KPIs and commune actions in ``app/<domain>/ops.py`` (see
``app.ops.contracts``) and contributes them in its ``Contribution`` (``ops_layers``, ``kpis``,
``ops_actions``). A new domain appears on the map and in the KPIs by contributing there;
``app.domains.install`` hands them over here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from app.ops.contracts import Action, Kpi, Layer

_LAYERS: list[Layer] = []
_KPIS: list[Kpi] = []
_ACTIONS: list[Callable[[str], Action]] = []


def install(
    layers: Iterable[Layer], kpis: Iterable[Kpi], actions: Iterable[Callable[[str], Action]]
) -> None:
    _LAYERS[:] = sorted(layers, key=lambda layer: layer.order)
    _KPIS[:] = sorted(kpis, key=lambda kpi: kpi.order)
    _ACTIONS[:] = list(actions)


def layers() -> list[Layer]:
    return list(_LAYERS)


def kpis() -> list[Kpi]:
    return list(_KPIS)


def commune_actions() -> list[Callable[[str], Action]]:
    return list(_ACTIONS)

"""What other domains offer maintenance, handed over by ``app.domains.install``: the ``Locator`` of
each layer (where a device is) and the ``WorkSource`` of residents' reports."""

from __future__ import annotations

from collections.abc import Iterable

from app.interfaces import Locator, WorkSource

LOCATORS: dict[str, Locator] = {}
SOURCES: dict[str, WorkSource] = {}


def install(locators: Iterable[Locator], sources: Iterable[WorkSource]) -> None:
    LOCATORS.clear()
    LOCATORS.update({locator.layer: locator for locator in locators})
    SOURCES.clear()
    SOURCES.update({source.layer: source for source in sources})


def reports() -> WorkSource | None:
    return SOURCES.get("reports")

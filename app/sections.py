"""Links that domains add to shared pages: the staff hub (/staff) and the account page (/me)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    order: int
    url: str
    title: str        # French source string, translated at render time
    description: str  # French source string
    roles: tuple[str, ...] = ()  # empty: everyone who can see the page


STAFF_LINKS: list[Link] = []
ACCOUNT_LINKS: list[Link] = []


def _add(registry: list[Link], link: Link) -> None:
    registry[:] = sorted([l for l in registry if l.url != link.url] + [link], key=lambda l: l.order)


def staff_link(order: int, url: str, title: str, description: str = "", roles: tuple[str, ...] = ()) -> None:
    _add(STAFF_LINKS, Link(order, url, title, description, roles))


def account_link(order: int, url: str, title: str, description: str = "", roles: tuple[str, ...] = ()) -> None:
    _add(ACCOUNT_LINKS, Link(order, url, title, description, roles))

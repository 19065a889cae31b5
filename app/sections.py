"""Links that domains add to shared pages: the staff hub (/staff) and the account page (/me).

Domains declare them as values (:class:`app.interfaces.Link`);
``app.domains.install`` puts them here in order.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.interfaces import Link

STAFF_LINKS: list[Link] = []
ACCOUNT_LINKS: list[Link] = []


def install(staff: Iterable[Link], account: Iterable[Link]) -> None:
    STAFF_LINKS[:] = sorted(staff, key=lambda link: link.order)
    ACCOUNT_LINKS[:] = sorted(account, key=lambda link: link.order)

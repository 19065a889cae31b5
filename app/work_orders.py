"""Work orders as the other domains see them (a winning project's progress), handed over by
``app.domains.install()`` from the domain that holds them (``Contribution.work_orders``), so the
readers and maintenance never import each other."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session

from app.interfaces import OrderProgress, WorkOrders

_READERS: list[WorkOrders] = []


def install(readers: Iterable[WorkOrders]) -> None:
    _READERS.clear()
    _READERS.extend(readers)


def progress(session: Session, ids: Sequence[int]) -> dict[int, OrderProgress]:
    """The orders of these ids that exist (none when no domain offers work orders)."""
    found: dict[int, OrderProgress] = {}
    for reader in _READERS:
        found.update(reader.progress(session, ids))
    return found


def recent(session: Session, n: int = 50) -> list[OrderProgress]:
    return [order for reader in _READERS for order in reader.recent(session, n)]

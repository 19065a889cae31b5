"""Work orders as the other domains see them (``app.interfaces.WorkOrders``): title, state, dates."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlmodel import Session, col

from app.interfaces import OrderProgress, WorkOrders
from app.maintenance import scope
from app.maintenance.orders import STATES
from app.models.maintenance import WorkOrder


def _of(order: WorkOrder) -> OrderProgress:
    assert order.id is not None
    return OrderProgress(
        id=order.id,
        title=order.title,
        state=order.state,
        state_label=STATES.get(order.state, order.state),
        due_on=order.due_on,
        closed_at=order.closed_at,
        commune_insee=order.commune_insee,
    )


def progress(session: Session, ids: Sequence[int]) -> dict[int, OrderProgress]:
    if not ids:
        return {}
    orders = session.scalars(
        select(WorkOrder).where(col(WorkOrder.id).in_(list(ids)), *scope.where(session, WorkOrder))
    ).all()
    return {o.id: _of(o) for o in orders if o.id is not None}


def recent(session: Session, n: int) -> list[OrderProgress]:
    orders = session.scalars(
        select(WorkOrder)
        .where(*scope.where(session, WorkOrder))
        .order_by(col(WorkOrder.created_at).desc())
        .limit(n)
    ).all()
    return [_of(o) for o in orders]


WORK_ORDERS = WorkOrders(progress=progress, recent=recent)

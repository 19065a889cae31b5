"""The numbers elected officials ask for, out of the work orders: time from the first signal (the
alarm, the oldest report) to the fix per category and commune, work orders per team, overdue ones."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.maintenance import registry, scope
from app.maintenance import teams as team_list
from app.maintenance.orders import OPEN
from app.models.maintenance import WorkOrder, WorkOrderReport


@dataclass(frozen=True)
class FixTime:
    category: str  # a report category, or "" for orders made from an alarm or by hand
    commune: str  # INSEE code, or ""
    orders: int
    median_hours: float


@dataclass(frozen=True)
class TeamLoad:
    team: str
    open: int
    overdue: int
    done: int  # in the period
    minutes: int  # time spent on the done ones


def figures(session: Session, since: datetime, today: date) -> dict[str, Any]:
    done = list(
        session.scalars(
            select(WorkOrder).where(
                col(WorkOrder.state) == "done",
                col(WorkOrder.closed_at) >= since,
                *scope.where(session, WorkOrder),
            )
        )
    )
    links: dict[int, list[int]] = defaultdict(list)
    ids = [o.id for o in done]
    for start in range(0, len(ids), 500):
        for order_id, report_id in session.execute(
            select(col(WorkOrderReport.order_id), col(WorkOrderReport.report_id)).where(
                col(WorkOrderReport.order_id).in_(ids[start : start + 500])
            )
        ):
            links[order_id].append(report_id)
    source = registry.reports()
    items = (
        {i.id: i for i in source.load(session, [r for rs in links.values() for r in rs])}
        if source
        else {}
    )
    hours: dict[tuple[str, str], list[float]] = defaultdict(list)
    for order in done:
        if order.signal_at is None or order.closed_at is None:
            continue
        reports = [items[r] for r in links.get(order.id or 0, []) if r in items]
        category = reports[0].category if reports else ""
        elapsed = (order.closed_at - order.signal_at).total_seconds() / 3600
        hours[(category, order.commune_insee or "")].append(elapsed)
    fix_times = sorted(
        (
            FixTime(category, commune, len(values), round(statistics.median(values), 1))
            for (category, commune), values in hours.items()
        ),
        key=lambda f: (f.category, f.commune),
    )
    teams = []
    open_orders = list(
        session.scalars(
            select(WorkOrder).where(
                col(WorkOrder.state).in_(OPEN), *scope.where(session, WorkOrder)
            )
        )
    )
    for team in team_list.names(session):
        mine = [o for o in open_orders if o.team == team]
        finished = [o for o in done if o.team == team]
        teams.append(
            TeamLoad(
                team,
                len(mine),
                sum(1 for o in mine if o.due_on is not None and o.due_on < today),
                len(finished),
                sum(o.minutes_spent for o in finished),
            )
        )
    overdue = sorted(
        (o for o in open_orders if o.due_on is not None and o.due_on < today),
        key=lambda o: (o.due_on, o.id),
    )
    return {"fix_times": fix_times, "team_loads": teams, "overdue": overdue}


def default_since(now: datetime) -> datetime:
    return now - timedelta(days=90)

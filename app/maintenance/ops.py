"""Maintenance in the operations centre: the ongoing alarms of every domain as a layer (with a side
panel to acknowledge one), and KPIs per commune: ongoing alarms, overdue work orders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.maintenance import orders, scope
from app.maintenance.alarms import LAYER, ONGOING, STATES
from app.maintenance.terms import SEVERITIES
from app.models.maintenance import MaintenanceAlarm, WorkOrder
from app.ops.contracts import Action, Freshness, Kpi, Layer, Panel, Stamp, point

N_ = str
OPEN_ORDERS = ("new", "planned", "in_progress")


def alarms_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(MaintenanceAlarm)
        .where(col(MaintenanceAlarm.state).in_(ONGOING), *scope.where(session, MaintenanceAlarm))
        .order_by(col(MaintenanceAlarm.id))
    ).all()
    return [
        point(
            str(a.id),
            a.lon,
            a.lat,
            kind="alarm",
            state=a.state,
            label=a.title,
            url=f"/staff/alarms/{a.id}",
            severity=a.severity,
            source=a.source,
        )
        for a in rows
        if a.lat is not None and a.lon is not None
    ]


def alarm_panel(session: Session, feature_id: str, now: dt.datetime) -> Panel | None:
    alarm = session.get(MaintenanceAlarm, int(feature_id)) if feature_id.isdigit() else None
    if alarm is None or not scope.is_here(session, alarm):
        return None
    facts = [
        (_("Gravité"), _(SEVERITIES.get(alarm.severity, alarm.severity))),
        (_("Source"), alarm.source),
        (_("Première fois"), alarm.first_seen.strftime("%d/%m/%Y %H:%M")),
        (_("Dernière fois"), alarm.last_seen.strftime("%d/%m/%Y %H:%M")),
        (_("Occurrences"), str(alarm.count)),
        (_("Valeur"), alarm.value or "—"),
    ]
    actions = []
    if alarm.state == "open":
        actions.append(
            Action(
                N_("Prendre en compte"),
                f"/staff/alarms/{alarm.id}/acknowledge",
                (),
                N_("Alarme prise en compte."),
            )
        )
    return Panel(
        title=alarm.title,
        state=alarm.state,
        state_label=_(STATES[alarm.state]),
        facts=facts,
        actions=actions,
        link=f"/staff/alarms/{alarm.id}",
        commune=alarm.commune_insee,
    )


def alarms_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    rows = session.execute(
        select(col(MaintenanceAlarm.commune_insee), func.count())
        .where(col(MaintenanceAlarm.state).in_(ONGOING), *scope.where(session, MaintenanceAlarm))
        .group_by(col(MaintenanceAlarm.commune_insee))
    ).all()
    return {insee: count for insee, count in rows if insee}


def overdue_orders_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    rows = session.execute(
        select(col(WorkOrder.commune_insee), func.count())
        .where(
            col(WorkOrder.state).in_(OPEN_ORDERS),
            col(WorkOrder.due_on) < now.date(),
            *scope.where(session, WorkOrder),
        )
        .group_by(col(WorkOrder.commune_insee))
    ).all()
    return {insee: count for insee, count in rows if insee}


# Alarms and work orders publish an event for every change of state; the counts also catch a
# writer without one.
alarms_stamp = Stamp(
    (
        select(func.count(), func.max(col(MaintenanceAlarm.id))).where(
            col(MaintenanceAlarm.state).in_(ONGOING)
        ),
    )
)
orders_stamp = Stamp(
    (
        select(func.count(), func.max(col(WorkOrder.id))).where(
            col(WorkOrder.state).in_(OPEN_ORDERS)
        ),
    )
)


def orders_expire(session: Session, now: dt.datetime) -> dt.datetime:
    """Open orders become overdue at midnight (UTC, as ``overdue_orders_kpi`` counts days)."""
    return dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)


OPS_LAYERS = [
    Layer(
        LAYER,
        N_("Alarmes des règles"),
        55,
        alarms_layer,
        alarm_panel,
        {},
        {k: v for k, v in STATES.items() if k in ONGOING},
    )
]
OPS_KPIS = [
    Kpi(
        "alarms_ongoing",
        N_("Alarmes en cours"),
        "",
        40,
        alarms_kpi,
        Freshness((LAYER,), alarms_stamp),
    ),
    Kpi(
        "work_orders_overdue",
        N_("Bons de travail en retard"),
        "",
        41,
        overdue_orders_kpi,
        Freshness((orders.LAYER,), orders_stamp, orders_expire),
    ),
]

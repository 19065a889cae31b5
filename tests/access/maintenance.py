"""Access rules of maintenance: rules, alarms and work orders are for staff only; residents see no
work order, no internal comment and no assignee."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.db import utcnow, write_session
from app.models.maintenance import MaintenanceAlarm, MaintenanceRule, WorkOrder
from tests.access import AccessContext, Row, roles_only

STAFF = ("staff", "admin")


def staff_only(status: int | tuple[int, ...] = 200) -> dict[str, int | tuple[int, ...]]:
    return roles_only(STAFF, status)


def staff_post(status: int | tuple[int, ...] = 303) -> dict[str, int | tuple[int, ...]]:
    return roles_only(STAFF, status, anonymous=(303, 401, 403))


def things(ctx: AccessContext) -> dict[str, Any]:
    now = utcnow()
    with write_session(ctx.engine) as session:
        rule = MaintenanceRule(name="Particules", kind="measure", layer="sensors", measure="pm25")
        session.add(rule)
        session.flush()
        alarm = MaintenanceAlarm(
            rule_id=rule.id,
            subject="sensors:AQ-1",
            source="sensors",
            title="Particules · Station",
            severity="major",
            first_seen=now - dt.timedelta(minutes=5),
            last_seen=now,
        )
        order = WorkOrder(
            title="Réparer la lampe",
            team="eclairage",
            checklist_json='[{"text": "Changer la lampe", "done": false}]',
        )
        session.add(alarm)
        session.add(order)
        session.flush()
        return {"alarm_id": alarm.id, "rule_id": rule.id, "order_id": order.id}


A = "/staff/alarms/{alarm_id}"
W = "/staff/work-orders/{order_id}"
API = (303, 401)

ROWS = [
    Row("GET", "/staff/alarms", staff_only(), setup=things),
    Row("GET", "/staff/alarms.json", roles_only(STAFF, 200, anonymous=API), setup=things),
    Row("GET", A, staff_only(), setup=things, route="/staff/alarms/{alarm_id:int}"),
    Row(
        "POST",
        A + "/acknowledge",
        staff_post((303, 400)),
        setup=things,
        route="/staff/alarms/{alarm_id:int}/acknowledge",
    ),
    Row(
        "POST",
        A + "/clear",
        staff_post((303, 400)),
        setup=things,
        route="/staff/alarms/{alarm_id:int}/clear",
    ),
    Row(
        "POST",
        A + "/comment",
        staff_post(),
        setup=things,
        data={"text": "Vu sur place."},
        route="/staff/alarms/{alarm_id:int}/comment",
    ),
    Row(
        "POST",
        A + "/assign",
        staff_post(),
        setup=things,
        data={"assignee_id": ""},
        route="/staff/alarms/{alarm_id:int}/assign",
    ),
    Row("GET", "/staff/rules", staff_only()),
    Row("POST", "/staff/rules", staff_post(400), data={"name": ""}),
    Row(
        "GET",
        "/staff/rules/{rule_id}",
        staff_only(),
        setup=things,
        route="/staff/rules/{rule_id:int}",
    ),
    Row(
        "POST",
        "/staff/rules/{rule_id}",
        staff_post(400),
        setup=things,
        data={"name": ""},
        route="/staff/rules/{rule_id:int}",
    ),
    Row(
        "POST",
        "/staff/rules/{rule_id}/toggle",
        staff_post(),
        setup=things,
        route="/staff/rules/{rule_id:int}/toggle",
    ),
    Row("GET", "/staff/work-orders", staff_only(), setup=things),
    Row(
        "POST",
        "/staff/work-orders",
        staff_post(),
        data={"title": "Nettoyer le dépôt", "team": "dechets"},
    ),
    Row("GET", "/staff/work-orders/today", staff_only()),
    Row("GET", W, staff_only(), setup=things, route="/staff/work-orders/{order_id:int}"),
    Row(
        "POST",
        W + "/state",
        staff_post((303, 400)),
        setup=things,
        data={"state": "planned"},
        route="/staff/work-orders/{order_id:int}/state",
    ),
    Row(
        "POST",
        W + "/check",
        staff_post((303, 400)),
        setup=things,
        data={"item": "0", "done": "on"},
        route="/staff/work-orders/{order_id:int}/check",
    ),
    Row(
        "POST",
        W + "/photos",
        staff_post(400),
        setup=things,
        data={"kind": "after"},
        route="/staff/work-orders/{order_id:int}/photos",
        notes="no photo sent: the form comes back with its message",
    ),
    Row(
        "POST",
        W + "/close",
        staff_post((303, 400)),
        setup=things,
        data={"minutes": "30"},
        route="/staff/work-orders/{order_id:int}/close",
    ),
    Row(
        "GET",
        "/staff/work-orders/photos/" + "A" * 32 + ".jpg",
        staff_only(404),
        route="/staff/work-orders/photos/{name:str}",
    ),
]

ROWS.append(Row("GET", "/staff/work-orders/stats", staff_only(), setup=things))
ROWS.append(Row("GET", "/staff/alarms/watch", staff_only()))
ROWS.append(
    Row("POST", "/staff/alarms/watch", staff_post(), data={"severities": "critical", "push": "on"})
)
ROWS.append(Row("GET", "/staff/teams", roles_only(("admin",), 200)))
ROWS.append(
    Row(
        "POST",
        "/staff/teams",
        roles_only(("admin",), 400, anonymous=(303, 401, 403)),
        data={"code": "", "name": ""},
    )
)
ROWS.append(
    Row(
        "POST",
        "/staff/teams/voirie",
        roles_only(("admin",), 400, anonymous=(303, 401, 403)),
        data={"name": ""},
        route="/staff/teams/{code:str}",
    )
)

"""Public lighting staff pages: the alarms raised by lights and their acknowledgement."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlmodel import Session, col

from app.auth import STAFF, current_user
from app.db import utcnow
from app.models.lighting import (
    LightAlarm,
    Streetlight,
)
from app.routes.lighting_labels import page_labels
from app.templating import page

# --------------------------------------------------------------------------- alarms


@get("/staff/lighting/alarms", opt=STAFF, sync_to_thread=True, name="staff_lighting_alarms")
def alarms(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    show: str = Parameter(default="open", pattern="^(open|all)$"),
) -> Template:
    query = select(LightAlarm)
    if show == "open":
        query = query.where(col(LightAlarm.cleared_at).is_(None))
    rows = db.scalars(query.order_by(col(LightAlarm.raised_at).desc()).limit(300)).all()
    light_ids = {
        light.device_id: light.id
        for light in db.scalars(
            select(Streetlight).where(
                col(Streetlight.device_id).in_(
                    [r.device_id for r in rows if r.device_kind == "light"]
                )
            )
        ).all()
    }
    return page(
        request,
        "lighting/alarms.html",
        section="staff",
        rows=rows,
        show=show,
        light_ids=light_ids,
        **page_labels(),
    )


@post(
    "/staff/lighting/alarms/{alarm_id:int}/ack",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_alarm_ack",
)
def alarm_ack(
    request: Request[Any, Any, Any], db: NamedDependency[Session], alarm_id: FromPath[int]
) -> Redirect:
    alarm = db.get(LightAlarm, alarm_id)
    if alarm is None:
        raise NotFoundException()
    if alarm.acknowledged_at is None:
        user = current_user(request)
        alarm.acknowledged_at, alarm.acknowledged_by = utcnow(), user.id if user else None
        db.add(alarm)
        db.commit()
    return Redirect("/staff/lighting/alarms", status_code=303)

"""Public lighting staff pages: the alarms raised by lights and their acknowledgement."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter, QueryParameter
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
from app.territories import request_territory

# --------------------------------------------------------------------------- alarms


PAGE_SIZE = 50  # alarms per page: the page's cost follows what it shows, not the fleet or the year


@get("/staff/lighting/alarms", opt=STAFF, sync_to_thread=True, name="staff_lighting_alarms")
def alarms(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    show: str = Parameter(default="open", pattern="^(open|all)$"),
    page_no: Annotated[int, QueryParameter(name="page", ge=1, le=100_000)] = 1,
) -> Template:
    """Alarms newest first, a page at a time (read in the order of ``ix_light_alarms_cleared_raised``
    or ``ix_light_alarms_raised``, one row more than the page to know whether another follows)."""
    query = select(LightAlarm).where(col(LightAlarm.territory_id) == request_territory(request).id)
    if show == "open":
        query = query.where(col(LightAlarm.cleared_at).is_(None))
    rows = list(
        db.scalars(
            query.order_by(col(LightAlarm.raised_at).desc(), col(LightAlarm.id).desc())
            .offset((page_no - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        ).all()
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    light_ids = dict(
        db.execute(
            select(col(Streetlight.device_id), col(Streetlight.id)).where(
                col(Streetlight.device_id).in_(
                    {r.device_id for r in rows if r.device_kind == "light"}
                )
            )
        ).all()
    )
    base = "/staff/lighting/alarms" + ("?show=all&" if show == "all" else "?")
    return page(
        request,
        "lighting/alarms.html",
        section="staff",
        rows=rows,
        show=show,
        light_ids=light_ids,
        page_no=page_no,
        prev_url=f"{base}page={page_no - 1}" if page_no > 1 else None,
        next_url=f"{base}page={page_no + 1}" if more else None,
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
    if alarm is None or alarm.territory_id != request_territory(request).id:
        raise NotFoundException()
    if alarm.acknowledged_at is None:
        user = current_user(request)
        alarm.acknowledged_at, alarm.acknowledged_by = utcnow(), user.id if user else None
        db.add(alarm)
        db.commit()
    return Redirect("/staff/lighting/alarms", status_code=303)

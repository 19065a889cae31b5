"""Device alarms (``LightAlarm`` rows): lights, cabinets and sensors raise and clear them alike.

Core plumbing shared by the lighting relay and the sensors domain; each alarm raised or cleared is
published on the operations centre's ``alarms`` events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select

from app import events
from app.db import chunks
from app.models.lighting import LightAlarm, Streetlight
from app.models.sensors import Sensor
from app.models.territory import Commune


def device_territory(session: Session, device_id: str, device_kind: str) -> int | None:
    """The territory of a light's device (its own) or a sensor's (its commune's); None when not
    known (the alarm then goes to the default territory)."""
    if device_kind == "light":
        return session.scalar(
            select(col(Streetlight.territory_id)).where(col(Streetlight.device_id) == device_id)
        )
    commune = session.scalar(select(col(Sensor.commune_insee)).where(col(Sensor.id) == device_id))
    if commune is None:
        return None
    return session.scalar(select(col(Commune.territory_id)).where(col(Commune.insee) == commune))


def raise_alarm(
    session: Session,
    device_id: str,
    kind: str,
    now: dt.datetime,
    device_kind: str = "light",
    severity: str = "major",
) -> bool:
    """Open an alarm unless one of that kind is already open for the device."""
    exists = session.scalars(
        select(col(LightAlarm.id)).where(
            col(LightAlarm.device_id) == device_id,
            col(LightAlarm.kind) == kind,
            col(LightAlarm.cleared_at).is_(None),
        )
    ).first()
    if exists:
        return False
    alarm = LightAlarm(
        device_id=device_id, device_kind=device_kind, kind=kind, severity=severity, raised_at=now
    )
    territory_id = device_territory(session, device_id, device_kind)
    if territory_id is not None:
        alarm.territory_id = territory_id
    session.add(alarm)
    session.flush()
    events.publish(
        session,
        "alarms",
        str(alarm.id),
        "raised",
        {"device_id": device_id, "device_kind": device_kind, "alarm": kind, "severity": severity},
        territory_id=alarm.territory_id,
    )
    return True


def clear_alarms(
    session: Session, device_ids: Sequence[str], kinds: Sequence[str], now: dt.datetime
) -> None:
    cleared: list[tuple[int, str, str, int | None]] = []
    for part in chunks(list(device_ids)):
        open_ = (
            col(LightAlarm.device_id).in_(part),
            col(LightAlarm.kind).in_(list(kinds)),
            col(LightAlarm.cleared_at).is_(None),
        )
        cleared.extend(
            session.execute(
                select(
                    col(LightAlarm.id),
                    col(LightAlarm.device_id),
                    col(LightAlarm.kind),
                    col(LightAlarm.territory_id),
                ).where(*open_)
            ).all()
        )
        session.execute(
            update(LightAlarm)
            .where(*open_)
            .values(cleared_at=now)
            .execution_options(synchronize_session=False)
        )
    events.publish_many(
        session,
        [
            (
                "alarms",
                str(alarm_id),
                "cleared",
                {"device_id": device_id, "alarm": kind},
                territory_id,
            )
            for alarm_id, device_id, kind, territory_id in cleared
        ],
    )

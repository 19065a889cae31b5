"""Work orders: made from an alarm, from one or several reports, or by hand; done by a team.

States go new → planned → in progress → done (or cancelled). Closing is a conditional update, so
two people closing the same order at once make one closure; in that same transaction the linked
reports are resolved with the order's "after" photo (their reporters and followers are told once,
by the reports domain) and the linked alarm clears. Photos are processed before any transaction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import update
from sqlmodel import Session, col, select

from app import events, images
from app.db import utcnow
from app.i18n import gettext as _
from app.maintenance import alarms, registry, scope, teams
from app.models.maintenance import (
    MaintenanceAlarm,
    MaintenanceTeamMember,
    WorkOrder,
    WorkOrderPhoto,
    WorkOrderReport,
)

N_ = str
# The four trades the migration seeds (names to translate); staff manage the teams (``teams``).
TEAMS = {
    "voirie": N_("Voirie"),
    "eclairage": N_("Éclairage"),
    "dechets": N_("Déchets"),
    "espaces_verts": N_("Espaces verts"),
}
STATES = {
    "new": N_("Nouveau"),
    "planned": N_("Planifié"),
    "in_progress": N_("En cours"),
    "done": N_("Terminé"),
    "cancelled": N_("Annulé"),
}
OPEN = ("new", "planned", "in_progress")
MOVES = {"new": ("planned", "in_progress"), "planned": ("in_progress",), "in_progress": ()}
LAYER = "work_orders"


class OrderError(ValueError):
    """A change refused, with a French message for the person."""


class OrderForm(BaseModel):
    title: str = Field(min_length=3, max_length=160)
    team: str = Field(pattern=teams.CODE, max_length=20)
    assignee_id: int | None = None
    due_on: date | None = None
    place: str = Field(default="", max_length=200)
    checklist: str = Field(default="", max_length=4000)  # one item a line

    @field_validator("due_on", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise ValueError(_("Date invalide : indiquez le jour (AAAA-MM-JJ).")) from None
        return value


def checklist(order: WorkOrder) -> list[dict[str, Any]]:
    try:
        items = json.loads(order.checklist_json or "[]")
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, dict) and isinstance(i.get("text"), str)]


def _publish(session: Session, order: WorkOrder, kind: str) -> None:
    events.publish(
        session,
        LAYER,
        str(order.id),
        kind,
        {
            "state": order.state,
            "team": order.team,
            "commune": order.commune_insee,
            "territory": order.territory_id,
        },
        territory_id=order.territory_id,  # the stream sends it to that territory's staff only
    )


def create(
    session: Session,
    form: OrderForm,
    *,
    actor_id: int | None,
    alarm: MaintenanceAlarm | None = None,
    report_ids: Sequence[int] = (),
) -> WorkOrder:
    territory_id = alarm.territory_id if alarm is not None else scope.new_row_territory(session)
    try:  # a team of the order's own territory (another's of the same code is not it)
        teams.check_active(session, form.team, territory_id)
    except teams.TeamError as exc:
        raise OrderError(str(exc)) from exc
    if form.assignee_id is not None and form.assignee_id not in {
        u.id for u in alarms.staff_members(session)
    }:
        raise OrderError(_("Cette personne ne fait pas partie du personnel."))
    order = WorkOrder(
        title=form.title,
        team=form.team,
        assignee_id=form.assignee_id,
        due_on=form.due_on,
        place=form.place,
        created_by=actor_id,
        checklist_json=json.dumps(
            [
                {"text": line.strip()[:200], "done": False}
                for line in form.checklist.splitlines()
                if line.strip()
            ][:50]
        ),
        state="planned" if form.assignee_id and form.due_on else "new",
        territory_id=territory_id,
    )
    if alarm is not None:
        order.alarm_id = alarm.id
        order.lat, order.lon, order.commune_insee = alarm.lat, alarm.lon, alarm.commune_insee
        order.signal_at = alarm.first_seen
    items = []
    if report_ids:
        source = registry.reports()
        items = source.load(session, sorted(set(report_ids))) if source else []
        # another territory's report is not found here (nor is it given this territory's work)
        territory = order.territory_id or scope.default_id(session)
        items = [item for item in items if item.territory_id == territory]
        if len(items) != len(set(report_ids)):
            raise OrderError(_("Signalement introuvable."))
        if not any(item.is_open for item in items):
            raise OrderError(_("Ces signalements sont déjà clos."))
        first = items[0]
        if order.lat is None:
            order.lat, order.lon, order.commune_insee = first.lat, first.lon, first.commune_insee
        earliest = min(item.created_at for item in items)
        order.signal_at = min(order.signal_at or earliest, earliest)
    session.add(order)
    session.flush()
    for item in items:
        session.add(WorkOrderReport(order_id=order.id or 0, report_id=item.id))
    if alarm is not None and alarm.state == "open":
        alarms.acknowledge(session, alarm, actor_id=actor_id or 0)
    session.flush()
    _publish(session, order, "created")
    return order


def report_ids(session: Session, order_id: int) -> list[int]:
    return list(
        session.scalars(
            select(col(WorkOrderReport.report_id))
            .where(col(WorkOrderReport.order_id) == order_id)
            .order_by(col(WorkOrderReport.report_id))
        )
    )


def move(session: Session, order: WorkOrder, to: str) -> None:
    if to == "cancelled":
        allowed = order.state in OPEN
    else:
        allowed = to in MOVES.get(order.state, ())
    if not allowed:
        raise OrderError(_("Ce changement d'état n'est pas possible."))
    done = session.exec(
        update(WorkOrder)
        .where(col(WorkOrder.id) == order.id, col(WorkOrder.state) == order.state)
        .values(state=to)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise OrderError(_("Ce bon de travail vient d'être modifié par quelqu'un d'autre."))
    session.refresh(order)
    _publish(session, order, "state")


def tick(session: Session, order: WorkOrder, index: int, done: bool) -> None:
    items = checklist(order)
    if not 0 <= index < len(items):
        raise OrderError(_("Élément de liste inconnu."))
    items[index]["done"] = done
    order.checklist_json = json.dumps(items)
    session.add(order)


def process_photo(data: bytes, max_bytes: int) -> images.ProcessedPhoto:
    """Check a photo before any transaction (``OrderError`` with the reason in French)."""
    try:
        return images.process(data, max_bytes=max_bytes)
    except images.ImageRejected as exc:
        raise OrderError(str(exc)) from exc


def add_photo(
    session: Session,
    order: WorkOrder,
    kind: str,
    photo: images.ProcessedPhoto,
    media_dir: Path,
    *,
    actor_id: int | None,
) -> WorkOrderPhoto:
    if kind not in ("before", "after"):
        raise OrderError(_("Choix invalide."))
    if order.state not in OPEN:
        raise OrderError(_("Ce bon de travail est clos."))
    same = session.scalars(
        select(WorkOrderPhoto).where(
            col(WorkOrderPhoto.order_id) == order.id,
            col(WorkOrderPhoto.kind) == kind,
            col(WorkOrderPhoto.sha256) == photo.sha256,
        )
    ).first()
    if same is not None:  # the same photo sent again (a phone replaying what it kept): kept once
        return same
    stored = images.save(photo, media_dir)
    row = WorkOrderPhoto(
        order_id=order.id or 0,
        kind=kind,
        display_name=stored.display_name,
        thumb_name=stored.thumb_name,
        width=photo.width,
        height=photo.height,
        sha256=photo.sha256,
        uploaded_by=actor_id,
    )
    session.add(row)
    session.flush()
    return row


def photos(session: Session, order_id: int) -> list[WorkOrderPhoto]:
    return list(
        session.scalars(
            select(WorkOrderPhoto)
            .where(col(WorkOrderPhoto.order_id) == order_id)
            .order_by(col(WorkOrderPhoto.id))
        )
    )


def after_photo(session: Session, order_id: int, media_dir: Path) -> images.ProcessedPhoto | None:
    """The order's last "after" photo, ready to go with the reports it resolves."""
    row = session.scalars(
        select(WorkOrderPhoto)
        .where(col(WorkOrderPhoto.order_id) == order_id, col(WorkOrderPhoto.kind) == "after")
        .order_by(col(WorkOrderPhoto.id).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return images.process(images.open_path(row.display_name, media_dir).read_bytes())


def close(
    session: Session,
    order_id: int,
    *,
    actor_id: int | None,
    note: str,
    minutes: int | None,
    photo: images.ProcessedPhoto | None,
    media_dir: Path | None,
    now: datetime | None = None,
) -> WorkOrder:
    """Close an open order once; resolve its reports, tell their people, clear its alarm."""
    now = now or utcnow()
    values: dict[str, Any] = {"state": "done", "closed_at": now, "closed_by": actor_id}
    if minutes is not None:
        values["minutes_spent"] = minutes
    if note.strip():
        values["notes"] = note.strip()[:4000]
    done = session.exec(
        update(WorkOrder)
        .where(col(WorkOrder.id) == order_id, col(WorkOrder.state).in_(OPEN))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise OrderError(_("Ce bon de travail est déjà clos."))
    order = session.get(WorkOrder, order_id)
    assert order is not None
    session.refresh(order)
    ids = report_ids(session, order_id)
    source = registry.reports()
    if ids and source is not None:
        source.resolve(
            session,
            ids,
            actor_id,
            note.strip() or _("Intervention terminée : %(t)s.") % {"t": order.title},
            photo,
            media_dir,
        )
    if order.alarm_id:
        alarm = session.get(MaintenanceAlarm, order.alarm_id)
        if alarm is not None:
            alarms.clear(session, alarm, why="work_order", at=now, actor_id=actor_id)
    _publish(session, order, "closed")
    return order


def listing(
    session: Session, *, state: str = "open", team: str = "", limit: int = 300
) -> list[WorkOrder]:
    query = select(WorkOrder).where(*scope.where(session, WorkOrder))
    if state == "open":
        query = query.where(col(WorkOrder.state).in_(OPEN))
    elif state in STATES:
        query = query.where(col(WorkOrder.state) == state)
    if team:
        query = query.where(col(WorkOrder.team) == team)
    return list(
        session.scalars(query.order_by(col(WorkOrder.due_on), col(WorkOrder.id)).limit(limit))
    )


def get(session: Session, order_id: int) -> WorkOrder | None:
    """The order of that id if it belongs to the session's territory, else None."""
    order = session.get(WorkOrder, order_id)
    return order if order is not None and scope.is_here(session, order) else None


def teams_of(session: Session, user_id: int) -> set[tuple[int, str]]:
    """The teams a person belongs to, as (territory, code): the session's territory's only when one
    is bound (a code names a team in its own territory only)."""
    query = select(col(MaintenanceTeamMember.territory_id), col(MaintenanceTeamMember.team)).where(
        col(MaintenanceTeamMember.user_id) == user_id
    )
    if t := scope.here(session):
        query = query.where(col(MaintenanceTeamMember.territory_id) == t)
    return {(territory, code) for territory, code in session.execute(query)}


def today_for(session: Session, user_id: int, today: date) -> list[WorkOrder]:
    """An agent's open orders due today or before (theirs, or their team's unassigned ones), in
    route order: nearest neighbour from the first, those without a place last."""
    teams = teams_of(session, user_id)
    rows = [
        o
        for o in session.scalars(
            select(WorkOrder).where(
                col(WorkOrder.state).in_(OPEN),
                (col(WorkOrder.due_on) <= today) | col(WorkOrder.due_on).is_(None),
                *scope.where(session, WorkOrder),
            )
        )
        if o.assignee_id == user_id or (o.assignee_id is None and (o.territory_id, o.team) in teams)
    ]
    placed = sorted(
        ((o, o.lat, o.lon) for o in rows if o.lat is not None and o.lon is not None),
        key=lambda p: (p[0].due_on or today, p[0].id),
    )
    route: list[WorkOrder] = []
    here: tuple[WorkOrder, float, float] | None = None
    while placed:
        if here is not None:
            _last, lat, lon = here
            placed.sort(key=lambda p: math.hypot(p[1] - lat, p[2] - lon))
        here = placed.pop(0)
        route.append(here[0])
    unplaced = (o for o in rows if o.lat is None or o.lon is None)
    return route + sorted(unplaced, key=lambda o: o.id or 0)

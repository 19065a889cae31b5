"""The worker evaluates the rules as readings and reports arrive, by following the event outbox.

``step(engine)`` reads the events after the cursor, evaluates every active rule on them in one
write transaction and moves the cursor with a conditional update (two workers never evaluate the
same events twice: the second one's update finds the cursor moved and rolls back). A condition must
hold for the rule's duration before its alarm is raised (``maintenance_conditions`` remembers since
when); a reading where it no longer holds forgets it and clears the alarm, so a flapping value
inside the duration raises nothing. Once a minute the step also checks what no event says:
devices gone silent, reports past their deadline and meters whose night flow never stopped. ``rules_service`` runs it in every worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time as clock, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import sqlalchemy as sa
from sqlalchemy import func

from app import events, geo
from app.db import read_session, utcnow, write_session
from app.i18n import gettext as _
from app.interfaces import Place, WorkItem
from app.maintenance import alarms, registry
from app.maintenance.rules import OPS, active
from app.models.maintenance import (
    MaintenanceAlarm,
    MaintenanceCondition,
    MaintenanceCursor,
)
from app.models.measures import MeasureHourly
from app.territories import default_territory
from app.territories import zone as territory_zone

log = logging.getLogger(__name__)
CURSOR = "rules"
BATCH = 2000
POLL_S = 0.5
CHECK_EVERY = timedelta(seconds=60)


class CursorMoved(RuntimeError):
    """Another worker evaluated these events first."""


def _aware(value: Any, default: datetime) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return default
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return default


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# Where devices are changes rarely: each worker keeps what it looked up for PLACES_TTL_S (a device
# moved to another commune is seen by the rules within that time), per database.
PLACES_TTL_S = 300.0
_places: dict[tuple[str, str, str], tuple[float, Place]] = {}


def _locate(session: Session, layer: str, ids: set[str]) -> dict[str, Place]:
    locator = registry.LOCATORS.get(layer)
    if locator is None:
        return {}
    db = str(session.get_bind().engine.url)  # bound to an engine or to one of its connections
    now = time.monotonic()
    found: dict[str, Place] = {}
    missing = []
    for feature_id in ids:
        hit = _places.get((db, layer, feature_id))
        if hit is not None and now - hit[0] < PLACES_TTL_S:
            found[feature_id] = hit[1]
        else:
            missing.append(feature_id)
    if missing:
        located = locator.locate(session, sorted(missing))
        if len(_places) > 200_000:
            _places.clear()
        for feature_id in missing:
            place = located.get(feature_id)
            if place is not None:  # an unknown device is looked up again next time
                _places[(db, layer, feature_id)] = (now, place)
                found[feature_id] = place
    return found


@dataclass(frozen=True, slots=True)
class Measured:
    """A measure rule as plain values: read for every reading, so no ORM attribute on that path."""

    rule: Any  # a row of maintenance_rules
    id: int
    subject: str
    commune: str | None
    test: Callable[[float, float], bool]
    threshold: float
    territory_id: int


@dataclass
class Pass:
    """One evaluation: the rules, and the conditions and ongoing alarms they touch, read once."""

    session: Session
    rules: list[Any]  # rows of maintenance_rules
    by_layer: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    by_measure: dict[tuple[str, str], list[Measured]] = field(
        default_factory=lambda: defaultdict(list)
    )
    conditions: dict[tuple[int, str], MaintenanceCondition] = field(default_factory=dict)
    ongoing: set[tuple[int, str]] = field(default_factory=set)
    yields: list[Any] = field(default_factory=list)  # "production under expected yield" rules
    # the install's default territory: that of a device or report no territory claims
    default_territory: int = 0

    def __post_init__(self) -> None:
        if self.rules:
            first = default_territory(self.session)
            self.default_territory = first.id or 0 if first is not None else 0
        for rule in self.rules:
            self.by_layer[rule.layer].append(rule)
            if rule.kind == "yield":
                self.yields.append(rule)
            if rule.kind == "measure":
                self.by_measure[(rule.layer, rule.measure)].append(
                    Measured(
                        rule,
                        rule.id or 0,
                        rule.subject,
                        rule.commune_insee,
                        OPS[rule.op],
                        rule.threshold,
                        rule.territory_id,
                    )
                )
        if self.rules:
            self.conditions = {
                (c.rule_id, c.subject): c
                for c in self.session.scalars(select(MaintenanceCondition))
            }
            self.ongoing = {
                (rule_id or 0, subject)
                for rule_id, subject in self.session.execute(
                    select(col(MaintenanceAlarm.rule_id), col(MaintenanceAlarm.subject)).where(
                        col(MaintenanceAlarm.state).in_(alarms.ONGOING)
                    )
                )
            }

    # -- a condition holds, or not ---------------------------------------------------------------

    def holds(
        self,
        rule: Any,
        subject: str,
        at: datetime,
        *,
        source: str,
        feature_id: str,
        place: Place | None,
        value: str,
        title: str,
        category: str = "",
    ) -> None:
        key = (rule.id or 0, subject)
        cond = self.conditions.get(key)
        if cond is None:
            cond = MaintenanceCondition(rule_id=key[0], subject=subject, since=at, last_at=at)
            self.conditions[key] = cond
        else:
            cond.last_at = max(cond.last_at, at)
        self.session.add(cond)
        if (at - cond.since).total_seconds() < rule.duration_s:
            return
        alarm = alarms.raise_or_touch(
            self.session,
            rule,
            subject,
            source=source,
            feature_id=feature_id,
            place=place,
            at=at,
            value=value,
            title=title,
            category=category,
        )
        if alarm is not None:
            self.ongoing.add(key)

    def ends(self, rule: Any, subject: str, at: datetime) -> None:
        key = (rule.id or 0, subject)
        cond = self.conditions.pop(key, None)
        if cond is not None:
            self.session.delete(cond)
        if key in self.ongoing:
            self.ongoing.discard(key)
            alarm = alarms.ongoing(self.session, key[0], subject)
            if alarm is not None:
                alarms.clear(self.session, alarm, why="ended", at=at, actor_id=None)

    # -- events ----------------------------------------------------------------------------------

    def run(self, batch: Iterable[events.EventRecord]) -> None:
        wanted: dict[str, set[str]] = defaultdict(set)
        # a device's event also concerns the collections it belongs to (its group, its cabinet)
        devices = {"lights", "alarms"} if self.collective_layers() else set()
        todo = [
            e
            for e in batch
            if e.layer in self.by_layer or e.layer in devices or e.layer == "reports"
        ]
        for event in todo:
            if event.layer in ("sensors", "lights"):
                wanted[event.layer].add(event.feature_id)
            elif event.layer == "alarms" and isinstance(event.payload.get("device_id"), str):
                wanted["alarms"].add(event.payload["device_id"])
        places: dict[str, dict[str, Place]] = {}
        for layer, ids in wanted.items():
            places[layer] = _locate(self.session, layer, ids)
        touched: dict[tuple[str, str], datetime] = {}
        for event in todo:
            place: Place | None = None
            if event.layer in ("sensors", "lights"):
                place = places.get(event.layer, {}).get(event.feature_id)
                if event.layer in self.by_layer:
                    self._measure(event, place)
            elif event.layer == "alarms":
                device = str(event.payload.get("device_id", ""))
                place = places.get("alarms", {}).get(device)
                if event.layer in self.by_layer:
                    self._status(event, device, place)
            elif event.layer == "reports":
                self._report(event)
            for member_of in place.within if place else ():
                if member_of[0] in self.by_layer:
                    touched[member_of] = max(touched.get(member_of, event.at), event.at)
        self.collections(touched)

    # -- collections of devices (a lighting group, a cabinet): figures over their members ---------

    def collective_layers(self) -> list[str]:
        """The layers of the active rules whose locator is of collections (rules on a group...)."""
        return [
            layer
            for layer, rules in self.by_layer.items()
            if any(r.kind in ("measure", "status") for r in rules)
            and layer not in ("sensors", "lights", "alarms", "reports")
            and layer in registry.LOCATORS
        ]

    def collections(self, touched: dict[tuple[str, str], datetime]) -> None:
        """Evaluate the rules on the collections ``touched`` (layer, id) → when, read fresh."""
        by_layer: dict[str, list[str]] = defaultdict(list)
        for layer, feature_id in touched:
            by_layer[layer].append(feature_id)
        for layer, ids in by_layer.items():
            # never from the cache: the figures are what changed
            found = registry.LOCATORS[layer].locate(self.session, sorted(ids))
            for feature_id, place in found.items():
                self._collective(layer, feature_id, place, touched[(layer, feature_id)])

    def _collective(self, layer: str, feature_id: str, place: Place, at: datetime) -> None:
        figures = place.figures
        subject = f"{layer}:{feature_id}"
        for rule in self.by_layer.get(layer, ()):
            if rule.kind not in ("measure", "status") or not self._applies(rule, feature_id, place):
                continue
            members = figures.get("members", 0.0)
            if rule.kind == "status":  # the share of the members in that state, in %
                count = figures.get(rule.measure, 0.0)
                value = 100.0 * count / members if members else None
                said = f"{rule.measure} {count:g}/{members:g} ({value or 0:.0f} %)"
            else:
                value = figures.get(rule.measure)
                said = f"{rule.measure} = {value or 0:g}"
            if value is not None and OPS[rule.op](value, rule.threshold):
                self.holds(
                    rule,
                    subject,
                    at,
                    source=layer,
                    feature_id=feature_id,
                    place=place,
                    value=said,
                    title=f"{rule.name} · {place.label}",
                )
            elif (rule.id or 0, subject) in self.conditions or (
                rule.id or 0,
                subject,
            ) in self.ongoing:
                self.ends(rule, subject, at)

    def territory_of(self, place: Place | WorkItem | None) -> int:
        """The territory of a device or report (a rule only ever sees its own territory's)."""
        if place is None or place.territory_id is None:
            return self.default_territory
        return place.territory_id

    def _applies(self, rule: Any, feature_id: str, place: Place | None) -> bool:
        if rule.territory_id != self.territory_of(place):
            return False
        if rule.subject and rule.subject not in (feature_id, place.kind if place else None):
            return False
        return not rule.commune_insee or (
            place is not None and place.commune_insee == rule.commune_insee
        )

    def _measure(self, event: events.EventRecord, place: Place | None) -> None:
        values = event.payload.get("values", event.payload)
        if not isinstance(values, dict):
            return
        at: datetime | None = None
        kind = place.kind if place else None
        commune = place.commune_insee if place else None
        territory = self.territory_of(place)
        subject = f"{event.layer}:{event.feature_id}"
        for name, raw in values.items():
            candidates = self.by_measure.get((event.layer, name))
            if not candidates:
                continue
            value = _number(raw)
            if value is None:
                continue  # this reading says nothing of the measure
            for c in candidates:
                if c.territory_id != territory:
                    continue
                if c.subject and c.subject != event.feature_id and c.subject != kind:
                    continue
                if c.commune and c.commune != commune:
                    continue
                at = at or _aware(event.payload.get("ts"), event.at)
                key = (c.id, subject)
                if c.test(value, c.threshold):
                    self.holds(
                        c.rule,
                        subject,
                        at,
                        source=event.layer,
                        feature_id=event.feature_id,
                        place=place,
                        value=f"{name} = {value:g}",
                        title=f"{c.rule.name} · {place.label if place else event.feature_id}",
                    )
                elif key in self.conditions or key in self.ongoing:
                    self.ends(c.rule, subject, at)
        if self.yields and event.layer == "sensors" and "expected_w" in values:
            self._yield(event, values, place, subject)

    def _yield(
        self, event: events.EventRecord, values: dict[str, Any], place: Place | None, subject: str
    ) -> None:
        """A solar site's power against its clear-sky expectation (stated only while the sun is up)."""
        power, expected = _number(values.get("power_w")), _number(values.get("expected_w"))
        if power is None or expected is None or expected <= 0:
            return
        at = _aware(event.payload.get("ts"), event.at)
        for rule in self.yields:
            if not self._applies(rule, event.feature_id, place):
                continue
            key = (rule.id or 0, subject)
            if power < expected * (1 - rule.threshold / 100):
                self.holds(
                    rule,
                    subject,
                    at,
                    source=event.layer,
                    feature_id=event.feature_id,
                    place=place,
                    value=f"power_w = {power:g} / expected_w = {expected:g}",
                    title=f"{rule.name} · {place.label if place else event.feature_id}",
                )
            elif key in self.conditions or key in self.ongoing:
                self.ends(rule, subject, at)

    def _status(self, event: events.EventRecord, device: str, place: Place | None) -> None:
        kind = str(event.payload.get("alarm", ""))
        for rule in self.by_layer.get("alarms", ()):
            if rule.kind != "status" or not self._applies(rule, device, place):
                continue
            if not (
                rule.measure == kind or (rule.measure == "fault" and kind and kind != "offline")
            ):
                continue
            subject = f"device:{device}"
            if event.kind == "raised":
                self.holds(
                    rule,
                    subject,
                    event.at,
                    source="lights" if place and place.kind == "light" else "sensors",
                    feature_id=device,
                    place=place,
                    value=kind,
                    title=f"{rule.name} · {place.label if place else device}",
                )
            elif event.kind == "cleared":
                self.ends(rule, subject, event.at)

    def _report(self, event: events.EventRecord) -> None:
        source = registry.reports()
        rules = [r for r in self.by_layer.get("reports", ()) if r.kind == "cluster"]
        if source is None or not rules:
            return
        if event.kind == "created" and event.feature_id.isdigit():
            for item in source.load(self.session, [int(event.feature_id)]):
                for rule in rules:
                    self._cluster(rule, item, event.at)
        elif event.kind == "status":
            self.recheck_clusters(rules, event.at)

    def _cluster(self, rule: Any, item: Any, at: datetime) -> None:
        source = registry.reports()
        if source is None or (rule.category and rule.category != item.category):
            return
        if rule.territory_id != self.territory_of(item):
            return
        if rule.commune_insee and item.commune_insee != rule.commune_insee:
            return
        category = rule.category or item.category
        found = self._own(
            rule,
            source.around(
                self.session,
                item.lat,
                item.lon,
                rule.radius_m,
                at - timedelta(days=rule.days),
                category,
            ),
        )
        if len(found) < rule.count:
            return
        for alarm in self._ongoing_of(rule):  # the same cluster, grown by one
            if (
                alarm.value == category
                and alarm.lat is not None
                and alarm.lon is not None
                and geo.distance_m(alarm.lat, alarm.lon, item.lat, item.lon) <= rule.radius_m
            ):
                alarm.last_seen = max(alarm.last_seen, at)
                alarm.count = len(found)
                self.session.add(alarm)
                return
        place = Place(
            item.number,
            item.commune_insee,
            item.lat,
            item.lon,
            "report",
            territory_id=item.territory_id,
        )
        raised = alarms.raise_or_touch(
            self.session,
            rule,
            f"reports:{category}:{found[0].id}",
            source="reports",
            feature_id=str(item.id),
            place=place,
            at=at,
            value=category,
            category=category,
            title=_("%(rule)s · %(n)d signalements autour de %(ref)s")
            % {"rule": rule.name, "n": len(found), "ref": item.number},
        )
        if raised is not None:
            raised.count = len(found)

    def _own(self, rule: Any, items: Iterable[WorkItem]) -> list[WorkItem]:
        """The reports of the rule's territory among ``items`` (a cluster near a border counts the
        reports of its own side only)."""
        return [item for item in items if self.territory_of(item) == rule.territory_id]

    def _ongoing_of(self, rule: Any) -> list[MaintenanceAlarm]:
        return list(
            self.session.scalars(
                select(MaintenanceAlarm).where(
                    col(MaintenanceAlarm.rule_id) == rule.id,
                    col(MaintenanceAlarm.state).in_(alarms.ONGOING),
                )
            )
        )

    def recheck_clusters(self, rules: list[Any], at: datetime) -> None:
        source = registry.reports()
        if source is None:
            return
        for rule in rules:
            for alarm in self._ongoing_of(rule):
                if alarm.lat is None or alarm.lon is None:
                    continue
                found = self._own(
                    rule,
                    source.around(
                        self.session,
                        alarm.lat,
                        alarm.lon,
                        rule.radius_m,
                        at - timedelta(days=rule.days),
                        alarm.value,
                    ),
                )
                if len(found) < rule.count:
                    self.ends(rule, alarm.subject, at)

    # -- what no event says: silence, deadlines --------------------------------------------------

    def periodic(self, now: datetime) -> None:
        # the collections again, all of them: a condition held without a change still lasts (its
        # duration runs out), and a light moved or removed changes its group's figures
        for layer in self.collective_layers():
            for feature_id, place in registry.LOCATORS[layer].all(self.session).items():
                self._collective(layer, feature_id, place, now)
        for rule in self.rules:
            if rule.kind == "silence":
                self._silence(rule, now)
            elif rule.kind == "overdue":
                self._overdue(rule, now)
            elif rule.kind == "night_flow":
                self._night_flow(rule, now)
        self.recheck_clusters([r for r in self.rules if r.kind == "cluster"], now)

    def _silence(self, rule: Any, now: datetime) -> None:
        locator = registry.LOCATORS.get(rule.layer)
        if locator is None:
            return
        for feature_id, place in locator.all(self.session).items():
            if not place.period_s or not self._applies(rule, feature_id, place):
                continue
            subject = f"{rule.layer}:{feature_id}"
            last = place.last_seen
            if last is not None and (now - last).total_seconds() <= 2 * place.period_s:
                if (rule.id or 0, subject) in self.conditions or (
                    rule.id or 0,
                    subject,
                ) in self.ongoing:
                    self.ends(rule, subject, now)
                continue
            self.holds(
                rule,
                subject,
                now,
                source=rule.layer,
                feature_id=feature_id,
                place=place,
                value=last.isoformat() if last else "",
                title=f"{rule.name} · {place.label}",
            )

    def _night_lows(self, measure: str, nights: list[datetime]) -> list[dict[str, float]]:
        """For each night (its 02:00 local), the lowest ``measure`` of every entity from 02:00 to 04:00."""
        out = []
        for start in nights:
            rows = self.session.execute(
                sa.select(col(MeasureHourly.entity), func.min(col(MeasureHourly.low)))
                .where(
                    col(MeasureHourly.measure) == measure,
                    col(MeasureHourly.hour) >= start.astimezone(UTC),
                    col(MeasureHourly.hour) < (start + timedelta(hours=2)).astimezone(UTC),
                )
                .group_by(col(MeasureHourly.entity))
            ).all()
            out.append({entity: low for entity, low in rows if low is not None})
        return out

    def _night_flow(self, rule: Any, now: datetime) -> None:
        """A leak: the meter's lowest flow between 02:00 and 04:00 stayed above the threshold on each
        of the last ``count`` nights (a night counts once its 04:00 has passed)."""
        locator = registry.LOCATORS.get(rule.layer)
        if locator is None:
            return
        tz = territory_zone(self.session, rule.territory_id)
        local = now.astimezone(tz)
        last = local.date() if local.time() >= clock(4) else local.date() - timedelta(days=1)
        nights = [
            datetime.combine(last - timedelta(days=back), clock(2), tzinfo=tz)
            for back in range(rule.count)
        ]
        lows = self._night_lows(rule.measure or "flow", nights)
        for feature_id, place in locator.all(self.session).items():
            if not place.entity or not self._applies(rule, feature_id, place):
                continue
            subject = f"{rule.layer}:{feature_id}"
            found = [night.get(place.entity) for night in lows]
            if all(low is not None and low > rule.threshold for low in found):
                self.holds(
                    rule,
                    subject,
                    now,
                    source=rule.layer,
                    feature_id=feature_id,
                    place=place,
                    value=f"{rule.measure} ≥ {min(v for v in found if v is not None):g}",
                    title=f"{rule.name} · {place.label}",
                )
            elif (rule.id or 0, subject) in self.conditions or (
                rule.id or 0,
                subject,
            ) in self.ongoing:
                self.ends(rule, subject, now)

    def _overdue(self, rule: Any, now: datetime) -> None:
        source = registry.reports()
        if source is None:
            return
        late = {
            f"report:{item.id}": item
            for item in source.overdue(
                self.session, now - timedelta(days=rule.days), rule.territory_id
            )
            if (not rule.category or item.category == rule.category)
            and (not rule.commune_insee or item.commune_insee == rule.commune_insee)
            and self.territory_of(item) == rule.territory_id
        }
        for subject, item in late.items():
            if (rule.id or 0, subject) in self.ongoing:
                continue
            self.holds(
                rule,
                subject,
                now,
                source="reports",
                feature_id=str(item.id),
                place=Place(
                    item.number,
                    item.commune_insee,
                    item.lat,
                    item.lon,
                    "report",
                    territory_id=item.territory_id,
                ),
                value=item.number,
                title=f"{rule.name} · {item.number}",
                category=item.category,
            )
        for rule_id, subject in list(self.ongoing):
            if rule_id == rule.id and subject not in late:
                self.ends(rule, subject, now)


# --- the step and the worker service ----------------------------------------------------------


def _cursor(engine: Engine) -> int:
    with read_session(engine) as session:
        row = session.get(MaintenanceCursor, CURSOR)
        if row is not None:
            return row.last_event_id
    try:
        with write_session(engine) as session:
            session.add(MaintenanceCursor(name=CURSOR, last_event_id=0))
    except IntegrityError:
        pass  # another worker made it
    return 0


def step(engine: Engine, *, now: datetime | None = None, limit: int = BATCH) -> int:
    """Evaluate the rules on the next events (and the periodic checks when due); events read."""
    start = _cursor(engine)
    batch = [e for e in events.read_since(engine, start, limit)]
    now = now or utcnow()
    with write_session(engine) as session:
        # the row lock makes a second worker wait here, then find the cursor moved (PostgreSQL)
        cursor = session.get(
            MaintenanceCursor, CURSOR, with_for_update=True, populate_existing=True
        )
        if cursor is None or cursor.last_event_id != start:
            return 0
        due = cursor.checked_at is None or now - cursor.checked_at >= CHECK_EVERY
        if not batch and not due:
            return 0
        evaluation = Pass(session, active(session))
        evaluation.run(e for e in batch if e.layer != alarms.LAYER)
        if due:
            evaluation.periodic(now)
        moved = session.exec(
            update(MaintenanceCursor)
            .where(
                col(MaintenanceCursor.name) == CURSOR, col(MaintenanceCursor.last_event_id) == start
            )
            .values(
                last_event_id=batch[-1].id if batch else start,
                checked_at=now if due else cursor.checked_at,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            raise CursorMoved()
    return len(batch)


def drain(engine: Engine, *, now: datetime | None = None) -> int:
    """Evaluate until the outbox is read to its end (tests, the CLI)."""
    total = 0
    while True:
        try:
            count = step(engine, now=now)
        except CursorMoved:
            continue
        total += count
        if count < BATCH:
            return total


async def rules_service(rt: Any) -> None:
    """The worker service: evaluate the rules as events arrive."""
    while not rt.stop.is_set():
        try:
            count = await asyncio.to_thread(step, rt.engine)
        except CursorMoved:
            continue
        if count >= BATCH:
            continue
        try:
            await asyncio.wait_for(rt.stop.wait(), timeout=POLL_S)
        except TimeoutError:
            pass

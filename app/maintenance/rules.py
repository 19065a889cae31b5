"""Rules that staff write in a form: what they watch, when they hold, what they do.

A rule is one of seven kinds: ``measure`` (a number of a sensor or a light against a threshold),
``status`` (a lighting alarm of a light or sensor: offline, a fault), ``silence`` (no reading for
twice the expected period), ``cluster`` (N reports of a category within R metres in D days),
``overdue`` (a report unresolved past its deadline), ``yield`` (a solar site producing more than
``threshold`` % under its clear-sky expectation, ``expected_w`` of its readings) and ``night_flow``
(the minimum of a measure, a meter's flow, between 02:00 and 04:00 above ``threshold`` for ``count``
nights running: a leak). Its action is always an alarm; it may also
prepare an alert to residents, which staff review and send themselves: a rule never sends one.

A measure, status or silence rule may also watch a lighting group or a cabinet (layers ``groups``
and ``cabinets``, the subject its id or "" for each of them): a measure of the whole (``power_w``
summed, ``level`` averaged over the lights online), the share of its lights in a state in % (a
status rule's threshold: "30 % of the group's lights offline"), or all its lights silent.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.db import table_of, utcnow
from app.i18n import gettext as _
from app.maintenance import alarms, registry, scope, teams
from app.maintenance.terms import EDITED, SEVERITIES, SEVERITY_RANK
from app.models.maintenance import (
    MaintenanceAlarm,
    MaintenanceCondition,
    MaintenanceRule,
)
from app.models.territory import Commune

N_ = str

KINDS = {
    "measure": N_("Mesure d'un capteur ou d'un point lumineux"),
    "status": N_("État d'un appareil (hors ligne, panne signalée)"),
    "silence": N_("Aucune donnée pendant deux fois la période prévue"),
    "cluster": N_("Signalements proches de la même catégorie"),
    "overdue": N_("Signalement non résolu après son délai"),
    "yield": N_("Production solaire sous le rendement attendu"),
    "night_flow": N_("Débit de nuit (02:00–04:00) au-dessus du seuil plusieurs nuits de suite"),
}
SENSOR_KINDS = ("yield", "night_flow")  # rules on the sensors' readings that are not one measure
__all__ = ["EDITED", "SEVERITIES", "SEVERITY_RANK"]
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "=": operator.eq,
}
LAYERS = {
    "sensors": N_("Capteurs"),
    "lights": N_("Points lumineux"),
    "groups": N_("Groupes d'éclairage"),
    "cabinets": N_("Armoires d'éclairage"),
}
# A group or a cabinet is watched through figures over its lights: a measure of the whole, the share
# of its lights in a state (status rules: the threshold is a percentage), or all of them silent.
COLLECTIONS = ("groups", "cabinets")
COLLECTION_MEASURES = ("power_w", "level")  # the lights' measured power summed, their mean level
UNKNOWN_SUBJECT = {
    "groups": N_("Groupe d'éclairage inconnu : « %(id)s »."),
    "cabinets": N_("Armoire d'éclairage inconnue : « %(id)s »."),
}
STATUSES = {
    "offline": N_("Hors ligne"),
    "fault": N_("Panne signalée (toute panne)"),
    "defectiveLamp": N_("Lampe défectueuse"),
    "columnIssue": N_("Problème de mât"),
    "brokenLantern": N_("Lanterne cassée"),
}


class RuleError(ValueError):
    """A rule refused by what the database holds, with the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class RuleForm(BaseModel):
    """The rule form, checked before any row is written."""

    name: str = Field(min_length=3, max_length=120)
    kind: Literal["measure", "status", "silence", "cluster", "overdue", "yield", "night_flow"]
    layer: Literal["sensors", "lights", "groups", "cabinets", ""] = ""
    subject: str = Field(default="", max_length=64)
    measure: str = Field(default="", max_length=40, pattern=r"^[A-Za-z0-9_.]*$")
    op: Literal[">=", ">", "<=", "<", "="] = ">="
    threshold: float = Field(default=0.0, ge=-1e9, le=1e9)
    category: str = Field(default="", max_length=32)
    count: int = Field(default=3, ge=2, le=100)
    radius_m: int = Field(default=200, ge=10, le=5000)
    days: int = Field(default=7, ge=1, le=365)
    duration_min: int = Field(default=0, ge=0, le=10_080)
    severity: Literal["info", "minor", "major", "critical"] = "minor"
    commune_insee: str = Field(default="", max_length=5)
    quiet_min: int = Field(default=0, ge=0, le=43_200)
    prepare_alert: bool = False
    alert_title: str = Field(default="", max_length=120)
    team: str = Field(default="", max_length=20)

    @model_validator(mode="after")
    def _complete(self) -> RuleForm:
        if self.kind == "measure" and not self.measure:
            raise ValueError(_("Indiquez la mesure surveillée (par exemple pm25 ou queue)."))
        if self.kind in ("measure", "silence") and not self.layer:
            raise ValueError(_("Choisissez ce qui est surveillé : capteurs ou points lumineux."))
        if self.kind == "status" and self.measure not in STATUSES:
            raise ValueError(_("Choisissez l'état surveillé."))
        if self.layer in COLLECTIONS and self.kind in ("cluster", "overdue"):
            raise ValueError(
                _("Une règle sur les signalements ne porte ni sur un groupe ni sur une armoire.")
            )
        if (
            self.layer in COLLECTIONS
            and self.kind == "measure"
            and self.measure not in COLLECTION_MEASURES
        ):
            raise ValueError(
                _(
                    "Pour un groupe ou une armoire, la mesure est power_w (puissance totale, W) ou level (niveau moyen, %)."
                )
            )
        if self.layer in COLLECTIONS and self.kind == "status" and not 0 <= self.threshold <= 100:
            raise ValueError(
                _(
                    "Pour un groupe ou une armoire, le seuil est une part des points lumineux, entre 0 et 100 %."
                )
            )
        if self.kind == "yield" and not 0 < self.threshold < 100:
            raise ValueError(
                _("Indiquez l'écart toléré sous la production attendue, entre 0 et 100 %.")
            )
        if self.kind == "night_flow" and not self.measure:
            self.measure = "flow"
        return self


def check_team(session: Session, code: str, territory_id: int | None = None) -> None:
    """ValueError unless ``code`` is "" (no team) or a team of the rule's territory (by default the
    session's) that takes work."""
    if not code:
        return
    team = teams.get(session, code, territory_id)
    if team is None or not team.active:
        raise ValueError(_("Équipe inconnue."))


def check_commune(session: Session, insee: str) -> str | None:
    """The commune's INSEE code, or None for the whole territory; ValueError when unknown."""
    if not insee:
        return None
    commune = session.get(Commune, insee)
    if commune is None or not scope.is_here(session, commune):
        raise ValueError(_("Commune inconnue."))
    return insee


# What a rule's condition is made of: changing one of these makes it another condition.
CONDITION_FIELDS = (
    "kind",
    "layer",
    "subject",
    "measure",
    "op",
    "threshold",
    "category",
    "count",
    "radius_m",
    "days",
    "duration_s",
    "commune_insee",
)


def condition_of(rule: MaintenanceRule) -> tuple[Any, ...]:
    return tuple(getattr(rule, name) for name in CONDITION_FIELDS)


def as_form(rule: MaintenanceRule) -> dict[str, Any]:
    """The rule as the form shows it (for editing it in the same form)."""
    return {
        "name": rule.name,
        "kind": rule.kind,
        "layer": rule.layer if rule.layer in LAYERS else "",
        "subject": rule.subject,
        "measure": rule.measure,
        "op": rule.op,
        "threshold": f"{rule.threshold:g}",
        "category": rule.category,
        "count": rule.count,
        "radius_m": rule.radius_m,
        "days": rule.days,
        "duration_min": rule.duration_s // 60,
        "severity": rule.severity,
        "commune_insee": rule.commune_insee or "",
        "quiet_min": rule.quiet_s // 60,
        "prepare_alert": rule.prepare_alert,
        "alert_title": rule.alert_title,
        "team": rule.team,
    }


def edit(session: Session, rule: MaintenanceRule, form: RuleForm, *, actor_id: int | None) -> int:
    """Save a rule changed in the form and keep its alarms coherent; return how many were cleared.

    When the condition changes (what is watched, the threshold, the duration, the commune...), an
    alarm raised under the old condition says nothing of the new one: its ongoing alarms are cleared
    (``cleared_why="rule_edited"``) and the conditions it was timing are forgotten, so the worker
    evaluates the new condition from the next reading or report and raises again only if it holds
    for the new duration (the quiet period does not hold that back). A change that leaves the
    condition as it was (name, severity, quiet period, prepared alert) keeps the ongoing alarms open;
    they take the new severity.
    """
    before = condition_of(rule)
    save(session, form, actor_id=actor_id, rule=rule)
    ongoing = list(
        session.scalars(
            select(MaintenanceAlarm).where(
                col(MaintenanceAlarm.rule_id) == rule.id,
                col(MaintenanceAlarm.state).in_(alarms.ONGOING),
            )
        )
    )
    if condition_of(rule) == before:
        for alarm in ongoing:
            if alarm.severity != rule.severity:
                alarm.severity = rule.severity
                session.add(alarm)
        session.flush()
        return 0
    session.execute(
        sa.delete(table_of(MaintenanceCondition)).where(
            table_of(MaintenanceCondition).c.rule_id == rule.id
        )
    )
    cleared = 0
    now = utcnow()
    for alarm in ongoing:
        cleared += alarms.clear(session, alarm, why=EDITED, at=now, actor_id=actor_id)
    return cleared


def check_subject(session: Session, layer: str, subject: str) -> None:
    """RuleError unless a group or cabinet named as a rule's subject exists ("" means all of them)."""
    if layer not in COLLECTIONS or not subject:
        return
    locator = registry.LOCATORS.get(layer)
    found = locator.locate(session, [subject]).get(subject) if locator is not None else None
    if found is None or (scope.here(session) and found.territory_id != scope.here(session)):
        raise RuleError("subject", _(UNKNOWN_SUBJECT[layer]) % {"id": subject})


def check_category(session: Session, category: str, kept: str = "") -> None:
    """RuleError unless the report category is one the territory offers ("" means every one; an
    archived category is refused, but a rule keeps the category it had, archived since)."""
    source = registry.reports()
    if not category or category == kept or source is None:
        return
    if category not in {code for code, _label in source.offered(session)}:
        raise RuleError("category", _("Cette catégorie n’existe pas sur ce territoire."))


def _layer(form: RuleForm) -> str:
    if form.kind in ("cluster", "overdue"):
        return "reports"
    if form.kind in SENSOR_KINDS:
        return "sensors"
    if form.kind == "status":  # a device's lighting alarm, or a share of a collection's lights
        return form.layer if form.layer in COLLECTIONS else "alarms"
    return form.layer


def save(
    session: Session, form: RuleForm, *, actor_id: int | None, rule: MaintenanceRule | None = None
) -> MaintenanceRule:
    try:
        commune = check_commune(session, form.commune_insee)
    except ValueError as exc:
        raise RuleError("commune_insee", str(exc)) from exc
    check_subject(session, _layer(form), form.subject.strip())
    check_category(session, form.category, rule.category if rule is not None else "")
    if rule is None or form.team != rule.team:  # a rule keeps the archived team it had
        try:
            check_team(session, form.team, rule.territory_id if rule is not None else None)
        except ValueError as exc:
            raise RuleError("team", str(exc)) from exc
    rule = rule or MaintenanceRule(
        name=form.name,
        kind=form.kind,
        created_by=actor_id,
        territory_id=scope.new_row_territory(session),
    )
    rule.name = form.name
    rule.kind = form.kind
    rule.layer = _layer(form)
    rule.subject = form.subject.strip()
    rule.measure = form.measure
    rule.op = form.op
    rule.threshold = form.threshold
    rule.category = form.category
    rule.count = form.count
    rule.radius_m = form.radius_m
    rule.days = form.days
    rule.duration_s = form.duration_min * 60
    rule.severity = form.severity
    rule.commune_insee = commune
    rule.quiet_s = form.quiet_min * 60
    rule.prepare_alert = form.prepare_alert
    rule.alert_title = form.alert_title
    rule.team = form.team
    rule.created_at = rule.created_at or utcnow()
    session.add(rule)
    session.flush()
    return rule


def active(session: Session) -> list[Any]:
    """The active rules as plain rows (same attribute names as ``MaintenanceRule``): the worker reads
    them at every step, so no ORM object is built for them."""
    table = table_of(MaintenanceRule)
    return list(
        session.execute(sa.select(table).where(table.c.active.is_(True)).order_by(table.c.id)).all()
    )


def describe(rule: MaintenanceRule) -> str:
    """The condition in words, for lists and alarm titles (French source, translated)."""
    scope = rule.subject or _("tous")
    if rule.kind == "measure":
        text = f"{rule.measure} {rule.op} {rule.threshold:g} ({_(LAYERS.get(rule.layer, rule.layer))} : {scope})"
    elif rule.kind == "status" and rule.layer in COLLECTIONS:
        text = _(
            "part des points lumineux « %(state)s » %(op)s %(pct)s %% (%(layer)s : %(scope)s)"
        ) % {
            "state": _(STATUSES.get(rule.measure, rule.measure)),
            "op": rule.op,
            "pct": f"{rule.threshold:g}",
            "layer": _(LAYERS[rule.layer]),
            "scope": scope,
        }
    elif rule.kind == "status":
        text = _(STATUSES.get(rule.measure, rule.measure))
    elif rule.kind == "silence" and rule.layer in COLLECTIONS:
        text = _(
            "aucun point lumineux n'a donné de données pendant deux périodes (%(layer)s : %(s)s)"
        ) % {
            "layer": _(LAYERS[rule.layer]),
            "s": scope,
        }
    elif rule.kind == "silence":
        text = _("aucune donnée pendant deux périodes (%(s)s)") % {"s": scope}
    elif rule.kind == "yield":
        text = _("production plus de %(p)g %% sous l'attendu par ciel clair (%(s)s)") % {
            "p": rule.threshold,
            "s": scope,
        }
    elif rule.kind == "night_flow":
        text = _(
            "%(m)s minimal au-dessus de %(t)g entre 02:00 et 04:00, %(n)d nuits de suite (%(s)s)"
        ) % {
            "m": rule.measure,
            "t": rule.threshold,
            "n": rule.count,
            "s": scope,
        }
    elif rule.kind == "cluster":
        text = _("%(n)d signalements à moins de %(m)d m en %(d)d jours") % {
            "n": rule.count,
            "m": rule.radius_m,
            "d": rule.days,
        }
    else:
        text = _("signalement non résolu après %(d)d jours") % {"d": rule.days}
    if rule.duration_s:
        text += " " + _("pendant %(m)d min") % {"m": rule.duration_s // 60}
    return text

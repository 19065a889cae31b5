"""Staff pages of maintenance: the rules (a form, no code) and the alarms across every domain (list,
detail with the comment thread, acknowledge, clear, assign, ``/staff/alarms.json``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from app.auth import STAFF, current_user
from app.forms import Form, parse_form
from app.interfaces import Contribution, Link
from app.maintenance import alarms, registry, scope, teams, watches
from app.maintenance import rules as rules_logic
from app.models.accounts import User
from app.models.maintenance import MaintenanceAlarm, MaintenanceRule
from app.routes.maintenance_orders import ORDER_ROUTES
from app.routes.maintenance_teams import TEAM_ROUTES
from app.templating import page


def _labels(db: Session) -> dict[str, Any]:
    source = registry.reports()
    return {
        "severities": rules_logic.SEVERITIES,
        "states": alarms.STATES,
        "kinds": rules_logic.KINDS,
        "layers": rules_logic.LAYERS,
        "statuses": rules_logic.STATUSES,
        "teams": teams.names(db),
        "active_teams": teams.names(db, archived=False),
        "categories": source.categories(db) if source else [],
        "offered_categories": dict(source.offered(db)) if source else {},
        "communes": scope.communes_here(db),
    }


def _actor(request: Request[Any, Any, Any]) -> int:
    user = current_user(request)
    assert user is not None  # the STAFF guard let the request in
    return user.id


# --------------------------------------------------------------------------- alarms


@get("/staff/alarms", opt=STAFF, sync_to_thread=True, name="staff_alarms")
def alarm_list(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    show: Annotated[
        str, QueryParameter(name="state", pattern="^(ongoing|open|acknowledged|cleared|all)$")
    ] = "ongoing",
) -> Template:
    rows = alarms.listing(db, state=show)
    people = {u.id: u for u in alarms.staff_members(db)}
    return page(
        request,
        "maintenance/alarms.html",
        section="staff",
        rows=rows,
        state=show,
        people=people,
        **_labels(db),
    )


@get("/staff/alarms.json", opt=STAFF, sync_to_thread=True, name="staff_alarms_json")
def alarm_json(
    db: NamedDependency[Session],
    show: Annotated[
        str, QueryParameter(name="state", pattern="^(ongoing|open|acknowledged|cleared|all)$")
    ] = "all",
) -> Response[list[dict[str, Any]]]:
    return Response([alarms.as_json(a) for a in alarms.listing(db, state=show, limit=1000)])


def _alarm(db: Session, alarm_id: int) -> MaintenanceAlarm:
    alarm = alarms.get(db, alarm_id)
    if alarm is None:
        raise NotFoundException()
    return alarm


def _alarm_page(
    request: Request[Any, Any, Any],
    db: Session,
    alarm: MaintenanceAlarm,
    *,
    error: str = "",
    status_code: int = 200,
) -> Template:
    rule = db.get(MaintenanceRule, alarm.rule_id) if alarm.rule_id else None
    comments = alarms.comments(db, alarm.id or 0)
    authors = {
        u.id: u
        for u in db.scalars(
            select(User).where(col(User.id).in_({c.author_id for c in comments if c.author_id}))
        )
    }
    return page(
        request,
        "maintenance/alarm.html",
        section="staff",
        status_code=status_code,
        alarm=alarm,
        rule=rule,
        rule_text=rules_logic.describe(rule) if rule else "",
        comments=comments,
        authors=authors,
        staff_people=alarms.staff_members(db),
        prepared_alert_url=alarms.prepared_alert_url,
        error=error,
        **_labels(db),
    )


@get("/staff/alarms/{alarm_id:int}", opt=STAFF, sync_to_thread=True, name="staff_alarm")
def alarm_detail(
    request: Request[Any, Any, Any], db: NamedDependency[Session], alarm_id: FromPath[int]
) -> Template:
    return _alarm_page(request, db, _alarm(db, alarm_id))


def _change(
    request: Request[Any, Any, Any], db: Session, alarm_id: int, change: Any
) -> Template | Redirect:
    alarm = _alarm(db, alarm_id)
    try:
        change(alarm)
    except (alarms.AlarmError, ValueError) as exc:
        db.rollback()
        return _alarm_page(request, db, _alarm(db, alarm_id), error=str(exc), status_code=400)
    db.commit()
    return Redirect(f"/staff/alarms/{alarm_id}", status_code=303)


@post(
    "/staff/alarms/{alarm_id:int}/acknowledge",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_alarm_acknowledge",
)
def alarm_acknowledge(
    request: Request[Any, Any, Any], db: NamedDependency[Session], alarm_id: FromPath[int]
) -> Template | Redirect:
    actor = _actor(request)
    return _change(request, db, alarm_id, lambda a: alarms.acknowledge(db, a, actor_id=actor))


@post(
    "/staff/alarms/{alarm_id:int}/clear", opt=STAFF, sync_to_thread=True, name="staff_alarm_clear"
)
def alarm_clear(
    request: Request[Any, Any, Any], db: NamedDependency[Session], alarm_id: FromPath[int]
) -> Template | Redirect:
    actor = _actor(request)
    return _change(request, db, alarm_id, lambda a: alarms.clear_by_hand(db, a, actor_id=actor))


@post(
    "/staff/alarms/{alarm_id:int}/comment",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_alarm_comment",
)
def alarm_comment(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    alarm_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    actor = _actor(request)
    given = data.get("text")
    text = given if isinstance(given, str) else ""
    return _change(
        request, db, alarm_id, lambda a: alarms.comment(db, a, actor_id=actor, text=text)
    )


@post(
    "/staff/alarms/{alarm_id:int}/assign", opt=STAFF, sync_to_thread=True, name="staff_alarm_assign"
)
def alarm_assign(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    alarm_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    given = data.get("assignee_id")
    raw = given if isinstance(given, str) else ""

    def change(alarm: MaintenanceAlarm) -> None:
        if raw and not (raw.isascii() and raw.isdigit()):
            raise alarms.AlarmError("Choix invalide.")
        alarms.assign(db, alarm, int(raw) if raw else None)

    return _change(request, db, alarm_id, change)


# --------------------------------------------------------------------------- what staff hear about


def _many(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return [value] if isinstance(value, str) and value else []


def _watch_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    error: str = "",
    status_code: int = 200,
    posted: watches.WatchForm | None = None,
) -> Template:
    watch = watches.watch_of(db, _actor(request))
    chosen = {
        "communes": set(watch.communes.split(",")),
        "severities": set(watch.severities.split(",")),
        "sources": set(watch.sources.split(",")),
        "categories": set(watch.categories.split(",")),
        "teams": set(watch.teams.split(",")),
    }
    channels = {"push": watch.push, "email": watch.email, "digest": watch.digest}
    on_call = watch.on_call
    if posted is not None:  # a refused form comes back as it was sent
        chosen = {name: set(getattr(posted, name)) for name in chosen}
        channels = {"push": posted.push, "email": posted.email, "digest": posted.digest}
        on_call = posted.on_call
    return page(
        request,
        "maintenance/watch.html",
        section="staff",
        status_code=status_code,
        watch=watch,
        chosen=chosen,
        channels=channels,
        on_call=on_call,
        sources=watches.SOURCES,
        device_kinds=watches.DEVICE_KINDS,
        error=error,
        **_labels(db),
    )


@get("/staff/alarms/watch", opt=STAFF, sync_to_thread=True, name="staff_alarm_watch")
def watch_form(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _watch_page(request, db)


@post("/staff/alarms/watch", opt=STAFF, sync_to_thread=True, name="staff_alarm_watch_save")
def watch_save(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    fields: dict[str, Any] = {
        "communes": _many(data, "communes")[:20],
        "severities": _many(data, "severities")[:4],
        "sources": _many(data, "sources")[:3],
        "categories": _many(data, "categories")[:40],
        "teams": _many(data, "teams")[:20],
        "push": data.get("push") == "on",
        "email": data.get("email") == "on",
        "digest": data.get("delivery") == "digest",
        "on_call": data.get("on_call") == "on",
    }
    form, errors = parse_form(watches.WatchForm, fields)
    if form is None:
        return _watch_page(
            request,
            db,
            error=next(iter(errors.values())),
            status_code=400,
            posted=watches.WatchForm.model_construct(None, **fields),
        )
    known = {c.insee for c in scope.communes_here(db)}
    source = registry.reports()
    categories = {code for code, _label in source.offered(db)} if source else set()
    try:
        watches.save(db, _actor(request), form, known, categories)
    except ValueError as exc:
        db.rollback()
        return _watch_page(request, db, error=str(exc), status_code=400, posted=form)
    db.commit()
    return Redirect("/staff/alarms/watch?saved=1", status_code=303)


# --------------------------------------------------------------------------- rules


def _rules_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    editing: MaintenanceRule | None = None,
    saved: int | None = None,
    cleared: int = 0,
) -> Template:
    rows = list(
        db.scalars(
            select(MaintenanceRule)
            .where(*scope.where(db, MaintenanceRule))
            .order_by(col(MaintenanceRule.id))
        )
    )
    return page(
        request,
        "maintenance/rules.html",
        section="staff",
        status_code=status_code,
        rows=rows,
        describe=rules_logic.describe,
        form=form or {"kind": "measure", "layer": "sensors", "op": ">=", "severity": "minor"},
        errors=errors or {},
        editing=editing,
        saved=saved,
        cleared=cleared,
        **_labels(db),
    )


def _rule_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in data.items() if k != "_csrf_token"}
    fields["prepare_alert"] = fields.get("prepare_alert") == "on"
    return fields


def _rule(db: Session, rule_id: int) -> MaintenanceRule:
    rule = db.get(MaintenanceRule, rule_id)
    if rule is None or not scope.is_here(db, rule):
        raise NotFoundException()
    return rule


@get("/staff/rules", opt=STAFF, sync_to_thread=True, name="staff_rules")
def rule_list(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    saved: Annotated[int | None, QueryParameter(ge=1, le=2**62)] = None,
    cleared: Annotated[int, QueryParameter(ge=0, le=10**6)] = 0,
) -> Template:
    return _rules_page(request, db, saved=saved, cleared=cleared)


@post("/staff/rules", opt=STAFF, sync_to_thread=True, name="staff_rule_create")
def rule_create(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    form, errors = parse_form(rules_logic.RuleForm, _rule_fields(data))
    if form is not None:
        try:
            rules_logic.save(db, form, actor_id=_actor(request))
        except rules_logic.RuleError as exc:
            errors = {exc.field: str(exc)}
    if errors or form is None:
        db.rollback()
        return _rules_page(request, db, form=data, errors=errors, status_code=400)
    db.commit()
    return Redirect("/staff/rules", status_code=303)


@get("/staff/rules/{rule_id:int}", opt=STAFF, sync_to_thread=True, name="staff_rule")
def rule_edit_form(
    request: Request[Any, Any, Any], db: NamedDependency[Session], rule_id: FromPath[int]
) -> Template:
    rule = _rule(db, rule_id)
    return _rules_page(request, db, form=rules_logic.as_form(rule), editing=rule)


@post("/staff/rules/{rule_id:int}", opt=STAFF, sync_to_thread=True, name="staff_rule_edit")
def rule_edit(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    rule_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    rule = _rule(db, rule_id)
    form, errors = parse_form(rules_logic.RuleForm, _rule_fields(data))
    cleared = 0
    if form is not None:
        try:
            cleared = rules_logic.edit(db, rule, form, actor_id=_actor(request))
        except rules_logic.RuleError as exc:
            errors = {exc.field: str(exc)}
    if errors or form is None:
        db.rollback()
        return _rules_page(
            request, db, form=data, errors=errors, status_code=400, editing=_rule(db, rule_id)
        )
    db.commit()
    return Redirect(f"/staff/rules?saved={rule_id}&cleared={cleared}", status_code=303)


@post("/staff/rules/{rule_id:int}/toggle", opt=STAFF, sync_to_thread=True, name="staff_rule_toggle")
def rule_toggle(db: NamedDependency[Session], rule_id: FromPath[int]) -> Redirect:
    rule = _rule(db, rule_id)
    rule.active = not rule.active
    db.add(rule)
    db.commit()
    return Redirect("/staff/rules", status_code=303)


ROUTES = [
    watch_form,
    watch_save,
    alarm_list,
    alarm_json,
    alarm_detail,
    alarm_acknowledge,
    alarm_clear,
    alarm_comment,
    alarm_assign,
    rule_list,
    rule_create,
    rule_edit_form,
    rule_edit,
    rule_toggle,
    *ORDER_ROUTES,
    *TEAM_ROUTES,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(70, "/staff/alarms", "Alarmes", "Toutes les alarmes, de tous les domaines."),
        Link(71, "/staff/work-orders", "Bons de travail", "Les interventions des équipes."),
        Link(72, "/staff/rules", "Règles", "Ce qui lève une alarme."),
        Link(
            73,
            "/staff/teams",
            "Équipes",
            "Les équipes par métier et leurs membres.",
            roles=("admin",),
        ),
    ),
)

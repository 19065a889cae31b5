"""Renovation guide, staff pages: the local aids (written in a form, switched off and on), the
national rules of the year, and the appointment requests to follow up (new, called, done)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import Session

from app.auth import STAFF, signed_in_user
from app.forms import Form
from app.models.renovation import AidRule, Appointment
from app.renovation import appointments, local_aids, rules, scope
from app.routes.renovation_context import communes, labels
from app.templating import page


def _staff_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    year = rules.current_year(db)
    national = [r for r in rules.rules_of(db, year) if r.scope == "national"] if year else []
    return page(
        request,
        "renovation/staff.html",
        section="staff",
        status_code=status_code,
        year=year,
        national=national,
        local=rules.local_aids(db),
        errors=errors or {},
        form=form or {},
        communes=communes(db),
        waiting=len(appointments.listed(db, "new")),
        **labels(),
    )


@get("/renovation/staff", opt=STAFF, sync_to_thread=True, name="renovation_staff")
def staff_index(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _staff_page(request, db)


@post("/renovation/staff/aids", opt=STAFF, sync_to_thread=True, name="renovation_aid_add")
def add_aid(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    year = rules.current_year(db) or 2026
    rule, errors = local_aids.from_form(data, communes(db), year)
    if rule is None:
        db.rollback()
        return _staff_page(request, db, errors=errors, form=dict(data), status_code=400)
    local_aids.add(db, rule, signed_in_user(request).id)
    db.commit()
    return Redirect("/renovation/staff#local", status_code=303)


@post(
    "/renovation/staff/aids/{rule_id:int}/active",
    opt=STAFF,
    sync_to_thread=True,
    name="renovation_aid_active",
)
def set_active(db: NamedDependency[Session], rule_id: FromPath[int], data: Form) -> Redirect:
    rule = db.get(AidRule, rule_id)
    if rule is None or rule.scope != "local" or not scope.is_here(db, rule):
        raise NotFoundException()
    local_aids.set_active(db, rule, data.get("active") == "yes")
    db.commit()
    return Redirect("/renovation/staff#local", status_code=303)


def _appointments_page(
    request: Request[Any, Any, Any],
    db: Session,
    status: str,
    *,
    errors: dict[int, str] | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "renovation/staff_appointments.html",
        section="staff",
        status_code=status_code,
        rows=appointments.listed(db, status),
        status=status,
        status_labels=appointments.STATUS_LABELS,
        errors=errors or {},
        communes=communes(db),
    )


@get(
    "/renovation/staff/appointments",
    opt=STAFF,
    sync_to_thread=True,
    name="renovation_appointments",
)
def appointments_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], status: FromQuery[str] = ""
) -> Template:
    return _appointments_page(request, db, status)


@post(
    "/renovation/staff/appointments/{appointment_id:int}/status",
    opt=STAFF,
    sync_to_thread=True,
    name="renovation_appointment_status",
)
def appointment_status(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    appointment_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    row = db.get(Appointment, appointment_id)
    if row is None or not scope.is_here(db, row):
        raise NotFoundException()
    status = data.get("status")
    note = data.get("note")
    try:
        appointments.set_status(
            db,
            row,
            status if isinstance(status, str) else "",
            note if isinstance(note, str) else "",
        )
    except appointments.AppointmentError as exc:
        db.rollback()
        return _appointments_page(
            request, db, "", errors={appointment_id: str(exc)}, status_code=400
        )
    db.commit()
    return Redirect(f"/renovation/staff/appointments#appointment-{appointment_id}", status_code=303)


ROUTES = [staff_index, add_aid, set_active, appointments_page, appointment_status]

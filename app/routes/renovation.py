"""Renovation guide, residents' pages (open without an account): the questionnaire one step per
form post, the aids with their source and year, the remaining cost, the request for an appointment
with an adviser, and the list of the rules; ``ROUTES`` lists every renovation route (staff pages
in ``renovation_staff``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlmodel import Session

from app.auth import PUBLIC, current_user
from app.forms import Form
from app.interfaces import Contribution, Link
from app.renovation import appointments, engine, questionnaire, rules
from app.routes import renovation_staff as staff
from app.routes.renovation_context import communes, labels
from app.templating import page


def _step_page(
    request: Request[Any, Any, Any], db: Session, reading: questionnaire.Reading, year: int
) -> Template:
    return page(
        request,
        "renovation/step.html",
        section="renovation",
        status_code=400 if reading.errors else 200,
        reading=reading,
        steps=len(questionnaire.STEPS),
        communes=communes(db),
        choices=engine.bracket_choices(reading.bounds) if reading.bounds else [],
        year=year,
        **labels(),
    )


def _results_page(
    request: Request[Any, Any, Any],
    db: Session,
    reading: questionnaire.Reading,
    year: int,
    *,
    cost_error: str = "",
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> Template:
    household = reading.household
    aids = engine.evaluate(rules.rules_of(db, year), household, year)
    remaining = None if household.cost is None else engine.remaining_cost(household.cost, aids)
    return page(
        request,
        "renovation/results.html",
        section="renovation",
        status_code=400 if cost_error or errors else 200,
        reading=reading,
        household=household,
        aids=aids,
        grants=engine.grants_total(aids),
        remaining=remaining,
        cost_error=cost_error,
        errors=errors or {},
        form=form or {},
        year=year,
        communes=communes(db),
        ceilings=rules.ceilings_of(db, year),
        **labels(),
    )


def _not_ready(request: Request[Any, Any, Any]) -> Template:
    return page(request, "renovation/not_ready.html", section="renovation", status_code=503)


@get("/renovation", opt=PUBLIC, sync_to_thread=True, name="renovation_index")
def index(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    year = rules.current_year(db)
    if year is None:
        return _not_ready(request)
    reading = questionnaire.read({}, communes(db), year, [])
    return _step_page(request, db, reading, year)


@post("/renovation/questions", opt=PUBLIC, sync_to_thread=True, name="renovation_step")
def step(request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form) -> Template:
    """The next question, or the aids once every relevant question is answered."""
    year = rules.current_year(db)
    if year is None:
        return _not_ready(request)
    reading = questionnaire.read(data, communes(db), year, rules.ceilings_of(db, year))
    if reading.step != "results":
        return _step_page(request, db, reading, year)
    cost, cost_error = questionnaire.read_cost(data)
    reading.household.cost = cost
    return _results_page(request, db, reading, year, cost_error=cost_error)


@post("/renovation/appointments", opt=PUBLIC, sync_to_thread=True, name="renovation_appointment")
def request_appointment(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    year = rules.current_year(db)
    if year is None:
        return _not_ready(request)
    reading = questionnaire.read(data, communes(db), year, rules.ceilings_of(db, year))
    if reading.step != "results":
        db.rollback()
        return _step_page(request, db, reading, year)
    reading.household.cost = questionnaire.read_cost(data)[0]
    aids = engine.evaluate(rules.rules_of(db, year), reading.household, year)
    user = current_user(request)
    row, errors = appointments.request(
        db, data, reading.household, aids, year, user.id if user else None
    )
    if row is None:
        db.rollback()
        return _results_page(request, db, reading, year, errors=errors, form=dict(data))
    db.commit()
    return Redirect("/renovation/appointments/sent", status_code=303)


@get("/renovation/appointments/sent", opt=PUBLIC, sync_to_thread=True, name="renovation_sent")
def sent(request: Request[Any, Any, Any]) -> Template:
    return page(request, "renovation/sent.html", section="renovation")


@get("/renovation/rules", opt=PUBLIC, sync_to_thread=True, name="renovation_rules")
def rules_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    """Every rule the guide applies, with its conditions, source and year."""
    year = rules.current_year(db)
    return page(
        request,
        "renovation/rules.html",
        section="renovation",
        year=year,
        rules=rules.rules_of(db, year) if year else [],
        ceilings=rules.ceilings_of(db, year) if year else [],
        communes=communes(db),
        **labels(),
    )


ROUTES = [index, step, request_appointment, sent, rules_page, *staff.ROUTES]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(
            75,
            "/renovation/staff",
            "Rénovation de l’habitat",
            "Aides locales, règles nationales de l’année, demandes de rendez-vous.",
        ),
    ),
)

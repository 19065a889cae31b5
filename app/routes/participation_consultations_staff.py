"""Participation, consultations for staff: write a question set, publish it, close it early,
moderate the free-text answers before they are published, and export the responses as CSV."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.auth import STAFF
from app.db import saved_id
from app.forms import Form, parse_form
from app.i18n import gettext as _
from app.models.participation import QUESTION_KINDS, ConsultationAnswer, ConsultationQuestion
from app.participation import consultations as logic
from app.routes.participation_consultations import consultation_or_404
from app.routes.participation_context import communes, many, text
from app.templating import page


class ConsultationForm(BaseModel):
    title: str = Field(min_length=3, max_length=160)
    description: str = Field(default="", max_length=4000)
    first_day: date
    last_day: date


def _list_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    rows = logic.listed(db, staff=True)
    return page(
        request,
        "participation/staff_consultations.html",
        section="staff",
        status_code=status_code,
        consultations=rows,
        state=logic.state,
        states=logic.STATE_LABELS,
        counts={saved_id(c): logic.response_count(db, saved_id(c)) for c in rows},
        communes=communes(db),
        form=form or {},
        errors=errors or {},
    )


@get("/participation/staff/consultations", opt=STAFF, sync_to_thread=True, name="pc_staff_list")
def staff_list(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _list_page(request, db)


@post("/participation/staff/consultations", opt=STAFF, sync_to_thread=True, name="pc_staff_create")
def create(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    form, errors = parse_form(ConsultationForm, data)
    row = None
    if form is not None:
        try:
            row = logic.create(
                db,
                title=form.title,
                description=form.description,
                communes=many(data, "communes"),
                first_day=form.first_day,
                last_day=form.last_day,
                known_communes=communes(db),
            )
        except logic.ConsultationError as exc:
            errors = {"__all__": str(exc)}
    if row is None or errors:
        db.rollback()
        return _list_page(request, db, form=dict(data), errors=errors, status_code=400)
    db.commit()
    return Redirect(f"/participation/staff/consultations/{row.id}", status_code=303)


def _manage_page(
    request: Request[Any, Any, Any],
    db: Session,
    consultation_id: int,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    row = consultation_or_404(db, consultation_id, staff=True)
    return page(
        request,
        "participation/staff_consultation.html",
        section="staff",
        status_code=status_code,
        consultation=row,
        questions=logic.questions(db, consultation_id),
        options_of=logic.options_of,
        state=logic.state(row),
        states=logic.STATE_LABELS,
        kinds=logic.KIND_LABELS,
        responses=logic.response_count(db, consultation_id),
        to_moderate=logic.texts_to_moderate(db, consultation_id),
        consulted=logic.commune_codes(row),
        communes=communes(db),
        errors=errors or {},
        form=form or {"kind": "single", "required": "1"},
    )


@get(
    "/participation/staff/consultations/{consultation_id:int}",
    opt=STAFF,
    sync_to_thread=True,
    name="pc_staff_manage",
)
def manage(
    request: Request[Any, Any, Any], db: NamedDependency[Session], consultation_id: FromPath[int]
) -> Template:
    return _manage_page(request, db, consultation_id)


@post(
    "/participation/staff/consultations/{consultation_id:int}/questions",
    opt=STAFF,
    sync_to_thread=True,
    name="pc_staff_question",
)
def add_question(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    consultation_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    row = consultation_or_404(db, consultation_id, staff=True)
    kind = text(data, "kind", 8)
    options = data.get("options", "")
    try:
        logic.add_question(
            db,
            row,
            kind=kind if kind in QUESTION_KINDS else "",
            label=text(data, "label", 400),
            options=options if isinstance(options, str) else "",
            required=bool(data.get("required")),
        )
    except logic.ConsultationError as exc:
        db.rollback()
        return _manage_page(
            request,
            db,
            consultation_id,
            errors={"question": str(exc)},
            form=dict(data),
            status_code=400,
        )
    db.commit()
    return Redirect(f"/participation/staff/consultations/{consultation_id}", status_code=303)


@post(
    "/participation/staff/questions/{question_id:int}/delete",
    opt=STAFF,
    sync_to_thread=True,
    name="pc_staff_question_delete",
)
def delete_question(
    request: Request[Any, Any, Any], db: NamedDependency[Session], question_id: FromPath[int]
) -> Template | Redirect:
    question = db.get(ConsultationQuestion, question_id)
    if question is None:
        raise NotFoundException()
    row = consultation_or_404(db, question.consultation_id, staff=True)
    try:
        logic.remove_question(db, row, question_id)
    except logic.ConsultationError as exc:
        db.rollback()
        return _manage_page(
            request, db, saved_id(row), errors={"question": str(exc)}, status_code=400
        )
    db.commit()
    return Redirect(f"/participation/staff/consultations/{row.id}", status_code=303)


@post(
    "/participation/staff/consultations/{consultation_id:int}/state",
    opt=STAFF,
    sync_to_thread=True,
    name="pc_staff_state",
)
def change_state(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    consultation_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """``publish`` a draft, or ``close`` an open consultation now."""
    row = consultation_or_404(db, consultation_id, staff=True)
    action = text(data, "action", 10)
    try:
        if action == "publish":
            logic.publish(db, row)
        elif action == "close":
            logic.close_now(db, row)
        else:
            raise logic.ConsultationError(_("Action inconnue."))
    except logic.ConsultationError as exc:
        db.rollback()
        return _manage_page(
            request, db, consultation_id, errors={"state": str(exc)}, status_code=400
        )
    db.commit()
    return Redirect(f"/participation/staff/consultations/{consultation_id}", status_code=303)


@post(
    "/participation/staff/answers/{answer_id:int}/moderate",
    opt=STAFF,
    sync_to_thread=True,
    name="pc_staff_moderate",
)
def moderate(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    answer_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    row = db.get(ConsultationAnswer, answer_id)
    question = db.get(ConsultationQuestion, row.question_id) if row is not None else None
    if row is None or question is None:
        raise NotFoundException()
    consultation_or_404(db, question.consultation_id, staff=True)  # of the request's territory
    try:
        logic.moderate_text(db, row, text(data, "decision", 10))
    except logic.ConsultationError as exc:
        db.rollback()
        return _manage_page(
            request,
            db,
            question.consultation_id,
            errors={"moderation": str(exc)},
            status_code=400,
        )
    db.commit()
    return Redirect(
        f"/participation/staff/consultations/{question.consultation_id}#moderation",
        status_code=303,
    )


@get(
    "/participation/staff/consultations/{consultation_id:int}/responses.csv",
    opt=STAFF,
    sync_to_thread=True,
    name="pc_staff_export",
)
def export(db: NamedDependency[Session], consultation_id: FromPath[int]) -> Response[bytes]:
    row = consultation_or_404(db, consultation_id, staff=True)
    return Response(
        logic.export_csv(db, row).encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": (
                f'attachment; filename="eclor-consultation-{consultation_id}-reponses.csv"'
            ),
            "cache-control": "no-store",
        },
    )


ROUTES = [staff_list, create, manage, add_question, delete_question, change_state, moderate, export]

"""Participation, consultations for residents: the question set, answering once (signed in, a
resident of the communes consulted), and the results once it closes, as a page and as JSON."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import Session

from app.auth import PUBLIC, SIGNED_IN, CurrentUser, current_user
from app.db import saved_id
from app.forms import Form
from app.i18n import gettext as _
from app.models.participation import Consultation
from app.participation import consultations as logic
from app.participation import maps
from app.routes.participation_context import communes
from app.routes.participation_context import declare_commune as declare
from app.participation import scope
from app.routes.participation_context import get_or_none, me_of
from app.templating import page
from app.territories import zone as territory_zone


def consultation_or_404(db: Session, consultation_id: int, *, staff: bool = False) -> Consultation:
    """A consultation of the request's territory; a draft only for staff."""
    row = get_or_none(db, Consultation, consultation_id)
    if row is None or not scope.is_here(db, row) or (not row.published and not staff):
        raise NotFoundException()
    return row


def _is_staff(user: CurrentUser | None) -> bool:
    return user is not None and user.is_staff


def _page(
    request: Request[Any, Any, Any],
    db: Session,
    consultation: Consultation,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Template:
    user = current_user(request)
    me = me_of(db, user)
    cid = saved_id(consultation)
    return page(
        request,
        "participation/consultation.html",
        section="participation",
        status_code=status_code,
        consultation=consultation,
        questions=logic.questions(db, cid),
        options_of=logic.options_of,
        days=partial(logic.days, zone=territory_zone(db, consultation.territory_id)),
        tile_url=request.app.state.settings.tile_url,
        tile_attribution=request.app.state.settings.tile_attribution,
        state=logic.state(consultation),
        states=logic.STATE_LABELS,
        me=me,
        answered=me is not None and logic.has_answered(db, cid, saved_id(me)),
        may_answer=me is not None and logic.may_answer(consultation, me.commune_insee),
        consulted=logic.commune_codes(consultation),
        communes=communes(db),
        errors=errors or {},
        form=form or {},
        notice=notice,
    )


@get(
    "/participation/consultations/{consultation_id:int}",
    opt=PUBLIC,
    sync_to_thread=True,
    name="pc_consultation",
)
def consultation_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    consultation_id: FromPath[int],
    answered: FromQuery[str] = "",
) -> Template:
    row = consultation_or_404(db, consultation_id, staff=_is_staff(current_user(request)))
    notice = _("Merci, votre réponse est enregistrée.") if answered else ""
    return _page(request, db, row, notice=notice)


@post(
    "/participation/consultations/{consultation_id:int}/answer",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="pc_answer",
)
def answer(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    consultation_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    row = consultation_or_404(db, consultation_id)
    user = current_user(request)
    me = me_of(db, user)
    if me is None:
        raise NotFoundException()
    qs = logic.questions(db, consultation_id)
    answers, errors = logic.read_answers(qs, data, communes(db))
    if not errors:
        try:
            logic.record(db, row, answers, user_id=saved_id(me), commune_insee=me.commune_insee)
        except logic.ConsultationError as exc:
            errors = {"__all__": str(exc)}
    if errors:
        db.rollback()
        return _page(request, db, row, errors=errors, form=data, status_code=400)
    db.commit()
    return Redirect(f"/participation/consultations/{consultation_id}?answered=1", status_code=303)


@post(
    "/participation/consultations/{consultation_id:int}/commune",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="pc_commune",
)
def declare_commune(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    consultation_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    """A resident declares their commune once (changing it afterwards is the town hall's job)."""
    row = consultation_or_404(db, consultation_id)
    if not declare(db, current_user(request), data):
        db.rollback()
        return _page(
            request,
            db,
            row,
            errors={"commune_insee": _("Choisissez une commune du territoire.")},
            status_code=400,
        )
    db.commit()
    return Redirect(f"/participation/consultations/{consultation_id}", status_code=303)


def _closed(row: Consultation) -> bool:
    return logic.state(row) == "closed"


@get(
    "/participation/consultations/{consultation_id:int}/results",
    opt=PUBLIC,
    sync_to_thread=True,
    name="pc_results",
)
def results(
    request: Request[Any, Any, Any], db: NamedDependency[Session], consultation_id: FromPath[int]
) -> Template:
    row = consultation_or_404(db, consultation_id)
    closed = _closed(row)
    by_commune = logic.responses_by_commune(db, consultation_id) if closed else {}
    return page(
        request,
        "participation/consultation_results.html",
        section="participation",
        status_code=200 if closed else 403,
        consultation=row,
        closed=closed,
        results=logic.results(db, row) if closed else [],
        responses=logic.response_count(db, consultation_id) if closed else 0,
        by_commune=by_commune,
        area_map=maps.commune_map(db, by_commune),
        communes=communes(db),
        kinds=logic.KIND_LABELS,
        tile_url=request.app.state.settings.tile_url,
        tile_attribution=request.app.state.settings.tile_attribution,
    )


@get(
    "/api/participation/consultations/{consultation_id:int}/results",
    opt=PUBLIC,
    sync_to_thread=True,
    name="pc_results_api",
)
def results_api(db: NamedDependency[Session], consultation_id: FromPath[int]) -> dict[str, Any]:
    row = consultation_or_404(db, consultation_id)
    closed = _closed(row)
    return {
        "consultation": {
            "id": row.id,
            "title": row.title,
            "communes": logic.commune_codes(row),
            "opens_at": row.opens_at.isoformat(),
            "closes_at": row.closes_at.isoformat(),
            "state": logic.state(row),
        },
        "closed": closed,
        "responses": logic.response_count(db, consultation_id) if closed else None,
        "questions": [
            {
                "id": r.question.id,
                "kind": r.question.kind,
                "label": r.question.label,
                "respondents": r.respondents,
                "options": [
                    {"label": o.label, "count": o.count, "points": o.points}
                    if r.question.kind == "ranking"
                    else {"label": o.label, "count": o.count}
                    for o in r.options
                ],
                "texts": r.texts,
                "places": [{"lat": lat, "lon": lon} for lat, lon in r.places],
                "by_commune": r.by_commune,
            }
            for r in (logic.results(db, row) if closed else [])
        ],
    }


ROUTES = [consultation_page, answer, declare_commune, results, results_api]

"""Consultations: a question set staff publish for the territory or some communes, between two
dates; each resident answers once; the results are published when it closes.

Questions are single or multiple choice, a ranking of the options, a free text or a place. Free
texts are shown to nobody but staff until staff publish them (:func:`moderate_text`). The one
response per resident is held by a unique constraint on (consultation, respondent), so two
submissions at once give one response.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.participation.scope import consultations_here, here
from app.csvsafe import csv_cell
from app.db import saved_id, utcnow
from app.i18n import gettext as _
from app.models.participation import (
    QUESTION_KINDS,
    Consultation,
    ConsultationAnswer,
    ConsultationQuestion,
    ConsultationResponse,
)
from app.territories import zone as territory_zone


def N_(message: str) -> str:
    return message


KIND_LABELS = {
    "single": N_("Choix unique"),
    "multiple": N_("Choix multiple"),
    "ranking": N_("Classement"),
    "text": N_("Texte libre"),
    "place": N_("Un lieu"),
}
STATE_LABELS = {
    "draft": N_("Brouillon"),
    "upcoming": N_("À venir"),
    "open": N_("Ouverte"),
    "closed": N_("Terminée"),
}
CHOICE_KINDS = ("single", "multiple", "ranking")
MAX_OPTIONS = 20
MAX_TEXT = 2000
TERRITORY_BOX = (
    48.9,
    50.2,
    5.4,
    6.6,
)  # lat min, lat max, lon min, lon max: both sides of the border


class ConsultationError(ValueError):
    """A refused step; the message is in French (translated when raised)."""


# --- state ------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


def state(consultation: Consultation, now: datetime | None = None) -> str:
    now = now or utcnow()
    if not consultation.published:
        return "draft"
    if _aware(now) < _aware(consultation.opens_at):
        return "upcoming"
    if _aware(now) >= _aware(consultation.closes_at):
        return "closed"
    return "open"


def commune_codes(consultation: Consultation) -> list[str]:
    return [c for c in consultation.communes.split(",") if c]


def may_answer(consultation: Consultation, commune_insee: str | None) -> bool:
    codes = commune_codes(consultation)
    return not codes or commune_insee in codes


def respondent_key(user_id: int) -> str:
    return f"user:{user_id}"


def day_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From the start of ``first`` to the end of ``last``, in the territory's time (``zone``), as UTC."""
    opens = datetime.combine(first, time(0, 0), tzinfo=zone)
    closes = datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=zone)
    utc = utcnow().tzinfo
    return opens.astimezone(utc), closes.astimezone(utc)


def days(consultation: Consultation, zone: ZoneInfo) -> tuple[date, date]:
    """The first and the last day it is open, in its territory's time (``zone``)."""
    first = _aware(consultation.opens_at).astimezone(zone).date()
    last = (_aware(consultation.closes_at) - timedelta(seconds=1)).astimezone(zone).date()
    return first, last


def options_of(question: ConsultationQuestion) -> list[str]:
    return [line for line in question.options.splitlines() if line.strip()]


def questions(session: Session, consultation_id: int) -> list[ConsultationQuestion]:
    return list(
        session.scalars(
            select(ConsultationQuestion)
            .where(col(ConsultationQuestion.consultation_id) == consultation_id)
            .order_by(col(ConsultationQuestion.position), col(ConsultationQuestion.id))
        ).all()
    )


def listed(session: Session, *, staff: bool = False) -> list[Consultation]:
    query = select(Consultation).where(*consultations_here(session))
    query = query.order_by(col(Consultation.closes_at).desc())
    if not staff:
        query = query.where(col(Consultation.published).is_(True))
    return list(session.scalars(query.limit(200)).all())


# --- staff: writing a consultation ------------------------------------------------------------


def create(
    session: Session,
    *,
    title: str,
    description: str,
    communes: Sequence[str],
    first_day: date,
    last_day: date,
    known_communes: Mapping[str, str],
) -> Consultation:
    if last_day < first_day:
        raise ConsultationError(_("La date de fin doit suivre la date de début."))
    unknown = [c for c in communes if c not in known_communes]
    if unknown:
        raise ConsultationError(_("Choisissez des communes du territoire."))
    opens_at, closes_at = day_bounds(first_day, last_day, territory_zone(session))
    row = Consultation(
        title=title,
        description=description,
        communes=",".join(sorted(set(communes))),
        opens_at=opens_at,
        closes_at=closes_at,
    )
    if here(session):  # the territory of the staff who make it
        row.territory_id = here(session)
    session.add(row)
    session.flush()
    return row


def add_question(
    session: Session,
    consultation: Consultation,
    *,
    kind: str,
    label: str,
    options: str,
    required: bool,
) -> ConsultationQuestion:
    if consultation.published:
        raise ConsultationError(_("Une consultation publiée ne change plus de questions."))
    if kind not in QUESTION_KINDS:
        raise ConsultationError(_("Choisissez le type de question."))
    label = " ".join(label.split())
    if not 3 <= len(label) <= 300:
        raise ConsultationError(_("Écrivez une question de 3 à 300 caractères."))
    lines = [" ".join(line.split()) for line in options.splitlines() if line.strip()]
    if kind in CHOICE_KINDS:
        if not 2 <= len(lines) <= MAX_OPTIONS:
            raise ConsultationError(
                _("Donnez de 2 à %(n)s choix, un par ligne.") % {"n": MAX_OPTIONS}
            )
        if len({line.casefold() for line in lines}) != len(lines):
            raise ConsultationError(_("Deux choix sont identiques."))
        if any(len(line) > 120 for line in lines):
            raise ConsultationError(_("Un choix fait plus de 120 caractères."))
    else:
        lines = []
    position = (
        session.scalar(
            select(func.max(ConsultationQuestion.position)).where(
                col(ConsultationQuestion.consultation_id) == consultation.id
            )
        )
        or 0
    )
    row = ConsultationQuestion(
        consultation_id=saved_id(consultation),
        position=position + 1,
        kind=kind,
        label=label,
        options="\n".join(lines),
        required=required,
    )
    session.add(row)
    session.flush()
    return row


def remove_question(session: Session, consultation: Consultation, question_id: int) -> None:
    if consultation.published:
        raise ConsultationError(_("Une consultation publiée ne change plus de questions."))
    row = session.get(ConsultationQuestion, question_id)
    if row is None or row.consultation_id != consultation.id:
        raise ConsultationError(_("Cette question n’existe pas."))
    session.delete(row)
    session.flush()


def publish(session: Session, consultation: Consultation) -> None:
    if not questions(session, saved_id(consultation)):
        raise ConsultationError(_("Ajoutez au moins une question avant de publier."))
    consultation.published = True
    session.add(consultation)


def close_now(session: Session, consultation: Consultation, now: datetime | None = None) -> None:
    now = now or utcnow()
    if state(consultation, now) != "open":
        raise ConsultationError(_("Seule une consultation ouverte peut être close."))
    consultation.closes_at = now
    session.add(consultation)


# --- residents: answering -----------------------------------------------------------------------


@dataclass
class Answer:
    question_id: int
    choices: list[int] = field(default_factory=list)  # option indexes; for a ranking, in order
    text: str = ""
    lat: float | None = None
    lon: float | None = None
    commune_insee: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.choices or self.text or self.lat is not None or self.commune_insee)


def _values(form: Mapping[str, Any], name: str) -> list[str]:
    value = form.get(name)
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return [value.strip()] if isinstance(value, str) and value.strip() else []


def _index(raw: str, n: int) -> int | None:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        return None
    value = int(raw)
    return value if value < n else None


def _number(raw: str) -> float | None:
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        return None
    return value if value == value else None  # NaN is no place


def _one(q: ConsultationQuestion, form: Mapping[str, Any], communes: Mapping[str, str]) -> Answer:
    name = f"q{q.id}"
    answer = Answer(saved_id(q))
    n = len(options_of(q))
    if q.kind in ("single", "multiple"):
        raw = _values(form, name)
        picked = [_index(v, n) for v in raw]
        if any(p is None for p in picked):
            raise ConsultationError(_("Choix invalide."))
        if q.kind == "single" and len(raw) > 1:
            raise ConsultationError(_("Un seul choix est possible."))
        answer.choices = sorted({p for p in picked if p is not None})
    elif q.kind == "ranking":
        ranks: dict[int, int] = {}
        for i in range(n):
            raw = _values(form, f"{name}_{i}")
            if not raw:
                continue
            rank = _index(raw[0], n + 1)
            if rank is None or rank == 0:
                raise ConsultationError(_("Classement invalide."))
            ranks[i] = rank
        if ranks:
            if len(ranks) != n or sorted(ranks.values()) != list(range(1, n + 1)):
                raise ConsultationError(
                    _("Classez chaque choix, chacun à un rang différent de 1 à %(n)s.") % {"n": n}
                )
            answer.choices = sorted(ranks, key=lambda i: ranks[i])
    elif q.kind == "text":
        raw_text = form.get(name)
        text_value = raw_text.strip() if isinstance(raw_text, str) else ""
        if len(text_value) > MAX_TEXT:
            raise ConsultationError(
                _("Votre réponse dépasse %(n)s caractères.") % {"n": f"{MAX_TEXT:,}"}
            )
        answer.text = text_value
    else:  # place: a point on the map, or a commune without the map
        lat_raw, lon_raw = _values(form, f"{name}_lat"), _values(form, f"{name}_lon")
        commune = _values(form, f"{name}_commune")
        if lat_raw or lon_raw:
            lat = _number(lat_raw[0]) if lat_raw else None
            lon = _number(lon_raw[0]) if lon_raw else None
            lat_min, lat_max, lon_min, lon_max = TERRITORY_BOX
            if (
                lat is None
                or lon is None
                or not (lat_min <= lat <= lat_max)
                or not (lon_min <= lon <= lon_max)
            ):
                raise ConsultationError(_("Ce lieu n’est pas sur le territoire."))
            answer.lat, answer.lon = lat, lon
        if commune:
            if commune[0] not in communes:
                raise ConsultationError(_("Choisissez une commune du territoire."))
            answer.commune_insee = commune[0]
    return answer


def read_answers(
    qs: Sequence[ConsultationQuestion], form: Mapping[str, Any], communes: Mapping[str, str]
) -> tuple[list[Answer], dict[str, str]]:
    """The answers of a submitted form, and a French message per question that is wrong."""
    answers: list[Answer] = []
    errors: dict[str, str] = {}
    for q in qs:
        try:
            answer = _one(q, form, communes)
        except ConsultationError as exc:
            errors[f"q{q.id}"] = str(exc)
            continue
        if answer.empty and q.required:
            errors[f"q{q.id}"] = _("Cette question demande une réponse.")
            continue
        answers.append(answer)
    return answers, errors


def has_answered(session: Session, consultation_id: int, user_id: int) -> bool:
    return (
        session.scalar(
            select(col(ConsultationResponse.id)).where(
                col(ConsultationResponse.consultation_id) == consultation_id,
                col(ConsultationResponse.respondent) == respondent_key(user_id),
            )
        )
        is not None
    )


ALREADY = N_("Vous avez déjà répondu à cette consultation : une réponse par habitant.")


def record(
    session: Session,
    consultation: Consultation,
    answers: Sequence[Answer],
    *,
    user_id: int,
    commune_insee: str | None,
    now: datetime | None = None,
) -> ConsultationResponse:
    """Record one resident's response (in the caller's write transaction), or raise
    :class:`ConsultationError`. The response row goes in first, in a savepoint: a second
    submission of the same resident, even at the same moment, meets the unique constraint."""
    if state(consultation, now) != "open":
        raise ConsultationError(_("Cette consultation n’est pas ouverte."))
    if not may_answer(consultation, commune_insee):
        raise ConsultationError(
            _("Cette consultation est réservée aux habitants des communes concernées.")
        )
    if has_answered(session, saved_id(consultation), user_id):
        raise ConsultationError(_(ALREADY))
    return insert_response(
        session, consultation, answers, respondent_key(user_id), user_id, commune_insee
    )


def insert_response(
    session: Session,
    consultation: Consultation,
    answers: Sequence[Answer],
    respondent: str,
    user_id: int | None,
    commune_insee: str | None,
) -> ConsultationResponse:
    """Write a response and its answers (the checks are :func:`record`'s)."""
    response = ConsultationResponse(
        consultation_id=saved_id(consultation),
        respondent=respondent,
        user_id=user_id,
        commune_insee=commune_insee,
    )
    try:
        with session.begin_nested():
            session.add(response)
            session.flush()
    except IntegrityError:
        raise ConsultationError(_(ALREADY)) from None
    response_id = saved_id(response)
    kinds = {
        q.id: q.kind
        for q in session.scalars(
            select(ConsultationQuestion).where(
                col(ConsultationQuestion.consultation_id) == consultation.id
            )
        )
    }
    for a in answers:
        kind = kinds.get(a.question_id)
        if kind in ("single", "multiple"):
            for choice in a.choices:
                session.add(
                    ConsultationAnswer(
                        response_id=response_id, question_id=a.question_id, choice=choice
                    )
                )
        elif kind == "ranking":
            for rank, choice in enumerate(a.choices, start=1):
                session.add(
                    ConsultationAnswer(
                        response_id=response_id, question_id=a.question_id, choice=choice, rank=rank
                    )
                )
        elif kind == "text" and a.text:
            session.add(
                ConsultationAnswer(
                    response_id=response_id,
                    question_id=a.question_id,
                    text=a.text,
                    text_status="pending",
                )
            )
        elif kind == "place" and not a.empty:
            session.add(
                ConsultationAnswer(
                    response_id=response_id,
                    question_id=a.question_id,
                    lat=a.lat,
                    lon=a.lon,
                    commune_insee=a.commune_insee,
                )
            )
    session.flush()
    return response


# --- results ------------------------------------------------------------------------------------


@dataclass
class OptionResult:
    label: str
    count: int  # respondents who chose it (ranking: who ranked it first)
    share: float  # of the question's respondents, 0..1
    points: int = 0  # ranking: Borda points (n for a first place ... 1 for the last)
    mean_rank: float | None = None


@dataclass
class QuestionResult:
    question: ConsultationQuestion
    respondents: int
    options: list[OptionResult] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # published free texts only
    places: list[tuple[float, float]] = field(default_factory=list)  # rounded to 0.001°
    by_commune: dict[str, int] = field(default_factory=dict)  # place answers given by commune


def response_count(session: Session, consultation_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(col(ConsultationResponse.consultation_id) == consultation_id)
        )
        or 0
    )


def responses_by_commune(session: Session, consultation_id: int) -> dict[str, int]:
    rows = session.execute(
        select(col(ConsultationResponse.commune_insee), func.count())
        .where(
            col(ConsultationResponse.consultation_id) == consultation_id,
            col(ConsultationResponse.commune_insee).is_not(None),
        )
        .group_by(col(ConsultationResponse.commune_insee))
    ).all()
    return {insee: n for insee, n in rows}


def results(session: Session, consultation: Consultation) -> list[QuestionResult]:
    """Per question: counts per option (ranking: Borda points and mean rank), published texts,
    places. Read with one grouped query per kind, whatever the number of responses."""
    qs = questions(session, saved_id(consultation))
    ids = [saved_id(q) for q in qs]
    if not ids:
        return []
    answered = dict(
        session.execute(
            select(
                col(ConsultationAnswer.question_id),
                func.count(func.distinct(ConsultationAnswer.response_id)),
            )
            .where(col(ConsultationAnswer.question_id).in_(ids))
            .group_by(col(ConsultationAnswer.question_id))
        ).all()
    )
    counts: dict[tuple[int, int], tuple[int, int]] = {}
    for qid, choice, n, rank_sum in session.execute(
        select(
            col(ConsultationAnswer.question_id),
            col(ConsultationAnswer.choice),
            func.count(),
            func.coalesce(func.sum(ConsultationAnswer.rank), 0),
        )
        .where(
            col(ConsultationAnswer.question_id).in_(ids),
            col(ConsultationAnswer.choice).is_not(None),
        )
        .group_by(col(ConsultationAnswer.question_id), col(ConsultationAnswer.choice))
    ).all():
        counts[(qid, choice)] = (int(n), int(rank_sum))
    out: list[QuestionResult] = []
    for q in qs:
        qid = saved_id(q)
        total = int(answered.get(qid, 0))
        result = QuestionResult(q, total)
        labels = options_of(q)
        if q.kind in ("single", "multiple"):
            for i, label in enumerate(labels):
                n = counts.get((qid, i), (0, 0))[0]
                result.options.append(OptionResult(label, n, n / total if total else 0.0))
        elif q.kind == "ranking":
            size = len(labels)
            for i, label in enumerate(labels):
                n, rank_sum = counts.get((qid, i), (0, 0))
                points = n * (size + 1) - rank_sum
                result.options.append(
                    OptionResult(
                        label,
                        n,
                        n / total if total else 0.0,
                        points=points,
                        mean_rank=rank_sum / n if n else None,
                    )
                )
            result.options.sort(key=lambda o: -o.points)
        elif q.kind == "text":
            result.texts = list(
                session.scalars(
                    select(col(ConsultationAnswer.text))
                    .where(
                        col(ConsultationAnswer.question_id) == qid,
                        col(ConsultationAnswer.text_status) == "published",
                    )
                    .order_by(col(ConsultationAnswer.id))
                ).all()
            )
        else:
            for lat, lon, commune in session.execute(
                select(
                    col(ConsultationAnswer.lat),
                    col(ConsultationAnswer.lon),
                    col(ConsultationAnswer.commune_insee),
                ).where(col(ConsultationAnswer.question_id) == qid)
            ).all():
                if lat is not None and lon is not None:
                    result.places.append((round(lat, 3), round(lon, 3)))
                if commune:
                    result.by_commune[commune] = result.by_commune.get(commune, 0) + 1
        out.append(result)
    return out


# --- staff: moderation and export -----------------------------------------------------------------


def texts_to_moderate(
    session: Session, consultation_id: int
) -> list[tuple[ConsultationAnswer, str]]:
    """Free texts not yet published or hidden, oldest first, with their question's label."""
    rows = session.execute(
        select(ConsultationAnswer, col(ConsultationQuestion.label))
        .join(ConsultationQuestion, col(ConsultationQuestion.id) == ConsultationAnswer.question_id)
        .where(
            col(ConsultationQuestion.consultation_id) == consultation_id,
            col(ConsultationAnswer.text_status) == "pending",
        )
        .order_by(col(ConsultationAnswer.id))
        .limit(200)
    ).all()
    return [(a, label) for a, label in rows]


def moderate_text(session: Session, answer: ConsultationAnswer, decision: str) -> None:
    if decision not in ("published", "hidden") or answer.text_status == "":
        raise ConsultationError(_("Choisissez : publier ou masquer."))
    answer.text_status = decision
    session.add(answer)


def export_rows(session: Session, consultation: Consultation) -> tuple[list[str], list[list[Any]]]:
    """One row per response (numbered, never named): date, commune, then one column a question.

    Choices by their label (several joined with « | »; a ranking in order, joined with « > »),
    free texts with their moderation state, places as « lat, lon » rounded to 0.001° or the commune.
    """
    qs = questions(session, saved_id(consultation))
    zone = territory_zone(session, consultation.territory_id)
    header = [_("réponse"), _("date"), _("commune")] + [f"Q{q.position} {q.label}" for q in qs]
    responses = session.execute(
        select(
            col(ConsultationResponse.id),
            col(ConsultationResponse.created_at),
            col(ConsultationResponse.commune_insee),
        )
        .where(col(ConsultationResponse.consultation_id) == consultation.id)
        .order_by(col(ConsultationResponse.id))
    ).all()
    ids = [r[0] for r in responses]
    cells: dict[tuple[int, int], list[ConsultationAnswer]] = {}
    for start in range(0, len(ids), 500):
        for a in session.scalars(
            select(ConsultationAnswer)
            .where(col(ConsultationAnswer.response_id).in_(ids[start : start + 500]))
            .order_by(col(ConsultationAnswer.rank), col(ConsultationAnswer.choice))
        ):
            cells.setdefault((a.response_id, a.question_id), []).append(a)
    labels = {saved_id(q): options_of(q) for q in qs}
    out: list[list[Any]] = []
    for number, (rid, created, commune) in enumerate(responses, start=1):
        row: list[Any] = [
            number,
            _aware(created).astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            commune or "",
        ]
        for q in qs:
            answers = cells.get((rid, saved_id(q)), [])
            if q.kind in CHOICE_KINDS:
                names = [labels[saved_id(q)][a.choice] for a in answers if a.choice is not None]
                row.append((" > " if q.kind == "ranking" else " | ").join(names))
            elif q.kind == "text":
                row.append(" ; ".join(f"[{a.text_status}] {a.text}" for a in answers))
            else:
                row.append(
                    " ; ".join(
                        f"{a.lat:.3f}, {a.lon:.3f}"
                        if a.lat is not None and a.lon is not None
                        else (a.commune_insee or "")
                        for a in answers
                    )
                )
        out.append(row)
    return header, out


def export_csv(session: Session, consultation: Consultation) -> str:
    """:func:`export_rows` as CSV (with a byte-order mark, for spreadsheets), formulas defused."""
    header, rows = export_rows(session, consultation)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(h) for h in header])
    for values in rows:
        writer.writerow([csv_cell(v) for v in values])
    return "\ufeff" + out.getvalue()


def erased_respondent() -> str:
    return "erased:" + secrets.token_hex(16)

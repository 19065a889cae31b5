"""Neighbour sharing reminders and lapsing ads, sent by an hourly sweep job.

Reminders (the day before pick-up, on the due date, when overdue) are
recorded in ``sharing_reminders`` under a unique key before they are queued,
so each goes out once however many times the sweep runs.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.db import utcnow, write_session, saved_id
from app.i18n import gettext as _
from app.jobs import JobContext
from app.models.sharing import (
    Loan,
    LoanReminder,
    SharedItem,
)
from app.notify import notify
from app.sharing.loans import TOPIC, ensure_sweep, local_today
from app.territories import zones

# --- reminders --------------------------------------------------------------------------------


def _remind_once(session: Session, loan: Loan, kind: str, for_date: date, now: datetime) -> bool:
    """Record the reminder; False when it was already sent (so nothing is queued twice)."""
    if session.scalars(
        select(col(LoanReminder.id)).where(
            col(LoanReminder.loan_id) == loan.id,
            col(LoanReminder.kind) == kind,
            col(LoanReminder.for_date) == for_date,
        )
    ).first():
        return False
    try:
        with session.begin_nested():
            session.add(
                LoanReminder(loan_id=saved_id(loan), kind=kind, for_date=for_date, sent_at=now)
            )
    except IntegrityError:
        return False  # another sweep recorded it first
    return True


def send_reminders(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Reminders due now (day before pick-up, due date, overdue), each sent once; returns counts.

    Every territory's loans in one sweep, each on the day of its object's commune's territory."""
    now = now or utcnow()
    places = zones(session)
    todays = {local_today(zone, now) for zone in {*places.by_territory.values(), places.default}}
    sent = {"pickup_eve": 0, "due": 0, "overdue": 0}
    rows = session.execute(
        select(Loan, SharedItem)
        .join(SharedItem, col(SharedItem.id) == col(Loan.item_id))
        .where(
            col(Loan.kind) == "loan",
            or_(
                and_(
                    col(Loan.status) == "accepted",
                    col(Loan.start_on).in_([t + timedelta(days=1) for t in todays]),
                ),
                and_(col(Loan.status) == "picked_up", col(Loan.end_on) <= max(todays)),
            ),
        )
    ).all()
    for loan, item in rows:
        assert loan.end_on is not None
        today = local_today(places.of_commune(item.commune_insee), now)
        if loan.status == "accepted":
            if loan.start_on != today + timedelta(days=1):
                continue  # tomorrow already elsewhere, not yet in the object's territory
            if _remind_once(session, loan, "pickup_eve", loan.start_on, now):
                notify(
                    session,
                    [loan.borrower_id, item.owner_id],
                    topic=TOPIC,
                    title=_("Demain : %(title)s") % {"title": item.title},
                    body=_("Le prêt commence demain. Convenez de l'heure de remise."),
                    url=f"/sharing/loans/{loan.id}",
                    dedupe=f"loan-eve:{loan.id}:{loan.start_on}",
                )
                sent["pickup_eve"] += 1
        elif loan.end_on > today:
            continue  # today already elsewhere, not yet in the object's territory
        elif loan.end_on == today:
            if _remind_once(session, loan, "due", loan.end_on, now):
                notify(
                    session,
                    [loan.borrower_id],
                    topic=TOPIC,
                    title=_("À rendre aujourd'hui : %(title)s") % {"title": item.title},
                    body=_("Pensez à rapporter l'objet à son propriétaire."),
                    url=f"/sharing/loans/{loan.id}",
                    dedupe=f"loan-due:{loan.id}:{loan.end_on}",
                )
                sent["due"] += 1
        elif _remind_once(session, loan, "overdue", loan.end_on, now):
            notify(
                session,
                [loan.borrower_id, item.owner_id],
                topic=TOPIC,
                title=_("En retard : %(title)s") % {"title": item.title},
                body=_(
                    "La date de retour est passée (%(d)s). Rendez l'objet ou demandez une prolongation."
                )
                % {"d": loan.end_on.strftime("%d/%m")},
                url=f"/sharing/loans/{loan.id}",
                urgency="high",
                dedupe=f"loan-overdue:{loan.id}:{loan.end_on}",
            )
            sent["overdue"] += 1
    return sent


def warn_lapsing(session: Session, now: datetime | None = None) -> int:
    """Tell owners three days before their ad lapses (once per expiry date)."""
    now = now or utcnow()
    items = session.scalars(
        select(SharedItem).where(
            col(SharedItem.status) == "active",
            col(SharedItem.expires_at) > now,
            col(SharedItem.expires_at) <= now + timedelta(days=3),
        )
    ).all()
    for item in items:
        notify(
            session,
            [item.owner_id],
            topic=TOPIC,
            title=_("Votre annonce expire bientôt : %(title)s") % {"title": item.title},
            body=_("Renouvelez-la pour la garder visible 30 jours de plus."),
            url=f"/sharing/items/{item.id}",
            dedupe=f"item-lapse:{item.id}:{item.expires_at.date()}",
        )
    return len(items)


def run_sweep(ctx: JobContext, payload: dict[str, object]) -> None:
    now = utcnow()
    with write_session(ctx.engine) as session:
        send_reminders(session, now)
        warn_lapsing(session, now)
        open_loans = session.scalars(
            select(col(Loan.id)).where(col(Loan.status).in_(("accepted", "picked_up"))).limit(1)
        ).first()
        live_ads = session.scalars(
            select(col(SharedItem.id)).where(col(SharedItem.status) == "active").limit(1)
        ).first()
        if open_loans or live_ads:
            ensure_sweep(session, now)

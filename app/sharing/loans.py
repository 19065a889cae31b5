"""Neighbour sharing: the loan calendar, gifts, lapsing ads, reminders and "looking for" requests.

- The calendar never double-books: a loan request reads the item's holding
  loans and inserts its own inside one write transaction that first locks
  the item row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write
  transactions are already serialised), so two concurrent requests for
  overlapping dates cannot both succeed.
- Ads lapse 30 days after they were published or last renewed: a lapsed ad
  is simply no longer listed (the query compares ``expires_at`` with now).
- Reminders (the day before pick-up, on the due date, when overdue) are
  sent by an hourly sweep job (``app.sharing.reminders``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session, col

from app.db import utcnow, saved_id
from app.i18n import NC_
from app.i18n import gettext as _
from app.jobs import enqueue
from app.models.accounts import User
from app.models.territory import Commune
from app.models.sharing import (
    HOLDING_STATES,
    CategoryWatch,
    ItemReport,
    Loan,
    LoanMessage,
    SharedItem,
    WantedRequest,
)
from app.notify import notify
from app.sharing.scope import items_in
from app.territories import commune_zone

LAPSE = timedelta(days=30)
BOOKING_HORIZON_DAYS = 120
TOPIC = "sharing"

CATEGORIES: dict[str, str] = {
    "tools": "Outils, bricolage",
    "garden": "Jardin",
    "kitchen": "Cuisine, réception",
    "kids": "Enfants, puériculture",
    "sports": "Sport, loisirs",
    "books": "Livres, jeux",
    "electronics": "Électronique",
    "furniture": "Meubles, maison",
    "clothes": "Vêtements",
    "other": "Autre",
}
CONDITIONS: dict[str, str] = {
    "new": "Neuf",
    "good": "Bon état",
    "fair": "État correct",
    "worn": "Usé mais fonctionne",
}
LOAN_LABELS = {
    "requested": "Demandé",
    "accepted": "Accepté",
    "picked_up": NC_("loan state", "En cours"),
    "returned": "Rendu",
    "declined": "Refusé",
    "cancelled": "Annulé",
    "reserved": "Réservé",
    "handed_over": "Donné",
}


class SharingError(ValueError):
    """A request that cannot be honoured; the message is French, for the person."""


def local_today(zone: ZoneInfo, now: datetime | None = None) -> date:
    """Today in ``zone`` (the territory of the object's commune, or of the page)."""
    return (now or utcnow()).astimezone(zone).date()


# --- ads --------------------------------------------------------------------------------------


def publish(session: Session, item: SharedItem, now: datetime | None = None) -> SharedItem:
    now = now or utcnow()
    item.created_at = item.renewed_at = now
    item.expires_at = now + LAPSE
    session.add(item)
    session.flush()
    ensure_sweep(session, now)
    return item


def renew(item: SharedItem, now: datetime | None = None) -> None:
    """Another 30 days from now (also brings a lapsed ad back)."""
    now = now or utcnow()
    if item.status not in ("active", "paused"):
        raise SharingError(_("Cette annonce ne peut plus être renouvelée."))
    item.renewed_at = now
    item.expires_at = now + LAPSE


def is_listed(item: SharedItem, now: datetime | None = None) -> bool:
    return item.status == "active" and item.expires_at > (now or utcnow())


def listed_filter(now: datetime):
    return and_(col(SharedItem.status) == "active", col(SharedItem.expires_at) > now)


def search(
    session: Session,
    *,
    q: str = "",
    category: str = "",
    commune: str = "",
    kind: str = "",
    now: datetime | None = None,
    limit: int = 60,
    territory_id: int = 0,
) -> list[SharedItem]:
    """Listed ads (active, not lapsed) of the territory (0: every one) matching the filters,
    newest first."""
    now = now or utcnow()
    stmt = select(SharedItem).where(listed_filter(now), *items_in(territory_id))
    if q:
        like = f"%{q.lower()[:80]}%"
        stmt = stmt.where(
            or_(
                func.lower(SharedItem.title).like(like),
                func.lower(SharedItem.description).like(like),
            )
        )
    if category in CATEGORIES:
        stmt = stmt.where(col(SharedItem.category) == category)
    if commune:
        stmt = stmt.where(col(SharedItem.commune_insee) == commune)
    if kind in ("lend", "give"):
        stmt = stmt.where(col(SharedItem.kind) == kind)
    return list(
        session.scalars(stmt.order_by(col(SharedItem.renewed_at).desc()).limit(limit)).all()
    )


def report_item(session: Session, item: SharedItem, reporter_id: int, reason: str) -> bool:
    """Record a report of an abusive ad; False when this person already reported it."""
    if session.scalars(
        select(col(ItemReport.id)).where(
            col(ItemReport.item_id) == item.id, col(ItemReport.reporter_id) == reporter_id
        )
    ).first():
        return False
    session.add(ItemReport(item_id=saved_id(item), reporter_id=reporter_id, reason=reason[:500]))
    session.flush()
    return True


# --- loans ------------------------------------------------------------------------------------


def _lock_item(session: Session, item_id: int) -> SharedItem:
    item = session.scalars(
        select(SharedItem)
        .where(col(SharedItem.id) == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if item is None:
        raise SharingError(_("Cette annonce n'existe plus."))
    return item


def overlapping(
    session: Session, item_id: int, start: date, end: date, *, exclude: int | None = None
) -> bool:
    stmt = select(col(Loan.id)).where(
        col(Loan.item_id) == item_id,
        col(Loan.kind) == "loan",
        col(Loan.status).in_(HOLDING_STATES),
        col(Loan.start_on) <= end,
        col(Loan.end_on) >= start,
    )
    if exclude is not None:
        stmt = stmt.where(col(Loan.id) != exclude)
    return session.scalars(stmt.limit(1)).first() is not None


def booked_ranges(session: Session, item_id: int, today: date) -> list[tuple[date, date, str]]:
    rows = session.execute(
        select(col(Loan.start_on), col(Loan.end_on), col(Loan.status))
        .where(
            col(Loan.item_id) == item_id,
            col(Loan.kind) == "loan",
            col(Loan.status).in_(HOLDING_STATES),
            col(Loan.end_on) >= today,
        )
        .order_by(col(Loan.start_on))
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def request_loan(
    session: Session,
    item_id: int,
    borrower_id: int,
    start: date,
    end: date,
    message: str = "",
    now: datetime | None = None,
) -> Loan:
    """Ask to borrow an object for [start, end] (both inclusive), in the caller's write transaction."""
    now = now or utcnow()
    item = _lock_item(session, item_id)
    today = local_today(commune_zone(session, item.commune_insee), now)
    if item.kind != "lend" or not is_listed(item, now):
        raise SharingError(_("Cet objet n'est pas disponible au prêt."))
    if item.owner_id == borrower_id:
        raise SharingError(_("Vous ne pouvez pas emprunter votre propre objet."))
    if start < today:
        raise SharingError(_("La date de début est passée."))
    if end < start:
        raise SharingError(_("La date de retour doit suivre la date de début."))
    if (end - start).days + 1 > item.max_days:
        raise SharingError(_("Ce prêt est limité à %(n)s jours.") % {"n": item.max_days})
    if start > today + timedelta(days=BOOKING_HORIZON_DAYS):
        raise SharingError(_("On ne réserve pas plus de quatre mois à l'avance."))
    if overlapping(session, item_id, start, end):
        raise SharingError(
            _("L'objet est déjà réservé sur une partie de ces dates. Choisissez d'autres dates.")
        )
    loan = Loan(
        item_id=item_id,
        borrower_id=borrower_id,
        kind="loan",
        status="requested",
        start_on=start,
        end_on=end,
        created_at=now,
        updated_at=now,
    )
    session.add(loan)
    session.flush()
    if message.strip():
        session.add(
            LoanMessage(
                loan_id=saved_id(loan),
                sender_id=borrower_id,
                body=message.strip()[:2000],
                created_at=now,
            )
        )
    notify(
        session,
        [item.owner_id],
        topic=TOPIC,
        title=_("Demande de prêt : %(title)s") % {"title": item.title},
        body=_("Du %(start)s au %(end)s. Acceptez ou refusez la demande.")
        % {"start": start.strftime("%d/%m"), "end": end.strftime("%d/%m")},
        url=f"/sharing/loans/{loan.id}",
        dedupe=f"loan-requested:{loan.id}",
    )
    return loan


def reserve_gift(
    session: Session, item_id: int, taker_id: int, message: str = "", now: datetime | None = None
) -> Loan:
    now = now or utcnow()
    item = _lock_item(session, item_id)
    if item.kind != "give" or not is_listed(item, now):
        raise SharingError(_("Ce don n'est plus disponible."))
    if item.owner_id == taker_id:
        raise SharingError(_("Vous ne pouvez pas réserver votre propre don."))
    taken = session.scalars(
        select(col(Loan.id)).where(
            col(Loan.item_id) == item_id, col(Loan.kind) == "gift", col(Loan.status) == "reserved"
        )
    ).first()
    if taken:
        raise SharingError(_("Ce don est déjà réservé par un voisin."))
    loan = Loan(
        item_id=item_id,
        borrower_id=taker_id,
        kind="gift",
        status="reserved",
        created_at=now,
        updated_at=now,
    )
    session.add(loan)
    session.flush()
    if message.strip():
        session.add(
            LoanMessage(
                loan_id=saved_id(loan),
                sender_id=taker_id,
                body=message.strip()[:2000],
                created_at=now,
            )
        )
    notify(
        session,
        [item.owner_id],
        topic=TOPIC,
        title=_("Votre don est réservé : %(title)s") % {"title": item.title},
        body=_("Convenez d'un moment pour le remettre."),
        url=f"/sharing/loans/{loan.id}",
        dedupe=f"gift-reserved:{loan.id}",
    )
    return loan


# Who may do what: action -> (allowed states, new state, actor: owner / borrower / either).
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "accept": (("requested",), "accepted", "owner"),
    "decline": (("requested",), "declined", "owner"),
    "cancel": (("requested", "accepted", "reserved"), "cancelled", "either"),
    "pickup": (("accepted",), "picked_up", "owner"),
    "return": (("picked_up",), "returned", "owner"),
    "handover": (("reserved",), "handed_over", "owner"),
}


def move_loan(
    session: Session, loan_id: int, actor_id: int, action: str, now: datetime | None = None
) -> Loan:
    """Change a loan's state if ``actor_id`` may; raises SharingError otherwise (nothing changes)."""
    now = now or utcnow()
    if action not in TRANSITIONS:
        raise SharingError(_("Action inconnue."))
    loan = session.get(Loan, loan_id, populate_existing=True)
    if loan is None:
        raise SharingError(_("Ce prêt n'existe pas."))
    item = _lock_item(session, loan.item_id)
    session.refresh(loan)
    states, target, actor = TRANSITIONS[action]
    is_owner, is_borrower = item.owner_id == actor_id, loan.borrower_id == actor_id
    if not (is_owner or is_borrower):
        raise SharingError(_("Ce prêt ne vous concerne pas."))
    if (actor == "owner" and not is_owner) or (actor == "borrower" and not is_borrower):
        raise SharingError(_("Seul le propriétaire de l'objet peut faire cela."))
    if loan.status not in states:
        raise SharingError(_("Ce prêt a déjà changé d'état. Rechargez la page."))
    loan.status = target
    loan.updated_at = now
    if target == "picked_up":
        loan.picked_up_at = now
    if target in ("returned", "handed_over"):
        loan.returned_at = now
    if target == "handed_over":
        item.status = "given"
        session.add(item)
    session.add(loan)
    other = loan.borrower_id if is_owner else item.owner_id
    titles = {
        "accepted": _("Prêt accepté : %(title)s"),
        "declined": _("Prêt refusé : %(title)s"),
        "cancelled": _("Annulé : %(title)s"),
        "picked_up": _("Objet remis : %(title)s"),
        "returned": _("Objet rendu : %(title)s"),
        "handed_over": _("Don remis : %(title)s"),
    }
    notify(
        session,
        [other],
        topic=TOPIC,
        title=titles[target] % {"title": item.title},
        body=_("Voir le détail et les messages."),
        url=f"/sharing/loans/{loan.id}",
        dedupe=f"loan-{target}:{loan.id}",
    )
    if target == "accepted":
        ensure_sweep(session, now)
    return loan


def extend_loan(
    session: Session, loan_id: int, actor_id: int, new_end: date, now: datetime | None = None
) -> Loan:
    """Move the return date later, only when no other reservation follows in the way."""
    now = now or utcnow()
    loan = session.get(Loan, loan_id, populate_existing=True)
    if loan is None or loan.kind != "loan":
        raise SharingError(_("Ce prêt n'existe pas."))
    item = _lock_item(session, loan.item_id)
    session.refresh(loan)
    if actor_id not in (loan.borrower_id, item.owner_id):
        raise SharingError(_("Ce prêt ne vous concerne pas."))
    if loan.status not in ("accepted", "picked_up"):
        raise SharingError(_("Seul un prêt en cours peut être prolongé."))
    assert loan.start_on is not None and loan.end_on is not None
    if new_end <= loan.end_on:
        raise SharingError(_("La nouvelle date de retour doit être après l'actuelle."))
    if (new_end - loan.start_on).days + 1 > item.max_days * 2:
        raise SharingError(
            _("Prolongation trop longue (%(n)s jours au plus en tout).") % {"n": item.max_days * 2}
        )
    if overlapping(
        session, saved_id(item), loan.end_on + timedelta(days=1), new_end, exclude=saved_id(loan)
    ):
        raise SharingError(_("Impossible de prolonger : un voisin a réservé l'objet juste après."))
    loan.end_on = new_end
    loan.updated_at = now
    session.add(loan)
    other = item.owner_id if actor_id == loan.borrower_id else loan.borrower_id
    notify(
        session,
        [other],
        topic=TOPIC,
        title=_("Prêt prolongé : %(title)s") % {"title": item.title},
        body=_("Nouvelle date de retour : %(d)s.") % {"d": new_end.strftime("%d/%m/%Y")},
        url=f"/sharing/loans/{loan.id}",
        dedupe=f"loan-extended:{loan.id}:{new_end.isoformat()}",
    )
    return loan


def post_message(
    session: Session, loan_id: int, sender_id: int, body: str, now: datetime | None = None
) -> LoanMessage:
    now = now or utcnow()
    body = body.strip()
    if not body:
        raise SharingError(_("Le message est vide."))
    if len(body) > 2000:
        raise SharingError(_("Le message est trop long (2000 caractères au plus)."))
    loan = session.get(Loan, loan_id)
    item = session.get(SharedItem, loan.item_id) if loan else None
    if loan is None or item is None or sender_id not in (loan.borrower_id, item.owner_id):
        raise SharingError(_("Ce prêt ne vous concerne pas."))
    message = LoanMessage(loan_id=loan_id, sender_id=sender_id, body=body, created_at=now)
    session.add(message)
    session.flush()
    other = item.owner_id if sender_id == loan.borrower_id else loan.borrower_id
    notify(
        session,
        [other],
        topic=TOPIC,
        title=_("Nouveau message : %(title)s") % {"title": item.title},
        body=body[:140],
        url=f"/sharing/loans/{loan_id}",
        dedupe=f"loan-message:{message.id}",
    )
    return message


# --- "looking for" ----------------------------------------------------------------------------


def post_wanted(session: Session, wanted: WantedRequest, now: datetime | None = None) -> int:
    """Publish a request and tell the neighbours who follow its category in the territory of its
    commune; returns how many were told."""
    now = now or utcnow()
    wanted.created_at = now
    wanted.expires_at = now + LAPSE
    session.add(wanted)
    session.flush()
    watchers = session.scalars(
        select(col(CategoryWatch.user_id))
        .join(User, col(User.id) == col(CategoryWatch.user_id))
        .where(
            col(CategoryWatch.category) == wanted.category,
            col(CategoryWatch.territory_id)
            == select(col(Commune.territory_id))
            .where(col(Commune.insee) == wanted.commune_insee)
            .scalar_subquery(),
            col(CategoryWatch.user_id) != wanted.user_id,
            col(User.is_active),
        )
    ).all()
    notify(
        session,
        watchers,
        topic=TOPIC,
        title=_("Un voisin cherche : %(title)s") % {"title": wanted.title},
        body=wanted.description[:140] or _("Vous pouvez peut-être l'aider."),
        url=f"/sharing/wanted/{wanted.id}",
        dedupe=f"wanted:{wanted.id}",
    )
    return len(watchers)


def watches(session: Session, user_id: int, territory_id: int) -> set[str]:
    """The categories the person watches in the territory."""
    return set(
        session.scalars(
            select(col(CategoryWatch.category)).where(
                col(CategoryWatch.user_id) == user_id,
                col(CategoryWatch.territory_id) == territory_id,
            )
        ).all()
    )


def set_watches(
    session: Session, user_id: int, categories: Sequence[str], territory_id: int
) -> None:
    """The categories the person watches in the territory (their watches elsewhere stay)."""
    chosen = {c for c in categories if c in CATEGORIES}
    current = watches(session, user_id, territory_id)
    for category in current - chosen:
        row = session.get(CategoryWatch, (user_id, category, territory_id))
        if row is not None:
            session.delete(row)
    for category in chosen - current:
        session.add(CategoryWatch(user_id=user_id, category=category, territory_id=territory_id))


SWEEP_KIND = "sharing.sweep"


def ensure_sweep(session: Session, now: datetime | None = None) -> None:
    """Make sure the hourly sweep is scheduled (one job per hour, whoever asks)."""
    now = now or utcnow()
    slot = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    enqueue(session, SWEEP_KIND, {}, run_at=slot, dedupe_key=f"{SWEEP_KIND}:{slot:%Y%m%d%H}")


def user_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(
        select(col(User.id), col(User.display_name), col(User.email)).where(
            col(User.id).in_(list(set(ids)))
        )
    ).all()
    return {r[0]: (r[1] or r[2].split("@")[0]) for r in rows}

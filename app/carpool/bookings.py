"""Carpool bookings: seats requested, accepted, declined or cancelled, messages and reminders.

Booking
-------
A request takes its seats from the ad at once, with a conditional
``UPDATE ... SET seats_left = seats_left - n WHERE seats_left >= n`` inside a
write transaction, so seats are never oversold, even under concurrent
requests. Declining or cancelling gives them back exactly once (the booking's
own status change is conditional too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.carpool.callbacks import tell_operator
from app.carpool.matching import blocked_with, display_names
from app.carpool.trips import (
    MAX_SEATS,
    REMINDER_BEFORE,
    CarpoolError,
    driver_and_passenger,
    local,
    zone_of,
    next_departure,
    trip_price_cents,
    trip_title,
)
from app.db import saved_id, utcnow
from app.i18n import gettext as _
from app.jobs import JobContext, enqueue
from app.models.carpool import (
    CarpoolAd,
    CarpoolBooking,
    CarpoolMessage,
)
from app.notify import notify

# --- bookings ---------------------------------------------------------------------------


def request_seats(
    session: Session, ad_id: int, requester_id: int, seats: int = 1
) -> CarpoolBooking:
    """Ask to share an ad. Takes the seats at once (never more than there are); raises CarpoolError."""
    if not 1 <= seats <= MAX_SEATS:
        raise CarpoolError(_("Nombre de places invalide."))
    ad = session.get(CarpoolAd, ad_id)
    if ad is None or ad.status != "active":
        raise CarpoolError(_("Cette annonce n'est plus disponible."))
    if ad.user_id == requester_id:
        raise CarpoolError(_("C'est votre propre annonce."))
    if ad.user_id in blocked_with(session, requester_id):
        raise CarpoolError(_("Vous ne pouvez pas contacter cette personne."))
    if ad.frequency == "punctual" and ad.departure_at and ad.departure_at <= utcnow():
        raise CarpoolError(_("Ce trajet est déjà parti."))
    existing = session.scalars(
        select(col(CarpoolBooking.id)).where(
            col(CarpoolBooking.ad_id) == ad_id,
            col(CarpoolBooking.requester_id) == requester_id,
            col(CarpoolBooking.status).in_(("pending", "accepted")),
        )
    ).first()
    if existing:
        raise CarpoolError(_("Vous avez déjà une demande en cours pour ce trajet."))
    taken = session.exec(
        update(CarpoolAd)
        .where(
            col(CarpoolAd.id) == ad_id,
            col(CarpoolAd.status) == "active",
            col(CarpoolAd.seats_left) >= seats,
        )
        .values(seats_left=col(CarpoolAd.seats_left) - seats)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise CarpoolError(_("Il ne reste plus assez de places sur ce trajet."))
    now = utcnow()
    booking = CarpoolBooking(
        ad_id=ad_id,
        requester_id=requester_id,
        owner_id=ad.user_id,
        seats=seats,
        status="pending",
        distance_m=ad.distance_m,
        price_cents=trip_price_cents(ad.distance_m, ad.price_per_km_cents)
        if ad.role == "driver"
        else 0,
        created_at=now,
        updated_at=now,
    )
    session.add(booking)
    try:
        with (
            session.begin_nested()
        ):  # a second open request of this person for this ad, at the same instant
            session.flush()
    except IntegrityError:
        raise CarpoolError(_("Vous avez déjà une demande en cours pour ce trajet.")) from None
    if ad.role == "driver":
        title, body = (
            _("Nouvelle demande de place"),
            _("Quelqu'un demande %(n)s place(s) pour %(trip)s."),
        )
    else:
        title, body = (
            _("Un conducteur vous propose un trajet"),
            _("Un conducteur propose de vous emmener : %(trip)s."),
        )
    notify(
        session,
        [ad.user_id],
        topic="carpool",
        title=title,
        body=body % {"n": seats, "trip": trip_title(ad)},
        url=f"/carpool/bookings/{booking.id}",
    )
    return booking


def set_status(
    session: Session, booking: CarpoolBooking, frm: tuple[str, ...], to: str, **values: Any
) -> bool:
    now = utcnow()
    done = session.exec(
        update(CarpoolBooking)
        .where(col(CarpoolBooking.id) == booking.id, col(CarpoolBooking.status).in_(frm))
        .values(status=to, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        return False
    session.refresh(booking)
    if values.get("cancelled_by") != booking.requester_id:  # not the operator's own cancellation
        tell_operator(session, booking)
    return True


def free_seats(session: Session, booking: CarpoolBooking) -> None:
    session.execute(
        update(CarpoolAd)
        .where(col(CarpoolAd.id) == booking.ad_id)
        .values(
            seats_left=func.least(col(CarpoolAd.seats), col(CarpoolAd.seats_left) + booking.seats)
            if session.get_bind().dialect.name == "postgresql"
            else func.min(col(CarpoolAd.seats), col(CarpoolAd.seats_left) + booking.seats)
        )
        .execution_options(synchronize_session=False)
    )
    ad = session.get(CarpoolAd, booking.ad_id)
    if ad is not None:
        session.refresh(ad)


def accept(session: Session, booking: CarpoolBooking, actor_id: int) -> None:
    if booking.owner_id != actor_id:
        raise CarpoolError(_("Seul l'auteur de l'annonce peut accepter."))
    if not set_status(session, booking, ("pending",), "accepted", accepted_at=utcnow()):
        raise CarpoolError(_("Cette demande n'est plus en attente."))
    ad = session.get(CarpoolAd, booking.ad_id)
    assert ad is not None
    notify(
        session,
        [booking.requester_id],
        topic="carpool",
        title=_("Demande acceptée"),
        body=_("Votre demande pour %(trip)s est acceptée. Les coordonnées sont visibles.")
        % {"trip": trip_title(ad)},
        url=f"/carpool/bookings/{booking.id}",
    )
    schedule_reminder(session, booking, ad, after=utcnow())


def decline(session: Session, booking: CarpoolBooking, actor_id: int) -> None:
    if booking.owner_id != actor_id:
        raise CarpoolError(_("Seul l'auteur de l'annonce peut refuser."))
    if not set_status(session, booking, ("pending",), "declined"):
        raise CarpoolError(_("Cette demande n'est plus en attente."))
    free_seats(session, booking)
    ad = session.get_one(CarpoolAd, booking.ad_id)
    notify(
        session,
        [booking.requester_id],
        topic="carpool",
        title=_("Demande déclinée"),
        body=_("Votre demande pour %(trip)s n'a pas été retenue.") % {"trip": trip_title(ad)},
        url=f"/carpool/bookings/{booking.id}",
    )


def cancel(session: Session, booking: CarpoolBooking, actor_id: int) -> None:
    if actor_id not in (booking.owner_id, booking.requester_id):
        raise CarpoolError(_("Cette réservation ne vous concerne pas."))
    if not set_status(
        session, booking, ("pending", "accepted"), "cancelled", cancelled_by=actor_id
    ):
        raise CarpoolError(_("Cette réservation est déjà close."))
    free_seats(session, booking)
    ad = session.get_one(CarpoolAd, booking.ad_id)
    other = booking.owner_id if actor_id == booking.requester_id else booking.requester_id
    notify(
        session,
        [other],
        topic="carpool",
        title=_("Réservation annulée"),
        body=_("La réservation pour %(trip)s a été annulée.") % {"trip": trip_title(ad)},
        url=f"/carpool/bookings/{booking.id}",
    )


def post_message(
    session: Session, booking: CarpoolBooking, sender_id: int, body: str
) -> CarpoolMessage:
    if sender_id not in (booking.owner_id, booking.requester_id):
        raise CarpoolError(_("Cette conversation ne vous concerne pas."))
    body = body.strip()
    if not body:
        raise CarpoolError(_("Le message est vide."))
    if len(body) > 1000:
        raise CarpoolError(_("Le message est trop long (1000 caractères au plus)."))
    other = booking.owner_id if sender_id == booking.requester_id else booking.requester_id
    if other in blocked_with(session, sender_id):
        raise CarpoolError(_("Vous ne pouvez pas contacter cette personne."))
    msg = CarpoolMessage(booking_id=saved_id(booking), sender_id=sender_id, body=body)
    session.add(msg)
    session.flush()
    name = display_names(session, [sender_id]).get(sender_id, "")
    notify(
        session,
        [other],
        topic="carpool",
        title=_("Nouveau message de %(name)s") % {"name": name},
        body=body[:200],
        url=f"/carpool/bookings/{booking.id}",
    )
    return msg


def schedule_reminder(
    session: Session, booking: CarpoolBooking, ad: CarpoolAd, *, after: datetime
) -> None:
    """Queue the reminder of the booking's next departure (1 h before), once per departure."""
    dep = next_departure(ad, after + REMINDER_BEFORE)
    if dep is None:
        return
    enqueue(
        session,
        "carpool.reminder",
        {"booking_id": booking.id, "departure": dep.isoformat()},
        run_at=dep - REMINDER_BEFORE,
        dedupe_key=f"carpool-reminder:{booking.id}:{dep.isoformat()}",
    )


def send_reminder(ctx: JobContext, payload: dict[str, Any]) -> None:
    from app.db import write_session

    with write_session(ctx.engine) as session:
        booking = session.get(CarpoolBooking, int(payload["booking_id"]))
        if booking is None or booking.status != "accepted":
            return
        ad = session.get(CarpoolAd, booking.ad_id)
        if ad is None or ad.status != "active":
            return
        dep = datetime.fromisoformat(payload["departure"])
        when = local(dep, zone_of(ad)).strftime("%H:%M")
        notify(
            session,
            [booking.owner_id, booking.requester_id],
            topic="carpool",
            title=_("Départ à %(time)s") % {"time": when},
            body=_("Rappel : %(trip)s, départ à %(time)s.")
            % {"trip": trip_title(ad), "time": when},
            url=f"/carpool/bookings/{booking.id}",
            urgency="high",
            ttl_s=3600,
            dedupe=f"carpool-reminder:{booking.id}:{payload['departure']}",
        )
        if ad.frequency == "regular":
            schedule_reminder(session, booking, ad, after=dep)


# --- home panel data --------------------------------------------------------------------


def upcoming_trips(session: Session, user_id: int, *, limit: int = 5) -> list[dict[str, Any]]:
    """The person's next trips: accepted bookings (either side) and own active ads, soonest first."""
    now = utcnow()
    items: list[dict[str, Any]] = []
    rows = session.execute(
        select(CarpoolBooking, CarpoolAd)
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolBooking.ad_id))
        .where(
            col(CarpoolBooking.status).in_(("accepted", "pending")),
            or_(
                col(CarpoolBooking.requester_id) == user_id, col(CarpoolBooking.owner_id) == user_id
            ),
        )
    ).all()
    booked_ads = set()
    for b, ad in rows:
        dep = next_departure(ad, now)
        if dep is None:
            continue
        booked_ads.add(ad.id)
        items.append(
            {
                "when": dep,
                "title": trip_title(ad),
                "url": f"/carpool/bookings/{b.id}",
                "status": b.status,
                "driver": driver_and_passenger(b, ad)[0] == user_id,
            }
        )
    for ad in session.scalars(
        select(CarpoolAd).where(
            col(CarpoolAd.user_id) == user_id, col(CarpoolAd.status) == "active"
        )
    ):
        if ad.id in booked_ads:
            continue
        dep = next_departure(ad, now)
        if dep is None:
            continue
        items.append(
            {
                "when": dep,
                "title": trip_title(ad),
                "url": f"/carpool/ads/{ad.id}",
                "status": "ad",
                "driver": ad.role == "driver",
            }
        )
    items.sort(key=lambda i: i["when"])
    return items[:limit]

"""Carpool ads: publishing and closing an ad, saved-search alerts, reports, moderation and blocks.

The domain's other modules: ``trips`` (limits, places, schedules, prices),
``matching`` (the search), ``bookings`` (seats and messages), ``proofs``
(statistics and proofs of carpooling), ``privacy`` and ``demo``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import geo, moderation
from app.carpool.bookings import free_seats, set_status
from app.carpool.callbacks import tell_operator
from app.carpool.matching import blocked_with, query_of_search, score
from app.carpool.shares import searched_territories
from app.carpool.trips import (
    DEFAULT_PRICE_PER_KM_CENTS,
    MAX_PRICE_PER_KM_CENTS,
    MAX_SEATS,
    REPORT_REASONS,
    CarpoolError,
    country_of,
    dump_schedule,
    local,
    mask_of,
    minute_of,
    road_m,
    schedule_text,
    trip_title,
)
from app.db import saved_id, utcnow
from app.i18n import gettext as _
from app.jobs import JobContext, enqueue
from app.models.accounts import User
from app.models.carpool import (
    CarpoolAd,
    CarpoolAlertSent,
    CarpoolBlock,
    CarpoolBooking,
    CarpoolReport,
    CarpoolSearch,
)
from app.notify import notify
from app.territories import zone as territory_zone

# --- ads --------------------------------------------------------------------------------


@dataclass
class AdInput:
    """A validated ad, ready to be stored (one direction, or two with a return)."""

    role: str
    frequency: str
    from_label: str
    from_lat: float
    from_lon: float
    to_label: str
    to_lat: float
    to_lon: float
    seats: int
    price_per_km_cents: int = DEFAULT_PRICE_PER_KM_CENTS
    departure_at: datetime | None = None
    return_at: datetime | None = None
    margin_min: int = 15
    outward: dict[int, tuple[int, int]] = field(default_factory=dict)
    returns: dict[int, tuple[int, int]] = field(default_factory=dict)
    valid_until: date | None = None
    comment: str = ""


def _window(schedule: dict[int, tuple[int, int]]) -> tuple[int, int]:
    return (min(m - g for m, g in schedule.values()), max(m + g for m, g in schedule.values()))


def create_ad(
    session: Session, user_id: int, data: AdInput, *, territory_id: int | None = None
) -> list[CarpoolAd]:
    """Store an ad (and its return leg) in ``territory_id`` (the host's it is published on; None:
    the default territory), queue the saved-search alerts; returns the rows."""
    if data.role not in ("driver", "passenger") or data.frequency not in ("punctual", "regular"):
        raise CarpoolError(_("Type d'annonce invalide."))
    if not 1 <= data.seats <= MAX_SEATS:
        raise CarpoolError(_("Nombre de places invalide."))
    if not 0 <= data.price_per_km_cents <= MAX_PRICE_PER_KM_CENTS:
        raise CarpoolError(_("La participation est plafonnée à 0,10 € par km et par passager."))
    distance = road_m(data.from_lat, data.from_lon, data.to_lat, data.to_lon)
    if distance < 1000:
        raise CarpoolError(_("Le départ et l'arrivée sont trop proches."))
    cross = country_of(data.from_lat, data.from_lon) != country_of(data.to_lat, data.to_lon)
    now = utcnow()
    legs: list[dict[str, Any]] = []
    if data.frequency == "punctual":
        if data.departure_at is None or data.departure_at <= now:
            raise CarpoolError(_("La date de départ doit être dans le futur."))
        if data.departure_at > now + timedelta(days=366):
            raise CarpoolError(_("La date de départ est trop lointaine."))
        legs.append({"leg": "outward", "departure_at": data.departure_at})
        if data.return_at is not None:
            if data.return_at <= data.departure_at:
                raise CarpoolError(_("Le retour doit partir après l'aller."))
            legs.append({"leg": "return", "departure_at": data.return_at})
    else:
        if not data.outward:
            raise CarpoolError(_("Choisissez au moins un jour pour l'aller."))
        legs.append({"leg": "outward", "schedule": data.outward})
        if data.returns:
            legs.append({"leg": "return", "schedule": data.returns})
    rows: list[CarpoolAd] = []
    for spec in legs:
        outward = spec["leg"] == "outward"
        ad = CarpoolAd(
            user_id=user_id,
            role=data.role,
            frequency=data.frequency,
            leg=spec["leg"],
            from_label=data.from_label if outward else data.to_label,
            from_lat=data.from_lat if outward else data.to_lat,
            from_lon=data.from_lon if outward else data.to_lon,
            to_label=data.to_label if outward else data.from_label,
            to_lat=data.to_lat if outward else data.from_lat,
            to_lon=data.to_lon if outward else data.from_lon,
            distance_m=distance,
            cross_border=cross,
            seats=data.seats,
            seats_left=data.seats,
            price_per_km_cents=data.price_per_km_cents if data.role == "driver" else 0,
            margin_min=data.margin_min,
            valid_until=data.valid_until,
            comment=data.comment[:500],
            created_at=now,
            updated_at=now,
        )
        if territory_id:
            ad.territory_id = territory_id
        if data.frequency == "punctual":
            dep: datetime = spec["departure_at"]
            ad.departure_at = dep
            loc = local(dep, territory_zone(session, territory_id))
            ad.days_mask = mask_of([loc.weekday()])
            m = minute_of(loc.time())
            ad.schedule = dump_schedule({loc.weekday(): (m, data.margin_min)})
            ad.window_start, ad.window_end = m - data.margin_min, m + data.margin_min
        else:
            sched: dict[int, tuple[int, int]] = spec["schedule"]
            ad.schedule = dump_schedule(sched)
            ad.days_mask = mask_of(sched)
            ad.window_start, ad.window_end = _window(sched)
            ad.margin_min = max(g for _m, g in sched.values())
        session.add(ad)
        session.flush()
        rows.append(ad)
    if len(rows) == 2:
        rows[0].pair_id = rows[0].id
        rows[1].pair_id = rows[0].id
    for ad in rows:
        enqueue(session, "carpool.alerts", {"ad_id": ad.id})
    return rows


def close_ad(session: Session, ad: CarpoolAd, actor_id: int) -> None:
    """The owner withdraws an ad: its pending and accepted bookings are cancelled."""
    if ad.user_id != actor_id:
        raise CarpoolError(_("Seul l'auteur de l'annonce peut la retirer."))
    if ad.status != "active":
        return
    ad.status = "closed"
    ad.updated_at = utcnow()
    session.add(ad)
    bookings = session.scalars(
        select(CarpoolBooking).where(
            col(CarpoolBooking.ad_id) == ad.id,
            col(CarpoolBooking.status).in_(("pending", "accepted")),
        )
    ).all()
    for b in bookings:
        b.status, b.cancelled_by, b.updated_at = "cancelled", actor_id, utcnow()
        session.add(b)
        tell_operator(session, b)
    if bookings:
        notify(
            session,
            [b.requester_id for b in bookings],
            topic="carpool",
            title=_("Trajet annulé"),
            body=_("Le trajet %(trip)s a été retiré par son auteur.") % {"trip": trip_title(ad)},
            url="/carpool/mine",
        )


def visible_ad(
    session: Session, ad_id: int, viewer: Any, territories: tuple[int, ...] | None = None
) -> CarpoolAd | None:
    """The ad if the viewer may see it on a host whose search finds ``territories``' ads (the
    host's own first; None: every territory): active ones of those territories for everyone,
    others for staff of the ad's territory; its owner and the people who asked to share it see it
    on every host (one account, several territories)."""
    ad = session.get(CarpoolAd, ad_id)
    if ad is None:
        return None
    if viewer is not None and viewer.id == ad.user_id:
        return ad
    found_here = territories is None or ad.territory_id in territories
    if ad.status == "active" and found_here:
        if viewer is not None and ad.user_id in blocked_with(session, viewer.id):
            return None
        return ad
    home = territories is None or ad.territory_id == territories[0]
    if viewer is not None and viewer.is_staff and home:
        return ad
    if (
        viewer is not None
        and session.scalars(
            select(col(CarpoolBooking.id)).where(
                col(CarpoolBooking.ad_id) == ad.id, col(CarpoolBooking.requester_id) == viewer.id
            )
        ).first()
    ):
        return ad
    return None


def alert_new_ad(session: Session, ad: CarpoolAd) -> int:
    """Tell the owners of the saved searches that ``ad`` matches, once each; returns how many were told."""
    if ad.status != "active":
        return 0
    lat0, lat1, lon0, lon1 = geo.bbox(ad.from_lat, ad.from_lon, 10_000)
    tlat0, tlat1, tlon0, tlon1 = geo.bbox(ad.to_lat, ad.to_lon, 10_000)
    searches = session.scalars(
        select(CarpoolSearch).where(
            # The searches saved on the hosts that find this ad (sharing is mutual: those whose
            # offers its territory's search finds).
            col(CarpoolSearch.territory_id).in_(searched_territories(session, ad.territory_id)),
            col(CarpoolSearch.role) == ad.role,
            col(CarpoolSearch.user_id) != ad.user_id,
            col(CarpoolSearch.from_lat).between(lat0, lat1),
            col(CarpoolSearch.from_lon).between(lon0, lon1),
            col(CarpoolSearch.to_lat).between(tlat0, tlat1),
            col(CarpoolSearch.to_lon).between(tlon0, tlon1),
        )
    ).all()
    told = 0
    blocked = blocked_with(session, ad.user_id)
    for s in searches:
        if s.user_id in blocked:
            continue
        m = score(query_of_search(session, s), ad)
        if m is None:
            continue
        if session.scalars(
            select(col(CarpoolAlertSent.id)).where(
                col(CarpoolAlertSent.search_id) == s.id, col(CarpoolAlertSent.ad_id) == ad.id
            )
        ).first():
            continue
        session.add(CarpoolAlertSent(search_id=saved_id(s), ad_id=saved_id(ad)))
        what = (
            _("Nouvelle offre de covoiturage")
            if ad.role == "driver"
            else _("Nouvelle demande de covoiturage")
        )
        notify(
            session,
            [s.user_id],
            topic="carpool",
            title=what,
            body=f"{trip_title(ad)} · {schedule_text(ad)}",
            url=f"/carpool/ads/{ad.id}",
            dedupe=f"carpool-alert:{s.id}:{ad.id}",
        )
        told += 1
    return told


def run_alerts(ctx: JobContext, payload: dict[str, Any]) -> None:
    from app.db import write_session

    with write_session(ctx.engine) as session:
        ad = session.get(CarpoolAd, int(payload["ad_id"]))
        if ad is not None:
            try:
                alert_new_ad(session, ad)
            except IntegrityError:  # another worker told them meanwhile: nothing more to do
                session.rollback()


# --- trust ------------------------------------------------------------------------------


def report_ad(
    session: Session, ad: CarpoolAd, reporter_id: int, reason: str, details: str
) -> CarpoolReport:
    if reason not in REPORT_REASONS:
        raise CarpoolError(_("Choisissez une raison."))
    if ad.user_id == reporter_id:
        raise CarpoolError(_("C'est votre propre annonce."))
    if session.scalars(
        select(col(CarpoolReport.id)).where(
            col(CarpoolReport.ad_id) == ad.id,
            col(CarpoolReport.reporter_id) == reporter_id,
            col(CarpoolReport.status) == "open",
        )
    ).first():
        raise CarpoolError(_("Vous avez déjà signalé cette annonce ; l'équipe va l'examiner."))
    report = CarpoolReport(
        ad_id=saved_id(ad),
        reporter_id=reporter_id,
        reason=reason,
        details=details.strip()[:1000],
    )
    session.add(report)
    session.flush()
    return report


def moderate(session: Session, report: CarpoolReport, staff_id: int, action: str) -> None:
    """``hide`` hides the ad (and closes every open report on it); ``dismiss`` keeps it."""
    now = utcnow()
    if action == "hide":
        ad = session.get(CarpoolAd, report.ad_id)
        if ad is not None and ad.status == "active":
            ad.status, ad.updated_at = "hidden", now
            session.add(ad)
            moderation.hide(
                session,
                _moderated(ad),
                REPORT_REASONS.get(report.reason, report.reason),
                dedupe=f"carpool-hide:{ad.id}:{report.id}",
            )
        session.execute(
            update(CarpoolReport)
            .where(
                col(CarpoolReport.ad_id) == report.ad_id,
                col(CarpoolReport.status) == "open",
            )
            .values(status="hidden", handled_by=staff_id, handled_at=now)
        )
    elif action == "dismiss":
        report.status, report.handled_by, report.handled_at = "dismissed", staff_id, now
        session.add(report)
    else:
        raise CarpoolError(_("Action inconnue."))


def restore(session: Session, ad: CarpoolAd) -> None:
    """Undo a moderation: the ad is listed again and its owner told."""
    if ad.status != "hidden":
        raise CarpoolError(_("Cette annonce n'est pas masquée."))
    ad.status, ad.updated_at = "active", utcnow()
    session.add(ad)
    moderation.restore(
        session, _moderated(ad), dedupe=f"carpool-restore:{ad.id}:{ad.updated_at.timestamp():.0f}"
    )


def _moderated(ad: CarpoolAd) -> moderation.Ad:
    return moderation.Ad(
        owner_id=ad.user_id, title=trip_title(ad), url=f"/carpool/ads/{ad.id}", topic="carpool"
    )


def block(session: Session, blocker_id: int, blocked_id: int) -> None:
    if blocker_id == blocked_id:
        raise CarpoolError(_("Vous ne pouvez pas vous bloquer vous-même."))
    if session.get(User, blocked_id) is None:
        raise CarpoolError(_("Personne inconnue."))
    if session.get(CarpoolBlock, (blocker_id, blocked_id)) is None:
        session.add(CarpoolBlock(blocker_id=blocker_id, blocked_id=blocked_id))
    # Pending requests between the two end now.
    for b in session.scalars(
        select(CarpoolBooking).where(
            col(CarpoolBooking.status) == "pending",
            or_(
                and_(
                    col(CarpoolBooking.owner_id) == blocker_id,
                    col(CarpoolBooking.requester_id) == blocked_id,
                ),
                and_(
                    col(CarpoolBooking.owner_id) == blocked_id,
                    col(CarpoolBooking.requester_id) == blocker_id,
                ),
            ),
        )
    ):
        if set_status(session, b, ("pending",), "cancelled", cancelled_by=blocker_id):
            free_seats(session, b)


def unblock(session: Session, blocker_id: int, blocked_id: int) -> None:
    session.execute(
        delete(CarpoolBlock).where(
            col(CarpoolBlock.blocker_id) == blocker_id, col(CarpoolBlock.blocked_id) == blocked_id
        )
    )

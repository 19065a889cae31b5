"""Carpooling in the operations centre: origin–destination lines of the active ads weighted by trips,
and the trips agreed this week per commune of departure."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.models.carpool import CarpoolAd, CarpoolBooking
from app.models.territory import Commune
from app.ops.contracts import Freshness, Kpi, Layer, Panel, Stamp, line, mine

N_ = str
WEEK = dt.timedelta(days=7)  # trips counted this week
STATES = {"light": N_("Quelques trajets"), "busy": N_("Flux important")}
NEAR_M = 5000


def _key(ad: Any) -> tuple[float, float, float, float]:
    return (round(ad.from_lon, 2), round(ad.from_lat, 2), round(ad.to_lon, 2), round(ad.to_lat, 2))


def _flows(session: Session) -> dict[tuple[float, float, float, float], dict[str, Any]]:
    flows: dict[tuple[float, float, float, float], dict[str, Any]] = {}
    for ad in session.execute(
        sa.select(
            col(CarpoolAd.from_lon),
            col(CarpoolAd.from_lat),
            col(CarpoolAd.to_lon),
            col(CarpoolAd.to_lat),
            col(CarpoolAd.from_label),
            col(CarpoolAd.to_label),
        ).where(col(CarpoolAd.status) == "active", mine(session, col(CarpoolAd.territory_id)))
    ).all():
        flow = flows.setdefault(_key(ad), {"from": ad.from_label, "to": ad.to_label, "trips": 0})
        flow["trips"] += 1
    return flows


def _flow_id(key: tuple[float, float, float, float]) -> str:
    return "_".join(f"{v:.2f}" for v in key)


def carpool_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for key, flow in sorted(_flows(session).items(), key=lambda kv: -kv[1]["trips"]):
        out.append(
            line(
                _flow_id(key),
                [(key[0], key[1]), (key[2], key[3])],
                kind="carpool_flow",
                state="busy" if flow["trips"] >= 5 else "light",
                label=f"{flow['from']} → {flow['to']}",
                url="/carpool/staff",
                trips=flow["trips"],
            )
        )
    return out


def carpool_panel(session: Session, feature_id: str, now: dt.datetime) -> Panel | None:
    for key, flow in _flows(session).items():
        if _flow_id(key) == feature_id:
            state = "busy" if flow["trips"] >= 5 else "light"
            return Panel(
                title=f"{flow['from']} → {flow['to']}",
                state=state,
                state_label=_(STATES[state]),
                facts=[(_("Annonces actives"), str(flow["trips"]))],
                link="/carpool/staff",
            )
    return None


def _nearest(communes: list[Commune], lon: float, lat: float) -> str | None:
    best, best_d = None, float(NEAR_M)
    for c in communes:
        d = math.hypot(
            (c.lon - lon) * 111_320 * math.cos(math.radians(lat)), (c.lat - lat) * 110_540
        )
        if d <= best_d:
            best, best_d = c.insee, d
    return best


def trips_week_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Bookings accepted in the last 7 days of the session's territory's ads, by its commune the
    trip leaves from (the nearest of its own communes: never another territory's across a border)."""
    communes = list(
        session.scalars(select(Commune).where(mine(session, col(Commune.territory_id)))).all()
    )
    out: dict[str, Any] = {}
    for lon, lat in session.execute(
        select(col(CarpoolAd.from_lon), col(CarpoolAd.from_lat))
        .join(CarpoolBooking, col(CarpoolBooking.ad_id) == col(CarpoolAd.id))
        .where(
            col(CarpoolBooking.status) == "accepted",
            col(CarpoolBooking.accepted_at) >= now - WEEK,
            mine(session, col(CarpoolAd.territory_id)),
        )
    ).all():
        insee = _nearest(communes, lon, lat)
        if insee:
            out[insee] = out.get(insee, 0) + 1
    return out


# Bookings accepted, cancelled or changed (carpool publishes no events): count and newest change.
bookings_stamp = Stamp(
    (
        select(
            func.count(),
            func.max(col(CarpoolBooking.id)),
            func.max(col(CarpoolBooking.updated_at)),
        ).where(col(CarpoolBooking.status) == "accepted"),
        select(func.max(col(CarpoolAd.updated_at))),
    )
)


def bookings_expire(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the oldest booking counted leaves the 7-day window."""
    oldest = session.scalar(
        select(func.min(col(CarpoolBooking.accepted_at))).where(
            col(CarpoolBooking.status) == "accepted",
            col(CarpoolBooking.accepted_at) >= now - WEEK,
        )
    )
    if oldest is None:
        return None
    return (oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)) + WEEK


OPS_LAYERS = [
    Layer(
        "carpool",
        N_("Covoiturage : flux"),
        50,
        carpool_layer,
        carpool_panel,
        {"lines": True},
        STATES,
    )
]
OPS_KPIS = [
    Kpi(
        "carpool_week",
        N_("Covoiturages cette semaine"),
        "",
        60,
        trips_week_kpi,
        Freshness((), bookings_stamp, bookings_expire),
    )
]

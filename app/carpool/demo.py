"""Demo carpool data: residents, commutes, ads and bookings for `eclor demo`."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.carpool.ads import AdInput, create_ad
from app.carpool.bookings import accept, request_seats
from app.carpool.trips import list_places, local, minute_of
from app.db import saved_id, utcnow
from app.models.accounts import User
from app.models.carpool import (
    CarpoolAd,
    CarpoolMessage,
)
from app.territories import zone as territory_zone

# --- demo -------------------------------------------------------------------------------

# (e-mail, display name, commune INSEE): carpoolers besides the shared demo accounts.
DEMO_CARPOOLERS = [
    ("amelie@eclor.test", "Amélie", "57041"),
    ("thomas@eclor.test", "Thomas", "57097"),
    ("ines@eclor.test", "Inès", "57529"),
    ("paulo@eclor.test", "Paulo", "57565"),
    ("claire@eclor.test", "Claire", "54523"),
    ("mehdi@eclor.test", "Mehdi", "54580"),
]
# (e-mail, destination slug, outward time, return time, weekdays, seats)
DEMO_COMMUTES = [
    ("habitant@eclor.test", "kirchberg", "07:15", "17:30", (0, 1, 2, 3, 4), 3),
    ("frontalier@eclor.test", "luxembourg-gare", "07:00", "16:45", (0, 1, 2, 3), 3),
    ("amelie@eclor.test", "belval", "07:45", "17:15", (0, 1, 2, 3, 4), 2),
    ("thomas@eclor.test", "cloche-dor", "07:20", "17:40", (0, 1, 3, 4), 3),
    ("ines@eclor.test", "dudelange", "08:00", "16:30", (0, 1, 2, 3, 4), 2),
    ("paulo@eclor.test", "differdange", "06:30", "15:00", (0, 1, 2, 3, 4), 3),
    ("claire@eclor.test", "esch-alzette", "08:15", "17:00", (1, 2, 3), 2),
    ("mehdi@eclor.test", "kirchberg", "07:30", "18:00", (0, 1, 2, 3, 4), 4),
    ("voisine@eclor.test", "pr-howald", "07:40", "17:20", (0, 2, 4), 2),
]


def load_demo(session: Session, rng: Any) -> str | None:
    from app import auth
    from app.demo import DEMO_PASSWORD, demo_user

    if session.scalars(select(col(CarpoolAd.id)).limit(1)).first():
        return None
    for email, name, insee in DEMO_CARPOOLERS:
        if session.scalars(select(col(User.id)).where(col(User.email) == email)).first() is None:
            user = auth.create_user(
                session, email, role="resident", password=DEMO_PASSWORD, display_name=name
            )
            user.commune_insee = insee
    places = {p.slug: p for p in list_places(session)}
    users = {
        e: demo_user(session, e) for e in [c[0] for c in DEMO_COMMUTES] + ["voisine@eclor.test"]
    }
    made: list[CarpoolAd] = []
    for email, dest, out, ret, days, seats in DEMO_COMMUTES:
        user = users[email]
        home = places[f"commune-{user.commune_insee}"]
        to = places[dest]
        o, r = minute_of(time.fromisoformat(out)), minute_of(time.fromisoformat(ret))
        made += create_ad(
            session,
            saved_id(user),
            AdInput(
                role="driver",
                frequency="regular",
                from_label=home.name,
                from_lat=home.lat,
                from_lon=home.lon,
                to_label=to.name,
                to_lat=to.lat,
                to_lon=to.lon,
                seats=seats,
                price_per_km_cents=rng.choice((6, 8, 10)),
                margin_min=15,
                outward={d: (o, 15) for d in days},
                returns={d: (r, 15) for d in days},
                comment=rng.choice(
                    [
                        "",
                        "Non-fumeur, radio à faible volume.",
                        "Départ devant la mairie. Bagage léger SVP.",
                        "Je peux faire un petit crochet par la gare.",
                    ]
                ),
            ),
        )
    zone = territory_zone(session)  # the demo's ads are the default territory's
    now_local = local(utcnow(), zone)
    one_offs = [
        ("habitant@eclor.test", "commune-57038", "luxembourg-gare", 2, "09:00", 3, "driver"),
        ("amelie@eclor.test", "commune-57041", "belval", 3, "10:30", 2, "driver"),
        ("thomas@eclor.test", "commune-57097", "commune-57529", 4, "14:00", 3, "driver"),
        ("claire@eclor.test", "commune-54523", "kirchberg", 1, "08:00", 1, "passenger"),
        ("mehdi@eclor.test", "commune-54580", "esch-alzette", 5, "19:30", 2, "passenger"),
    ]
    for email, frm, dest, days_ahead, at, seats, role in one_offs:
        user = users.get(email) or demo_user(session, email)
        day = (now_local + timedelta(days=days_ahead)).date()
        dep = datetime.combine(day, time.fromisoformat(at), tzinfo=zone).astimezone(UTC)
        a, b = places[frm], places[dest]
        made += create_ad(
            session,
            saved_id(user),
            AdInput(
                role=role,
                frequency="punctual",
                from_label=a.name,
                from_lat=a.lat,
                from_lon=a.lon,
                to_label=b.name,
                to_lat=b.lat,
                to_lon=b.lon,
                seats=seats,
                departure_at=dep,
                margin_min=15,
                price_per_km_cents=8 if role == "driver" else 0,
            ),
        )
    # Regular passenger requests, so drivers see who needs a seat.
    for email, frm, dest, out, days in [
        ("voisine@eclor.test", "commune-54580", "kirchberg", "07:30", (0, 1, 2, 3, 4)),
        ("ines@eclor.test", "commune-57529", "luxembourg-gare", "07:10", (1, 3)),
    ]:
        user = users.get(email) or demo_user(session, email)
        a, b = places[frm], places[dest]
        o = minute_of(time.fromisoformat(out))
        made += create_ad(
            session,
            saved_id(user),
            AdInput(
                role="passenger",
                frequency="regular",
                from_label=a.name,
                from_lat=a.lat,
                from_lon=a.lon,
                to_label=b.name,
                to_lat=b.lat,
                to_lon=b.lon,
                seats=1,
                margin_min=15,
                outward={d: (o, 15) for d in days},
            ),
        )
    # A few bookings: Camille rides with Julien to Kirchberg, Luca is asked for a seat.
    by_owner = {(ad.user_id, ad.leg, ad.frequency): ad for ad in made if ad.role == "driver"}
    julien, camille, luca = (
        users["habitant@eclor.test"],
        users["voisine@eclor.test"],
        users["frontalier@eclor.test"],
    )
    b1 = request_seats(
        session,
        saved_id(by_owner[(saved_id(julien), "outward", "regular")]),
        saved_id(camille),
        1,
    )
    accept(session, b1, saved_id(julien))
    session.add(
        CarpoolMessage(
            booking_id=saved_id(b1),
            sender_id=saved_id(camille),
            body="Bonjour Julien, je vous attends devant la mairie de Villerupt ?",
        )
    )
    b1.accepted_at = utcnow() - timedelta(days=21)
    request_seats(
        session,
        saved_id(by_owner[(saved_id(luca), "outward", "regular")]),
        saved_id(users["mehdi@eclor.test"]),
        1,
    )
    return f"{len(made)} carpool ads, 2 bookings, {len(DEMO_CARPOOLERS)} more residents"

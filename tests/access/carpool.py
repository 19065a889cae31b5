"""Access rules of the carpool pages, the staff moderation and exports, and the RDEX+ API."""

from __future__ import annotations

from typing import Any

from app.carpool import ads as cp
from app.carpool import bookings
from app.db import utcnow, write_session
from app.models.carpool import CarpoolAd, CarpoolReport, CarpoolSearch
from tests.access import AccessContext, Row, roles_only, same_for_all, signed_in_only

STRANGERS = ("merchant", "other_merchant", "staff", "admin", "social_worker")
WHERE = "departureLat=49.47&departureLng=5.95&arrivalLat=49.63&arrivalLng=6.16"


def _ad(ctx: AccessContext, *, status: str = "active") -> CarpoolAd:
    data = cp.AdInput(
        role="driver",
        frequency="regular",
        from_label="Audun-le-Tiche",
        from_lat=49.472,
        from_lon=5.955,
        to_label="Luxembourg Kirchberg",
        to_lat=49.6296,
        to_lon=6.1619,
        seats=3,
        outward={0: (450, 15), 1: (450, 15)},
    )
    with write_session(ctx.engine) as s:
        ad = cp.create_ad(s, ctx.user_ids["resident"], data)[0]
        ad.status = status
    return ad


def ad(ctx: AccessContext) -> dict[str, Any]:
    return {"ad_id": _ad(ctx).id}


def hidden_ad(ctx: AccessContext) -> dict[str, Any]:
    return {"ad_id": _ad(ctx, status="hidden").id}


def booking(ctx: AccessContext) -> dict[str, Any]:
    """A pending request of other_resident on resident's ad."""
    ad_id = _ad(ctx).id
    with write_session(ctx.engine) as s:
        b = bookings.request_seats(s, ad_id, ctx.user_ids["other_resident"], 1)
    return {"booking_id": b.id, "ad_id": ad_id}


def search(ctx: AccessContext) -> dict[str, Any]:
    with write_session(ctx.engine) as s:
        row = CarpoolSearch(
            user_id=ctx.user_ids["resident"],
            from_label="A",
            from_lat=49.472,
            from_lon=5.955,
            to_label="B",
            to_lat=49.6296,
            to_lon=6.1619,
            days_mask=1,
        )
        s.add(row)
        s.flush()
        return {"search_id": row.id}


def report(ctx: AccessContext) -> dict[str, Any]:
    ad_id = _ad(ctx).id
    with write_session(ctx.engine) as s:
        row = CarpoolReport(
            ad_id=ad_id,
            reporter_id=ctx.user_ids["other_resident"],
            reason="fake",
            created_at=utcnow(),
        )
        s.add(row)
        s.flush()
        return {"report_id": row.id}


def resident(ctx: AccessContext) -> dict[str, Any]:
    return {"user_id": ctx.user_ids["resident"]}


SEARCH = {
    "from_place": "commune-57038",
    "to_place": "kirchberg",
    "role": "driver",
    "frequency": "regular",
    "d0": "1",
    "time": "07:30",
    "margin": "30",
    "radius": "5000",
}
AD = {
    "role": "driver",
    "frequency": "regular",
    "from_place": "commune-57038",
    "to_place": "kirchberg",
    "seats": "3",
    "margin": "15",
    "price": "8",
    "d0": "1",
    "out0": "07:30",
    "ret0": "17:30",
}


def parties(
    owner: Any, requester: Any, stranger: Any = 404, anonymous: Any = 401
) -> dict[str, Any]:
    out = {"anonymous": anonymous, "resident": owner, "other_resident": requester}
    out.update({role: stranger for role in STRANGERS})
    return out


def others(owner: Any, everyone_else: Any, anonymous: Any = 401) -> dict[str, Any]:
    out = {role: everyone_else for role in ("other_resident",) + STRANGERS}
    out.update(anonymous=anonymous, resident=owner)
    return out


ROWS = [
    Row("GET", "/carpool", same_for_all(200)),
    Row(
        "GET",
        "/carpool/search?from_place=commune-57038&to_place=kirchberg&frequency=regular&d0=1&time=07:30",
        same_for_all(200),
        route="/carpool/search",
    ),
    Row("POST", "/carpool/searches", signed_in_only(303, anonymous=401), data=SEARCH),
    Row(
        "POST",
        "/carpool/searches/{search_id}/delete",
        others(303, 404),
        setup=search,
        route="/carpool/searches/{search_id:int}/delete",
    ),
    Row("GET", "/carpool/ads/new", signed_in_only(200)),
    Row("POST", "/carpool/ads", signed_in_only(303, anonymous=401), data=AD),
    Row(
        "GET", "/carpool/ads/{ad_id}", same_for_all(200), setup=ad, route="/carpool/ads/{ad_id:int}"
    ),
    Row(
        "POST",
        "/carpool/ads/{ad_id}/close",
        others(303, (403, 404)),
        setup=ad,
        route="/carpool/ads/{ad_id:int}/close",
        notes="once the owner closed it, the ad is gone for others",
    ),
    Row(
        "POST",
        "/carpool/ads/{ad_id}/book",
        others(400, (303, 400)),
        setup=ad,
        data={"seats": "1"},
        route="/carpool/ads/{ad_id:int}/book",
        notes="one's own ad cannot be booked; 3 seats, then full",
    ),
    Row(
        "POST",
        "/carpool/ads/{ad_id}/report",
        others(400, 200),
        setup=ad,
        data={"reason": "fake"},
        route="/carpool/ads/{ad_id:int}/report",
    ),
    Row(
        "GET",
        "/carpool/bookings/{booking_id}",
        parties(200, 200, anonymous=303),
        setup=booking,
        route="/carpool/bookings/{booking_id:int}",
    ),
    Row(
        "POST",
        "/carpool/bookings/{booking_id}/accept",
        parties(303, 400),
        setup=booking,
        route="/carpool/bookings/{booking_id:int}/accept",
        notes="only the ad's owner accepts",
    ),
    Row(
        "POST",
        "/carpool/bookings/{booking_id}/decline",
        parties(303, 400),
        setup=booking,
        route="/carpool/bookings/{booking_id:int}/decline",
    ),
    Row(
        "POST",
        "/carpool/bookings/{booking_id}/cancel",
        parties(303, (303, 400)),
        setup=booking,
        route="/carpool/bookings/{booking_id:int}/cancel",
    ),
    Row(
        "POST",
        "/carpool/bookings/{booking_id}/messages",
        parties(303, 303),
        setup=booking,
        data={"body": "Bonjour"},
        route="/carpool/bookings/{booking_id:int}/messages",
    ),
    Row(
        "POST",
        "/carpool/bookings/{booking_id}/trip",
        parties(400, 400),
        setup=booking,
        data={"step": "start"},
        route="/carpool/bookings/{booking_id:int}/trip",
        notes="a pending booking has no trip to confirm yet",
    ),
    Row(
        "POST",
        "/carpool/users/{user_id}/block",
        others(404, 303),
        setup=resident,
        route="/carpool/users/{user_id:int}/block",
        notes="one cannot block oneself",
    ),
    Row(
        "POST",
        "/carpool/users/{user_id}/unblock",
        signed_in_only(303, anonymous=401),
        setup=resident,
        route="/carpool/users/{user_id:int}/unblock",
    ),
    Row("GET", "/carpool/mine", signed_in_only(200)),
    Row("GET", "/carpool/profile", signed_in_only(200)),
    Row(
        "POST", "/carpool/profile", signed_in_only(303, anonymous=401), data={"first_name": "Alex"}
    ),
    Row(
        "POST",
        "/carpool/profile/proof",
        signed_in_only(303, anonymous=401),
        data={"proof_phone": "06 01 02 03 04", "proof_last_name": "Martin", "proof_consent": "1"},
    ),
    Row(
        "GET",
        "/carpool/photos/{name}",
        signed_in_only(404),
        setup=lambda ctx: {"name": "x" * 32 + ".jpg"},
        route="/carpool/photos/{name:str}",
    ),
    Row("GET", "/carpool/staff", roles_only(("staff", "admin"))),
    Row(
        "POST",
        "/carpool/staff/reports/{report_id}",
        roles_only(("staff", "admin"), 303, anonymous=401),
        setup=report,
        data={"action": "dismiss"},
        route="/carpool/staff/reports/{report_id:int}",
    ),
    Row(
        "POST",
        "/carpool/staff/ads/{ad_id}/restore",
        roles_only(("staff", "admin"), (303, 404), anonymous=401),
        setup=hidden_ad,
        route="/carpool/staff/ads/{ad_id:int}/restore",
    ),
    Row(
        "POST",
        "/carpool/staff/shares",
        roles_only(("staff", "admin"), 303, anonymous=401),
        data={"partner": "1"},
    ),
    Row("GET", "/carpool/staff/proofs.csv", roles_only(("staff", "admin"))),
    Row("GET", "/carpool/staff/proofs.json", roles_only(("staff", "admin"), anonymous=401)),
    Row(
        "GET",
        "/api/rdex/journeys?departureLat=49.47&departureLng=5.95&arrivalLat=49.63&arrivalLng=6.16",
        same_for_all(200),
        route="/api/rdex/journeys",
    ),
    # The standard-covoiturage API: search and status public, bookings and messages for operators'
    # keys only (a signed-in person's session is no key).
    *(
        Row(
            "GET",
            f"/api/carpool/{kind}_journeys?{WHERE}&departureDate=1900000000",
            same_for_all(200),
            route=f"/api/carpool/{kind}_journeys",
        )
        for kind in ("driver", "passenger")
    ),
    *(
        Row(
            "GET",
            f"/api/carpool/{kind}_regular_trips?{WHERE}&departureTimeOfDay=06:30:00",
            same_for_all(200),
            route=f"/api/carpool/{kind}_regular_trips",
        )
        for kind in ("driver", "passenger")
    ),
    Row("GET", "/api/carpool/status", same_for_all(200)),
    Row("POST", "/api/carpool/bookings", same_for_all(401), json={"id": "x"}),
    Row("POST", "/api/carpool/messages", same_for_all(401), json={"message": "x"}),
    Row(
        "GET",
        "/api/carpool/bookings/7d0b1f8e-3f4c-4a55-9a43-2f1d8c1e9b11",
        same_for_all(401),
        route="/api/carpool/bookings/{booking_id:str}",
    ),
    Row(
        "PATCH",
        "/api/carpool/bookings/7d0b1f8e-3f4c-4a55-9a43-2f1d8c1e9b11?status=CANCELLED",
        same_for_all(401),
        route="/api/carpool/bookings/{booking_id:str}",
    ),
]

"""Access rules of the neighbour-sharing routes (ads, loans, requests, staff moderation)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.access import AccessContext, Row, roles_only, same_for_all, signed_in_only

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

STAFF_ROLES = ("staff", "admin")
NO_SUCH_PHOTO = "A" * 32 + ".jpg"


def _owner_only(
    owner_status: int,
    *,
    others: int = 404,
    anonymous: int = 401,
    party: str | None = None,
    party_status: int | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "anonymous": anonymous,
        "resident": owner_status,
        "other_resident": others,
        "merchant": others,
        "other_merchant": others,
        "staff": others,
        "admin": others,
        "social_worker": others,
    }
    if party:
        out[party] = party_status
    return out


def an_item(ctx: AccessContext) -> dict[str, Any]:
    from app.db import utcnow, write_session
    from app.models.sharing import SharedItem
    from app.sharing import loans as sharing

    with write_session(ctx.engine) as session:
        item = SharedItem(
            owner_id=ctx.user_ids["resident"],
            kind="lend",
            title="Perceuse",
            category="tools",
            commune_insee="57038",
            expires_at=utcnow(),
        )
        sharing.publish(session, item)
        return {"item_id": item.id}


def a_loan(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.sharing import loans as sharing

    item_id = an_item(ctx)["item_id"]
    start = sharing.local_today(PARIS) + timedelta(days=2)
    with write_session(ctx.engine) as session:
        loan = sharing.request_loan(
            session, item_id, ctx.user_ids["other_resident"], start, start + timedelta(days=1)
        )
        return {"loan_id": loan.id}


def a_wanted(ctx: AccessContext) -> dict[str, Any]:
    from app.db import utcnow, write_session
    from app.models.sharing import WantedRequest
    from app.sharing import loans as sharing

    with write_session(ctx.engine) as session:
        wanted = WantedRequest(
            user_id=ctx.user_ids["resident"],
            title="Échelle",
            category="tools",
            commune_insee="57038",
            expires_at=utcnow(),
        )
        sharing.post_wanted(session, wanted)
        return {"wanted_id": wanted.id}


def a_hidden_item(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.models.sharing import SharedItem
    from app.sharing import moderation

    item_id = an_item(ctx)["item_id"]
    with write_session(ctx.engine) as session:
        moderation.hide(session, session.get(SharedItem, item_id), ctx.user_ids["staff"], "fake")
    return {"item_id": item_id}


def a_report(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.models.sharing import SharedItem
    from app.sharing import loans as sharing

    item_id = an_item(ctx)["item_id"]
    with write_session(ctx.engine) as session:
        sharing.report_item(
            session, session.get(SharedItem, item_id), ctx.user_ids["other_resident"], "Arnaque"
        )
        from sqlalchemy import select

        from app.models.sharing import ItemReport

        return {"report_id": session.scalars(select(ItemReport.id)).one()}


ROWS = [
    Row("GET", "/sharing", same_for_all(200)),
    Row(
        "GET",
        f"/sharing/photos/{NO_SUCH_PHOTO}",
        same_for_all(404),
        route="/sharing/photos/{name:str}",
    ),
    Row("GET", "/sharing/new", signed_in_only(200)),
    Row("POST", "/sharing/items", signed_in_only(400, anonymous=401), data={"title": ""}),
    Row(
        "GET",
        "/sharing/items/{item_id}",
        same_for_all(200),
        setup=an_item,
        route="/sharing/items/{item_id:int}",
    ),
    Row(
        "GET",
        "/sharing/items/{item_id}/edit",
        _owner_only(200, anonymous=303),
        setup=an_item,
        route="/sharing/items/{item_id:int}/edit",
    ),
    Row(
        "POST",
        "/sharing/items/{item_id}/pause",
        _owner_only(303),
        setup=an_item,
        route="/sharing/items/{item_id:int}/{action:str}",
        notes="only the owner pauses; others get 404",
    ),
    Row(
        "GET",
        "/sharing/loans/{loan_id}",
        _owner_only(200, anonymous=303, party="other_resident", party_status=200),
        setup=a_loan,
        route="/sharing/loans/{loan_id:int}",
        notes="the two parties only",
    ),
    Row(
        "POST",
        "/sharing/loans/{loan_id}/messages",
        _owner_only(303, party="other_resident", party_status=303),
        setup=a_loan,
        data={"body": "Bonjour"},
        route="/sharing/loans/{loan_id:int}/{action:str}",
    ),
    Row("GET", "/sharing/mine", signed_in_only(200)),
    Row("POST", "/sharing/watches", signed_in_only(303, anonymous=401), data={"category": "tools"}),
    Row("GET", "/sharing/wanted/new", signed_in_only(200)),
    Row("POST", "/sharing/wanted", signed_in_only(400, anonymous=401), data={"title": ""}),
    Row(
        "GET",
        "/sharing/wanted/{wanted_id}",
        same_for_all(200),
        setup=a_wanted,
        route="/sharing/wanted/{wanted_id:int}",
    ),
    Row(
        "POST",
        "/sharing/wanted/{wanted_id}/close",
        _owner_only(303),
        setup=a_wanted,
        route="/sharing/wanted/{wanted_id:int}/close",
    ),
    Row("GET", "/sharing/reports", roles_only(STAFF_ROLES)),
    Row(
        "POST",
        "/sharing/reports/{report_id}/dismiss",
        roles_only(STAFF_ROLES, 303, anonymous=401),
        setup=a_report,
        route="/sharing/reports/{report_id:int}/{decision:str}",
    ),
    Row(
        "POST",
        "/sharing/items/{item_id}/restore",
        roles_only(STAFF_ROLES, 303, anonymous=401),
        setup=a_hidden_item,
        route="/sharing/items/{item_id:int}/restore",
    ),
]

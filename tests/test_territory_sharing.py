"""Neighbour sharing on an install of several territories: an ad and a wanted request belong to the
territory of their commune; every sharing page a host answers (the list, ad pages and actions,
photos, wanted requests, staff moderation) keeps to its territory's, and a resident's own ads and
loans follow them on every host."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from app.db import read_session, utcnow, write_session
from app.models.sharing import (
    CategoryWatch,
    ItemReport,
    Loan,
    SharedItem,
    SharedPhoto,
    WantedRequest,
)
from app.sharing import loans as sharing
from tests.territory_sweep import domain_routes
from tests.territory_sweep import refused as is_refused
from tests.test_sharing import make_item, notices
from tests.test_territories import ESCH
from tests.test_territory_reports import add_minett

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

B_TITLE = "Remorque à vélo du Minett"
B_WANTED = "Escabeau pour Esch"
SHARING_DOMAIN = ("/sharing",)


def _in_esch(engine: Any, item_id: int, **changes: Any) -> None:
    with write_session(engine) as s:
        item = s.get(SharedItem, item_id)
        assert item is not None
        item.commune_insee = "L0204"
        for key, value in changes.items():
            setattr(item, key, value)


@pytest.fixture
def two(app, engine, personas) -> dict[str, Any]:
    """An ad in each territory: the first's (A) by ``resident``, the Minett's (B) in Esch by
    ``other_resident``, with a photo, a loan asked by the commuter (``resident``), a report, a
    hidden ad and a wanted request."""
    minett = add_minett(engine)
    owner, commuter = personas["other_resident"], personas["resident"]
    reporter = personas["other_merchant"].id
    a_item = make_item(engine, commuter.id)
    b_item = make_item(engine, owner.id, title=B_TITLE)
    b_hidden = make_item(engine, owner.id, title=B_TITLE + " (masquée)")
    _in_esch(engine, b_item)
    _in_esch(engine, b_hidden, status="hidden")
    start = sharing.local_today(PARIS) + timedelta(days=3)
    with write_session(engine) as s:
        loan = sharing.request_loan(s, b_item, commuter.id, start, start + timedelta(days=2)).id
        photo = SharedPhoto(
            item_id=b_item,
            display_name="d" * 32 + ".jpg",
            thumb_name="e" * 32 + ".jpg",
            width=800,
            height=600,
        )
        report = ItemReport(item_id=b_item, reporter_id=reporter, reason="x")
        wanted = WantedRequest(
            user_id=owner.id,
            title=B_WANTED,
            category="tools",
            commune_insee="L0204",
            expires_at=utcnow() + timedelta(days=20),
        )
        s.add_all([photo, report, wanted])
        s.flush()
        ids = {"b_photo": photo.id, "b_report": report.id, "b_wanted": wanted.id}
    return {
        "minett": minett,
        "a_item": a_item,
        "b_items": [b_item, b_hidden],
        "b_loan": loan,
        "b_photos": ["d" * 32 + ".jpg", "e" * 32 + ".jpg"],
        **ids,
    }


def _domain_routes(app: Any) -> list[tuple[str, str]]:
    return domain_routes(app, SHARING_DOMAIN)


def _gets(path: str, two: dict[str, Any]) -> tuple[list[str], list[str]]:
    if "{" not in path:
        extra = {
            "/sharing": ["/sharing?commune=L0204", "/sharing?q=Remorque", "/sharing?kind=lend"]
        }
        return [path, *extra.get(path, [])], []
    b_items = two["b_items"]
    fill: dict[str, tuple[list[str], list[str]]] = {
        "/sharing/items/{item_id:int}": (
            [f"/sharing/items/{two['a_item']}"],
            [f"/sharing/items/{b}" for b in b_items],
        ),
        "/sharing/items/{item_id:int}/edit": ([], [f"/sharing/items/{b_items[0]}/edit"]),
        "/sharing/loans/{loan_id:int}": ([], [f"/sharing/loans/{two['b_loan']}"]),
        "/sharing/photos/{name:str}": ([], [f"/sharing/photos/{n}" for n in two["b_photos"]]),
        "/sharing/wanted/{wanted_id:int}": ([], [f"/sharing/wanted/{two['b_wanted']}"]),
    }
    if path not in fill:
        raise AssertionError(
            f"{path}: a sharing route with parameters this sweep has no sample for"
        )
    return fill[path]


def _posts(path: str, two: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    b_item, b_hidden = two["b_items"]
    start = (sharing.local_today(PARIS) + timedelta(days=10)).isoformat()
    fill: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "/sharing/items/{item_id:int}/{action:str}": [
            (f"/sharing/items/{b}/{action}", {"start": start, "end": start, "reason": "x"})
            for b in (b_item, b_hidden)
            for action in ("request", "reserve", "report", "pause", "remove")
        ],
        "/sharing/loans/{loan_id:int}/{action:str}": [
            (f"/sharing/loans/{two['b_loan']}/{action}", {"body": "x"})
            for action in ("accept", "decline", "cancel", "message")
        ],
        "/sharing/reports/{report_id:int}/{decision:str}": [
            (f"/sharing/reports/{two['b_report']}/{d}", {"reason": "fake"})
            for d in ("hide", "dismiss")
        ],
        "/sharing/items/{item_id:int}/restore": [(f"/sharing/items/{b_hidden}/restore", {})],
        "/sharing/wanted/{wanted_id:int}/close": [(f"/sharing/wanted/{two['b_wanted']}/close", {})],
        # The poster's own rows (the commune is checked below).
        "/sharing/items": [],
        "/sharing/wanted": [],
        "/sharing/watches": [],
    }
    if path not in fill:
        raise AssertionError(f"{path}: a sharing route that writes this sweep has no sample for")
    return fill[path]


def _leaks(text: str, two: dict[str, Any]) -> list[str]:
    return [m for m in (B_TITLE, B_WANTED, *two["b_photos"]) if m in text]


def _state(engine: Any, two: dict[str, Any]) -> list[Any]:
    with Session(engine) as s:
        items = [s.get(SharedItem, i) for i in two["b_items"]]
        loan = s.get(Loan, two["b_loan"])
        report = s.get(ItemReport, two["b_report"])
        wanted = s.get(WantedRequest, two["b_wanted"])
        assert loan is not None and report is not None and wanted is not None
        return [
            *((i.status, i.expires_at) for i in items if i is not None),
            loan.status,
            report.status,
            wanted.status,
            len(s.scalars(select(Loan)).all()),
            len(s.scalars(select(ItemReport)).all()),
        ]


def _sweep(c: Any, app: Any, engine: Any, two: dict[str, Any]) -> int:
    routes = _domain_routes(app)
    gets = [p for m, p in routes if m == "GET"]
    posts = [p for m, p in routes if m == "POST"]
    assert "/sharing" in gets and "/sharing/reports" in gets and len(gets) >= 10
    before = _state(engine, two)
    read = 0
    for path in gets:
        ok, refused = _gets(path, two)
        for url in ok:
            answer = c.get(url, follow_redirects=False)
            assert answer.status_code < 500, (url, answer.status_code)
            assert not _leaks(answer.text, two), (url, _leaks(answer.text, two))
            read += 1
        for url in refused:
            answer = c.get(url, follow_redirects=False)
            assert is_refused(answer), (url, answer.status_code)
            assert not _leaks(answer.text.replace(url, ""), two), url
    for path in posts:
        for url, form in _posts(path, two):
            answer = c.post_form(url, form)
            assert is_refused(answer), (url, answer.status_code)
            assert not _leaks(answer.text.replace(url, ""), two), url
    assert _state(engine, two) == before
    return read


@pytest.mark.parametrize("who", ["staff", "merchant", None])
def test_sweeping_every_sharing_route_on_one_territorys_host_finds_nothing_of_the_other(
    app, engine, client, two, personas, who
):
    """As the first territory's staff, a resident with nothing in the Minett, and anonymously."""
    c = personas[who].client if who else client
    assert _sweep(c, app, engine, two) >= 9


def test_the_minett_host_shows_the_minetts_ads_and_its_staff_moderate_them(
    engine, client, two, personas
):
    b_item = two["b_items"][0]
    there = client.get("/sharing", headers=ESCH).text
    assert B_TITLE in there and B_WANTED in there and "Perceuse" not in there
    assert client.get(f"/sharing/items/{b_item}", headers=ESCH).status_code == 200
    assert client.get(f"/sharing/items/{two['a_item']}", headers=ESCH).status_code == 404
    assert client.get(f"/sharing/wanted/{two['b_wanted']}", headers=ESCH).status_code == 200
    staff_b = personas["elected"]
    from app.models.accounts import User

    with write_session(engine) as s:
        user = s.get(User, staff_b.id)
        assert user is not None
        user.role, user.territory_id = "staff", two["minett"]
    board = staff_b.client.get("/sharing/reports", headers=ESCH).text
    assert B_TITLE in board
    answer = staff_b.client.post_form(
        f"/sharing/reports/{two['b_report']}/dismiss", {}, headers=ESCH
    )
    assert answer.status_code == 303


def test_a_resident_follows_their_own_ads_and_loans_of_both_territories_on_either_host(
    engine, two, personas
):
    commuter, owner = personas["resident"], personas["other_resident"]
    for headers in ({}, ESCH):
        mine = commuter.client.get("/sharing/mine", headers=headers).text
        assert f"/sharing/loans/{two['b_loan']}" in mine
        assert f"/sharing/items/{two['a_item']}" in mine
    assert commuter.client.get(f"/sharing/loans/{two['b_loan']}").status_code == 200
    # The loan's ad opens for the borrower on either host, and the owner's own ad too.
    assert commuter.client.get(f"/sharing/items/{two['b_items'][0]}").status_code == 200
    assert owner.client.get(f"/sharing/items/{two['b_items'][0]}").status_code == 200
    assert owner.client.get(f"/sharing/wanted/{two['b_wanted']}").status_code == 200


def test_an_ad_or_a_request_is_placed_in_a_commune_of_the_hosts_territory(engine, two, personas):
    resident = personas["merchant"]
    with read_session(engine) as s:
        before = len(s.scalars(select(WantedRequest)).all())
    answer = resident.client.post_form(
        "/sharing/wanted", {"title": "Échelle", "category": "tools", "commune_insee": "L0204"}
    )
    assert answer.status_code == 400 and "Choisissez une commune du territoire" in answer.text
    assert "Esch-sur-Alzette" not in resident.client.get("/sharing/wanted/new").text
    assert "Esch-sur-Alzette" in resident.client.get("/sharing/wanted/new", headers=ESCH).text
    answer = resident.client.post_form(
        "/sharing/wanted",
        {"title": "Échelle", "category": "tools", "commune_insee": "L0204"},
        headers=ESCH,
    )
    assert answer.status_code == 303
    with read_session(engine) as s:
        assert len(s.scalars(select(WantedRequest)).all()) == before + 1


def test_a_looking_for_request_tells_the_watchers_of_its_own_territory_only(engine, personas):
    """A category is watched on a host, for its territory: a request posted in Esch reaches who
    watches it on the Minett's host, one posted in Audun-le-Tiche who watches it on the first
    territory's; a commuter may watch on both hosts."""
    add_minett(engine)
    here, there = personas["resident"], personas["other_resident"]
    commuter, seeker = personas["merchant"], personas["other_merchant"]
    assert here.client.post_form("/sharing/watches", {"category": "tools"}).status_code == 303
    there.client.post_form("/sharing/watches", {"category": "tools"}, headers=ESCH)
    commuter.client.post_form("/sharing/watches", {"category": "tools"})
    commuter.client.post_form("/sharing/watches", {"category": "tools"}, headers=ESCH)
    told = {}
    for host, commune in (({}, "57038"), (ESCH, "L0204")):
        answer = seeker.client.post_form(
            "/sharing/wanted",
            {"title": B_WANTED, "category": "tools", "commune_insee": commune},
            headers=host,
        )
        assert answer.status_code == 303, answer.text
        wanted_id = int(answer.headers["location"].rsplit("/", 1)[1])
        told[commune] = {
            p.id for p in (here, there, commuter) if notices(engine, p.id, f"wanted:{wanted_id}:")
        }
    assert told == {"57038": {here.id, commuter.id}, "L0204": {there.id, commuter.id}}
    # Each host shows and changes its own territory's watches only.
    mine = commuter.client.post_form("/sharing/watches", {"category": "garden"}, headers=ESCH)
    assert mine.status_code == 303
    with read_session(engine) as s:
        rows = s.scalars(select(CategoryWatch).where(CategoryWatch.user_id == commuter.id)).all()
        assert sorted((r.territory_id == 1, r.category) for r in rows) == [
            (False, "garden"),
            (True, "tools"),
        ]

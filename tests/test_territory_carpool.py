"""Carpooling on an install of several territories: an ad belongs to the territory whose host it was
published on; every carpool page and API a host answers (search, ad pages, staff moderation, proofs,
RDEX+ and standard-covoiturage) keeps to its territory's ads, and to the ads of the territories that
share their offers with it both ways; a resident carpools across territories with one account."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.carpool import ads as cp
from app.carpool import shares
from app.db import read_session, utcnow, write_session
from app.models.accounts import User
from app.models.carpool import CarpoolAd, CarpoolBooking, CarpoolReport, CarpoolSearch
from tests.territory_sweep import domain_routes
from tests.territory_sweep import refused as is_refused
from tests.test_carpool import AUDUN, KIRCHBERG, ad_form
from tests.test_carpool_standard import add_operator, booking_body
from tests.test_territories import ESCH
from tests.test_territory_reports import add_minett

ESCH_CENTRE = (49.49575, 5.98212)
SECRET = "Covoit-du-Minett-seulement"
B_LABEL = "Gare de Belval-Université"
CARPOOL_DOMAIN = ("/carpool", "/api/rdex", "/api/carpool")
EVERY_DAY = {f"d{d}": "1" for d in range(7)} | {f"out{d}": "07:30" for d in range(7)}


def minett_ad_form(**over: str) -> dict[str, str]:
    form = {
        "role": "driver",
        "frequency": "regular",
        "from_place": "map",
        "from_lat": str(ESCH_CENTRE[0]),
        "from_lon": str(ESCH_CENTRE[1]),
        "from_label": B_LABEL,
        "to_place": "kirchberg",
        "seats": "3",
        "margin": "15",
        "price": "8",
        "comment": SECRET,
        **EVERY_DAY,
    }
    form.update(over)
    return form


def _ad_id(answer: Any) -> int:
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


def _make_staff_of(engine: Any, persona: Any, territory_id: int) -> Any:
    with write_session(engine) as session:
        user = session.get(User, persona.id)
        assert user is not None
        user.role, user.territory_id = "staff", territory_id
    return persona


@pytest.fixture
def two(app, engine, settings, personas) -> dict[str, Any]:
    """Two territories with carpool rows in each. The first's (A): an ad of the commuter
    (``resident``) published on its host. The Minett's (B), made on esch.localhost: an ad of
    ``other_resident`` with a seat the commuter booked (accepted ten days ago, so it has proofs),
    a report on it, a hidden ad and a saved search."""
    minett = add_minett(engine)
    assert minett is not None and minett != 1
    commuter, driver = personas["resident"], personas["other_resident"]
    a_id = _ad_id(commuter.client.post_form("/carpool/ads", ad_form(comment="Chez nous.")))
    b_id = _ad_id(driver.client.post_form("/carpool/ads", minett_ad_form(), headers=ESCH))
    b_hidden = _ad_id(
        driver.client.post_form(
            "/carpool/ads", minett_ad_form(to_place="commune-57038", seats="2"), headers=ESCH
        )
    )
    booked = commuter.client.post_form(
        f"/carpool/ads/{b_id}/book", {"seats": "1", "message": SECRET}, headers=ESCH
    )
    assert booked.status_code == 303, booked.text
    b_booking = int(booked.headers["location"].rsplit("/", 1)[1])
    accepted = driver.client.post_form(f"/carpool/bookings/{b_booking}/accept", headers=ESCH)
    assert accepted.status_code == 303
    reported = commuter.client.post_form(
        f"/carpool/ads/{b_id}/report", {"reason": "other", "details": SECRET}, headers=ESCH
    )
    assert reported.status_code == 200, reported.text
    saved = commuter.client.post_form(
        "/carpool/searches",
        {
            "from_place": "map",
            "from_lat": str(ESCH_CENTRE[0]),
            "from_lon": str(ESCH_CENTRE[1]),
            "to_place": "kirchberg",
            "role": "driver",
            "frequency": "regular",
            "d0": "1",
            "time": "07:30",
        },
        headers=ESCH,
    )
    assert saved.status_code == 303, saved.text
    with write_session(engine) as session:
        hidden = session.get(CarpoolAd, b_hidden)
        assert hidden is not None
        hidden.status = "hidden"
        booking = session.get(CarpoolBooking, b_booking)
        assert booking is not None
        booking.accepted_at = utcnow() - timedelta(days=10)
    with read_session(engine) as session:
        territory_of = {a.id: a.territory_id for a in session.scalars(select(CarpoolAd))}
        report = session.scalars(select(CarpoolReport)).one()
        search = session.scalars(select(CarpoolSearch)).one()
    assert territory_of == {a_id: 1, a_id + 1: 1, b_id: minett, b_hidden: minett}
    assert search.territory_id == minett
    return {
        "minett": minett,
        "a_ids": [a_id, a_id + 1],
        "b_ids": [b_id, b_hidden],
        "b_booking": b_booking,
        "b_report": report.id,
        "b_search": search.id,
    }


def _domain_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route of the carpool domain in the app's route table."""
    return domain_routes(app, CARPOOL_DOMAIN, ("GET", "POST", "PATCH"))


WHERE = (
    f"departureLat={ESCH_CENTRE[0]}&departureLng={ESCH_CENTRE[1]}"
    f"&arrivalLat={KIRCHBERG[0]}&arrivalLng={KIRCHBERG[1]}"
)
RDEX = f"/api/rdex/journeys?{WHERE}&frequency=regular&departureRadius=10&arrivalRadius=10"
SEARCH = (
    f"from_place=map&from_lat={ESCH_CENTRE[0]}&from_lon={ESCH_CENTRE[1]}&to_place=kirchberg"
    "&role=driver&frequency=regular&d0=1&d1=1&time=07:30&margin=30&radius=5000"
)


def _queries() -> dict[str, list[str]]:
    """The searches of the pages and APIs, around the Minett's ad (which they must not find)."""
    monday = int((utcnow() + timedelta(days=7 - utcnow().weekday())).timestamp())
    return {
        "/carpool/search": [f"/carpool/search?{SEARCH}"],
        "/api/rdex/journeys": [
            f"/api/rdex/journeys?{WHERE}",
            f"/api/rdex/journeys?{WHERE}&frequency=regular&departureRadius=10&arrivalRadius=10",
        ],
        "/api/carpool/driver_journeys": [
            f"/api/carpool/driver_journeys?{WHERE}&departureDate={monday}&departureRadius=10"
        ],
        "/api/carpool/passenger_journeys": [
            f"/api/carpool/passenger_journeys?{WHERE}&departureDate={monday}"
        ],
        "/api/carpool/driver_regular_trips": [
            f"/api/carpool/driver_regular_trips?{WHERE}&departureTimeOfDay=06:30:00"
        ],
        "/api/carpool/passenger_regular_trips": [
            f"/api/carpool/passenger_regular_trips?{WHERE}&departureTimeOfDay=06:30:00"
        ],
        "/carpool/staff/proofs.csv": ["/carpool/staff/proofs.csv"],
        "/carpool/staff/proofs.json": ["/carpool/staff/proofs.json"],
    }


def _gets(path: str, two: dict[str, Any]) -> tuple[list[str], list[str]]:
    """For a GET path: (URLs to read that may answer, URLs naming B's rows that must not)."""
    if "{" not in path:
        return [path, *_queries().get(path, [])], []
    fill: dict[str, tuple[list[str], list[str]]] = {
        "/carpool/ads/{ad_id:int}": (
            [f"/carpool/ads/{two['a_ids'][0]}"],
            [f"/carpool/ads/{b}" for b in two["b_ids"]],
        ),
        "/carpool/bookings/{booking_id:int}": ([], [f"/carpool/bookings/{two['b_booking']}"]),
        # Profile photos are a person's, not a territory's: one that does not exist.
        "/carpool/photos/{name:str}": (["/carpool/photos/" + "0" * 32 + ".jpg"], []),
        "/api/carpool/bookings/{booking_id:str}": ([f"/api/carpool/bookings/{uuid.uuid4()}"], []),
    }
    if path not in fill:
        raise AssertionError(
            f"{path}: a carpool route with parameters this sweep has no sample for"
        )
    return fill[path]


def _posts(path: str, two: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """For a POST (or PATCH) path: the requests naming B's rows, each to be refused, or none when
    the route names no row of a territory (it writes the poster's own)."""
    b_ad, b_hidden = two["b_ids"]
    booking = two["b_booking"]
    fill: dict[str, list[tuple[str, dict[str, str]]]] = {
        "/carpool/ads/{ad_id:int}/close": [(f"/carpool/ads/{b}/close", {}) for b in two["b_ids"]],
        "/carpool/ads/{ad_id:int}/book": [(f"/carpool/ads/{b_ad}/book", {"seats": "1"})],
        "/carpool/ads/{ad_id:int}/report": [
            (f"/carpool/ads/{b_ad}/report", {"reason": "fake", "details": "x"})
        ],
        "/carpool/bookings/{booking_id:int}/accept": [(f"/carpool/bookings/{booking}/accept", {})],
        "/carpool/bookings/{booking_id:int}/decline": [
            (f"/carpool/bookings/{booking}/decline", {})
        ],
        "/carpool/bookings/{booking_id:int}/cancel": [(f"/carpool/bookings/{booking}/cancel", {})],
        "/carpool/bookings/{booking_id:int}/messages": [
            (f"/carpool/bookings/{booking}/messages", {"body": "Bonjour"})
        ],
        "/carpool/bookings/{booking_id:int}/trip": [
            (f"/carpool/bookings/{booking}/trip", {"step": "start"})
        ],
        "/carpool/searches/{search_id:int}/delete": [
            (f"/carpool/searches/{two['b_search']}/delete", {})
        ],
        "/carpool/staff/reports/{report_id:int}": [
            (f"/carpool/staff/reports/{two['b_report']}", {"action": action})
            for action in ("hide", "dismiss")
        ],
        "/carpool/staff/ads/{ad_id:int}/restore": [(f"/carpool/staff/ads/{b_hidden}/restore", {})],
        # People, not territory rows: blocking someone is one's own list.
        "/carpool/users/{user_id:int}/block": [],
        "/carpool/users/{user_id:int}/unblock": [],
        # The poster's own rows, written in the host's territory (checked below).
        "/carpool/ads": [],
        "/carpool/searches": [],
        "/carpool/profile": [],
        "/carpool/profile/proof": [],
        "/carpool/staff/shares": [],
        # Operators' API: a booking of B's journey through A's host is checked below.
        "/api/carpool/bookings": [],
        "/api/carpool/bookings/{booking_id:str}": [],
        "/api/carpool/messages": [],
    }
    if path not in fill:
        raise AssertionError(f"{path}: a carpool route that writes this sweep has no sample for")
    return fill[path]


def _leaks(text: str, two: dict[str, Any]) -> list[str]:
    """B's marks in an answer: its comment, its label, links to its ads, its journey ids."""
    found = [mark for mark in (SECRET, B_LABEL) if mark in text]
    for b in two["b_ids"]:
        found += re.findall(rf"/carpool/ads/{b}(?!\d)|eclor{b}(?![\d])|eclorad{b}t", text)
    found += re.findall(rf"eclor{two['b_booking']}t", text)
    return found


def _state(engine: Any, two: dict[str, Any]) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        ads = session.scalars(select(CarpoolAd).where(col(CarpoolAd.id).in_(two["b_ids"])))
        booking = session.get(CarpoolBooking, two["b_booking"])
        report = session.get(CarpoolReport, two["b_report"])
        search = session.get(CarpoolSearch, two["b_search"])
        assert booking is not None and report is not None
        return [
            *((a.id, a.status, a.seats_left, a.updated_at) for a in ads),
            (booking.status, booking.updated_at),
            (report.status,),
            (search is not None,),
        ]


def _sweep(persona_client: Any, app: Any, engine: Any, two: dict[str, Any]) -> int:
    routes = _domain_routes(app)
    gets = [p for m, p in routes if m == "GET"]
    writes = [p for m, p in routes if m in ("POST", "PATCH")]
    assert "/carpool/staff" in gets and "/api/rdex/journeys" in gets and len(gets) >= 14
    before = _state(engine, two)
    read = 0
    for path in gets:
        ok, refused = _gets(path, two)
        for url in ok:
            answer = persona_client.get(url, follow_redirects=False)
            assert answer.status_code < 500, (url, answer.status_code)
            assert not _leaks(answer.text, two), (url, _leaks(answer.text, two))
            read += 1
        for url in refused:
            answer = persona_client.get(url, follow_redirects=False)
            assert is_refused(answer), (url, answer.status_code)
            assert not _leaks(answer.text.replace(url, ""), two), url
    for path in writes:
        for url, form in _posts(path, two):
            answer = persona_client.post_form(url, form)
            assert is_refused(answer), (url, answer.status_code)
            assert SECRET not in answer.text, url
    assert _state(engine, two) == before
    return read


def test_staff_of_one_territory_sweeping_every_carpool_route_and_api_find_nothing_of_the_other(
    app, engine, two, personas
):
    read = _sweep(personas["staff"].client, app, engine, two)
    assert read >= 20
    # The staff page's lists and figures are the first territory's (its ads: two; the Minett's
    # report and hidden ad are not there).
    page = personas["staff"].client.get("/carpool/staff").text
    assert "Aucun signalement en attente." in page


def test_an_anonymous_visitor_sweeping_every_carpool_route_and_api_finds_nothing_of_the_other(
    app, engine, client, two
):
    assert _sweep(client, app, engine, two) >= 15


def test_the_minett_host_shows_the_minetts_ads_and_its_staff_moderate_them_there(
    client, engine, two, personas
):
    staff_b = _make_staff_of(engine, personas["elected"], two["minett"])
    b_ad = two["b_ids"][0]
    assert B_LABEL in client.get(f"/carpool/search?{SEARCH}", headers=ESCH).text
    assert client.get(f"/carpool/ads/{b_ad}", headers=ESCH).status_code == 200
    journeys = client.get(RDEX, headers=ESCH).json()["journeys"]
    assert journeys and all(f"/carpool/ads/{b_ad}" in str(j) for j in journeys)
    assert f"/carpool/ads/{two['a_ids'][0]}" not in str(journeys)
    board = staff_b.client.get("/carpool/staff", headers=ESCH)
    assert board.status_code == 200 and SECRET in board.text
    proofs = staff_b.client.get("/carpool/staff/proofs.csv", headers=ESCH).text
    assert f"eclorad{b_ad}t" in proofs
    # The first territory's staff are refused on the Minett's host, and the Minett's on the first's.
    assert personas["staff"].client.get("/carpool/staff", headers=ESCH).status_code == 403
    assert staff_b.client.get("/carpool/staff").status_code == 403
    hide = staff_b.client.post_form(
        f"/carpool/staff/reports/{two['b_report']}", {"action": "hide"}, headers=ESCH
    )
    assert hide.status_code == 303
    restore = staff_b.client.post_form(
        f"/carpool/staff/ads/{two['b_ids'][1]}/restore", headers=ESCH
    )
    assert restore.status_code == 303


def _share(persona: Any, partner: int | None, **kwargs: Any) -> None:
    form = {"partner": str(partner)} if partner else {}
    answer = persona.client.post_form("/carpool/staff/shares", form, **kwargs)
    assert answer.status_code == 303, answer.text


def test_the_search_spans_a_neighbouring_territory_only_when_both_agree_to_share_offers(
    client, engine, two, personas
):
    staff_a = personas["staff"]
    staff_b = _make_staff_of(engine, personas["elected"], two["minett"])
    b_ad, a_ad = two["b_ids"][0], two["a_ids"][0]

    def found_from_a() -> bool:
        page = client.get(f"/carpool/search?{SEARCH}").text
        rdex = client.get(RDEX).text
        assert (f"/carpool/ads/{b_ad}" in page) == (f"/carpool/ads/{b_ad}" in rdex)
        return f"/carpool/ads/{b_ad}" in page

    def found_from_b() -> bool:
        near_audun = SEARCH.replace(str(ESCH_CENTRE[0]), str(AUDUN[0])).replace(
            str(ESCH_CENTRE[1]), str(AUDUN[1])
        )
        return (
            f"/carpool/ads/{a_ad}" in client.get(f"/carpool/search?{near_audun}", headers=ESCH).text
        )

    assert f"/carpool/ads/{a_ad}" in client.get(f"/carpool/search?{SEARCH}").text
    assert not found_from_a() and not found_from_b()
    # The first territory shares its offers with the Minett: not yet the Minett's answer.
    _share(staff_a, two["minett"])
    assert not found_from_a() and not found_from_b()
    assert "en attente de leur accord" in staff_a.client.get("/carpool/staff").text
    assert "partage déjà ses offres" in staff_b.client.get("/carpool/staff", headers=ESCH).text
    # The Minett agrees: each host's search, RDEX and ad pages find the other's offers.
    _share(staff_b, 1, headers=ESCH)
    assert found_from_a() and found_from_b()
    assert client.get(f"/carpool/ads/{b_ad}").status_code == 200
    status = client.get("/api/carpool/status").json()
    assert status["activeJourneys"] is True
    with read_session(engine) as session:
        assert shares.searched_territories(session, 1) == (1, two["minett"])
    # A neighbour of the first territory books the Minett's offer on its own host.
    neighbour = personas["merchant"]
    booked = neighbour.client.post_form(f"/carpool/ads/{b_ad}/book", {"seats": "1"})
    assert booked.status_code == 303, booked.text
    # Staff still moderate their own territory's ads only.
    assert SECRET not in staff_a.client.get("/carpool/staff").text
    answer = staff_a.client.post_form(
        f"/carpool/staff/reports/{two['b_report']}", {"action": "hide"}
    )
    assert answer.status_code == 404
    # The Minett withdraws: its offers are no longer found from the first territory.
    _share(staff_b, None, headers=ESCH)
    assert not found_from_a() and not found_from_b()
    assert client.get(f"/carpool/ads/{b_ad}").status_code == 404


def test_a_territory_cannot_share_with_itself_or_an_unknown_one(engine, two):
    with write_session(engine) as session:
        kept = shares.set_shared(session, 1, [1, 999, two["minett"]])
    assert kept == {two["minett"]}
    with read_session(engine) as session:
        assert shares.searched_territories(session, 1) == (1,)  # the Minett has not agreed


def test_a_commuter_sees_their_own_ads_and_bookings_of_both_territories_on_either_host(
    engine, two, personas
):
    commuter = personas["resident"]  # published in the first territory, booked in the Minett
    for headers in ({}, ESCH):
        mine = commuter.client.get("/carpool/mine", headers=headers)
        assert mine.status_code == 200
        assert f"/carpool/bookings/{two['b_booking']}" in mine.text
        assert f"/carpool/ads/{two['a_ids'][0]}" in mine.text
    # The ad they booked in the Minett opens on the first's host too (one they asked to share),
    # and so does their own ad on the Minett's host.
    assert commuter.client.get(f"/carpool/ads/{two['b_ids'][0]}").status_code == 200
    assert commuter.client.get(f"/carpool/ads/{two['a_ids'][0]}", headers=ESCH).status_code == 200
    assert commuter.client.get(f"/carpool/bookings/{two['b_booking']}").status_code == 200
    # A stranger to the Minett's ad does not find it on the first's host.
    assert personas["merchant"].client.get(f"/carpool/ads/{two['b_ids'][0]}").status_code == 404


def test_a_saved_search_hears_of_the_ads_its_host_finds_only(engine, two, personas):
    """The commuter's search saved on the Minett's host hears of a new Minett ad, not of one
    published in the first territory, until the two share their offers."""
    driver = personas["other_resident"]
    a_new = _ad_id(driver.client.post_form("/carpool/ads", minett_ad_form(comment="A.")))
    b_new = _ad_id(
        driver.client.post_form("/carpool/ads", minett_ad_form(comment="B."), headers=ESCH)
    )
    with write_session(engine) as session:
        a_ad, b_ad = session.get(CarpoolAd, a_new), session.get(CarpoolAd, b_new)
        assert a_ad is not None and b_ad is not None
        assert (a_ad.territory_id, b_ad.territory_id) == (1, two["minett"])
        assert cp.alert_new_ad(session, a_ad) == 0
        assert cp.alert_new_ad(session, b_ad) == 1
    with write_session(engine) as session:
        shares.set_shared(session, 1, [two["minett"]])
        shares.set_shared(session, two["minett"], [1])
    with write_session(engine) as session:
        a_ad = session.get(CarpoolAd, a_new)
        assert a_ad is not None and cp.alert_new_ad(session, a_ad) == 1


def test_an_operator_cannot_book_a_journey_of_another_territory_through_this_host(
    client, engine, settings, two
):
    key = add_operator(settings)
    when = utcnow() + timedelta(days=2)
    body = booking_body(f"eclor{two['b_ids'][0]}", when)
    answer = client.post(
        "/api/carpool/bookings", json=body, headers={"authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 404 and answer.json()["error"] == "missing_journey"
    with read_session(engine) as session:
        assert (
            session.scalars(
                select(CarpoolBooking).where(col(CarpoolBooking.external_id) == body["id"])
            ).first()
            is None
        )
    # On the Minett's host the same booking is taken.
    answer = client.post(
        "/api/carpool/bookings",
        json=booking_body(f"eclor{two['b_ids'][0]}", when),
        headers={"authorization": f"Bearer {key}", **ESCH},
    )
    assert answer.status_code == 201, answer.text

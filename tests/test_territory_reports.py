"""Reports per territory: a place reaches the commune (and territory) responsible for it, a report
placed in another territory's commune is handed to it (and the reporter told), and every reports
route and API a request reaches answers with its own territory's reports only."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from PIL import Image
from sqlmodel import Session, col, select

from app import auth, geo, territory_demo
from app.db import write_session
from app.models.accounts import User
from app.models.reports import Report, ReportEvent, ReportPhoto
from app.models.territory import Commune
from app.reports import catalogue
from app.reports import workflow as rp
from app.territory_setup import create
from tests.conftest import make_persona
from tests.territory_sweep import domain_routes

# Inside Esch-sur-Alzette's outline (territory "Minett"), yet nearer the centre of Rédange (France).
BORDER = (49.5105, 5.946)
AUDUN = (49.4720, 5.9550)  # Audun-le-Tiche, the first territory


def add_minett(engine) -> int:
    with write_session(engine) as session:
        territory = create(session, territory_demo.SETTINGS, territory_demo.COMMUNES)
        assert territory.id is not None
        return territory.id


# --------------------------------------------------------------------------- the commune of a place


def test_a_place_inside_an_outline_reaches_that_commune_not_the_nearest_centre(engine):
    add_minett(engine)
    with Session(engine) as session:
        redange, esch = session.get(Commune, "57565"), session.get(Commune, "L0204")
        assert redange is not None and esch is not None
        # The border point is nearer Rédange's centre, but inside Esch's outline only.
        assert geo.distance_m(*BORDER, redange.lat, redange.lon) < geo.distance_m(
            *BORDER, esch.lat, esch.lon
        )
        at = catalogue.commune_at(session, *BORDER)
        assert at is not None and at.insee == "L0204"
        audun = catalogue.commune_at(session, *AUDUN)
        assert audun is not None and audun.insee == "57038"
        # Outside every outline: the nearest centre within the radius, else none.
        assert catalogue.commune_at(session, 49.0, 5.0) is None


def test_without_the_second_territory_the_same_place_falls_back_on_the_nearest_centre(engine):
    with Session(engine) as session:
        at = catalogue.commune_at(session, *BORDER)
        assert at is not None and at.insee == "57565"


def test_outlines_are_read_as_cap_text_or_geojson_polygon_and_multipolygon():
    square = [[5.0, 49.0], [5.1, 49.0], [5.1, 49.1], [5.0, 49.1], [5.0, 49.0]]
    far = [[[6.0, 50.0], [6.1, 50.0], [6.1, 50.1], [6.0, 50.0]]]
    polygon = json.dumps({"type": "Polygon", "coordinates": [square]})
    multi = json.dumps({"type": "MultiPolygon", "coordinates": [far, [square]]})
    assert catalogue.outline_rings(polygon)[0][1] == (49.0, 5.1)
    assert len(catalogue.outline_rings(multi)) == 2
    assert catalogue.outline_rings("49.0,5.0 49.0,5.1 49.1,5.1 49.0,5.0")[0][1] == (49.0, 5.1)
    for unreadable in (None, "", "{", '{"type": "Point", "coordinates": [5, 49]}', "[1]"):
        assert catalogue.outline_rings(unreadable) == []


def test_the_list_filter_takes_luxembourg_commune_keys_and_nothing_else():
    parse = catalogue.Filters.parse
    assert parse({"commune": "L0204"}, staff=False).commune == "L0204"
    assert parse({"commune": "2A004"}, staff=False).commune == "2A004"
    assert parse({"commune": "57038"}, staff=False).commune == "57038"
    for bad in ("L02045", "l0204", "LU0204", "5703", "'; --"):
        assert parse({"commune": bad}, staff=False).commune is None


# --------------------------------------------------------------------------- reports per territory

ESCH = {"host": "esch.localhost"}
ESCH_CENTRE = (49.49575, 5.98212)
SECRET = "Dépôt-du-Minett-seulement"
REPORTS_DOMAIN = ("/reports", "/staff/reports", "/open311/")


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 72), (120, 80, 40)).save(buf, format="JPEG")
    return buf.getvalue()


def submit(client, key: str, lat: float, lon: float, *, headers=None, description="Un canapé."):
    return client.post(
        "/reports/new",
        data={
            "_csrf_token": client.csrf_token(),
            "category": "bulky_items",
            "lat": str(lat),
            "lon": str(lon),
            "idempotency_key": key,
            "description": description,
        },
        files=[("photos", ("p.jpg", jpeg(), "image/jpeg"))],
        headers=headers or {},
        follow_redirects=False,
    )


def open311_post(client, api_key: str, lat: float, lon: float, *, headers=None, description=""):
    return client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "tyres",
            "lat": str(lat),
            "long": str(lon),
            "description": description,
        },
        headers=headers or {},
    )


@pytest.fixture
def two(app, engine, settings, personas):
    """Two territories with reports in each: the first's (A) made on its host, the Minett's (B) on
    esch.localhost, by the web form (with a photo) and by Open311 (with a token)."""
    minett = add_minett(engine)
    with write_session(engine) as session:
        _row, api_key = rp.issue_api_key(session, "Partenaire", None)
        _row, b_key = rp.issue_api_key(session, "Partenaire du Minett", None, minett)
    resident = personas["resident"]
    a_ids, b_ids = [], []
    for n in range(2):
        answer = submit(resident.client, f"key-a-{n:04d}", *AUDUN, description="Chez nous.")
        assert answer.status_code == 303, answer.text
        a_ids.append(int(answer.headers["location"].split("/")[2].split("?")[0]))
        answer = submit(
            resident.client, f"key-b-{n:04d}", *ESCH_CENTRE, headers=ESCH, description=SECRET
        )
        assert answer.status_code == 303, answer.text
        assert "handed" not in answer.headers["location"]
        b_ids.append(int(answer.headers["location"].split("/")[2].split("?")[0]))
    posted = open311_post(resident.client, api_key, *AUDUN, description="Pneus chez nous")
    assert posted.status_code == 201, posted.text
    # A key is its territory's: the first territory's is refused on the Minett's host.
    refused = open311_post(resident.client, api_key, *ESCH_CENTRE, headers=ESCH, description=SECRET)
    assert refused.status_code == 403, refused.text
    posted = open311_post(resident.client, b_key, *ESCH_CENTRE, headers=ESCH, description=SECRET)
    assert posted.status_code == 201, posted.text
    assert "transmis" not in posted.json()[0]["service_notice"]
    with Session(engine) as session:
        b_ids.append(catalogue.id_from_number(posted.json()[0]["service_request_id"]) or 0)
        b_reports = session.scalars(select(Report).where(col(Report.id).in_(b_ids))).all()
        assert {r.territory_id for r in b_reports} == {minett}
        assert {r.commune_insee for r in b_reports} == {"L0204"}
        a_reports = session.scalars(select(Report).where(col(Report.id).in_(a_ids))).all()
        assert {r.territory_id for r in a_reports} == {1} and minett != 1
        photos = session.scalars(
            select(ReportPhoto).where(col(ReportPhoto.report_id).in_(b_ids))
        ).all()
        b_photos = [name for p in photos for name in (p.display_name, p.thumb_name)]
        b_tokens = [r.token for r in b_reports if r.token]
        b_numbers = [catalogue.number(r) for r in b_reports]
    assert b_photos and b_tokens
    return {
        "minett": minett,
        "api_key": api_key,
        "a_ids": a_ids,
        "b_ids": b_ids,
        "b_photos": b_photos,
        "b_tokens": b_tokens,
        "b_numbers": b_numbers,
    }


def _state(engine, ids: list[int]) -> list[tuple]:
    with Session(engine) as session:
        reports = session.scalars(
            select(Report).where(col(Report.id).in_(ids)).order_by(col(Report.id))
        ).all()
        events = session.scalars(
            select(ReportEvent).where(col(ReportEvent.report_id).in_(ids))
        ).all()
        return [
            (r.id, r.status, r.category, r.lat, r.lon, r.territory_id, r.body_id, r.updated_at)
            for r in reports
        ] + [("events", len(events))]


def _domain_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route of the reports domain in the app's route table."""
    return domain_routes(app, REPORTS_DOMAIN)


def _samples(path: str, two: dict) -> tuple[list[str], list[str]]:
    """For a GET path: (URLs to read that may answer, URLs naming B's reports that must not)."""
    b_id = two["b_ids"][0]
    a_id = two["a_ids"][0]
    params = re.findall(r"\{(\w+):(\w+)\}", path)
    if not params:
        return [path], []
    fill = {
        "/reports/{report_id:int}": None,
        "/open311/v2/{name:str}": (
            [
                "requests.json",
                "requests.xml",
                "services.json",
                "discovery.json",
                "requests.json?service_request_id=" + ",".join(map(str, two["b_ids"])),
                "requests.json?status=open,closed",
            ],
            [],
        ),
        "/open311/v2/requests/{name:str}": (
            [f"{a_id}.json"],
            [f"{b_id}.json", f"{two['b_numbers'][0]}.xml"],
        ),
        "/open311/v2/tokens/{name:str}": ([], [f"{t}.json" for t in two["b_tokens"]]),
        "/open311/v2/services/{name:str}": (["bulky_items.json"], []),
        "/reports/photos/{name:str}": ([], list(two["b_photos"])),
    }
    names = [name for name, _kind in params]
    if names == ["report_id"]:
        return [re.sub(r"\{report_id:int\}", str(a_id), path)], [
            re.sub(r"\{report_id:int\}", str(b), path) for b in two["b_ids"]
        ]
    prefix = path[: path.index("{")]
    for pattern, (ok, refused) in ((k, v) for k, v in fill.items() if v is not None):
        if path == pattern:
            return [prefix + x for x in ok], [prefix + x for x in refused]
    raise AssertionError(f"{path}: a reports route with parameters this sweep has no sample for")


def _leaks(text: str, two: dict, url: str = "") -> list[str]:
    """B's marks in a page: its description, its numbers (but a number the URL asked for, which a
    search field or an error repeats)."""
    return [mark for mark in (SECRET, *two["b_numbers"]) if mark in text and mark not in url]


def test_staff_of_one_territory_sweeping_every_reports_route_find_nothing_of_the_other(
    app, engine, two, personas
):
    staff = personas["staff"]
    routes = _domain_routes(app)
    gets = [p for m, p in routes if m == "GET"]
    posts = [p for m, p in routes if m == "POST"]
    assert "/staff/reports" in gets and "/open311/v2/{name:str}" in gets and len(gets) >= 12
    before = _state(engine, two["b_ids"])
    read = 0
    for path in gets:
        ok, refused = _samples(path, two)
        for url in ok:
            answer = staff.client.get(url, follow_redirects=False)
            assert answer.status_code < 500, (url, answer.status_code)
            assert not _leaks(answer.text, two), (url, _leaks(answer.text, two))
            read += 1
        for url in refused:
            answer = staff.client.get(url, follow_redirects=False)
            assert answer.status_code in (403, 404), (url, answer.status_code)
            assert SECRET not in answer.text, url  # (an error may repeat the number asked)
    assert read >= 15
    # The staff's lists and exports, with and without filters, and the search by B's numbers.
    for url in (
        "/staff/reports?status=new",
        "/staff/reports?commune=L0204",
        f"/staff/reports?q={two['b_numbers'][0]}",
        "/staff/reports.csv",
        "/staff/reports.csv?commune=L0204",
        "/staff/reports/stats",
        "/reports?commune=L0204",
        f"/reports?q={two['b_ids'][0]}",
        "/reports/nearby?lat=49.49575&lon=5.98212",
    ):
        answer = staff.client.get(url, follow_redirects=False)
        assert answer.status_code == 200, url
        assert not _leaks(answer.text, two, url), url
        assert "Esch-sur-Alzette" not in answer.text, url
    # Every change a staff member can post about one report, on each of B's: not found, unchanged.
    form = {
        "status": "confirmed",
        "note": "Vu.",
        "category": "rubble",
        "lat": "49.4720",
        "lon": "5.9550",
        "text": "Encore là.",
        "on": "1",
        "duplicate_of": str(two["a_ids"][0]),
    }
    changed = 0
    for path in posts:
        if "{report_id:int}" not in path:
            continue
        for b_id in two["b_ids"]:
            url = path.replace("{report_id:int}", str(b_id))
            answer = staff.client.post_form(url, form)
            assert answer.status_code in (403, 404), (url, answer.status_code)
            changed += 1
    assert changed >= 5 * len(two["b_ids"])
    # A bulk action over B's reports (and one of A's) changes A's only.
    answer = staff.client.post(
        "/staff/reports/bulk",
        data={
            "_csrf_token": staff.client.csrf_token(),
            "ids": [*map(str, two["b_ids"]), str(two["a_ids"][0])],
            "action": "confirmed",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and "done=1" in answer.headers["location"]
    assert _state(engine, two["b_ids"]) == before
    # A's report cannot be marked a duplicate of B's either.
    answer = staff.client.post_form(
        f"/staff/reports/{two['a_ids'][1]}/status",
        {"status": "duplicate", "duplicate_of": two["b_numbers"][0], "duplicate_confirm": "1"},
    )
    assert answer.status_code == 400 and SECRET not in answer.text  # (the form repeats the number)
    assert "Indiquez le numéro du signalement d’origine" in answer.text


def test_staff_belong_to_a_territory_and_another_territorys_host_refuses_them(
    app, engine, settings, two, personas
):
    staff_a = personas["staff"]
    assert staff_a.client.get("/staff/reports", headers=ESCH).status_code == 403
    assert staff_a.client.get(f"/staff/reports/{two['b_ids'][0]}", headers=ESCH).status_code == 403
    # A staff member of the Minett sees the Minett's reports on its host, none of the first's.
    staff_b = make_persona(app, engine, settings, "elected")
    with write_session(engine) as session:
        user = session.get(User, staff_b.id)
        assert user is not None
        user.role, user.territory_id = "staff", two["minett"]
    try:
        board = staff_b.client.get("/staff/reports", headers=ESCH)
        assert board.status_code == 200 and two["b_numbers"][0] in board.text
        assert "PHVA-2026-000001" not in board.text and SECRET not in board.text
        a_page = staff_b.client.get(f"/staff/reports/{two['a_ids'][0]}", headers=ESCH)
        assert a_page.status_code == 404
        assert staff_b.client.get("/staff/reports").status_code == 403  # the first's host
        answer = staff_b.client.post(
            f"/staff/reports/{two['b_ids'][0]}/status",
            data={"_csrf_token": staff_b.client.csrf_token(), "status": "confirmed"},
            headers=ESCH,
            follow_redirects=False,
        )
        assert answer.status_code == 303
    finally:
        staff_b.client.__exit__(None, None, None)
    with Session(engine) as session:
        report = session.get(Report, two["b_ids"][0])
        assert report is not None and report.status == "confirmed"
    assert auth.CurrentUser(1, "x@y.z", "staff", "", "s").territory_id is None


def test_open311_on_each_host_lists_only_its_own_territorys_requests(client, two):
    mine = client.get("/open311/v2/requests.json").json()
    theirs = client.get("/open311/v2/requests.json", headers=ESCH).json()
    ids = {catalogue.id_from_number(r["service_request_id"]) for r in mine}
    esch = {catalogue.id_from_number(r["service_request_id"]) for r in theirs}
    assert ids and esch
    assert esch == set(two["b_ids"]) and not ids & esch
    assert set(two["a_ids"]) <= ids
    # Each answers as its own body: the agency responsible (the Minett's body nested in it that
    # handles the request: Esch's cleanliness service the bulky items, the town the tyres) and
    # the contact of discovery.
    minett = territory_demo.SETTINGS["publisher"]
    agencies = {r["service_code"]: r["agency_responsible"] for r in theirs}
    assert agencies == {
        "bulky_items": "Service Hygiène de la Ville d’Esch-sur-Alzette",
        "tyres": "Ville d’Esch-sur-Alzette",
    }
    names = {minett, *(b["name"] for b in territory_demo.SETTINGS["bodies"])}
    assert not names & {r["agency_responsible"] for r in mine}
    assert (
        client.get("/open311/v2/discovery.json", headers=ESCH).json()["contact"].startswith(minett)
    )
    one = client.get(f"/open311/v2/requests/{two['b_ids'][0]}.json", headers=ESCH)
    assert one.status_code == 200
    token = client.get(f"/open311/v2/tokens/{two['b_tokens'][0]}.json", headers=ESCH)
    assert token.status_code == 200
    assert client.get(f"/reports/{two['b_ids'][0]}", headers=ESCH).status_code == 200
    assert client.get(f"/reports/{two['b_ids'][0]}").status_code == 404
    assert SECRET in client.get("/reports", headers=ESCH).text
    assert SECRET not in client.get("/reports").text


def test_a_report_dropped_across_the_boundary_is_handed_to_that_territory_and_the_reporter_told(
    engine, two, personas
):
    resident = personas["resident"]
    answer = submit(resident.client, "key-border-01", *BORDER)  # made on the first's host
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert re.fullmatch(r"/reports/\d+/handed", location), location
    report_id = int(location.split("/")[2])
    with Session(engine) as session:
        report = session.get(Report, report_id)
        assert report is not None
        assert report.commune_insee == "L0204" and report.territory_id == two["minett"]
    told = resident.client.get(location)
    assert told.status_code == 200
    assert territory_demo.SETTINGS["name"] in told.text and "Esch-sur-Alzette" in told.text
    assert f"http://esch.localhost/reports/{report_id}" in told.text
    # Nobody else reads it there; its own territory's page shows it.
    assert personas["other_resident"].client.get(location).status_code == 404
    assert resident.client.get(f"/reports/{report_id}").status_code == 404
    assert resident.client.get(f"/reports/{report_id}", headers=ESCH).status_code == 200
    # The page script's queue (JSON) is told too; a replay answers the same.
    queued = submit(resident.client, "key-border-01", *BORDER, headers={"x-eclor-queue": "1"})
    assert queued.status_code == 200
    assert queued.json()["handed_to"] == territory_demo.SETTINGS["name"]
    assert queued.json()["url"] == location
    # Open311: the service_notice says so, with the territory's name.
    posted = open311_post(resident.client, two["api_key"], *BORDER, description="Frontière")
    assert posted.status_code == 201
    notice = posted.json()[0]["service_notice"]
    assert territory_demo.SETTINGS["name"] in notice and "transmis" in notice
    with Session(engine) as session:
        ident = catalogue.id_from_number(posted.json()[0]["service_request_id"])
        report = session.get(Report, ident)
        assert report is not None and report.territory_id == two["minett"]


def test_a_place_in_no_territorys_commune_is_still_refused_and_nothing_is_made(
    engine, two, personas
):
    with Session(engine) as session:
        before = len(session.scalars(select(Report)).all())
    answer = submit(personas["resident"].client, "key-nowhere-1", 48.0, 3.0)
    assert answer.status_code == 400 and "en dehors du territoire" in answer.text
    posted = open311_post(personas["resident"].client, two["api_key"], 48.0, 3.0)
    assert posted.status_code == 400
    with Session(engine) as session:
        assert len(session.scalars(select(Report)).all()) == before


def test_staff_moving_a_report_into_another_territory_hand_it_over(engine, two, personas):
    staff = personas["staff"]
    answer = staff.client.post_form(
        f"/staff/reports/{two['a_ids'][1]}/move", {"lat": str(BORDER[0]), "lon": str(BORDER[1])}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/reports"
    with Session(engine) as session:
        report = session.get(Report, two["a_ids"][1])
        assert report is not None and report.territory_id == two["minett"]
    assert staff.client.get(f"/staff/reports/{two['a_ids'][1]}").status_code == 404


def test_the_home_pages_panel_of_my_reports_shows_the_hosts_territorys_only(engine, two, personas):
    resident = personas["resident"]  # made reports in both territories
    here = resident.client.get("/").text
    there = resident.client.get("/", headers=ESCH).text
    with Session(engine) as session:
        a_number = catalogue.number(session.get(Report, two["a_ids"][0]))
    assert a_number in here and not _leaks(here, two)
    assert two["b_numbers"][0] in there and a_number not in there


def test_reject_reasons_response_templates_and_api_keys_are_each_territorys_own(
    app, engine, two, personas
):
    """The reports' settings belong to a territory: staff of the first see, change and use theirs
    only (another's reason, template or key is not found and stays as it was)."""
    from app.models.reports import RejectReason, ReportApiKey, ResponseTemplate

    minett = two["minett"]
    with write_session(engine) as session:
        reason = RejectReason(label="Motif-secret-du-Minett", territory_id=minett)
        template = ResponseTemplate(
            title="Réponse-secrète-du-Minett", body="…", territory_id=minett
        )
        session.add_all([reason, template])
        session.flush()
        key, _secret = rp.issue_api_key(session, "Clé-secrète-du-Minett", None, minett)
        ids = {"reason": reason.id, "template": template.id, "key": key.id}
    marks = ("Motif-secret-du-Minett", "Réponse-secrète-du-Minett", "Clé-secrète-du-Minett")

    def state() -> tuple:
        with Session(engine) as session:
            return (
                session.get(RejectReason, ids["reason"]).active,
                session.get(ResponseTemplate, ids["template"]).active,
                session.get(ReportApiKey, ids["key"]).revoked_at,
            )

    before = state()
    staff = personas["staff"]
    a_report = two["a_ids"][0]
    for url in (
        "/staff/reports/settings",
        "/staff/reports/api-keys",
        "/staff/reports",
        f"/staff/reports/{a_report}",
    ):
        answer = staff.client.get(url)
        assert answer.status_code == 200, url
        assert not [m for m in marks if m in answer.text], url
    for url in (
        f"/staff/reports/reasons/{ids['reason']}/toggle",
        f"/staff/reports/templates/{ids['template']}/toggle",
        f"/staff/reports/api-keys/{ids['key']}/revoke",
    ):
        assert staff.client.post_form(url, {}).status_code == 404, url
    # Rejecting with another territory's reason: refused, one report or many.
    answer = staff.client.post_form(
        f"/staff/reports/{a_report}/status",
        {"status": "rejected", "reject_reason": str(ids["reason"])},
    )
    assert answer.status_code == 400 and "Choisissez le motif du rejet" in answer.text
    answer = staff.client.post(
        "/staff/reports/bulk",
        data={
            "_csrf_token": staff.client.csrf_token(),
            "ids": [str(a_report)],
            "action": "rejected",
            "reject_reason": str(ids["reason"]),
        },
        follow_redirects=False,
    )
    assert answer.status_code in (303, 400)
    with Session(engine) as session:
        assert session.get(Report, a_report).status != "rejected"
    assert state() == before
    # The same label in the first territory is no clash; the Minett's staff see theirs only.
    added = staff.client.post_form("/staff/reports/reasons", {"label": "Motif-secret-du-Minett"})
    assert added.status_code == 303
    staff_b = personas["elected"]
    with write_session(engine) as session:
        from app.models.accounts import User

        user = session.get(User, staff_b.id)
        user.role, user.territory_id = "staff", minett
    page_b = staff_b.client.get("/staff/reports/settings", headers=ESCH).text
    assert "Motif-secret-du-Minett" in page_b and "Réponse-secrète-du-Minett" in page_b
    assert "Motif introuvable" not in page_b
    with Session(engine) as session:
        first = session.scalars(
            select(RejectReason).where(col(RejectReason.territory_id) == 1)
        ).all()
        assert "Motif-secret-du-Minett" in {r.label for r in first}
    keys_b = staff_b.client.get("/staff/reports/api-keys", headers=ESCH).text
    assert "Clé-secrète-du-Minett" in keys_b

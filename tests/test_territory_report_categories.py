"""Each territory's own categories of report: its admins add, rename, reorder and archive them on
the reports' settings page; the form, the lists, the staff board, Open311 and the maintenance rules of
a host read its territory's; a report handed across the boundary takes the other territory's nearest
category; a bundle carries them."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, col, select

from app import territory_demo
from app.db import read_session, write_session
from app.models.maintenance import MaintenanceRule
from app.models.accounts import User
from app.models.reports import Report, ReportCategory, ReportEvent
from app.models.territory import Territory
from app.reports import categories as cats
from app.reports import workflow as rp
from app.territory_setup import SetupError, create, export_bundle, import_bundle

ESCH = {"host": "esch.localhost"}
ESCH_CENTRE = (49.49575, 5.98212)
AUDUN = (49.4720, 5.9550)  # Audun-le-Tiche, the first territory
BIKES = {"code": "abandoned_bikes", "label": "Vélos abandonnés", "hint": "Vélos, trottinettes"}
STANDARDS = Path(__file__).resolve().parents[2] / "shared" / "standards" / "open311"


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 72), (120, 80, 40)).save(buf, format="JPEG")
    return buf.getvalue()


def submit(client, key: str, category: str, lat: float, lon: float, headers=None):
    return client.post(
        "/reports/new",
        data={
            "_csrf_token": client.csrf_token(),
            "category": category,
            "lat": str(lat),
            "lon": str(lon),
            "idempotency_key": key,
            "description": "Trois vélos rouillés.",
        },
        files=[("photos", ("p.jpg", jpeg(), "image/jpeg"))],
        headers=headers or {},
        follow_redirects=False,
    )


def report_id(answer) -> int:
    return int(answer.headers["location"].split("/")[2].split("?")[0])


def validate_services(listed: object) -> None:
    from jsonschema.validators import Draft4Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    schemas = {
        name: json.loads((STANDARDS / name).read_text())
        for name in ("service.json", "services.json")
    }
    registry = Registry().with_resources(
        (name, DRAFT4.create_resource(schema)) for name, schema in schemas.items()
    )
    Draft4Validator(schemas["services.json"], registry=registry).validate(listed)


def codes_of(client, headers=None) -> list[str]:
    answer = client.get("/open311/v2/services.json", headers=headers or {})
    assert answer.status_code == 200
    validate_services(answer.json())
    return [s["service_code"] for s in answer.json()]


def rows(engine, territory_id: int) -> list[tuple]:
    with Session(engine) as session:
        return [
            (r.code, r.label, r.hint, r.position, r.active)
            for r in session.scalars(
                select(ReportCategory)
                .where(col(ReportCategory.territory_id) == territory_id)
                .order_by(col(ReportCategory.position), col(ReportCategory.code))
            )
        ]


@pytest.fixture
def minett(app, engine, settings, personas) -> dict:
    """The Minett, with an admin of its own (on esch.localhost) and one of its staff."""
    with write_session(engine) as session:
        territory = create(session, territory_demo.SETTINGS, territory_demo.COMMUNES)
        minett_id = territory.id
        _row, key = rp.issue_api_key(session, "Partenaire du Minett", None, minett_id)
        _row, first_key = rp.issue_api_key(session, "Partenaire", None)
    admin_b, staff_b = personas["elected"], personas["social_worker"]
    with write_session(engine) as session:
        for persona, role in ((admin_b, "admin"), (staff_b, "staff")):
            user = session.get(User, persona.id)
            assert user is not None
            user.role, user.territory_id = role, minett_id
    return {
        "id": minett_id,
        "admin": admin_b,
        "staff": staff_b,
        "key": key,
        "first_key": first_key,
    }


def add_bikes(minett) -> None:
    answer = minett["admin"].client.post_form("/staff/reports/categories", BIKES, headers=ESCH)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/staff/reports/settings#categories"


# --------------------------------------------------------------------------- every territory's own


def test_every_territory_starts_with_the_seven_built_in_categories(engine, minett):
    built_in = [
        "household_waste",
        "bulky_items",
        "rubble",
        "green_waste",
        "tyres",
        "hazardous",
        "other",
    ]
    assert [r[0] for r in rows(engine, 1)] == built_in  # given by the migration
    assert [r[0] for r in rows(engine, minett["id"])] == built_in  # by eclor territory create
    assert rows(engine, 1)[1][1:] == ("Encombrants", "Meubles, matelas, électroménager", 1, True)


def test_the_minett_adds_a_category_the_first_territory_does_not_see(engine, minett, personas):
    add_bikes(minett)
    resident = personas["resident"]
    client = resident.client  # Open311 needs no account: the answers are the same
    # The resident's form on each host.
    form_b = resident.client.get("/reports/new", headers=ESCH).text
    form_a = resident.client.get("/reports/new").text
    assert 'value="abandoned_bikes"' in form_b and "Vélos, trottinettes" in form_b
    assert 'value="abandoned_bikes"' not in form_a and "Vélos abandonnés" not in form_a
    # Open311 on each host: the services list (valid against the spec's schema) and a definition.
    assert codes_of(client, ESCH)[-1] == "abandoned_bikes"
    assert "abandoned_bikes" not in codes_of(client) and len(codes_of(client)) == 7
    assert client.get("/open311/v2/services/abandoned_bikes.json", headers=ESCH).status_code == 200
    assert client.get("/open311/v2/services/abandoned_bikes.json").status_code == 404
    # A report of it on the Minett's host; refused on the first's, where it is not offered.
    made = submit(resident.client, "bikes-0001", "abandoned_bikes", *ESCH_CENTRE, ESCH)
    assert made.status_code == 303, made.text
    refused = submit(resident.client, "bikes-0002", "abandoned_bikes", *AUDUN)
    assert refused.status_code == 400
    assert "Choisissez l’une des catégories proposées." in refused.text
    with Session(engine) as session:
        assert session.scalars(select(Report)).all() == [session.get(Report, report_id(made))]
    # Open311 POST: the Minett's service_code on its host, unknown on the first's.
    posted = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": minett["key"],
            "service_code": "abandoned_bikes",
            "lat": str(ESCH_CENTRE[0]),
            "long": str(ESCH_CENTRE[1]),
        },
        headers=ESCH,
    )
    assert posted.status_code == 201, posted.text
    unknown = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": minett["first_key"],
            "service_code": "abandoned_bikes",
            "lat": str(AUDUN[0]),
            "long": str(AUDUN[1]),
        },
    )
    assert unknown.status_code == 404 and "service_code inconnu" in unknown.text
    listed = client.get("/open311/v2/requests.json", headers=ESCH).json()
    assert {r["service_name"] for r in listed} == {"Vélos abandonnés"}
    # The staff board and its filter on the Minett's host; the first territory's staff never see it.
    board = minett["staff"].client.get("/staff/reports?category=abandoned_bikes", headers=ESCH)
    assert board.status_code == 200 and "Vélos abandonnés" in board.text
    assert board.text.count('class="report-marker"') == 2
    board_a = personas["staff"].client.get("/staff/reports").text
    assert "Vélos abandonnés" not in board_a and "abandoned_bikes" not in board_a
    public = resident.client.get("/reports?category=abandoned_bikes", headers=ESCH).text
    assert "Vélos abandonnés" in public
    # The maintenance rules offer it on the Minett's host only.
    assert "abandoned_bikes" in minett["staff"].client.get("/staff/rules", headers=ESCH).text
    assert "abandoned_bikes" not in personas["staff"].client.get("/staff/rules").text


def test_archiving_a_category_stops_offering_it_and_its_reports_keep_it(engine, minett, personas):
    add_bikes(minett)
    resident, admin = personas["resident"], minett["admin"]
    client = resident.client
    made = submit(resident.client, "bikes-0003", "abandoned_bikes", *ESCH_CENTRE, ESCH)
    assert made.status_code == 303
    with Session(engine) as session:
        bikes = session.scalars(
            select(ReportCategory).where(col(ReportCategory.code) == "abandoned_bikes")
        ).one()
    archived = admin.client.post_form(
        f"/staff/reports/categories/{bikes.id}/toggle", {"active": "0"}, headers=ESCH
    )
    assert archived.status_code == 303
    assert 'value="abandoned_bikes"' not in resident.client.get("/reports/new", headers=ESCH).text
    assert "abandoned_bikes" not in codes_of(client, ESCH)
    again = submit(resident.client, "bikes-0004", "abandoned_bikes", *ESCH_CENTRE, ESCH)
    assert again.status_code == 400
    # Its report keeps it, named on the public page, the staff page (selected there) and Open311.
    detail = resident.client.get(f"/reports/{report_id(made)}", headers=ESCH).text
    assert "Vélos abandonnés" in detail
    staff_page = minett["staff"].client.get(f"/staff/reports/{report_id(made)}", headers=ESCH)
    assert '<option value="abandoned_bikes" selected>Vélos abandonnés</option>' in staff_page.text
    listed = client.get("/open311/v2/requests.json", headers=ESCH).json()
    assert [r["service_code"] for r in listed] == ["abandoned_bikes"]
    settings_page = admin.client.get("/staff/reports/settings", headers=ESCH).text
    assert "Archivée" in settings_page and "Proposer à nouveau" in settings_page
    # A new maintenance rule or alarm watch may no longer name it.
    staff = minett["staff"].client
    assert 'value="abandoned_bikes"' not in staff.get("/staff/rules", headers=ESCH).text
    assert 'value="abandoned_bikes"' not in staff.get("/staff/alarms/watch", headers=ESCH).text
    rule = {"name": "Vélos", "kind": "cluster", "count": "3", "radius_m": "200", "days": "7"}
    refused = staff.post_form(
        "/staff/rules", {**rule, "category": "abandoned_bikes", "severity": "minor"}, headers=ESCH
    )
    assert refused.status_code == 400
    assert "Cette catégorie n’existe pas sur ce territoire." in refused.text
    with Session(engine) as session:
        assert (
            session.scalars(
                select(MaintenanceRule).where(col(MaintenanceRule.category) == "abandoned_bikes")
            ).all()
            == []
        )
    # Offered again, it is back in the form.
    admin.client.post_form(
        f"/staff/reports/categories/{bikes.id}/toggle", {"active": "1"}, headers=ESCH
    )
    assert 'value="abandoned_bikes"' in resident.client.get("/reports/new", headers=ESCH).text


def test_the_last_category_offered_cannot_be_archived(engine, minett):
    with write_session(engine) as session:
        ids = [c.id for c in cats.of_territory(session, minett["id"]).all]
        for category_id in ids[:-1]:
            cats.set_active(session, minett["id"], category_id, False)
    before = rows(engine, minett["id"])
    answer = minett["admin"].client.post_form(
        f"/staff/reports/categories/{ids[-1]}/toggle", {"active": "0"}, headers=ESCH
    )
    assert answer.status_code == 400 and "Gardez au moins une catégorie proposée." in answer.text
    assert rows(engine, minett["id"]) == before


def test_a_code_already_used_in_the_territory_is_refused_in_french_and_nothing_changes(
    engine, minett, personas
):
    admin = minett["admin"]
    add_bikes(minett)
    before = rows(engine, minett["id"])
    for form, message in (
        (
            {"code": "tyres", "label": "Pneus de camion"},
            "Le code « tyres » est déjà celui de la catégorie « Pneus » sur ce territoire.",
        ),
        (
            {"code": "abandoned_bikes", "label": "Vélos"},
            "Le code « abandoned_bikes » est déjà celui de la catégorie « Vélos abandonnés »",
        ),
        (
            {"code": "", "label": "vélos abandonnés"},
            "Une catégorie s’appelle déjà « Vélos abandonnés » sur ce territoire.",
        ),
        ({"code": "Vélo !", "label": "Vélos"}, "Le code s’écrit en minuscules sans accent"),
        ({"code": "scooters", "label": "x"}, "entre 2 et 80 caractères"),
        ({"code": "scooters", "label": "encombrants"}, "Une catégorie s’appelle déjà"),
    ):
        answer = admin.client.post_form("/staff/reports/categories", form, headers=ESCH)
        assert answer.status_code == 400, form
        assert message in answer.text, (form, answer.text[:200])
        assert f'value="{form["label"]}"' in answer.text  # the form keeps what was typed
    # An archived category's code stays taken.
    with write_session(engine) as session:
        bikes = session.scalars(
            select(ReportCategory).where(col(ReportCategory.code) == "abandoned_bikes")
        ).one()
        cats.set_active(session, minett["id"], bikes.id, False)
    before = rows(engine, minett["id"])
    answer = admin.client.post_form(
        "/staff/reports/categories",
        {"code": "abandoned_bikes", "label": "Bicyclettes"},
        headers=ESCH,
    )
    assert answer.status_code == 400 and rows(engine, minett["id"]) == before
    # Another territory's code is no clash; only admins change categories (staff: forbidden).
    first_admin = personas["admin"]
    assert first_admin.client.post_form("/staff/reports/categories", BIKES).status_code == 303
    assert "abandoned_bikes" in [r[0] for r in rows(engine, 1)]
    denied = minett["staff"].client.post_form(
        "/staff/reports/categories", {"code": "scooters", "label": "Trottinettes"}, headers=ESCH
    )
    assert denied.status_code == 403 and rows(engine, minett["id"]) == before
    page = minett["staff"].client.get("/staff/reports/settings", headers=ESCH).text
    assert "Seuls les administrateurs du territoire changent les catégories." in page
    # Another territory's category is not found from this host.
    with Session(engine) as session:
        first_bikes = session.scalars(
            select(ReportCategory).where(
                col(ReportCategory.code) == "abandoned_bikes", col(ReportCategory.territory_id) == 1
            )
        ).one()
    for action, data in (("toggle", {"active": "0"}), ("rename", {"label": "Volé"})):
        answer = admin.client.post_form(
            f"/staff/reports/categories/{first_bikes.id}/{action}", data, headers=ESCH
        )
        assert answer.status_code == 404
    assert rows(engine, 1)[-1] == (
        "abandoned_bikes",
        "Vélos abandonnés",
        "Vélos, trottinettes",
        7,
        True,
    )


def test_renaming_and_reordering_show_in_the_form_and_in_open311(engine, minett, personas):
    admin = minett["admin"]
    client = personas["resident"].client
    add_bikes(minett)
    with Session(engine) as session:
        bikes = session.scalars(
            select(ReportCategory).where(col(ReportCategory.code) == "abandoned_bikes")
        ).one()
    made = submit(client, "bikes-0005", "abandoned_bikes", *ESCH_CENTRE, ESCH)
    staff = minett["staff"].client

    def on_the_map() -> set[str]:
        layer = staff.get("/staff/ops/layers/reports.geojson", headers=ESCH).json()
        return {
            f["properties"]["label"]
            for f in layer["features"]
            if f["properties"]["url"] == f"/staff/reports/{report_id(made)}"
        }

    assert on_the_map() == {"Vélos abandonnés"}  # the operations centre's layer, kept in cache
    for _step in range(7):  # to the top
        moved = admin.client.post_form(
            f"/staff/reports/categories/{bikes.id}/move", {"direction": "up"}, headers=ESCH
        )
        assert moved.status_code == 303
    renamed = admin.client.post_form(
        f"/staff/reports/categories/{bikes.id}/rename",
        {"label": "Vélos et trottinettes", "hint": "Abandonnés sur la voie publique"},
        headers=ESCH,
    )
    assert renamed.status_code == 303
    assert codes_of(client, ESCH)[:2] == ["abandoned_bikes", "household_waste"]
    services = client.get("/open311/v2/services.json", headers=ESCH).json()
    assert services[0]["service_name"] == "Vélos et trottinettes"
    assert services[0]["description"] == "Abandonnés sur la voie publique"
    form = personas["resident"].client.get("/reports/new", headers=ESCH).text
    assert form.index("Vélos et trottinettes") < form.index("Ordures ménagères")
    assert on_the_map() == {"Vélos et trottinettes"}  # the cached layer is built again
    # A bad name is refused in French, nothing changed.
    before = rows(engine, minett["id"])
    bad = admin.client.post_form(
        f"/staff/reports/categories/{bikes.id}/rename", {"label": "", "hint": ""}, headers=ESCH
    )
    assert bad.status_code == 400 and "entre 2 et 80 caractères" in bad.text
    assert rows(engine, minett["id"]) == before


def test_built_in_categories_keep_their_translations_and_staff_labels_are_shown_as_written(
    engine, minett, personas
):
    add_bikes(minett)
    resident = personas["resident"]
    english = resident.client.get("/reports/new", headers={**ESCH, "accept-language": "en"}).text
    german = resident.client.get("/reports/new", headers={**ESCH, "accept-language": "de"}).text
    assert "Bulky items" in english and "Vélos abandonnés" in english
    assert "Vélos abandonnés" in german


# --------------------------------------------------------------------------- across the boundary


def test_a_report_handed_across_the_boundary_takes_the_other_territorys_nearest_category(
    engine, minett, personas
):
    add_bikes(minett)
    resident = personas["resident"]
    # Made on the Minett's host with its own category, but placed in Audun-le-Tiche (the first
    # territory, which has no such category): handed over, kept, and filed under "other".
    handed = submit(resident.client, "bikes-0101", "abandoned_bikes", *AUDUN, ESCH)
    assert handed.status_code == 303 and handed.headers["location"].endswith("/handed")
    with Session(engine) as session:
        report = session.get(Report, report_id(handed))
        assert report is not None and (report.territory_id, report.category) == (1, "other")
        created = session.scalars(
            select(ReportEvent).where(col(ReportEvent.report_id) == report.id)
        ).one()
        assert "« Vélos abandonnés » n’existe pas sur ce territoire" in created.text
        assert "classé en « Autre »" in created.text
    # When the first territory has a category of the same name, that one; "other" archived: its
    # first category offered.
    with write_session(engine) as session:
        same = cats.add(session, 1, code="bicycles", label="vélos abandonnés")
        assert cats.carried_over(session, 1, "abandoned_bikes") == "bicycles"
        cats.set_active(session, 1, same.id, False)
        other = session.scalars(
            select(ReportCategory).where(
                col(ReportCategory.territory_id) == 1, col(ReportCategory.code) == "other"
            )
        ).one()
        cats.set_active(session, 1, other.id, False)
        assert cats.carried_over(session, 1, "abandoned_bikes") == "household_waste"
        assert cats.carried_over(session, 1, "tyres") == "tyres"
    second = submit(resident.client, "bikes-0102", "abandoned_bikes", *AUDUN, ESCH)
    assert second.status_code == 303
    with Session(engine) as session:
        assert session.get(Report, report_id(second)).category == "household_waste"
    # Staff moving a report of the Minett's category across the boundary hand it over the same way.
    made = submit(resident.client, "bikes-0103", "abandoned_bikes", *ESCH_CENTRE, ESCH)
    moved = minett["staff"].client.post_form(
        f"/staff/reports/{report_id(made)}/move",
        {"lat": str(AUDUN[0]), "lon": str(AUDUN[1])},
        headers=ESCH,
    )
    assert moved.status_code == 303
    with Session(engine) as session:
        report = session.get(Report, report_id(made))
        assert report is not None and (report.territory_id, report.category) == (
            1,
            "household_waste",
        )
    # The first territory's staff see it with a category of theirs.
    page = personas["staff"].client.get(f"/staff/reports/{report_id(made)}")
    assert page.status_code == 200 and "Ordures ménagères" in page.text


# --------------------------------------------------------------------------- bundles and bodies


def test_a_bundle_carries_the_categories_and_its_bodies_may_name_them(engine, minett, tmp_path):
    add_bikes(minett)
    with write_session(engine) as session:
        bikes = session.scalars(
            select(ReportCategory).where(col(ReportCategory.code) == "abandoned_bikes")
        ).one()
        cats.move(session, minett["id"], bikes.id, -1)
        tyres = session.scalars(
            select(ReportCategory).where(
                col(ReportCategory.territory_id) == minett["id"],
                col(ReportCategory.code) == "tyres",
            )
        ).one()
        cats.set_active(session, minett["id"], tyres.id, False)
    expected = rows(engine, minett["id"])
    with read_session(engine) as session:
        bundle = export_bundle(session, "minett")
    carried = json.loads(zipfile.ZipFile(io.BytesIO(bundle)).read("report_categories.json"))
    assert {
        "code": "tyres",
        "label": "Pneus",
        "hint": "Pneus, jantes",
        "position": 4,
        "active": False,
    } in carried

    def rezip(**replace: object) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
            for name in src.namelist():
                value = replace.get(name)
                dst.writestr(name, json.dumps(value) if value is not None else src.read(name))
        return out.getvalue()

    # Into the same install, under another name and host (its communes set free first).
    territory = json.loads(zipfile.ZipFile(io.BytesIO(bundle)).read("territory.json"))
    territory.update(slug="minett-2", hosts=["esch2.localhost"])
    bodies = [{"name": "Vélos d’Esch", "categories": ["abandoned_bikes"]}]
    with write_session(engine) as session:
        session.execute(
            Territory.__table__.update()
            .where(Territory.__table__.c.id == minett["id"])
            .values(slug="minett-old")
        )
    from app.models.territory import Body, Commune

    with write_session(engine) as session:
        session.execute(Body.__table__.delete())
        session.execute(Commune.__table__.delete().where(Commune.__table__.c.country == "LU"))
    with write_session(engine) as session:
        imported = import_bundle(
            session, rezip(**{"territory.json": territory, "bodies.json": bodies})
        )
        imported_id = imported.id
    assert rows(engine, imported_id) == expected
    # A body naming a category the bundle does not have, or a bad category row: refused, nothing
    # written.
    territory.update(slug="minett-3", hosts=["esch3.localhost"])
    with write_session(engine) as session:
        session.execute(Body.__table__.delete())
        session.execute(Commune.__table__.delete().where(Commune.__table__.c.country == "LU"))
    for replace, message in (
        ({"bodies.json": [{"name": "Scooters", "categories": ["scooters"]}]}, "scooters"),
        (
            {"report_categories.json": [{**carried[0], "code": "Pneus!"}]},
            "code de catégorie « Pneus! » invalide",
        ),
        (
            {"report_categories.json": [carried[0], carried[0]], "bodies.json": []},
            "figure deux fois dans le paquet",
        ),
    ):
        with pytest.raises(SetupError, match=message), write_session(engine) as session:
            import_bundle(session, rezip(**{"territory.json": territory, **replace}))
    with Session(engine) as session:
        assert (
            session.scalars(select(Territory).where(col(Territory.slug) == "minett-3")).first()
            is None
        )

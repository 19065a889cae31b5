"""Several territories on one install: a territory is data, chosen by the request's host, and its
set-up is made from files, exported and imported (``eclor territory``)."""

from __future__ import annotations

import copy
import json
import zipfile
from io import BytesIO

import pytest
from sqlmodel import Session, col, select

from app import bodies, cli, territory_demo
from app.cli import main as cli_main
from app.db import make_engine, read_session, utcnow, write_session
from app.migrate import upgrade
from app.models.carpool import CarpoolPlace
from app.models.jobs import Job
from app.models.lighting import LightCalendar, LightProgram
from app.models.maintenance import MaintenanceRule, MaintenanceTeam
from app.models.reports import RejectReason, ReportCategory, ResponseTemplate
from app.reports import categories as report_categories
from app.models.territory import Body, Commune, Territory
from app.territory_setup import SetupError, create, export_bundle, import_bundle
from tests.conftest import fresh_database_url

ESCH = {"host": "esch.localhost"}


def add_minett(engine) -> Territory:
    with write_session(engine) as session:
        return create(session, territory_demo.SETTINGS, territory_demo.COMMUNES)


def _rows(
    engine, slug: str
) -> tuple[dict, list[dict], list[dict], list[dict], list, list, list, list]:
    """The territory's set-up as plain rows, without the install's own ids."""
    with Session(engine) as session:
        territory = session.scalars(select(Territory).where(col(Territory.slug) == slug)).one()
        communes = session.scalars(
            select(Commune)
            .where(col(Commune.territory_id) == territory.id)
            .order_by(col(Commune.insee))
        ).all()
        places = session.scalars(
            select(CarpoolPlace)
            .where(col(CarpoolPlace.territory_id) == territory.id)
            .order_by(col(CarpoolPlace.slug))
        ).all()
        return (
            territory.model_dump(exclude={"id"}),
            [c.model_dump(exclude={"territory_id"}) for c in communes],
            [p.model_dump(exclude={"id", "territory_id"}) for p in places],
            bodies.declared(session, territory.id),  # nested bodies, parents by name
            [
                (p.name, p.definition, p.archived_at is None)
                for p in session.scalars(
                    select(LightProgram)
                    .where(col(LightProgram.territory_id) == territory.id)
                    .order_by(col(LightProgram.name))
                )
            ],
            [
                (c.name, c.definition)
                for c in session.scalars(
                    select(LightCalendar)
                    .where(col(LightCalendar.territory_id) == territory.id)
                    .order_by(col(LightCalendar.name))
                )
            ],
            [  # maintenance rules: what they watch and raise, without the install's ids or staff
                r.model_dump(exclude={"id", "territory_id", "created_at", "created_by", "team"})
                for r in session.scalars(
                    select(MaintenanceRule)
                    .where(col(MaintenanceRule.territory_id) == territory.id)
                    .order_by(col(MaintenanceRule.id))
                )
            ],
            [  # the reports' reject reasons and response templates
                (r.label, r.active)
                for r in session.scalars(
                    select(RejectReason)
                    .where(col(RejectReason.territory_id) == territory.id)
                    .order_by(col(RejectReason.label))
                )
            ]
            + [
                (t.title, t.body, t.active)
                for t in session.scalars(
                    select(ResponseTemplate)
                    .where(col(ResponseTemplate.territory_id) == territory.id)
                    .order_by(col(ResponseTemplate.title))
                )
            ],
        )


def _categories(engine, slug: str) -> list[tuple]:
    """The territory's categories of report: (code, label, hint, position, active), in order."""
    with Session(engine) as session:
        territory = session.scalars(select(Territory).where(col(Territory.slug) == slug)).one()
        return [
            (c.code, c.label, c.hint, c.position, c.active)
            for c in session.scalars(
                select(ReportCategory)
                .where(col(ReportCategory.territory_id) == territory.id)
                .order_by(col(ReportCategory.position), col(ReportCategory.code))
            )
        ]


def _counts(engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (
            len(session.scalars(select(Territory)).all()),
            len(session.scalars(select(Commune)).all()),
            len(session.scalars(select(CarpoolPlace)).all()),
        )


# --------------------------------------------------------------------------- a territory is data


def test_the_first_territory_keeps_its_name_and_its_communes_get_their_official_code(engine):
    with Session(engine) as session:
        first = session.scalars(select(Territory).order_by(col(Territory.id))).first()
        communes = session.scalars(select(Commune)).all()
    assert first is not None and first.slug == "phva" and first.short_name == "Pays-Haut"
    assert first.publisher == "Communauté de communes du Pays-Haut Val d’Alzette"
    assert first.colour_primary == "#0b5d3b" and first.languages == ["fr", "en"]
    assert {c.insee: (c.code, c.country) for c in communes}["57038"] == ("57038", "FR")
    assert all(c.code == c.insee and c.country == "FR" for c in communes)
    # Their outlines are cells around each centre (0032): said so.
    assert all(c.outline_approximate for c in communes if c.outline)


def test_luxembourg_communes_keep_their_lau_code_and_take_a_key_no_insee_code_has(engine):
    add_minett(engine)
    with Session(engine) as session:
        lu = {
            c.code: c
            for c in session.scalars(select(Commune).where(col(Commune.country) == "LU")).all()
        }
    assert sorted(lu) == ["LU0204", "LU0206", "LU0212"]
    assert lu["LU0204"].insee == "L0204" and lu["LU0204"].name == "Esch-sur-Alzette"
    assert all(c.outline_approximate for c in lu.values())
    # The outline is CAP text ("lat,lon" points, closed) like the French communes'.
    points = lu["LU0212"].outline.split()
    assert points[0] == points[-1] and points[0] == "49.4780,6.0150"
    assert 49.45 < lu["LU0212"].lat < 49.48 and 6.01 < lu["LU0212"].lon < 6.05


# --------------------------------------------------------------------------- chosen by host name


def test_each_host_gets_its_own_territory_name_colours_and_manifest(engine, client):
    add_minett(engine)
    mine = client.get("/", headers=ESCH)
    assert mine.status_code == 200
    assert "<title>Accueil · Eclor Minett</title>" in mine.text
    assert "Minett au quotidien" in mine.text and "Pays-Haut" not in mine.text
    assert "<span>Kayl</span>" in mine.text and "<span>Villerupt</span>" not in mine.text
    assert '<meta name="theme-color" content="#1d4f91">' in mine.text
    css_link = mine.text.split('<link rel="stylesheet" href="/territory.css?v=')[1].split('"')[0]
    css = client.get(f"/territory.css?v={css_link}", headers=ESCH)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--green:#1d4f91" in css.text and "--accent:#e4002b" in css.text
    manifest = client.get("/manifest.webmanifest", headers=ESCH).json()
    assert manifest["name"] == "Eclor — Minett : Esch-sur-Alzette, Kayl et Rumelange"
    assert manifest["short_name"] == "Eclor Minett" and manifest["theme_color"] == "#1d4f91"
    # In the language of the page that links it: the Minett's pages in Luxembourgish link it so.
    lb_home = client.get("/", headers={**ESCH, "cookie": "lang=lb"}).text
    assert '<link rel="manifest" href="/manifest.webmanifest?lang=lb">' in lb_home
    in_lb = client.get("/manifest.webmanifest?lang=lb", headers=ESCH).json()
    assert in_lb["lang"] == "lb" and in_lb["description"].startswith("Meldungen, Covoiturage")
    assert [s["name"] for s in in_lb["shortcuts"]][1] == "Covoiturage"
    in_de = client.get("/manifest.webmanifest?lang=de", headers=ESCH).json()
    assert in_de["lang"] == "de" and in_de["shortcuts"][1]["name"] == "Fahrgemeinschaften"
    assert manifest["lang"] == "fr" and manifest["description"].startswith("Signalements")
    # A language the territory does not offer (or none Eclor has) is the request's.
    assert client.get("/manifest.webmanifest?lang=xx", headers=ESCH).json()["lang"] == "fr"

    # Any other allowed host is the first territory's.
    home = client.get("/")
    assert "<title>Accueil · Eclor Pays-Haut</title>" in home.text
    assert "Pays-Haut au quotidien" in home.text and "Minett" not in home.text
    assert "<span>Villerupt</span>" in home.text and "<span>Kayl</span>" not in home.text
    # The first territory keeps exactly the shades of eclor.css.
    assert (
        "--green:#0b5d3b;--green-dark:#07432a;--green-soft:#e3f1ea"
        in client.get("/territory.css").text
    )
    assert client.get("/manifest.webmanifest").json()["theme_color"] == "#0b5d3b"
    about = client.get("/about", headers=ESCH).text
    assert "Communes d’Esch-sur-Alzette, de Kayl et de Rumelange" in about
    assert "contact@minett.example" in about
    assert "Communauté de communes du Pays-Haut" in client.get("/about").text


def test_a_territory_added_while_the_app_runs_is_served_on_its_host(engine, client):
    """The host map is read again when a territory changes (no query per request otherwise)."""
    assert client.get("/", headers=ESCH).status_code == 400  # nobody's host yet
    add_minett(engine)
    assert "Eclor Minett" in client.get("/", headers=ESCH).text


def test_e_mails_speak_of_the_territory_the_person_signed_up_on(engine, client):
    add_minett(engine)
    answer = client.post_form(
        "/signup",
        {"email": "lea@example.org", "display_name": "Léa", "consent": "yes"},
        headers=ESCH,
    )
    assert answer.status_code == 303
    with Session(engine) as session:
        payload = json.loads(session.scalars(select(Job.payload)).one())
    assert payload["from"] == "Eclor Minett <no-reply@minett.example>"
    assert "Communes d’Esch-sur-Alzette, de Kayl et de Rumelange" in payload["text"]
    assert "Pays-Haut" not in payload["text"]
    assert "http://esch.localhost/password/reset/" in payload["text"]


# --------------------------------------------------------------------------- eclor territory


def _write(tmp_path, name: str, value) -> str:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    return str(path)


def _cli_env(monkeypatch, settings, url: str | None = None) -> None:
    monkeypatch.setenv("ECLOR_DATABASE_URL", url or settings.database_url)
    monkeypatch.setenv("ECLOR_VAR_DIR", str(settings.var_dir))
    cli.get_settings.cache_clear()  # `eclor` reads its settings once per process


def test_eclor_territory_create_builds_one_from_two_luxembourg_communes(
    engine, settings, tmp_path, monkeypatch, capsys
):
    _cli_env(monkeypatch, settings)
    two = copy.deepcopy(territory_demo.COMMUNES)
    two["features"] = two["features"][:2]
    settings_file = _write(
        tmp_path,
        "settings.json",
        {
            "slug": "esch",
            "name": "Esch-sur-Alzette et Kayl",
            "hosts": ["esch.localhost"],
            "timezone": "Europe/Luxembourg",
            "languages": ["fr", "de"],
            "colours": {"primary": "#1D4F91", "accent": "#e4002b"},
        },
    )
    code = cli_main(["territory", "create", settings_file, _write(tmp_path, "c.geojson", two)])
    assert code == 0, capsys.readouterr().err
    assert "« esch » créé avec 2 commune(s)" in capsys.readouterr().out
    territory, communes, *_setup = _rows(engine, "esch")
    assert territory["hosts"] == ["esch.localhost"] and territory["languages"] == ["fr", "de"]
    assert territory["colour_primary"] == "#1d4f91" and territory["timezone"] == "Europe/Luxembourg"
    assert [(c["insee"], c["code"], c["country"]) for c in communes] == [
        ("L0204", "LU0204", "LU"),
        ("L0206", "LU0206", "LU"),
    ]
    # Its centre is the mean of its communes' centres.
    assert territory["lat"] == pytest.approx(
        (communes[0]["lat"] + communes[1]["lat"]) / 2, abs=1e-4
    )


BAD_SETTINGS = [
    ({"name": "Sans slug"}, "« slug » est obligatoire"),
    ({"slug": "Esch Sur", "name": "x"}, "« slug » : lettres minuscules"),
    ({"slug": "esch", "name": "x", "hosts": ["esch.localhost:8000"]}, "n’est pas un nom d’hôte"),
    ({"slug": "esch", "name": "x", "timezone": "Europe/Esch"}, "Fuseau horaire inconnu"),
    ({"slug": "esch", "name": "x", "languages": ["fr", "it"]}, "« languages »"),
    ({"slug": "esch", "name": "x", "colours": {"primary": "bleu"}}, "« colours.primary »"),
    ({"slug": "esch", "name": "x", "opendata_licence": "CC BY 4.0"}, "« opendata_licence »"),
    ({"slug": "phva", "name": "x"}, "Le territoire « phva » existe déjà"),
]


def _feature(code: str, country: str = "LU", ring=None, name: str = "Kayl") -> dict:
    ring = ring or [[6.0, 49.4], [6.1, 49.4], [6.1, 49.5], [6.0, 49.4]]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "country": country},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


BAD_COMMUNES = [
    ({"type": "Feature"}, "FeatureCollection"),
    ({"type": "FeatureCollection", "features": []}, "aucune commune"),
    ({"type": "FeatureCollection", "features": [_feature("LU0206", "DE")]}, "FR ou LU"),
    ({"type": "FeatureCollection", "features": [_feature("0206")]}, "LU suivi de quatre chiffres"),
    ({"type": "FeatureCollection", "features": [_feature("5703", "FR")]}, "cinq caractères INSEE"),
    (
        {
            "type": "FeatureCollection",
            "features": [_feature("LU0206", ring=[[6.0, 49.4], [6.1, 49.4]])],
        },
        "doit être fermé",
    ),
    (
        {
            "type": "FeatureCollection",
            "features": [
                _feature("LU0206", ring=[[49.4, 96.0], [49.5, 96.0], [49.5, 96.1], [49.4, 96.0]])
            ],
        },
        "hors du globe",
    ),
    (
        {"type": "FeatureCollection", "features": [_feature("LU0206"), _feature("LU0206")]},
        "deux fois",
    ),
    ({"type": "FeatureCollection", "features": [_feature("57038", "FR")]}, "appartient déjà"),
]


@pytest.mark.parametrize(("settings_data", "message"), [b for b in BAD_SETTINGS if b[1]])
def test_bad_settings_are_refused_in_french_and_nothing_is_written(
    engine, settings, tmp_path, monkeypatch, capsys, settings_data, message
):
    _cli_env(monkeypatch, settings)
    before = _counts(engine)
    communes = _write(
        tmp_path, "c.geojson", {"type": "FeatureCollection", "features": [_feature("LU0206")]}
    )
    assert (
        cli_main(["territory", "create", _write(tmp_path, "s.json", settings_data), communes]) == 2
    )
    assert message in capsys.readouterr().err
    assert _counts(engine) == before


@pytest.mark.parametrize(("communes_data", "message"), BAD_COMMUNES)
def test_bad_commune_maps_are_refused_in_french_and_nothing_is_written(
    engine, settings, tmp_path, monkeypatch, capsys, communes_data, message
):
    _cli_env(monkeypatch, settings)
    before = _counts(engine)
    good = _write(tmp_path, "s.json", {"slug": "kayl", "name": "Kayl"})
    assert (
        cli_main(["territory", "create", good, _write(tmp_path, "c.geojson", communes_data)]) == 2
    )
    assert message in capsys.readouterr().err
    assert _counts(engine) == before


def test_unreadable_files_and_a_taken_host_are_refused(
    engine, settings, tmp_path, monkeypatch, capsys
):
    _cli_env(monkeypatch, settings)
    add_minett(engine)
    before = _counts(engine)
    communes = _write(
        tmp_path,
        "c.geojson",
        {"type": "FeatureCollection", "features": [_feature("LU0301", name="Bertrange")]},
    )
    taken = _write(
        tmp_path, "s.json", {"slug": "autre", "name": "Autre", "hosts": ["esch.localhost"]}
    )
    assert cli_main(["territory", "create", taken, communes]) == 2
    assert "« esch.localhost » sert déjà un autre territoire" in capsys.readouterr().err
    assert (
        cli_main(["territory", "create", _write(tmp_path, "x.json", "{pas du json"), communes]) == 2
    )
    assert "n’est pas un fichier JSON valide" in capsys.readouterr().err
    assert cli_main(["territory", "create", str(tmp_path / "absent.json"), communes]) == 2
    assert "Impossible de lire" in capsys.readouterr().err
    assert cli_main(["territory", "export", "nulle-part"]) == 2
    assert "Aucun territoire « nulle-part »" in capsys.readouterr().err
    assert _counts(engine) == before


def test_export_then_import_into_a_fresh_database_reproduces_the_set_up_exactly(
    engine, settings, tmp_path, monkeypatch, capsysbinary
):
    add_minett(engine)
    with write_session(engine) as session:
        territory_id = session.scalars(
            select(Territory.id).where(col(Territory.slug) == "minett")
        ).one()
        session.add(
            CarpoolPlace(
                territory_id=territory_id,
                slug="esch-gare",
                name="Gare d’Esch",
                kind="station",
                country="LU",
                lat=49.4977,
                lon=5.9862,
            )
        )
        # The lighting programs and calendars its staff wrote; an archived program stays behind.
        for name, pairs in (("Minett nuit", [("dusk", 100), ("23:00", 30)]), ("Ancien", [])):
            session.add(
                LightProgram(
                    name=name,
                    territory_id=territory_id,
                    definition=json.dumps({"steps": pairs}),
                    archived_at=utcnow() if name == "Ancien" else None,
                )
            )
        session.add(
            LightCalendar(
                name="Jours fériés luxembourgeois",
                territory_id=territory_id,
                definition=json.dumps({"default": "Minett nuit", "rules": []}),
            )
        )
        # Another territory's program does not travel with it.
        session.add(LightProgram(name="Pays-Haut", territory_id=1, definition="{}"))
        # The maintenance rules its staff wrote (one of them paused), not the first territory's.
        for rule in (
            MaintenanceRule(
                name="Particules fines à Esch",
                kind="measure",
                layer="sensors",
                subject="air_quality",
                measure="pm25",
                threshold=45.5,
                duration_s=600,
                severity="major",
                commune_insee="L0204",
                quiet_s=3600,
                prepare_alert=True,
                alert_title="Pic de pollution",
                team="voirie",
                created_by=None,
            ),
            MaintenanceRule(
                name="Dépôts répétés",
                kind="cluster",
                layer="reports",
                count=4,
                radius_m=150,
                days=5,
                active=False,
            ),
        ):
            rule.territory_id = territory_id
            session.add(rule)
        session.add(MaintenanceRule(name="Règle de Pays-Haut", kind="status", territory_id=1))
        # The reports' settings its staff keep (a new territory starts with the default reasons).
        session.add(RejectReason(label="Motif du Minett", active=False, territory_id=territory_id))
        session.add(
            ResponseTemplate(
                title="Nettoyage prévu",
                body="Une équipe passe cette semaine.",
                territory_id=territory_id,
            )
        )
        session.add(ResponseTemplate(title="Réponse de Pays-Haut", body="…", territory_id=1))
        # Its categories of report: one of its own, placed second, and a built-in one archived.
        bikes = report_categories.add(
            session, territory_id, code="abandoned_bikes", label="Vélos abandonnés", hint="Vélos"
        )
        for _step in range(6):
            report_categories.move(session, territory_id, bikes.id, -1)
        tyres = session.scalars(
            select(ReportCategory).where(
                col(ReportCategory.territory_id) == territory_id,
                col(ReportCategory.code) == "tyres",
            )
        ).one()
        report_categories.set_active(session, territory_id, tyres.id, False)
        report_categories.add(session, 1, code="first_only", label="Du Pays-Haut seulement")
    _cli_env(monkeypatch, settings)
    assert cli_main(["territory", "export", "minett"]) == 0
    bundle = capsysbinary.readouterr().out
    with zipfile.ZipFile(BytesIO(bundle)) as z:
        assert sorted(z.namelist()) == [
            "bodies.json",
            "carpool_places.json",
            "communes.json",
            "eclor-territory.json",
            "light_calendars.json",
            "light_programs.json",
            "maintenance_rules.json",
            "maintenance_teams.json",
            "opendata_settings.json",
            "opendata_uploads.json",
            "report_categories.json",
            "report_reject_reasons.json",
            "report_response_templates.json",
            "solar_targets.json",
            "territory.json",
        ]
        assert "user" not in " ".join(z.namelist())
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)

    other = fresh_database_url(tmp_path / "other")
    (tmp_path / "other").mkdir(exist_ok=True)
    upgrade(other)
    _cli_env(monkeypatch, settings, other)
    assert cli_main(["territory", "import", str(path)]) == 0, capsysbinary.readouterr().err.decode()
    fresh = make_engine(other)
    try:
        assert _rows(fresh, "minett")[:4] == _rows(engine, "minett")[:4]
        assert _rows(fresh, "minett")[5] == _rows(engine, "minett")[5]
        reports_setup = _rows(fresh, "minett")[7]
        assert reports_setup == _rows(engine, "minett")[7]
        assert ("Nettoyage prévu", "Une équipe passe cette semaine.", True) in reports_setup
        assert ("Motif du Minett", False) in reports_setup
        # Its categories, exactly: order, names, the archived one (not the first territory's).
        categories = _categories(fresh, "minett")
        assert categories == _categories(engine, "minett")
        assert categories[:2] == [
            (
                "household_waste",
                "Ordures ménagères",
                "Sacs poubelle, déchets du quotidien",
                0,
                True,
            ),
            ("abandoned_bikes", "Vélos abandonnés", "Vélos", 1, True),
        ]
        assert ("tyres", "Pneus", "Pneus, jantes", 5, False) in categories
        assert "first_only" not in {c[0] for c in categories} and len(categories) == 8
        rules = _rows(fresh, "minett")[6]
        assert rules == _rows(engine, "minett")[6]
        assert [r["name"] for r in rules] == ["Particules fines à Esch", "Dépôts répétés"]
        with Session(fresh) as session:  # their team came with them, not who wrote them
            assert {(r.team, r.created_by) for r in session.scalars(select(MaintenanceRule))} == {
                ("voirie", None),
                ("", None),
            }
        programs = _rows(engine, "minett")[4]
        assert [p for p in programs if p[2]] == _rows(fresh, "minett")[4]  # the archived stays
        assert [p[0] for p in _rows(fresh, "minett")[4]] == ["Minett nuit"]
        assert _rows(fresh, "minett")[2][0]["slug"] == "esch-gare"
        # The demo's nested bodies came too: Esch's cleanliness service inside the town.
        nested = [b for b in _rows(fresh, "minett")[3] if b["parent"]]
        assert [(b["name"], b["parent"]) for b in nested] == [
            ("Service Hygiène de la Ville d’Esch-sur-Alzette", "Ville d’Esch-sur-Alzette")
        ]
        # Importing it twice is refused, and nothing is written.
        before = _counts(fresh)
        assert cli_main(["territory", "import", str(path)]) == 2
        assert _counts(fresh) == before
    finally:
        fresh.dispose()


def test_a_bundle_that_is_not_one_is_refused_and_nothing_is_written(engine, tmp_path):
    add_minett(engine)
    with read_session(engine) as session:
        good = export_bundle(session, "minett")
    with write_session(engine) as session:
        session.execute(Commune.__table__.delete().where(Commune.__table__.c.country == "LU"))
        session.execute(Body.__table__.delete())
        session.execute(
            RejectReason.__table__.delete().where(RejectReason.__table__.c.territory_id != 1)
        )
        session.execute(
            ReportCategory.__table__.delete().where(ReportCategory.__table__.c.territory_id != 1)
        )
        session.execute(
            MaintenanceTeam.__table__.delete().where(MaintenanceTeam.__table__.c.territory_id != 1)
        )
        session.execute(Territory.__table__.delete().where(Territory.__table__.c.slug == "minett"))
    with write_session(engine) as session:  # a program of this install's first territory
        session.add(LightProgram(name="Pays-Haut", territory_id=1, definition="{}"))
    before = _counts(engine)

    def rezip(**replace) -> bytes:
        out = BytesIO()
        with zipfile.ZipFile(BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
            for name in src.namelist():
                dst.writestr(name, replace.get(name, src.read(name)))
        return out.getvalue()

    communes = json.loads(zipfile.ZipFile(BytesIO(good)).read("communes.json"))
    rule = {
        "name": "Panne",
        "kind": "status",
        "layer": "alarms",
        "subject": "",
        "measure": "fault",
        "op": ">=",
        "threshold": 0,
        "category": "",
        "count": 3,
        "radius_m": 200,
        "days": 7,
        "duration_s": 0,
        "severity": "major",
        "commune_insee": "L0204",
        "quiet_s": 0,
        "prepare_alert": False,
        "alert_title": "",
        "active": True,
    }
    communes[1]["insee"] = "57038"  # a key that is not its code's (and a French commune's)
    cases = [
        (b"not a zip", "pas un export de territoire lisible"),
        (rezip(**{"eclor-territory.json": '{"version": 99}'}), "version"),
        (rezip(**{"communes.json": json.dumps(communes)}), "incohérente"),
        (rezip(**{"territory.json": '{"slug": "minett"}'}), "« name » est obligatoire"),
        (
            rezip(**{"bodies.json": '[{"name": "Voirie", "categories": ["potholes"]}]'}),
            "catégorie inconnue : potholes",
        ),
        (
            rezip(**{"light_programs.json": '[{"name": "Nuit", "definition": "[1, 2"}]'}),
            "« Nuit » n’a pas de définition lisible",
        ),
        (
            rezip(**{"light_programs.json": '[{"name": "Nuit"}]'}),
            "chaque ligne doit avoir definition, name",
        ),
        (
            rezip(
                **{
                    "light_programs.json": '[{"name": "Nuit", "definition": "{}"}, '
                    '{"name": "Nuit", "definition": "{}"}]'
                }
            ),
            "Le programme d’éclairage « Nuit » figure deux fois dans le paquet",
        ),
        (
            rezip(**{"maintenance_rules.json": json.dumps([{**rule, "kind": "weather"}])}),
            "« Panne » : kind « weather » inconnu",
        ),
        (
            rezip(**{"maintenance_rules.json": json.dumps([{**rule, "commune_insee": "57038"}])}),
            "la commune « 57038 » n’est pas du territoire",
        ),
        (
            rezip(**{"maintenance_rules.json": json.dumps([{**rule, "count": "3"}])}),
            "count doit être un nombre entier positif",
        ),
        (
            rezip(**{"maintenance_rules.json": json.dumps([{"name": "Panne"}])}),
            "chaque ligne doit avoir",
        ),
    ]
    for data, message in cases:
        with pytest.raises(SetupError, match=message), write_session(engine) as session:
            import_bundle(session, data)
    assert _counts(engine) == before
    # A program named as another territory's is no conflict: names are unique per territory.
    with write_session(engine) as session:
        import_bundle(
            session,
            rezip(**{"light_programs.json": '[{"name": "Pays-Haut", "definition": "{}"}]'}),
        )
    with read_session(engine) as session:
        named = session.scalars(select(LightProgram).where(col(LightProgram.name) == "Pays-Haut"))
        assert sorted(p.territory_id != 1 for p in named) == [False, True]


def test_each_territory_gets_its_own_anonymous_home_panels(engine, client, monkeypatch):
    """The anonymous panels are kept per territory: a panel computed for one host is never served
    on another's (a loader that is per territory reads the territory bound to its session)."""
    from app import home
    from app.interfaces import Panel
    from app.territories import of_session

    add_minett(engine)
    asked: list[str] = []

    def probe(session, user):
        asked.append(of_session(session).slug)
        return None  # shows nothing

    monkeypatch.setattr(home, "PANELS", [Panel("probe", 1, "", probe)])
    client.get("/")
    client.get("/", headers=ESCH)
    client.get("/")  # within the panels' lifetime: both are kept, neither is computed again
    client.get("/", headers=ESCH)
    assert sorted(asked) == ["minett", "phva"]

"""The super-administrator manages the install's territories (/admin/territories): bound to no
territory, it signs in on any host; a territory's administrators do not see the page."""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import Session, col, select

from app import cli
from app.cli import main as cli_main
from app.db import write_session
from app.models.accounts import User
from app.models.territory import Territory
from tests.conftest import PERSONA_PASSWORD, EclorClient
from tests.test_territories import ESCH, add_minett

SUPER = "territoires@eclor.test"


@pytest.fixture
def superadmin(app, engine, settings, monkeypatch):
    """A super-administrator made by ``eclor users create --role superadmin``, signed in."""
    monkeypatch.setenv("ECLOR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ECLOR_VAR_DIR", str(settings.var_dir))
    cli.get_settings.cache_clear()  # `eclor` reads its settings once per process
    assert (
        cli_main(["users", "create", SUPER, "--role", "superadmin", "--password", PERSONA_PASSWORD])
        == 0
    )
    with EclorClient(app=app) as client:
        yield client


def _sign_in(client: EclorClient, headers: dict | None = None):
    client.get("/login", headers=headers or {})
    return client.post(
        "/login",
        data={
            "email": SUPER,
            "password": PERSONA_PASSWORD,
            "_csrf_token": client.cookies.get("csrftoken"),
        },
        headers=headers or {},
        follow_redirects=False,
    )


def _territory(engine, slug: str) -> Territory:
    with Session(engine) as session:
        return session.scalars(select(Territory).where(col(Territory.slug) == slug)).one()


def _form(row: Territory, **changes: str) -> dict[str, str]:
    form = {
        "name": row.name,
        "short_name": row.short_name,
        "colour_primary": row.colour_primary,
        "colour_accent": row.colour_accent,
        "contact_email": row.contact_email,
        "hosts": "\n".join(row.hosts),
    }
    return {**form, **changes}


def test_the_command_line_makes_a_super_administrator_bound_to_no_territory(engine, superadmin):
    with Session(engine) as session:
        user = session.scalars(select(User).where(col(User.email) == SUPER)).one()
    assert (user.role, user.territory_id) == ("superadmin", None)


def test_the_super_administrator_signs_in_on_any_host_and_lists_the_territories(engine, superadmin):
    add_minett(engine)
    assert _sign_in(superadmin, ESCH).status_code == 303
    for headers in (ESCH, {}):
        listing = superadmin.get("/admin/territories", headers=headers)
        assert listing.status_code == 200
        text = listing.text
        assert "Communauté de communes du Pays-Haut" in text and "Minett : Esch-sur-Alzette" in text
        assert "Hôtes : esch.localhost" in text and "3 communes" in text
        assert 'href="/admin/territories"' in text  # the top bar leads there
    # Each territory is shown with its own icon, whichever host the page is on.
    listing = superadmin.get("/admin/territories", headers=ESCH).text
    icons = re.findall(r'<img src="(/territory-icons/icon-192\.png[^"]+)"', listing)
    assert len(icons) == 2
    shown = [superadmin.get(html.unescape(src), headers=ESCH).content for src in icons]
    own = []
    for headers in ({}, ESCH):  # what each territory's own host serves as its icon
        src = superadmin.get("/manifest.webmanifest", headers=headers).json()["icons"][0]["src"]
        own.append(superadmin.get(src, headers=headers).content)
    assert shown[0] != shown[1] and shown == own
    # Not a territory's staff: the staff pages stay closed to it.
    assert superadmin.get("/staff", headers=ESCH).status_code == 403


def test_a_territory_s_administrators_and_staff_do_not_see_the_territories(
    engine, client, personas
):
    add_minett(engine)
    row = _territory(engine, "minett")
    for role in ("admin", "staff", "resident"):
        persona = personas[role]
        assert persona.client.get("/admin/territories").status_code == 403, role
        assert persona.client.get(f"/admin/territories/{row.id}").status_code == 403, role
        saved = persona.client.post_form(
            f"/admin/territories/{row.id}", _form(row, name="Pris par un administrateur")
        )
        assert saved.status_code == 403, role
    assert _territory(engine, "minett").name == row.name
    assert client.get("/admin/territories", follow_redirects=False).status_code == 303


def test_the_super_administrator_changes_a_territory_s_branding_and_its_host_shows_it(
    engine, superadmin
):
    add_minett(engine)
    _sign_in(superadmin)
    row = _territory(engine, "minett")
    page = superadmin.get(f"/admin/territories/{row.id}")
    assert page.status_code == 200 and 'value="#1d4f91"' in page.text
    saved = superadmin.post_form(
        f"/admin/territories/{row.id}",
        _form(
            row,
            name="Minett transfrontalier",
            short_name="Minett-Sud",
            colour_primary="#7A1F5C",
            contact_email="bonjour@minett.example",
            hosts="esch.localhost\nminett.localhost",
        ),
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/territories?saved=1"
    after = _territory(engine, "minett")
    assert (after.name, after.short_name, after.colour_primary) == (
        "Minett transfrontalier",
        "Minett-Sud",
        "#7a1f5c",
    )
    assert after.contact_email == "bonjour@minett.example"
    assert after.hosts == ["esch.localhost", "minett.localhost"]
    home = superadmin.get("/", headers=ESCH).text
    assert "Eclor Minett-Sud" in home and '<meta name="theme-color" content="#7a1f5c">' in home
    manifest = superadmin.get("/manifest.webmanifest", headers=ESCH).json()
    assert manifest["theme_color"] == "#7a1f5c"
    assert (
        "Les réglages du territoire sont enregistrés."
        in superadmin.get(saved.headers["location"]).text
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "  "}, "Le nom du territoire est obligatoire."),
        ({"colour_primary": "vert"}, "Une couleur s’écrit #rrggbb"),
        ({"colour_accent": "#12345"}, "Une couleur s’écrit #rrggbb"),
        ({"contact_email": "pas-une-adresse"}, "n’est pas une adresse e-mail"),
        ({"hosts": "esch.localhost:8000"}, "n’est pas un nom d’hôte"),
        ({"hosts": "esch.localhost\nesch.localhost"}, "Un nom d’hôte est donné deux fois."),
        ({"hosts": ""}, "Donnez au moins un nom d’hôte"),
        ({"short_name": "x" * 61}, "Le nom court dépasse 60 caractères."),
    ],
)
def test_bad_branding_is_refused_in_french_and_nothing_is_written(
    engine, superadmin, changes, message
):
    add_minett(engine)
    _sign_in(superadmin)
    row = _territory(engine, "minett")
    answer = superadmin.post_form(
        f"/admin/territories/{row.id}", _form(row, **{"short_name": "Changé", **changes})
    )
    assert answer.status_code == 400 and message in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert _territory(engine, "minett").model_dump() == row.model_dump()


def test_a_host_another_territory_answers_on_is_refused(engine, superadmin):
    add_minett(engine)
    _sign_in(superadmin)
    first = _territory(engine, "phva")
    answer = superadmin.post_form(
        f"/admin/territories/{first.id}", _form(first, hosts="eclor.localhost\nesch.localhost")
    )
    assert answer.status_code == 400
    assert "Le nom d’hôte « esch.localhost » sert déjà le territoire « Minett" in answer.text
    assert _territory(engine, "phva").hosts == first.hosts
    assert superadmin.get("/admin/territories/999").status_code == 404


def test_an_administrator_cannot_give_or_take_the_super_administrator_s_role(
    engine, superadmin, personas
):
    admin = personas["admin"]
    with Session(engine) as session:
        target = session.scalars(select(User).where(col(User.email) == SUPER)).one()
        resident_id = personas["resident"].id
    refused = admin.client.post_form(f"/admin/users/{resident_id}/role", {"role": "superadmin"})
    assert refused.status_code == 400 and "Rôle inconnu." in refused.text
    kept = admin.client.post_form(f"/admin/users/{target.id}/role", {"role": "resident"})
    assert kept.status_code == 400
    assert "ne se change qu’en ligne de commande" in kept.text
    with write_session(engine) as session:
        assert session.get(User, resident_id).role == "resident"
        assert session.get(User, target.id).role == "superadmin"
    assert 'value="superadmin"' not in admin.client.get("/admin/users").text

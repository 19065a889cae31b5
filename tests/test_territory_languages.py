"""Each territory offers its own languages: a host answers in one of its territory's languages that
Eclor has (the person's choice, then the browser's, then the territory's first), and offers only those
in its language menu and manifest. The demo's Minett offers German and Luxembourgish; the first
territory does not."""

from __future__ import annotations

import re

from sqlmodel import select

from app import i18n
from app.db import write_session
from app.models.territory import Territory
from tests.test_territories import ESCH, add_minett

DE = {"accept-language": "de-LU,de;q=0.9,fr;q=0.5"}
LB = {"accept-language": "lb-LU,lb;q=0.9,de;q=0.5"}


def _menu(html: str) -> list[str]:
    select = html.split('<select id="lang-select"')[1].split("</select>")[0]
    return re.findall(r'<option value="([a-z]+)"', select)


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([a-z]+)"', html)
    assert found
    return found.group(1)


def test_the_languages_offered_are_the_territorys_that_eclor_has_in_its_order():
    assert i18n.offered(["fr", "de", "lb", "en"]) == ("fr", "de", "lb", "en")
    assert i18n.offered(["de", "fr"]) == ("de", "fr")
    assert i18n.offered(["lb"]) == ("lb",)
    assert i18n.offered(["rm"]) == ("fr",)  # every string exists in French
    assert i18n.offered([]) == ("fr",)
    offered = ("de", "fr")
    assert i18n.pick_locale(None, None, offered) == "de"  # the territory's first
    assert i18n.pick_locale(None, "en-GB,en;q=0.8,fr;q=0.5", offered) == "fr"
    assert i18n.pick_locale("en", "de", offered) == "de"  # a choice it does not offer is not kept
    assert i18n.pick_locale("fr", "de", offered) == "fr"


def test_a_host_answers_in_its_territorys_languages_only(engine, client):
    add_minett(engine)
    esch = client.get("/", headers={**ESCH, **DE})
    assert esch.status_code == 200
    assert _lang(esch.text) == "de"
    assert _menu(esch.text) == ["fr", "de", "lb", "en"]
    assert "<title>Startseite · Eclor Minett</title>" in esch.text
    assert "Sprache" in esch.text and "Langue</label>" not in esch.text
    assert "Illegale Müll\u00adablagerung melden" in esch.text  # a soft hyphen: phones break there
    login = client.get("/login", headers={**ESCH, **DE})
    assert login.status_code == 200 and "Anmelden" in login.text
    # The first territory offers French and English: a German browser reads French there.
    first = client.get("/", headers=DE)
    assert _lang(first.text) == "fr"
    assert _menu(first.text) == ["fr", "en"]
    english = client.get("/", headers={"accept-language": "en"})
    assert _lang(english.text) == "en"


def test_choosing_a_language_keeps_to_what_the_host_offers(engine, client):
    add_minett(engine)
    token = client.get("/", headers=ESCH).text.split('name="_csrf_token" value="')[1].split('"')[0]
    refused = client.post(
        "/lang",
        data={"lang": "de", "next": "/", "_csrf_token": token},
        follow_redirects=False,
    )
    assert refused.status_code == 303 and "lang=" not in refused.headers.get("set-cookie", "")
    chosen = client.post(
        "/lang",
        data={"lang": "de", "next": "/", "_csrf_token": token},
        headers=ESCH,
        follow_redirects=False,
    )
    assert chosen.status_code == 303 and "lang=de" in chosen.headers["set-cookie"]
    client.cookies.set("lang", "de")
    assert _lang(client.get("/", headers=ESCH).text) == "de"
    # The same cookie on the first territory's host, which does not offer German: its first.
    assert _lang(client.get("/").text) == "fr"


def test_a_territory_preferring_german_gets_it_by_default_and_in_its_manifest(engine, client):
    add_minett(engine)
    with write_session(engine) as session:
        minett = session.scalars(select(Territory).where(Territory.slug == "minett")).one()
        minett.languages = ["de", "fr"]
    from app import territories

    territories.changed()
    page = client.get("/", headers=ESCH)
    assert _lang(page.text) == "de" and _menu(page.text) == ["de", "fr"]
    assert client.get("/manifest.webmanifest", headers=ESCH).json()["lang"] == "de"
    assert client.get("/manifest.webmanifest").json()["lang"] == "fr"


def test_a_browser_asking_for_luxembourgish_reads_it_on_the_minett_and_french_on_the_first(
    engine, client
):
    add_minett(engine)
    esch = client.get("/", headers={**ESCH, **LB})
    assert _lang(esch.text) == "lb" and _menu(esch.text) == ["fr", "de", "lb", "en"]
    assert "<title>Heem · Eclor Minett</title>" in esch.text
    assert ">Lëtzebuergesch</option>" in esch.text and "Sprooch" in esch.text
    assert "Wëllen Offall\u00addepot mellen" in esch.text  # a soft hyphen: phones break there
    assert "Aloggen" in client.get("/login", headers={**ESCH, **LB}).text
    # Carpooling has no Luxembourgish catalogue: its page reads German, the shared words Luxembourgish.
    carpool = client.get("/carpool", headers={**ESCH, **LB})
    assert _lang(carpool.text) == "lb"
    assert "Eine Fahrt finden" in carpool.text and "Trouver un trajet" not in carpool.text
    assert ">Heem</span>" in carpool.text
    # The first territory offers French and English: a Luxembourgish browser reads French there.
    first = client.get("/", headers=LB)
    assert _lang(first.text) == "fr" and _menu(first.text) == ["fr", "en"]
    # A territory preferring Luxembourgish names it in its web app manifest.
    with write_session(engine) as session:
        minett = session.scalars(select(Territory).where(Territory.slug == "minett")).one()
        minett.languages = ["lb", "fr"]
    from app import territories

    territories.changed()
    assert client.get("/manifest.webmanifest", headers=ESCH).json()["lang"] == "lb"
    assert _lang(client.get("/", headers=ESCH).text) == "lb"


def test_luxembourgish_falls_back_to_german_then_french():
    from app.i18n import gettext, ngettext, pgettext
    from app.templating import bound_locale

    with bound_locale("lb"):
        assert gettext("Mes signalements") == "Meng Meldungen"  # the reports' Luxembourgish
        assert gettext("Trouver un trajet") == "Eine Fahrt finden"  # carpooling: no lb file
        assert pgettext("lighting commands", "Commandes") == "Schaltbefehle"  # staff: German
        assert ngettext("%(num)d signalement", "%(num)d signalements", 2) == "%(num)d Meldungen"
        missing = "Une phrase qu’aucun catalogue ne traduit."
        assert gettext(missing) == missing  # French last
    with bound_locale("de"):
        assert gettext("Mes signalements") == "Meine Meldungen"

"""Renovation guide pages, open without an account: the questionnaire asks the next relevant
question one form post at a time, bad answers get French messages (never a 500, nothing stored),
the result shows each aid with its source and year and the remaining cost, a local aid written by
staff appears for a matching household only, and appointment requests are followed up by staff."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app.db import read_session, write_session
from app.models.renovation import AidRule, Appointment
from app.renovation import rules

AUDUN, VILLERUPT = "57038", "54580"

MINER_HOUSE = {
    "commune": VILLERUPT,
    "home_type": "maison",
    "built_year": "1925",
    "heating": "fioul",
    "persons": "3",
    "bracket": "modeste",
    "works": ["pac_air_eau", "isolation_murs_ext"],
    "q_isolation_murs_ext": "90",
}


@pytest.fixture(autouse=True)
def loaded(engine):
    with write_session(engine) as session:
        rules.load_file(session, rules.NATIONAL_FILE)


def step_of(html: str) -> str:
    found = re.search(r'name="step" value="([a-z_]+)"', html)
    return found.group(1) if found else "results"


def count(engine, model) -> int:
    with read_session(engine) as session:
        return len(session.exec(select(model)).all())


def test_an_anonymous_resident_answers_one_question_per_page_and_sees_the_aids(client):
    page = client.get("/renovation")
    assert page.status_code == 200 and step_of(page.text) == "commune"
    answers: dict = {}
    order = []
    for name, value in [
        ("commune", VILLERUPT),
        ("home", {"home_type": "maison", "built_year": "1925"}),
        ("heating", "fioul"),
        ("household", "3"),
        ("income", "modeste"),
        ("works", ["pac_air_eau", "isolation_murs_ext"]),
        ("quantities", {"q_isolation_murs_ext": "90"}),
    ]:
        field = {
            "commune": "commune",
            "heating": "heating",
            "household": "persons",
            "income": "bracket",
            "works": "works",
        }.get(name)
        answers.update(value if isinstance(value, dict) else {field: value})
        answer = client.post_form("/renovation/questions", {**answers, "step": name})
        assert answer.status_code == 200, answer.text
        order.append(step_of(answer.text))
    # The income question offers the ceilings of a household of three (Anah 2026 rules file).
    assert order == ["home", "heating", "household", "income", "works", "quantities", "results"]
    html = answer.text.replace("\u202f", " ").replace("\u00a0", " ")
    assert "MaPrimeRénov’ par geste : pompe à chaleur air/eau" in html
    assert "4 000 €" in html and "5 400 €" in html  # 90 m² × 60 €
    assert "Prêt jusqu’à 25 000 €" in html
    assert "Règle 2026" in html and "github.com/betagouv/reno" in html
    # No occupant question: no adaptation works.
    assert 'name="occupant"' not in answer.text


def test_the_income_question_shows_the_ceilings_of_the_household_size(client):
    answer = client.post_form(
        "/renovation/questions",
        {
            "commune": AUDUN,
            "home_type": "maison",
            "built_year": "1930",
            "heating": "gaz",
            "persons": "2",
            "step": "household",
        },
    )
    html = answer.text.replace("\u202f", " ").replace("\u00a0", " ")
    assert step_of(answer.text) == "income"
    assert "Jusqu’à 25 115 €" in html and "De 32 198 € à 45 340 €" in html
    assert "Plus de 45 340 €" in html


def test_the_occupant_age_is_asked_only_for_works_adapting_the_home(client):
    base = {
        "commune": AUDUN,
        "home_type": "maison",
        "built_year": "1950",
        "heating": "electricite",
        "persons": "1",
        "bracket": "tres_modeste",
    }
    answer = client.post_form(
        "/renovation/questions", {**base, "works": "adaptation", "step": "works"}
    )
    assert step_of(answer.text) == "occupant"
    assert "70 ans ou plus" in answer.text
    answer = client.post_form(
        "/renovation/questions",
        {**base, "works": "adaptation", "occupant": "70_plus", "cost": "12000", "step": "occupant"},
    )
    html = answer.text.replace("\u202f", " ").replace("\u00a0", " ")
    assert "MaPrimeAdapt’" in html and "8 400 €" in html  # 70 % of 12 000
    assert "Reste à payer estimé" in html and "3 600 €" in html


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        (
            {"commune": "75056", "step": "commune"},
            "commune",
            "Choisissez une commune du territoire.",
        ),
        ({"step": "commune"}, "commune", "Répondez à cette question pour continuer."),
        (
            {"commune": AUDUN, "home_type": "chateau", "built_year": "1930", "step": "home"},
            "home_type",
            "Indiquez s’il s’agit d’une maison ou d’un appartement.",
        ),
        (
            {"commune": AUDUN, "home_type": "maison", "built_year": "2031", "step": "home"},
            "built_year",
            "Indiquez l’année de construction en quatre chiffres, au plus tard 2026.",
        ),
        (
            {"commune": AUDUN, "home_type": "maison", "built_year": "vers 1930", "step": "home"},
            "built_year",
            "Indiquez l’année de construction",
        ),
        (
            {
                **{
                    k: v
                    for k, v in MINER_HOUSE.items()
                    if k in ("commune", "home_type", "built_year", "heating")
                },
                "persons": "0",
                "step": "household",
            },
            "persons",
            "Indiquez un nombre de personnes entre 1 et 20.",
        ),
        (
            {
                **{
                    k: v
                    for k, v in MINER_HOUSE.items()
                    if k in ("commune", "home_type", "built_year", "heating", "persons")
                },
                "bracket": "riche",
                "step": "income",
            },
            "bracket",
            "Choisissez la tranche de votre revenu fiscal.",
        ),
        (
            {
                **{k: v for k, v in MINER_HOUSE.items() if k != "works" and not k.startswith("q_")},
                "step": "works",
            },
            "works",
            "Répondez à cette question pour continuer.",
        ),
        (
            {**MINER_HOUSE, "q_isolation_murs_ext": "0", "step": "quantities"},
            "q_isolation_murs_ext",
            "Un nombre entier entre 1 et 10 000 est attendu.",
        ),
    ],
)
def test_bad_answers_get_a_french_message_on_the_same_question(
    client, engine, answers, field, message
):
    answer = client.post_form("/renovation/questions", answers)
    assert answer.status_code == 400
    assert f'id="{field}-error"' in answer.text
    assert message in answer.text.replace("&#39;", "’")
    assert count(engine, Appointment) == 0


def test_a_bad_works_cost_is_refused_in_french_and_the_aids_stay(client):
    answer = client.post_form("/renovation/questions", {**MINER_HOUSE, "cost": "beaucoup"})
    assert answer.status_code == 400
    assert "Indiquez le coût des travaux en euros" in answer.text
    assert "pompe à chaleur air/eau" in answer.text


def test_english_speakers_get_the_questions_in_english(client):
    client.cookies.set("lang", "en")
    answer = client.post_form("/renovation/questions", {"commune": "75056", "step": "commune"})
    assert "Choose a commune of the territory." in answer.text


LOCAL_AID = {
    "title": "Prime Villerupt : maisons de mineurs",
    "calc": "rate",
    "rate": "25",
    "expense_ceiling": "20000",
    "aid_ceiling": "4000",
    "communes": VILLERUPT,
    "brackets": ["tres_modeste", "modeste"],
    "built_before": "1949",
    "works": ["isolation_murs_ext", "fenetres"],
    "source_url": "https://www.mairie-villerupt.fr/deliberation-2026-12",
    "source_title": "Délibération du conseil municipal",
    "year": "2026",
}


def test_a_local_aid_written_by_staff_appears_for_a_matching_household_only(client, staff, engine):
    answer = staff.client.post_form("/renovation/staff/aids", LOCAL_AID)
    assert answer.status_code == 303
    page = staff.client.get("/renovation/staff")
    assert "Prime Villerupt : maisons de mineurs" in page.text
    assert "25 % des travaux" in page.text.replace("\u00a0", " ")

    # A miner's house of 1925 in Villerupt, modest income, walls: 25 % of 18 000 = 4 000 (ceiling).
    answer = client.post_form("/renovation/questions", {**MINER_HOUSE, "cost": "18000"})
    html = answer.text.replace("\u202f", " ").replace("\u00a0", " ")
    assert "Prime Villerupt : maisons de mineurs" in html
    assert "Aide locale · aide locale" not in html
    assert "Délibération du conseil municipal" in html
    # 18 000 − (4 000 PAC + 5 400 walls + 4 000 CEE + 4 000 local) = 600
    assert re.search(r"Reste à payer estimé</dt><dd class=\"total\">600 €", html)

    # The same house in Audun, or in Villerupt but built in 1960, or well off: not offered.
    for other in ({"commune": AUDUN}, {"built_year": "1960"}, {"bracket": "intermediaire"}):
        answer = client.post_form("/renovation/questions", {**MINER_HOUSE, **other})
        assert answer.status_code == 200 and "pompe à chaleur" in answer.text
        assert "Prime Villerupt" not in answer.text, other

    # Switched off, it disappears.
    with read_session(engine) as session:
        rule_id = session.exec(select(AidRule).where(AidRule.scope == "local")).one().id
    staff.client.post_form(f"/renovation/staff/aids/{rule_id}/active", {"active": "no"})
    answer = client.post_form("/renovation/questions", MINER_HOUSE)
    assert "Prime Villerupt" not in answer.text


def test_a_wrong_local_aid_is_refused_in_french_and_nothing_is_written(staff, engine):
    answer = staff.client.post_form(
        "/renovation/staff/aids",
        {
            "title": "Aide",
            "calc": "rate",
            "rate": "150",
            "communes": "75056",
            "source_url": "pas une adresse",
        },
    )
    assert answer.status_code == 400
    for message in (
        "Donnez le nom de l’aide (5 caractères au moins).",
        "Un nombre entier entre 1 et 100 est attendu.",
        "Choisissez des communes du territoire.",
        "Donnez l’adresse (https://…) de la délibération",
    ):
        assert message in answer.text.replace("&#39;", "’"), message
    with read_session(engine) as session:
        assert session.exec(select(AidRule).where(AidRule.scope == "local")).all() == []


def test_a_resident_asks_for_an_appointment_and_staff_follow_it_up(client, staff, engine):
    refused = client.post_form(
        "/renovation/appointments",
        {
            **MINER_HOUSE,
            "cost": "25000",
            "name": "Jeanne Martin",
            "phone": "12",
            "slots": "morning",
        },
    )
    assert refused.status_code == 400
    assert "Numéro de téléphone invalide" in refused.text
    assert "Cochez la case pour accepter" in refused.text
    assert count(engine, Appointment) == 0

    sent = client.post_form(
        "/renovation/appointments",
        {
            **MINER_HOUSE,
            "cost": "25000",
            "name": "Jeanne Martin",
            "phone": "03 82 89 00 00",
            "slots": ["morning", "saturday"],
            "preferred": "plutôt le mardi",
            "consent": "yes",
        },
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/renovation/appointments/sent"
    with read_session(engine) as session:
        row = session.exec(select(Appointment)).one()
    assert row.status == "new" and row.commune_insee == VILLERUPT and row.user_id is None
    assert row.preferred == "En semaine, le matin; Le samedi matin; plutôt le mardi"
    assert "MaPrimeRénov’ par geste : pompe à chaleur air/eau : 4\u202f000\u00a0€" in row.summary
    assert "Coût estimé des travaux : 25\u202f000\u00a0€" in row.summary

    listing = staff.client.get("/renovation/staff/appointments?status=new")
    assert "Jeanne Martin" in listing.text and "tel:0382890000" in listing.text
    bad = staff.client.post_form(
        f"/renovation/staff/appointments/{row.id}/status", {"status": "lost"}
    )
    assert bad.status_code == 400 and "Choisissez un état" in bad.text
    for status in ("called", "done"):
        answer = staff.client.post_form(
            f"/renovation/staff/appointments/{row.id}/status",
            {"status": status, "note": "Visite prévue"},
        )
        assert answer.status_code == 303
    assert "Jeanne Martin" not in staff.client.get("/renovation/staff/appointments?status=new").text
    done = staff.client.get("/renovation/staff/appointments?status=done").text
    assert "Jeanne Martin" in done and "Visite prévue" in done


def test_a_signed_in_residents_requests_are_in_their_export_and_go_with_their_account(
    resident, engine
):
    answer = resident.client.post_form(
        "/renovation/appointments",
        {
            **MINER_HOUSE,
            "name": "Paul",
            "email": "paul@example.org",
            "slots": "evening",
            "consent": "yes",
        },
    )
    assert answer.status_code == 303
    from app.renovation import privacy

    with write_session(engine) as session:
        data, _ = privacy.export_person(session, resident.id, None)
        assert [a["email"] for a in data["appointments"]] == ["paul@example.org"]
        privacy.erase_person(session, resident.id, None)
    assert count(engine, Appointment) == 0


def test_the_rules_page_lists_every_rule_with_its_source_and_the_ceilings(client):
    page = client.get("/renovation/rules")
    html = page.text.replace("\u202f", " ").replace("\u00a0", " ")
    assert page.status_code == 200
    assert html.count("règle 2026") == 32
    assert "17 173 €" in html and "+ 5 094 €" in html
    assert "revalorisation 2026 non vérifiée" in html

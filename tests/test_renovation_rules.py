"""The renovation guide's rule engine: known households of the territory get exactly the aids and
amounts computed by hand from the 2026 rules (the bundled file, loaded as rows), the income
brackets follow the Anah ceilings, and the national rules change by loading a file, without code."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from app.cli import main as cli_main
from app.db import read_session, write_session
from app.models.renovation import AidRule
from app.renovation import engine, rules
from app.renovation.engine import Household

AUDUN, AUMETZ, BOULANGE, OTTANGE, REDANGE, RUSSANGE, THIL, VILLERUPT = (
    "57038",
    "57041",
    "57097",
    "57529",
    "57565",
    "57602",
    "54523",
    "54580",
)


@pytest.fixture
def loaded(engine):
    with write_session(engine) as session:
        rules.load_file(session, rules.NATIONAL_FILE)
    return engine


def run(engine_, household: Household) -> tuple[dict[str, int | None], list[engine.Aid]]:
    with read_session(engine_) as session:
        year = rules.current_year(session)
        assert year == 2026
        aids = engine.evaluate(rules.rules_of(session, year), household, year)
    return {a.rule.key: a.amount for a in aids}, aids


# (household, expected aids {rule key: euros}, works cost, expected remaining cost)
# Hand-computed from the 2026 rules: MaPrimeRénov' par geste (home of 15 years or more, brackets
# Bleu/Jaune/Violet), Coup de pouce CEE (replacing a fuel, coal or gas boiler), eco-PTZ tiers
# (7 000 windows alone, 15 000 one action, 25 000 two, 30 000 three or more; home of 2 years or
# more), MaPrimeAdapt' (70 % / 50 % of at most 22 000 € of works).
CASES = [
    pytest.param(
        Household(AUDUN, "maison", 1930, "fioul", 2, "tres_modeste", ["pac_air_eau"]),
        {"mpr-pac_air_eau-tres_modeste": 5000, "cee-pac-air-eau-modestes": 4000, "ecoptz-1": 15000},
        18000,
        9000,  # 18 000 − (5 000 + 4 000); the loan is not subtracted
        id="miner-house-Audun-oil-boiler-to-heat-pump-very-modest",
    ),
    pytest.param(
        Household(
            VILLERUPT,
            "maison",
            1960,
            "gaz",
            4,
            "intermediaire",
            ["isolation_murs_ext", "fenetres"],
            {"isolation_murs_ext": 120, "fenetres": 6},
        ),
        {
            "mpr-isolation_murs_ext-intermediaire": 4000,  # 40 €/m², 100 m² at most
            "mpr-fenetres-intermediaire": 240,  # 6 × 40 €
            "ecoptz-2": 25000,
        },
        30000,
        25760,
        id="Villerupt-walls-and-windows-intermediate",
    ),
    pytest.param(
        Household(THIL, "appartement", 2015, "electricite", 1, "modeste", ["vmc_double_flux"]),
        {"ecoptz-1": 15000},  # 11 years old: no MaPrimeRénov' par geste
        None,
        None,
        id="Thil-flat-of-2015-only-the-eco-loan",
    ),
    pytest.param(
        Household(
            AUMETZ,
            "maison",
            1950,
            "electricite",
            1,
            "tres_modeste",
            ["adaptation"],
            occupant="70_plus",
            cost=10000,
        ),
        {"mpa-tres_modeste": 7000},  # 70 % of 10 000
        10000,
        3000,
        id="Aumetz-widow-of-75-adapts-her-bathroom",
    ),
    pytest.param(
        Household(OTTANGE, "maison", 1975, "fioul", 3, "superieure", ["pac_geo"]),
        {"cee-pac-geo": 5000, "ecoptz-1": 15000},  # Rose: no MaPrimeRénov' par geste
        None,
        None,
        id="Ottange-well-off-ground-source-heat-pump",
    ),
    pytest.param(
        Household(
            BOULANGE, "maison", 1980, "electricite", 2, "modeste", ["adaptation"], occupant="60_69"
        ),
        {},  # 60-69 without an assessed loss of autonomy: no MaPrimeAdapt'
        None,
        None,
        id="Boulange-65-without-loss-of-autonomy-gets-nothing",
    ),
    pytest.param(
        Household(
            REDANGE,
            "maison",
            1970,
            "gaz",
            5,
            "modeste",
            ["adaptation"],
            occupant="60_69_gir",
            cost=30000,
        ),
        {"mpa-modeste": 11000},  # 50 % of the 22 000 € ceiling
        30000,
        19000,
        id="Redange-stairlift-past-the-expense-ceiling",
    ),
    pytest.param(
        Household(RUSSANGE, "maison", 2025, "gaz", 2, "tres_modeste", ["pac_air_eau"]),
        {},  # a home of one year: nothing
        None,
        None,
        id="Russange-new-house-gets-nothing",
    ),
    pytest.param(
        Household(AUDUN, "maison", 1900, "bois", 1, "modeste", ["fenetres"], {"fenetres": 4}),
        {"mpr-fenetres-modeste": 320, "ecoptz-fenetres": 7000},
        None,
        None,
        id="Audun-windows-alone",
    ),
    pytest.param(
        Household(
            VILLERUPT,
            "maison",
            1925,
            "fioul",
            6,
            "modeste",
            ["pac_air_eau", "isolation_murs_ext", "vmc_double_flux"],
            {"isolation_murs_ext": 80},
        ),
        {
            "mpr-pac_air_eau-modeste": 4000,
            "mpr-isolation_murs_ext-modeste": 4800,  # 80 × 60 €
            "mpr-vmc_double_flux-modeste": 2000,
            "cee-pac-air-eau-modestes": 4000,
            "ecoptz-3": 30000,
        },
        40000,
        25200,
        id="Villerupt-miner-house-three-works-modest",
    ),
    pytest.param(
        Household(THIL, "maison", 1955, "charbon", 2, "intermediaire", ["chaudiere_granules"]),
        {
            "mpr-chaudiere_granules-intermediaire": 2100,
            "cee-granules-autres": 2500,
            "ecoptz-1": 15000,
        },
        None,
        None,
        id="Thil-coal-to-pellet-boiler-intermediate",
    ),
]


@pytest.mark.parametrize(("household", "expected", "cost", "remaining"), CASES)
def test_known_households_get_exactly_the_hand_computed_aids(
    loaded, household, expected, cost, remaining
):
    household.cost = cost
    got, aids = run(loaded, household)
    assert got == expected
    if cost is not None:
        assert engine.remaining_cost(cost, aids) == remaining


def test_a_rate_without_a_works_cost_says_the_most_it_can_be(loaded):
    household = Household(
        AUMETZ, "maison", 1950, "electricite", 1, "tres_modeste", ["adaptation"], occupant="70_plus"
    )
    _, aids = run(loaded, household)
    assert [(a.rule.key, a.amount, a.up_to) for a in aids] == [("mpa-tres_modeste", None, 15400)]


def test_every_rule_carries_its_year_and_an_https_source(loaded):
    with read_session(loaded) as session:
        every = session.exec(select(AidRule)).all()
    assert len(every) == 32
    assert all(r.year == 2026 and r.source_url.startswith("https://") for r in every)


@pytest.mark.parametrize(
    ("persons", "income", "bracket"),
    [
        (1, 17173, "tres_modeste"),
        (1, 17174, "modeste"),
        (2, 25115, "tres_modeste"),
        (2, 32197, "modeste"),
        (2, 32198, "intermediaire"),
        (4, 63844, "intermediaire"),
        (4, 63845, "superieure"),
        (7, 50576, "tres_modeste"),  # 40 388 + 2 × 5 094
        (7, 64825, "modeste"),  # 51 775 + 2 × 6 525
        (7, 91607, "superieure"),  # 73 098 + 2 × 9 254 = 91 606
    ],
)
def test_the_income_bracket_follows_the_anah_ceilings_outside_ile_de_france(
    loaded, persons, income, bracket
):
    with read_session(loaded) as session:
        bounds = engine.limits(rules.ceilings_of(session, 2026), persons)
    assert bounds is not None
    assert engine.bracket_of(bounds, income) == bracket


def test_national_figures_change_by_loading_a_file_without_code(
    loaded, settings, monkeypatch, capsys, tmp_path
):
    data = json.loads(rules.NATIONAL_FILE.read_text(encoding="utf-8"))
    data["year"] = 2027
    for rule in data["rules"]:
        if rule["key"] == "mpr-pac_air_eau-tres_modeste":
            rule["amount"] = 5500
    path = tmp_path / "national-2027.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv("ECLOR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ECLOR_VAR_DIR", str(settings.var_dir))
    assert cli_main(["renovation", "rules", "load", str(path)]) == 0
    assert "32 national rules of 2027" in capsys.readouterr().out
    household = Household(AUDUN, "maison", 1930, "fioul", 2, "tres_modeste", ["pac_air_eau"])
    with read_session(loaded) as session:
        year = rules.current_year(session)
        aids = engine.evaluate(rules.rules_of(session, year), household, year)
    assert year == 2027
    assert {a.rule.key: (a.amount, a.rule.year) for a in aids}["mpr-pac_air_eau-tres_modeste"] == (
        5500,
        2027,
    )


def test_a_wrong_rules_file_is_refused_and_changes_nothing(
    loaded, settings, monkeypatch, capsys, tmp_path
):
    data = json.loads(rules.NATIONAL_FILE.read_text(encoding="utf-8"))
    data["rules"][3]["brackets"] = ["riche"]
    data["rules"][0]["amount"] = 1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv("ECLOR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ECLOR_VAR_DIR", str(settings.var_dir))
    assert cli_main(["renovation", "rules", "load", str(path)]) == 2
    assert "valeur inconnue dans brackets" in capsys.readouterr().err
    (tmp_path / "notjson.json").write_text("{", encoding="utf-8")
    assert cli_main(["renovation", "rules", "load", str(tmp_path / "notjson.json")]) == 2
    assert "Fichier illisible" in capsys.readouterr().err
    with read_session(loaded) as session:
        first = session.exec(
            select(AidRule).where(AidRule.key == "mpr-pac_air_eau-tres_modeste")
        ).one()
    assert first.amount == 5000

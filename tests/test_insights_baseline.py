"""Decision support: the lighting's energy against a measured baseline (meter readings or invoices per
cabinet and month of the years before the renovation), and the elected officials' read-only access."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from app import months
from app.db import read_session, utcnow, write_session
from app.models.insights import InsightsEnergyBaseline
from app.models.lighting import LightCabinet, LightEnergyMonth, LightGroup

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

VILLERUPT, AUDUN = "54580", "57038"


def month_shown() -> str:
    return months.shift(months.of(utcnow(), PARIS), -2)


def fleet(engine, month: str) -> None:
    """Cabinet A (Villerupt) feeds G1 and G2, B (Audun-le-Tiche) G3, C (Villerupt) G4; measured in
    ``month``: G1 150 kWh, G2 100 kWh, G3 300 kWh, G4 80 kWh."""
    with write_session(engine) as s:
        s.add_all(
            [
                LightCabinet(id="ARM-A", name="Armoire A", commune_insee=VILLERUPT),
                LightCabinet(id="ARM-B", name="Armoire B", commune_insee=AUDUN),
                LightCabinet(id="ARM-C", name="Armoire C", commune_insee=VILLERUPT),
            ]
        )
        s.flush()
        s.add_all(
            [
                LightGroup(id="G1", name="Rue Carnot", commune_insee=VILLERUPT, cabinet_id="ARM-A"),
                LightGroup(
                    id="G2", name="Place Jeanne d'Arc", commune_insee=VILLERUPT, cabinet_id="ARM-A"
                ),
                LightGroup(
                    id="G3", name="Rue de Micheville", commune_insee=AUDUN, cabinet_id="ARM-B"
                ),
                LightGroup(
                    id="G4", name="Cité Cantebonne", commune_insee=VILLERUPT, cabinet_id="ARM-C"
                ),
            ]
        )
        s.flush()
        for group, kwh in (("G1", 150), ("G2", 100), ("G3", 300), ("G4", 80)):
            s.add(LightEnergyMonth(month=month, group_id=group, energy_wh=kwh * 1000.0))
        s.add(LightEnergyMonth(month=months.shift(month, -1), group_id="G1", energy_wh=5e6))


def upload(persona, text: str):
    return persona.client.post(
        "/staff/insights/energy/baseline",
        files={"file": ("releves.csv", text.encode(), "text/csv")},
        data={"_csrf_token": persona.client.csrf_token()},
    )


def test_the_saving_against_an_imported_baseline_matches_a_hand_computation(engine, staff):
    month = month_shown()
    fleet(engine, month)
    a_year, two_years = months.shift(month, -12), months.shift(month, -24)
    text = "\n".join(
        [
            "armoire;mois;kwh;euros",
            f"ARM-A;{a_year};1000;200,00",
            f"ARM-A;{two_years};1200;240",
            f"ARM-A;{months.shift(month, -13)};9999;",  # another calendar month: not this one's baseline
            f"ARM-B;{a_year};500",
        ]
    )
    answer = upload(staff, text)
    assert answer.status_code == 200 and "4 relevés importés" in answer.text
    rows = list(
        csv.DictReader(
            io.StringIO(staff.client.get(f"/staff/insights/energy/baseline.csv?month={month}").text)
        )
    )
    by = {(r["level"], r["code"]): r for r in rows}
    # A: baseline (1000 + 1200) / 2 = 1100 kWh, measured 150 + 100 = 250: 1 - 250/1100 = 77.3 %;
    # the invoices' price 440 € / 2200 kWh = 0.20 €/kWh on 850 kWh saved = 170 €.
    a = by[("cabinet", "ARM-A")]
    assert (float(a["baseline_kwh"]), float(a["measured_kwh"])) == (1100.0, 250.0)
    assert float(a["saving_pct"]) == 77.3 and float(a["gap_kwh"]) == 0.0
    assert float(a["saved_euros"]) == 170.0
    assert a["groups"] == "Place Jeanne d'Arc | Rue Carnot"
    # B: 500 against 300: 40 %; 70 % means 150 kWh at most: 150 kWh still to save.
    b = by[("cabinet", "ARM-B")]
    assert float(b["saving_pct"]) == 40.0 and float(b["gap_kwh"]) == 150.0
    assert float(b["saved_euros"]) == 40.0  # no price on the invoice: 0.20 €/kWh × 200 kWh
    # Territory: 1600 against 550: 65.6 %, 1050 kWh, 210 €, 1050 × 0.052 kg = 0.055 t CO₂e,
    # 550 - 0.3 × 1600 = 70 kWh short of the target.
    t = by[("territory", "")]
    assert float(t["saving_pct"]) == 65.6 and float(t["saved_kwh"]) == 1050.0
    assert float(t["saved_euros"]) == 210.0 and float(t["saved_t_co2e"]) == 0.055
    assert float(t["gap_kwh"]) == 70.0 and t["target_pct"] == "70"
    assert float(by[("commune", VILLERUPT)]["saving_pct"]) == 77.3
    assert ("cabinet", "ARM-C") not in by  # measured, no baseline: not compared
    page = staff.client.get(f"/staff/insights/energy/baseline?month={month}")
    assert page.status_code == 200
    assert "65,6 %" in page.text and "ARM-C" in page.text
    assert "Armoire B (ARM-B, groupes : 1) : 40,0 %" in page.text  # the cabinet holding it back
    theme = staff.client.get(f"/staff/insights/energy?month={month}")
    assert "65,6 %" in theme.text and "modélisée" not in theme.text  # nothing modelled: no lamps
    # the month before has no baseline of its own calendar month for B, and A's is 9999
    before = staff.client.get(
        f"/staff/insights/energy/baseline.csv?month={months.shift(month, -1)}"
    ).text
    assert "ARM-B" not in before and "9999" in before


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ARM-Z;2024-01;100;20", "armoire inconnue « ARM-Z »"),
        ("ARM-A;2024-13;100;20", "mois invalide « 2024-13 »"),
        ("ARM-A;janvier;100;20", "mois invalide"),
        ("ARM-A;2024-01;beaucoup;20", "kWh n'est pas un nombre"),
        ("ARM-A;2024-01;-5;20", "kWh doit être un nombre positif"),
        ("ARM-A;2024-01;;20", "kWh manquant"),
        ("ARM-A;2024-01", "3 ou 4 colonnes attendues"),
        ("ARM-A;2024-02;100;20", "déjà une ligne pour 2024-02"),
        ("ARM-A;{current};100;20", "n'est pas terminé"),
    ],
)
def test_a_bad_baseline_line_is_refused_in_french_and_nothing_is_written(
    engine, staff, line, message
):
    fleet(engine, month_shown())
    text = "armoire;mois;kwh;euros\nARM-A;2024-02;90;18\n" + line.format(
        current=months.of(utcnow(), PARIS)
    )
    answer = upload(staff, text)
    assert answer.status_code == 400
    assert "Ligne 3" in answer.text and message in answer.text.replace("&#39;", "'").replace(
        "&#34;", '"'
    )
    with read_session(engine) as session:
        assert session.scalars(select(InsightsEnergyBaseline)).all() == []


def test_an_empty_or_missing_file_is_refused(engine, staff):
    assert "Choisissez un fichier CSV" in upload(staff, "").text
    answer = upload(staff, "\n\n")
    assert answer.status_code == 400 and "Le fichier est vide" in answer.text


def test_elected_officials_read_decision_support_and_change_nothing(engine, personas):
    elected = personas["elected"]
    month = month_shown()
    fleet(engine, month)
    home = elected.client.get("/staff/insights")
    assert home.status_code == 200 and 'href="/staff/insights"' in home.text
    assert 'href="/staff"' not in home.text  # not an agent: no staff area
    assert elected.client.get(f"/staff/insights/energy/baseline?month={month}").status_code == 200
    page = elected.client.get(f"/staff/insights/energy/baseline?month={month}")
    assert "Importer des relevés" not in page.text
    refused = upload(elected, f"ARM-A;{months.shift(month, -12)};1000;200")
    assert refused.status_code == 403
    with read_session(engine) as session:
        assert session.scalars(select(InsightsEnergyBaseline)).all() == []
    for url in ("/staff", "/staff/lighting", "/staff/reports"):
        assert elected.client.get(url, follow_redirects=False).status_code == 403

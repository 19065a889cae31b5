"""The solar sites' production in kWh, euros and CO₂ and the territory against its target (the staff
page ``/staff/solar`` and the decision-support figure), and the staff upload of meter readings as a
CSV file on ``/staff/buildings``: every line checked, French messages naming the bad lines, nothing
kept from a file with one bad line."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import func, select

from app.db import read_session, write_session
from app.lighting.relay import Inbound, ingest
from app.models.measures import MeasureDaily
from app.models.sensors import Sensor, SensorMeasure, SolarTarget
from app.sensors import buildings, solar_report

AUDUN, VILLERUPT = "57038", "54580"
NOW = dt.datetime(2026, 6, 3, 12, 0, tzinfo=dt.UTC)


def _sensor(engine, sensor_id: str, kind: str, meta: dict, insee: str = AUDUN) -> None:
    with write_session(engine) as session:
        session.add(
            Sensor(
                id=sensor_id,
                kind=kind,
                name=f"Site {sensor_id}",
                commune_insee=insee,
                lat=49.472,
                lon=5.955,
                reporting_period_s=900,
                meta=json.dumps(meta),
            )
        )


def _read(engine, sensor_id: str, at: dt.datetime, **values) -> None:
    payload = {"ts": at.isoformat(), **values}
    ingest(engine, [Inbound("tele_sensor", sensor_id, payload, at)], now=at)


def _at(day: str, hour: int) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def _three_sites(engine) -> None:
    """A site selling its surplus with a grid-export counter, one consuming all it produces (and whose
    counter last spoke on New Year's Eve), one selling its surplus without a counter."""
    _sensor(engine, "PV-MAIRIE", "solar", {"peak_kw": 9, "injection": "surplus"})
    _sensor(
        engine,
        "PV-ECOLE",
        "solar",
        {"peak_kw": 36, "injection": "none", "metering_started": "2026-06-01T00:00:00Z"},
        VILLERUPT,
    )
    _sensor(engine, "PV-STADE", "solar", {"peak_kw": 3, "injection": "surplus"})
    _read(engine, "PV-MAIRIE", _at("2026-06-01", 6), energy_wh=100_000, injected_wh=10_000)
    _read(engine, "PV-MAIRIE", _at("2026-06-01", 18), energy_wh=130_000, injected_wh=16_000)
    _read(engine, "PV-MAIRIE", _at("2026-06-02", 18), energy_wh=160_000, injected_wh=20_000)
    _read(engine, "PV-MAIRIE", _at("2026-06-03", 10), energy_wh=170_000, injected_wh=21_000)
    _read(engine, "PV-ECOLE", _at("2025-12-31", 16), energy_wh=40_000)
    _read(engine, "PV-ECOLE", _at("2026-06-02", 8), energy_wh=50_000)
    _read(engine, "PV-ECOLE", _at("2026-06-02", 16), energy_wh=80_000)
    _read(engine, "PV-STADE", _at("2026-06-03", 8), energy_wh=1_000)
    _read(engine, "PV-STADE", _at("2026-06-03", 10), energy_wh=6_000)


def test_each_sites_production_self_consumption_euros_and_co2_are_what_its_counters_say(engine):
    _three_sites(engine)
    with write_session(engine) as session:
        session.add(
            SolarTarget(
                territory_id=1,
                year=2026,
                production_mwh=0.5,
                capacity_kw=100,
                purchase_eur_kwh=0.25,
                sale_eur_kwh=0.10,
            )
        )
    with read_session(engine) as session:
        report = solar_report.report(session, NOW)
    sites = {s.sensor.id: s for s in report.sites}
    mairie, ecole, stade = sites["PV-MAIRIE"], sites["PV-ECOLE"], sites["PV-STADE"]
    # 30 kWh on the 1st, 30 on the 2nd (from the evening before: one reading that day), 10 today
    assert (mairie.today.produced, mairie.month.produced, mairie.year.produced) == (10, 70, 70)
    assert (mairie.year.injected, mairie.year.self_consumed) == (11, 59)
    assert mairie.year.saved_eur(report.prices) == pytest.approx(59 * 0.25)
    assert mairie.year.sold_eur(report.prices) == pytest.approx(11 * 0.10)
    assert mairie.year.co2_kg == pytest.approx(70 * 0.052)
    # from Jan 1st (midnight in Paris, 23:00 UTC the day before) to June 3rd noon UTC: 153.5 days
    # and an hour at 9 kWc
    assert mairie.load_factor == pytest.approx(70 / (9 * (153.5 * 24 + 1)))
    # all of the counter's move since New Year's Eve is this year's, and all of it self-consumed
    assert (ecole.year.produced, ecole.year.self_share, ecole.today.produced) == (40, 1.0, 0)
    assert ecole.load_factor == pytest.approx(40 / (36 * 60))  # metered since June 1st
    assert (stade.year.produced, stade.year.self_share, stade.year.euros(report.prices)) == (
        5,
        None,
        None,
    )
    assert report.total.produced == 115 and report.total.injected is None
    assert report.known.produced == 110 and report.known.self_share == pytest.approx(0.9)
    assert report.known.saved_eur(report.prices) == pytest.approx(99 * 0.25)
    assert report.unknown_sites == 1
    assert report.progress == pytest.approx(0.23)  # 0.115 MWh of 0.5
    assert report.capacity_kw == 48 and report.capacity_progress == pytest.approx(0.48)
    assert [m.month for m in report.months][-2:] == ["2026-05", "2026-06"]
    assert report.months[0].month == "2025-07" and report.months[-1].energy.produced == 115
    december = next(m for m in report.months if m.month == "2025-12")
    assert december.energy.produced == 0  # one reading on the 31st: nothing to measure yet
    # the table starts with the first month read: December, January to May without a reading
    assert [m.month for m in report.reported_months] == [f"2026-0{i}" for i in range(6, 0, -1)] + [
        "2025-12"
    ]
    assert not report.prices.assumed


def test_without_the_years_prices_the_page_says_which_it_assumes_and_asks_for_a_target(
    engine, staff
):
    _sensor(engine, "PV-MAIRIE", "solar", {"peak_kw": 9, "injection": "none"})
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=1, microsecond=0)
    _read(engine, "PV-MAIRIE", today, energy_wh=1_000_000)
    _read(engine, "PV-MAIRIE", today + dt.timedelta(seconds=1), energy_wh=1_040_000)
    answer = staff.client.get("/staff/solar")
    assert answer.status_code == 200
    assert re.search(r'id="solar-year">40 kWh<', answer.text)
    assert re.search(r'id="solar-saved">8 €<', answer.text)  # 40 kWh × 0.20 € assumed
    assert "Prix supposés" in answer.text and "Aucun objectif n’est fixé" in answer.text
    assert re.search(r'id="solar-self">100 %<', answer.text)

    year = today.year
    saved = staff.client.post_form(
        "/staff/solar/target",
        {
            "year": str(year),
            "production_mwh": "0,08",
            "capacity_kw": "",
            "purchase_eur_kwh": "0,18",
            "sale_eur_kwh": "0.1",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/staff/solar?saved=1"
    page = staff.client.get("/staff/solar?saved=1").text
    assert "Objectif et prix de l’année enregistrés" in page and "Prix supposés" not in page
    assert re.search(r'id="solar-saved">7 €<', page)  # 40 × 0.18 = 7.2
    assert f"40 kWh produits sur 80 kWh visés en {year}" in page
    assert re.search(r"50 %</strong>", page)  # 0.04 MWh of 0.08
    with read_session(engine) as session:
        target = session.get(SolarTarget, (1, year))
        assert (target.production_mwh, target.capacity_kw, target.purchase_eur_kwh) == (
            0.08,
            None,
            0.18,
        )
        assert target.updated_by == staff.id


def test_a_bad_target_is_refused_in_french_and_nothing_is_saved(engine, staff):
    answer = staff.client.post_form(
        "/staff/solar/target",
        {
            "year": "2026",
            "production_mwh": "-3",
            "capacity_kw": "beaucoup",
            "purchase_eur_kwh": "12",
            "sale_eur_kwh": "",
        },
    )
    assert answer.status_code == 400
    text = answer.text
    assert "La production visée est un nombre de MWh positif." in text
    assert "Un nombre est attendu." in text  # capacity
    assert "Un prix par kWh est compris entre 0 et 10 €." in text
    assert "Ce champ est obligatoire." in text  # sale price
    assert 'value="beaucoup"' in text  # what was typed comes back
    with read_session(engine) as session:
        assert session.scalars(select(SolarTarget)).first() is None


def test_the_decision_support_figure_is_the_months_production_per_commune(engine):
    _three_sites(engine)
    with read_session(engine) as session:
        figures = solar_report.monthly_production(session, "2026-01", "2026-06")
    assert figures == {("2026-06", AUDUN): 75.0, ("2026-06", VILLERUPT): 40.0}
    from app import domains

    (figure,) = [
        f for domain in domains.DOMAINS for f in domain.figures if f.name == "solar_production"
    ]
    assert figure.co2 is solar_report.CO2 and figure.theme == "energy"


# --------------------------------------------------------------------------- meter readings CSV


def _upload(client, text: str, name: str = "releves.csv", encoding: str = "utf-8"):
    return client.post(
        "/staff/buildings/import",
        files={"file": (name, text.encode(encoding), "text/csv")},
        data={"_csrf_token": client.csrf_token()},
        follow_redirects=False,
    )


def _stored(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(SensorMeasure)) or 0


def test_staff_upload_readings_from_a_french_spreadsheet_and_see_the_consumption(engine, staff):
    _sensor(engine, "EAU-GYMNASE", "water_meter", {"building": "Gymnase", "area_m2": 1000})
    _sensor(engine, "GAZ-MAIRIE", "energy_meter", {"building": "Mairie", "medium": "gas"})
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%d/%m/%Y")
    after = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%d/%m/%Y")
    text = (
        "compteur;date;index;débit\n"
        f"EAU-GYMNASE;{day} 08:00;125 430;12,5\n"
        f"EAU-GYMNASE;{after} 08:00;130 430,5;0\n"
        f"GAZ-MAIRIE;{day} 08:00;40210,5\n"
        f"GAZ-MAIRIE;{after} 08:00;40310,5\n"
    )
    answer = _upload(staff.client, text, encoding="cp1252")  # a spreadsheet's CSV on Windows
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/staff/buildings?imported=4"
    page = staff.client.get("/staff/buildings?imported=4").text
    assert "4 relevés importés." in page
    assert _stored(engine) == 4
    with read_session(engine) as session:
        rows = {
            r.sensor.id: r
            for r in buildings.consumption(
                session, dt.date(2000, 1, 1), dt.date.today() + dt.timedelta(days=1)
            )
        }
        stored = session.scalars(
            select(SensorMeasure)
            .where(SensorMeasure.sensor_id == "EAU-GYMNASE")
            .order_by(SensorMeasure.ts)
        ).first()
    assert rows["EAU-GYMNASE"].used == 5000.5 and rows["EAU-GYMNASE"].per_m2 == 5.0005
    assert rows["GAZ-MAIRIE"].used == 100
    first = json.loads(stored.values_json)
    assert (first["volume_l"], first["flow"]) == (125430, 12.5)
    # 08:00 in Paris is 06:00 or 07:00 UTC, depending on the season
    assert stored.ts.replace(tzinfo=dt.UTC).hour in (6, 7)


def test_a_file_with_bad_lines_names_each_in_french_and_keeps_nothing(engine, staff):
    _sensor(engine, "EAU-GYMNASE", "water_meter", {"building": "Gymnase"})
    _sensor(engine, "PV-MAIRIE", "solar", {"peak_kw": 9})
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = "\n".join(
        [
            "meter,ts,index,flow",
            "EAU-GYMNASE,2026-01-05T08:00:00Z,1000",  # 2: good
            "EAU-PISCINE,2026-01-05T08:00:00Z,5",  # 3: unknown meter
            "PV-MAIRIE,2026-01-05T08:00:00Z,5",  # 4: not a meter
            "EAU-GYMNASE,le 5 janvier,1000",  # 5: date
            f"EAU-GYMNASE,{future},1000",  # 6: future
            "EAU-GYMNASE,2026-01-06T08:00:00Z,douze",  # 7: index
            "EAU-GYMNASE,2026-01-07T08:00:00Z,-4",  # 8: negative index
            "EAU-GYMNASE,2026-01-08T08:00:00Z,1200,9e99",  # 9: flow
            "EAU-GYMNASE,2026-01-05T08:00:00Z,1000",  # 10: twice the same reading
            "EAU-GYMNASE,2026-01-09T08:00:00Z,900",  # 11: the index goes back
            "EAU-GYMNASE",  # 12: too short
            "",
            "EAU-GYMNASE,2026-01-10T08:00:00Z,1300",  # 14: good
        ]
    )
    answer = _upload(staff.client, text)
    assert answer.status_code == 400
    listed = re.findall(r"<li>(Ligne [^<]*)</li>", answer.text)
    assert [int(m.split()[1]) for m in listed] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "Ligne 3 : compteur inconnu « EAU-PISCINE »." in listed
    assert "Ligne 4 : compteur inconnu « PV-MAIRIE »." in listed
    assert any(m.startswith("Ligne 5 : date illisible « le 5 janvier »") for m in listed)
    assert "Ligne 6 : la date doit être passée (après 2000)." in listed
    assert "Ligne 7 : l'index « douze » n'est pas un nombre positif." in [
        m.replace("&#39;", "'") for m in listed
    ]
    assert any(
        m.startswith("Ligne 10 : relevé en double du compteur EAU-GYMNASE (déjà ligne 2)")
        for m in listed
    )
    assert any(
        m.replace("&#39;", "'").startswith(
            "Ligne 11 : l'index de EAU-GYMNASE baisse (900 après 1000 le 05/01/2026 09:00)"
        )
        for m in listed
    )
    assert "Rien n’a été importé" in answer.text
    assert _stored(engine) == 0
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(MeasureDaily)) == 0
        assert session.get(Sensor, "EAU-GYMNASE").last_seen_at is None


def test_an_empty_missing_or_unreadable_file_is_told_in_french(engine, staff):
    answer = staff.client.post(
        "/staff/buildings/import", data={"_csrf_token": staff.client.csrf_token()}
    )
    assert answer.status_code == 400 and "Choisissez un fichier CSV de relevés." in answer.text
    answer = _upload(staff.client, "meter,ts,index\n\n")
    assert answer.status_code == 400 and "Le fichier ne contient aucun relevé." in answer.text
    answer = staff.client.post(
        "/staff/buildings/import",
        files={"file": ("photo.csv", bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D]), "text/csv")},
        data={"_csrf_token": staff.client.csrf_token()},
    )
    assert answer.status_code == 400 and "n&#39;est pas un texte CSV" in answer.text


def test_more_than_twenty_bad_lines_are_summed_up(engine, staff):
    _sensor(engine, "EAU-GYMNASE", "water_meter", {"building": "Gymnase"})
    text = "\n".join(f"EAU-X{i},2026-01-05T08:00:00Z,1" for i in range(25))
    answer = _upload(staff.client, text)
    assert answer.status_code == 400
    assert len(re.findall(r"<li>Ligne ", answer.text)) == 20
    assert "… et 5 autres lignes en erreur." in answer.text

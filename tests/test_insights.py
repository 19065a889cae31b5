"""Decision support: figures by theme with their trend, the origin–destination matrix, the summary."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import auth, months
from app.db import utcnow, write_session
from app.models.carpool import CarpoolAd, CarpoolBooking
from app.models.reports import Report

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

VILLERUPT = (49.467, 5.929)
AUMETZ = (49.418, 5.944)
KIRCHBERG = (49.6296, 6.1619)
BELVAL = (49.5006, 5.9430)


def past_month(n: int = 2) -> str:
    return months.shift(months.of(utcnow(), PARIS), -n)


def weekdays(month: str, from_day: int = 1) -> int:
    """Monday-to-Friday days of the month from ``from_day``, counted on the calendar by hand."""
    year, mon = int(month[:4]), int(month[5:])
    last = calendar.monthrange(year, mon)[1]
    return sum(1 for d in range(from_day, last + 1) if calendar.weekday(year, mon, d) < 5)


def user(engine, email: str) -> int:
    with write_session(engine) as session:
        return auth.create_user(session, email, role="resident").id


def ad(engine, owner: int, start, end, **over) -> int:
    values = dict(
        user_id=owner,
        role="driver",
        frequency="regular",
        from_label="A",
        from_lat=start[0],
        from_lon=start[1],
        to_label="B",
        to_lat=end[0],
        to_lon=end[1],
        distance_m=25_000,
        cross_border=True,
        schedule='{"0":[450,10],"1":[450,10],"2":[450,10],"3":[450,10],"4":[450,10]}',
        days_mask=0b11111,
        seats=4,
        seats_left=4,
        created_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    values.update(over)
    with write_session(engine) as session:
        row = CarpoolAd(**values)
        session.add(row)
        session.flush()
        return row.id


def booking(
    engine, ad_id: int, passenger: int, owner: int, accepted_at: datetime, seats: int = 1, **over
) -> None:
    with write_session(engine) as session:
        session.add(
            CarpoolBooking(
                ad_id=ad_id,
                requester_id=passenger,
                owner_id=owner,
                seats=seats,
                status="accepted",
                distance_m=25_000,
                created_at=accepted_at,
                accepted_at=accepted_at,
                updated_at=accepted_at,
                **over,
            )
        )


def test_the_od_matrix_counts_a_booked_regular_trip_once_per_travelled_day(engine, staff):
    month = past_month()
    driver, p1, p2, p3 = (user(engine, f"c{i}@eclor.test") for i in range(4))
    regular = ad(engine, driver, VILLERUPT, KIRCHBERG)
    start = months.start(month, PARIS)
    # one seat booked before the month: every weekday of the month; another accepted on the 10th
    # at midnight: the weekdays from the 10th; a third cancelled before the month: nothing.
    booking(engine, regular, p1, driver, start - timedelta(days=20))
    booking(engine, regular, p2, driver, start + timedelta(days=9))
    with write_session(engine) as session:
        session.add(
            CarpoolBooking(
                ad_id=regular,
                requester_id=p3,
                owner_id=driver,
                seats=2,
                status="cancelled",
                created_at=start - timedelta(days=40),
                accepted_at=start - timedelta(days=40),
                updated_at=start - timedelta(days=30),
            )
        )
    expected = weekdays(month) + weekdays(month, from_day=10)
    got = staff.client.get(f"/staff/insights/od.json?month={month}")
    assert got.status_code == 200
    body = got.json()
    rows = {(r["from_code"], r["to_code"]): r for r in body["rows"]}
    row = rows[("54580", "LU0304")]
    assert row["trips"] == expected
    assert (row["from_name"], row["from_country"]) == ("Villerupt", "FR")
    assert (row["to_name"], row["to_country"]) == ("Luxembourg", "LU")
    assert body["cross_border_share"] == 1.0
    assert body["car_km_avoided"] == pytest.approx(expected * 25.0)


def test_small_cells_are_suppressed_and_luxembourg_communes_are_named_in_full(engine, staff):
    month = past_month()
    driver, passenger = user(engine, "d@eclor.test"), user(engine, "p@eclor.test")
    departure = months.start(month, PARIS) + timedelta(days=3, hours=6)
    once = ad(
        engine,
        driver,
        AUMETZ,
        BELVAL,
        frequency="punctual",
        departure_at=departure,
        schedule="{}",
        days_mask=0,
    )
    booking(engine, once, passenger, driver, departure - timedelta(days=2), seats=3)
    body = staff.client.get(f"/staff/insights/od.json?month={month}").json()
    (row,) = [r for r in body["rows"] if r["from_code"] == "57041"]
    assert row["to_code"] == "LU0204" and row["to_name"] == "Esch-sur-Alzette"
    assert row["trips"] is None  # 3 trips: under 11, hidden
    assert body["suppressed_under"] == 11
    assert body["cross_border_share"] is None  # 3 trips in all: the share would tell them
    page = staff.client.get(f"/staff/insights/mobility?month={month}")
    assert page.status_code == 200
    assert "Esch-sur-Alzette" in page.text and "LU0204" in page.text


def add_reports(engine, when: datetime, n: int, insee: str = "54580") -> None:
    with write_session(engine) as session:
        for i in range(n):
            session.add(
                Report(
                    category="tyres",
                    lat=49.47,
                    lon=5.93,
                    commune_insee=insee,
                    status="new",
                    created_at=when + timedelta(hours=i),
                )
            )


def test_a_theme_compares_the_month_with_last_year_per_commune_and_per_1000_residents(
    engine, staff
):
    month = past_month()
    add_reports(engine, months.start(month, PARIS) + timedelta(days=2), 22, "54580")
    add_reports(engine, months.start(month, PARIS) + timedelta(days=2), 4, "57038")
    add_reports(
        engine, months.start(months.shift(month, -12), PARIS) + timedelta(days=5), 13, "54580"
    )
    body = staff.client.get(f"/staff/insights/reports/figures.json?month={month}").json()
    rows = {(r["figure"], r["commune_insee"]): r for r in body["rows"]}
    territory = rows[("reports_received", "")]
    assert territory["value"] == 26
    assert territory["same_month_last_year"] == 13
    assert territory["change_pct"] == pytest.approx(100.0)
    assert territory["last_12_months"] == 26 and territory["previous_12_months"] == 13
    # 26 reports for the territory's residents (the populations of insights_populations)
    assert territory["per_1000_residents"] == pytest.approx(26 / 29424 * 1000, abs=0.01)
    villerupt = rows[("reports_received", "54580")]
    assert villerupt["value"] == 22 and villerupt["per_1000_residents"] == pytest.approx(
        22 / 10086 * 1000, abs=0.01
    )
    audun = rows[("reports_received", "57038")]
    assert audun["value"] is None and audun["hidden"] is True  # 4 reports: hidden
    csv = staff.client.get(f"/staff/insights/reports/figures.csv?month={month}")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "reports_received" in csv.text.splitlines()[1]
    page = staff.client.get(f"/staff/insights/reports?month={month}")
    assert page.status_code == 200 and "moins de 11" in page.text


def test_complete_months_are_kept_and_the_current_month_is_counted_afresh(engine, staff):
    month = past_month()
    add_reports(engine, months.start(month, PARIS) + timedelta(days=1), 12)
    first = staff.client.get(f"/staff/insights/reports/figures.json?month={month}").json()
    add_reports(
        engine, months.start(month, PARIS) + timedelta(days=2), 5
    )  # a late write to a kept month
    again = staff.client.get(f"/staff/insights/reports/figures.json?month={month}").json()
    assert first["rows"][0]["value"] == again["rows"][0]["value"] == 12  # kept until REFRESH
    current = months.of(utcnow(), PARIS)
    add_reports(engine, utcnow() - timedelta(minutes=5), 11)
    now_rows = staff.client.get(f"/staff/insights/reports/figures.json?month={current}").json()[
        "rows"
    ]
    assert now_rows[0]["value"] >= 11


def test_each_kept_month_has_the_territory_s_row_and_the_index_reads_it(engine, staff):
    from sqlmodel import select

    from app.db import read_session
    from app.insights import figures
    from app.models.insights import InsightsMonthly

    month = past_month()
    add_reports(engine, months.start(month, PARIS) + timedelta(days=2), 14, "54580")
    add_reports(engine, months.start(month, PARIS) + timedelta(days=3), 12, "57038")
    add_reports(
        engine, months.start(months.shift(month, -3), PARIS) + timedelta(days=1), 11, "57038"
    )
    body = staff.client.get(f"/staff/insights/reports/figures.json?month={month}").json()
    rows = {(r["figure"], r["commune_insee"]): r for r in body["rows"]}
    assert rows[("reports_received", "")]["value"] == 26
    assert rows[("reports_received", "")]["last_12_months"] == 37
    assert rows[("reports_received", "54580")]["value"] == 14
    assert rows[("reports_received", "57038")]["value"] == 12
    with read_session(engine) as session:
        kept = {
            (k.month, k.commune): k.value
            for k in session.scalars(
                select(InsightsMonthly).where(InsightsMonthly.figure == "reports_received")
            )
        }
        assert kept[(month, figures.TOTAL)] == 26
        assert kept[(months.shift(month, -3), figures.TOTAL)] == 11
        assert kept[(months.shift(month, -1), figures.TOTAL)] == 0
        assert kept[(month, "54580")] == 14 and kept[(month, "57038")] == 12
        index = figures.summary(session, month, utcnow())["reports"]
    received = next(h for h in index if h.figure.name == "reports_received")
    assert (received.value, received.last12, received.communes) == (26, 37, [])
    assert received.series[-1] == (month, 26) and received.series[-4] == (
        months.shift(month, -3),
        11,
    )


def test_every_figure_counts_the_current_month_alone(engine, staff):
    """A single month (the current one, computed afresh) for every theme: the figures whose month
    is then a literal (shops, sharing) still join their tables."""
    current = months.of(utcnow(), PARIS)
    add_reports(engine, utcnow() - timedelta(minutes=5), 12)
    assert staff.client.get(f"/staff/insights?month={current}").status_code == 200
    for slug in ("shops", "sharing", "reports"):
        answer = staff.client.get(f"/staff/insights/{slug}/figures.json?month={current}")
        assert answer.status_code == 200, (slug, answer.status_code)
        assert all(r["month"] == current for r in answer.json()["rows"])
    body = staff.client.get(f"/staff/insights/reports/figures.json?month={current}").json()
    assert body["rows"][0]["value"] == 12


def test_the_monthly_summary_prints_and_downloads_as_pdf(engine, staff):
    month = past_month()
    add_reports(engine, months.start(month, PARIS) + timedelta(days=2), 15)
    page = staff.client.get(f"/staff/insights/summary?month={month}")
    assert page.status_code == 200
    assert "Synthèse mensuelle" in page.text and "0,052 kg CO₂e" in page.text
    pdf = staff.client.get(f"/staff/insights/summary.pdf?month={month}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 1500


@pytest.mark.parametrize("month", ["2026-13", "nov", "2999-01", "２０２６-01"])
def test_a_bad_month_is_refused_in_french(staff, month):
    got = staff.client.get(f"/staff/insights/reports?month={month}")
    assert got.status_code == 400
    assert "Mois invalide" in got.text or "pas encore commencé" in got.text


def test_an_unknown_theme_is_not_found(staff):
    assert staff.client.get("/staff/insights/weather").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/staff/insights",
        "/staff/insights/mobility",
        "/staff/insights/summary",
        "/staff/insights/summary.pdf",
        "/staff/insights/od.json",
        "/staff/insights/od.csv",
        "/staff/insights/reports/figures.csv",
        "/staff/insights/reports/figures.json",
    ],
)
def test_residents_cannot_reach_any_of_it(resident, url):
    assert resident.client.get(url, follow_redirects=False).status_code == 403


def test_departures_counted_week_by_week_are_those_listed_day_by_day():
    import random
    from collections import Counter
    from datetime import date

    from app.carpool.insights import departures
    from app.carpool.trips import local, occurrences

    rng = random.Random(3)
    for _ in range(200):
        days = rng.sample(range(7), rng.randrange(1, 6))
        schedule = "{" + ",".join(f'"{d}":[{rng.randrange(0, 1440)},10]' for d in days) + "}"
        ad = CarpoolAd(
            user_id=1,
            role="driver",
            frequency="regular",
            from_label="A",
            from_lat=0,
            from_lon=0,
            to_label="B",
            to_lat=0,
            to_lon=0,
            distance_m=1,
            schedule=schedule,
            valid_until=date(2026, rng.randrange(1, 13), rng.randrange(1, 28))
            if rng.random() < 0.5
            else None,
        )
        start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(600 * 1440))
        end = start + timedelta(minutes=rng.randrange(1, 200 * 1440))
        listed = Counter(
            (months.of(d, PARIS), local(d, PARIS).hour) for d in occurrences(ad, start, end)
        )
        assert departures(ad, start, end) == dict(listed), (schedule, start, end)


def test_a_scenario_with_known_inputs_gives_the_hand_computed_peak_trips(staff):
    from urllib.parse import urlencode

    year = utcnow().year
    # Audun-le-Tiche: 100 homes next year, 50 more the year after; Villerupt: 40 homes in 2 years.
    # 2 people a home, 30 % work in Luxembourg, half leave in the morning peak, 80 % drive, 1 per car:
    # in year+2, Audun-le-Tiche 150 × 2 × 0.3 × 0.5 × 0.8 = 36 cars, Villerupt 40 × 2 × … = 9.6.
    params = {
        "a_programmes": f"57038;{year + 1};100\n57038;{year + 2};50\nVillerupt;{year + 2};40",
        "a_people_per_home": "2",
        "a_cross_border_share": "0,3",
        "a_peak_share": "0.5",
        "a_car_share": "0.8",
        "a_people_per_car": "1",
        "a_carpool_share": "0.25",
        "a_waste_visits_per_home": "4",
        "b_programmes": "",
    }
    got = staff.client.get("/staff/insights/foresight.csv?" + urlencode(params))
    assert got.status_code == 200
    rows = [line.split(",") for line in got.text.splitlines()]
    head = rows[0]
    total = {r[1]: dict(zip(head, r, strict=True)) for r in rows[1:] if r[0] == "A" and r[2] == ""}
    second = total[str(year + 2)]
    assert second["homes"] == "190"
    assert float(second["morning_peak_car_trips"]) == pytest.approx(45.6)
    assert float(second["carpool_potential"]) == pytest.approx(45.6 * 0.25)
    assert float(second["waste_centre_visits_per_year"]) == pytest.approx(760)
    assert float(total[str(year + 1)]["morning_peak_car_trips"]) == pytest.approx(24.0)
    assert float(total[str(year)]["morning_peak_car_trips"]) == 0
    b = [r for r in rows[1:] if r[0] == "B" and r[2] == ""]
    assert len(b) == 20 and all(float(r[7]) == 0 for r in b)  # no programme: nothing added
    page = staff.client.get("/staff/insights/foresight?" + urlencode(params))
    assert page.status_code == 200 and "Scénario B" in page.text


@pytest.mark.parametrize(
    "programmes, message",
    [
        ("57038;1990;10", "doit aller de"),
        ("Metz;2030;10", "commune inconnue"),
        ("57038;2030;-5", "nombre de logements"),
        ("57038 2030 10", "commune;année;logements"),
    ],
)
def test_a_bad_programme_line_is_refused_in_french(staff, programmes, message):
    got = staff.client.get("/staff/insights/foresight", params={"a_programmes": programmes})
    assert got.status_code == 400
    assert message in got.text


def test_an_assumption_out_of_bounds_is_refused_in_french(staff):
    got = staff.client.get("/staff/insights/foresight", params={"b_cross_border_share": "3"})
    assert got.status_code == 400 and "doit être un nombre entre" in got.text

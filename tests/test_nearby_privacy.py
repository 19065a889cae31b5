"""The nearby lookup of the report form cannot be used to find where a report really is: signed-in
residents only, a limited number of times, and answered from rounded public positions only."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session

from app.db import write_session
from app.models.reports import Report
from app.reports import catalogue
from tests.test_reports import make, neighbour  # noqa: F401  (the neighbour persona)


def _place(engine, report_id: int, lat: float, lon: float) -> str:
    with write_session(engine) as s:
        s.execute(update(Report).where(Report.id == report_id).values(lat=lat, lon=lon))
    with Session(engine) as s:
        return catalogue.number(s.get(Report, report_id))


def test_an_anonymous_visitor_cannot_ask_what_is_near_a_place(client, engine):
    r = client.get(
        "/reports/nearby?lat=49.472&lon=5.955&category=bulky_items", follow_redirects=False
    )
    assert r.status_code in (303, 401)


def test_two_points_of_one_rounded_cell_get_the_same_answer_whatever_the_exact_position(
    resident, neighbour, engine
):
    number = _place(
        engine, make(engine, resident.id), 49.4726, 5.9550
    )  # public position 49.473, 5.955

    def sees(lat: float) -> bool:
        html = neighbour.client.get(
            f"/reports/nearby?lat={lat}&lon=5.955&category=bulky_items"
        ).text
        return number in html

    # 49.4716 is 111 m from the exact place, 49.4724 is 22 m from it; both round to 49.472.
    assert sees(49.4716) == sees(49.4724)


def test_asking_again_and_again_is_rate_limited(neighbour):
    answers = [
        neighbour.client.get(f"/reports/nearby?lat={49.46 + i / 10000}&lon=5.955").status_code
        for i in range(32)
    ]
    assert answers[:30] == [200] * 30
    assert answers[30] == 429

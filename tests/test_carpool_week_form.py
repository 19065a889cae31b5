"""A regular trip's days without JavaScript: a day ticked without a departure time takes the first
day's times (its own return, if typed, is kept), a day with a departure and no return is one-way,
and the new-trip form fills in Monday's times only."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from app.db import read_session
from app.models.carpool import CarpoolAd


def _schedules(engine) -> dict[str, dict[str, list[int]]]:
    with read_session(engine) as session:
        return {ad.leg: json.loads(ad.schedule) for ad in session.scalars(select(CarpoolAd))}


def test_the_first_days_times_carry_to_the_days_ticked_without_times(engine, resident):
    answer = resident.client.post_form(
        "/carpool/ads",
        {
            "role": "driver",
            "frequency": "regular",
            "from_place": "commune-57038",
            "to_place": "kirchberg",
            "seats": "3",
            "margin": "15",
            "price": "8",
            **{f"d{d}": "1" for d in range(5)},
            "out0": "07:15",
            "ret0": "17:30",
            "out2": "08:00",  # Wednesday: later, and no return (one-way)
            "ret4": "16:00",  # Friday: home earlier, leaving at Monday's time
        },
    )
    assert answer.status_code == 303, answer.text
    schedules = _schedules(engine)
    assert schedules["outward"] == {
        "0": [435, 15],
        "1": [435, 15],
        "2": [480, 15],
        "3": [435, 15],
        "4": [435, 15],
    }
    assert schedules["return"] == {
        "0": [1050, 15],
        "1": [1050, 15],
        "3": [1050, 15],
        "4": [960, 15],
    }


def test_a_first_day_without_time_is_refused_and_nothing_is_published(engine, resident):
    answer = resident.client.post_form(
        "/carpool/ads",
        {
            "role": "driver",
            "frequency": "regular",
            "from_place": "commune-57038",
            "to_place": "kirchberg",
            "d0": "1",
            "d1": "1",
            "out1": "07:00",
        },
    )
    assert answer.status_code == 400 and "Heure d&#39;aller invalide" in answer.text
    assert _schedules(engine) == {}


def test_the_new_trip_form_fills_in_mondays_times_only(resident):
    page = resident.client.get("/carpool/ads/new").text
    assert re.search(r'name="out0" value="07:30"', page)
    assert re.search(r'name="out1" value=""', page) and re.search(r'name="ret4" value=""', page)
    assert "reprend les heures du premier jour coché" in page

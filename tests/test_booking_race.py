"""One person's concurrent requests for one ad give one open booking (the database says so, on
SQLite and PostgreSQL alike), and the seats are taken once."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.carpool import bookings, trips
from app.db import read_session, write_session
from app.models.carpool import CarpoolAd, CarpoolBooking
from tests.test_carpool import make_user, publish


def test_twenty_concurrent_requests_of_one_person_for_one_ad_book_once(engine):
    driver = make_user(engine, "d@eclor.test")
    ad = publish(engine, driver, seats=8)
    rider = make_user(engine, "r@eclor.test")
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        try:
            with write_session(engine) as s:
                bookings.request_seats(s, ad, rider, 1)
            result = "booked"
        except trips.CarpoolError as exc:
            result = str(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 20 and outcomes.count("booked") == 1, outcomes
    assert all(o == "booked" or "déjà une demande en cours" in o for o in outcomes)
    with read_session(engine) as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(CarpoolBooking)
                .where(CarpoolBooking.ad_id == ad, CarpoolBooking.requester_id == rider)
            )
            == 1
        )
        assert s.get(CarpoolAd, ad).seats_left == 7


def test_a_person_may_ask_again_after_cancelling(engine):
    driver = make_user(engine, "d@eclor.test")
    ad = publish(engine, driver, seats=3)
    rider = make_user(engine, "r@eclor.test")
    with write_session(engine) as s:
        first = bookings.request_seats(s, ad, rider, 1)
        bookings.cancel(s, first, rider)
    with write_session(engine) as s:
        again = bookings.request_seats(s, ad, rider, 1)
    assert again.id != first.id and again.status == "pending"

"""Reminders of tomorrow's trips: the social worker's phone-call list, and SMS sent by the worker
through the configured gateway (a real HTTP receiver on 127.0.0.1 here)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from app import jobs
from app.db import read_session, utcnow, write_session
from app.models.solidarity import Trip, Volunteer
from app.solidarity import bookings, reminders
from tests.solidarity_helpers import VILLERUPT, book, person, place, social_worker, user, volunteer

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone


class Gateway:
    """An SMS gateway: records each POST, answers with the next scripted status (200 by default)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, dict]] = []
        self.answers: list[int] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                gateway.received.append(
                    ({k.lower(): v for k, v in self.headers.items()}, json.loads(body))
                )
                self.send_response(gateway.answers.pop(0) if gateway.answers else 200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    g = Gateway()
    yield g
    g.close()


def _run_jobs(engine, settings) -> list[str]:
    """Run the due jobs (notifications too); return what the SMS jobs did."""
    outcomes = []
    for job in jobs.claim(engine, "test-worker"):
        ctx = jobs.JobContext(engine, "test-worker", job, 60, settings)
        try:
            jobs.HANDLERS[job.kind](ctx, job.payload)
            jobs.complete(engine, job, "test-worker")
            outcome = "done"
        except jobs.RetryLater as exc:
            outcome = f"retry: {exc}"
        if job.kind == reminders.JOB:
            outcomes.append(outcome)
    return outcomes


def _tomorrows_trip(engine):
    worker = social_worker(engine)
    who = person(engine, worker)
    tomorrow = reminders.tomorrow(utcnow(), PARIS)
    bid = book(engine, worker, who, place(engine), first_day=tomorrow, at=9 * 60)
    book(
        engine,
        worker,
        who,
        place(engine, "Marché de Villerupt"),
        first_day=tomorrow + timedelta(days=1),
    )
    vol = volunteer(engine, user(engine, "karim@eclor.test"))
    with write_session(engine) as s:
        bookings.accept(s, bid, s.get(Volunteer, vol.id), utcnow())
    return bid, tomorrow


def test_the_call_list_has_tomorrows_trips_with_the_phone_and_the_driver(engine):
    bid, tomorrow = _tomorrows_trip(engine)
    with read_session(engine) as s:
        calls = reminders.calls(s, VILLERUPT, tomorrow)
        elsewhere = reminders.calls(s, "54523", tomorrow)
    assert [(c.booking.id, c.person.phone, c.driver, c.at) for c in calls] == [
        (bid, "0612345678", "Karim", "09:00")
    ]
    assert elsewhere == []


def test_reminders_go_by_sms_through_the_gateway_once(engine, settings, gateway):
    settings.solidarity_sms_url = gateway.url
    settings.solidarity_sms_token = "secret-token"
    bid, tomorrow = _tomorrows_trip(engine)
    with write_session(engine) as s:
        assert reminders.schedule_sms(s, VILLERUPT, tomorrow) == 1
    assert _run_jobs(engine, settings) == ["done"]
    assert len(gateway.received) == 1
    headers, body = gateway.received[0]
    assert headers["authorization"] == "Bearer secret-token"
    assert body == {
        "to": "0612345678",
        "text": "Transport solidaire : demain à 09:00, Karim vous conduit à "
        "Cabinet médical, Esch-sur-Alzette. CCAS",
    }
    with read_session(engine) as s:
        assert s.get(Trip, bookings.trips_of(s, bid)[0].id).reminded_at is not None
    with write_session(engine) as s:  # asking again sends nothing more
        assert reminders.schedule_sms(s, VILLERUPT, tomorrow) == 0
    assert _run_jobs(engine, settings) == [] and len(gateway.received) == 1


def test_a_gateway_that_fails_is_tried_again_later_and_the_trip_stays_unreminded(
    engine, settings, gateway
):
    settings.solidarity_sms_url = gateway.url
    gateway.answers = [503]
    bid, tomorrow = _tomorrows_trip(engine)
    with write_session(engine) as s:
        reminders.schedule_sms(s, VILLERUPT, tomorrow)
    outcomes = _run_jobs(engine, settings)
    assert len(outcomes) == 1 and outcomes[0].startswith("retry")
    with read_session(engine) as s:
        assert bookings.trips_of(s, bid)[0].reminded_at is None


def test_without_a_gateway_nothing_is_sent(engine, settings, gateway):
    assert settings.solidarity_sms_url == ""
    _bid, tomorrow = _tomorrows_trip(engine)
    with write_session(engine) as s:
        reminders.schedule_sms(s, VILLERUPT, tomorrow)
    assert _run_jobs(engine, settings) == ["done"]
    assert gateway.received == []

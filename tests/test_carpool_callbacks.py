"""Operators hear of booking changes as the standard-covoiturage file defines it: the Eclor member's
confirmation or cancellation is sent to ``PATCH {callback}/bookings/{bookingId}?status=...`` by the
worker, retried until the operator takes it; a local operator checks each request against the file."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from openapi_core.testing import MockRequest
from sqlalchemy import select, update

from app.carpool import ads, bookings, cli
from app.cli import build_parser
from app.db import read_session, utcnow, write_session
from app.models.carpool import CarpoolAd, CarpoolBooking
from app.models.carpool_interop import CarpoolOperator
from app.models.jobs import Job
from tests.carpool_standards import HOST, STANDARD_FILE, openapi
from tests.test_carpool import AUDUN, KIRCHBERG, make_user, next_weekday, publish, run_worker
from tests.test_carpool_standard import add_operator, booking_body

MOUNT = "/maas/v1"
OPERATOR_API = openapi(STANDARD_FILE, MOUNT)


class _Operator(BaseHTTPRequestHandler):
    """An operator's API as the standard defines it: it keeps each booking's status."""

    answers: list[int] = []
    received: list[tuple[str, str, dict[str, str], str]] = []
    statuses: dict[str, str] = {}

    def do_PATCH(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        me = type(self)
        me.received.append(("PATCH", parts.path, query, self.headers.get("authorization", "")))
        # The request, checked against the standard's own file (operation patchBookings).
        OPERATOR_API.validate_request(
            MockRequest(HOST, "patch", parts.path, args=list(query.items()))
        )
        booking = parts.path.rsplit("/", 1)[1]
        if me.answers:
            status, error = me.answers.pop(0), "unavailable"
        elif me.statuses.get(booking) == query["status"]:
            status, error = 409, "status_already_set"
        else:
            me.statuses[booking], status, error = query["status"], 200, ""
        body = json.dumps({"error": error} if error else {}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def operator_api():
    _Operator.answers, _Operator.received, _Operator.statuses = [], [], {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Operator)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{MOUNT}", _Operator
    server.shutdown()
    server.server_close()


def set_callback(settings, *words: str, token: str = "") -> tuple[int, str]:
    args = build_parser().parse_args(["carpool", "operator", "callback", *words])
    err = io.StringIO()
    stdin = io.StringIO(token + "\n")
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        import sys

        saved, sys.stdin = sys.stdin, stdin
        try:
            code = cli.run(args, settings)
        finally:
            sys.stdin = saved
    return code, err.getvalue()


def _booked_through_the_api(engine, client, settings, url: str) -> tuple[int, int, str, dict]:
    key = add_operator(settings)
    code, err = set_callback(
        settings, "MaaS Grand Est", url, "--token-stdin", token="token-for-eclor"
    )
    assert code == 0, err
    driver = make_user(engine, "d@eclor.test")
    when = next_weekday(3, "08:00")
    ad = publish(engine, driver, AUDUN, KIRCHBERG, when=when, seats=2)
    body = booking_body(f"eclor{ad}", when)
    auth = {"authorization": f"Bearer {key}"}
    made = client.post("/api/carpool/bookings", json=body, headers=auth)
    assert made.status_code == 201, made.text
    with read_session(engine) as s:
        booking_id = s.scalars(select(CarpoolBooking.id)).one()
    return driver, booking_id, body["id"], auth


def _callbacks(engine) -> list[Job]:
    with read_session(engine) as s:
        return list(
            s.scalars(select(Job).where(Job.kind == "carpool.operator_callback").order_by(Job.id))
        )


def _due_now(engine) -> None:
    with write_session(engine) as s:
        s.execute(
            update(Job)
            .where(Job.kind == "carpool.operator_callback", Job.status == "queued")
            .values(run_at=utcnow())
        )


def test_the_operator_hears_that_the_driver_confirmed_its_booking(
    engine, client, settings, operator_api
):
    url, operator = operator_api
    driver, booking_id, external, auth = _booked_through_the_api(engine, client, settings, url)
    assert _callbacks(engine) == []  # the operator made the booking: nothing to tell it
    with write_session(engine) as s:
        bookings.accept(s, s.get(CarpoolBooking, booking_id), driver)
    run_worker(settings, engine)
    assert operator.received == [
        (
            "PATCH",
            f"{MOUNT}/bookings/{external}",
            {"status": "CONFIRMED"},
            "Bearer token-for-eclor",
        )
    ]
    assert [j.status for j in _callbacks(engine)] == ["done"]
    # What the operator now holds is what Eclor answers on GET /bookings/{id}.
    seen = client.get(f"/api/carpool/bookings/{external}", headers=auth)
    assert seen.json()["status"] == operator.statuses[external] == "CONFIRMED"


def test_a_callback_is_retried_and_sends_the_state_of_the_booking_when_it_leaves(
    engine, client, settings, operator_api
):
    url, operator = operator_api
    driver, booking_id, external, _auth = _booked_through_the_api(engine, client, settings, url)
    operator.answers = [503]
    with write_session(engine) as s:
        bookings.accept(s, s.get(CarpoolBooking, booking_id), driver)
    run_worker(settings, engine)
    [job] = _callbacks(engine)
    assert job.status == "queued" and job.attempts == 1 and "503" in job.last_error
    # Before the retry, the driver cancels: both calls now say CANCELLED; the operator answers the
    # second one 409 status_already_set, which ends it too.
    with write_session(engine) as s:
        bookings.cancel(s, s.get(CarpoolBooking, booking_id), driver)
    _due_now(engine)
    run_worker(settings, engine)
    statuses = [r[2]["status"] for r in operator.received]
    assert statuses == ["CONFIRMED", "CANCELLED", "CANCELLED"]
    assert [j.status for j in _callbacks(engine)] == ["done", "done"]
    assert operator.statuses[external] == "CANCELLED"


def test_the_operator_s_own_cancellation_and_residents_bookings_are_not_called_back(
    engine, client, settings, operator_api
):
    url, operator = operator_api
    driver, booking_id, external, auth = _booked_through_the_api(engine, client, settings, url)
    cancelled = client.patch(
        f"/api/carpool/bookings/{external}", params={"status": "CANCELLED"}, headers=auth
    )
    assert cancelled.status_code == 200, cancelled.text
    resident = make_user(engine, "r@eclor.test")
    other_ad = publish(engine, driver, AUDUN, KIRCHBERG, when=next_weekday(2, "07:30"))
    with write_session(engine) as s:
        b = bookings.request_seats(s, other_ad, resident, 1)
        bookings.accept(s, b, driver)
    assert _callbacks(engine) == []
    run_worker(settings, engine)
    assert operator.received == []


def test_withdrawing_the_ad_tells_the_operator(engine, client, settings, operator_api):
    url, operator = operator_api
    driver, booking_id, external, _auth = _booked_through_the_api(engine, client, settings, url)
    with write_session(engine) as s:
        booking = s.get(CarpoolBooking, booking_id)
        ads.close_ad(s, s.get(CarpoolAd, booking.ad_id), driver)
    run_worker(settings, engine)
    assert [(r[1], r[2]["status"]) for r in operator.received] == [
        (f"{MOUNT}/bookings/{external}", "CANCELLED")
    ]


def test_a_revoked_operator_is_not_called_back(engine, client, settings, operator_api):
    url, operator = operator_api
    driver, booking_id, _external, _auth = _booked_through_the_api(engine, client, settings, url)
    args = build_parser().parse_args(["carpool", "operator", "revoke", "MaaS Grand Est"])
    with contextlib.redirect_stderr(io.StringIO()):
        assert cli.run(args, settings) == 0
    with write_session(engine) as s:
        bookings.decline(s, s.get(CarpoolBooking, booking_id), driver)
    run_worker(settings, engine)
    assert operator.received == []
    assert [j.status for j in _callbacks(engine)] == ["done"]


def test_the_callback_address_must_be_public_http_and_can_be_turned_off(
    engine, settings, operator_api
):
    url, _operator = operator_api
    add_operator(settings)
    for bad in ("ftp://maas.example.org/api", "http://10.0.0.5/api", "http://maas.local/api"):
        code, err = set_callback(settings, "MaaS Grand Est", bad)
        assert code == 2 and "error:" in err, bad
    assert set_callback(settings, "Inconnu", url)[0] == 2
    assert set_callback(settings, "MaaS Grand Est")[0] == 2  # neither a URL nor --off
    assert set_callback(settings, "MaaS Grand Est", url)[0] == 0
    with read_session(engine) as s:
        operator = s.scalars(select(CarpoolOperator)).one()
        assert operator.callback_url == url and operator.callback_token is None
    assert set_callback(settings, "MaaS Grand Est", "--off")[0] == 0
    with read_session(engine) as s:
        assert s.scalars(select(CarpoolOperator)).one().callback_url is None

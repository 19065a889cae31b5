"""Proofs of carpooling: identity with consent, trips confirmed by both people (classes A/B/C),
proofs valid against the registry's API v3.1 file, sent by the worker to a local registry with retries."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from sqlalchemy import select, update

from app.carpool import bookings, registry
from app.carpool.trips import CarpoolError
from app.db import read_session, utcnow, write_session
from app.models.carpool import CarpoolProfile
from app.models.carpool_interop import CarpoolProof
from app.models.jobs import Job
from tests.carpool_standards import PROOF_FILE, spec_dict
from tests.test_carpool import AUDUN, KIRCHBERG, make_user, publish, run_worker


def journey_validator() -> Draft4Validator:
    spec = spec_dict(PROOF_FILE)
    resource = Resource.from_contents(spec, default_specification=DRAFT4)
    schema = spec["paths"]["/journeys"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    refs = Registry().with_resource("urn:rpc", resource)
    return Draft4Validator(_rebase(schema), registry=refs)


def _rebase(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("urn:rpc" + v if k == "$ref" else _rebase(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebase(v) for v in value]
    return value


def test_identity_key_follows_the_registry_s_own_example():
    # The file's example: M. D'Hérûg-de-l'Hérault, 07 01 02 03 04 -> "+33701020304-D HERUG DE L HERAULT".
    expected = hashlib.sha256(b"+33701020304-D HERUG DE L HERAULT").hexdigest()
    assert registry.identity_key("07 01 02 03 04", "D'Hérûg-de-l'Hérault") == expected
    assert (
        "+33701020304-D HERUG DE L HERAULT"
        in spec_dict(PROOF_FILE)["components"]["schemas"]["identity_key"]["description"]
    )
    assert registry.e164("+352 621 123 456") == "+352621123456"
    assert registry.e164("0033 6 01 02 03 04") == "+33601020304"
    for bad in ("12", "06 01 02", "call me"):
        with pytest.raises(CarpoolError):
            registry.e164(bad)


def test_the_profile_collects_phone_and_last_name_only_with_consent_and_keeps_only_the_key(
    engine, personas
):
    resident = personas["resident"]
    page = resident.client.get("/carpool/profile")
    assert "uniquement" in page.text and "Registre de preuve de covoiturage" in page.text
    refused = resident.client.post_form(
        "/carpool/profile/proof", {"proof_phone": "06 01 02 03 04", "proof_last_name": "Martin"}
    )
    assert refused.status_code == 400 and "Cochez la case" in refused.text
    with read_session(engine) as s:
        profile = s.get(CarpoolProfile, resident.id)
        assert profile is None or profile.proof_identity_key is None
    bad = resident.client.post_form(
        "/carpool/profile/proof",
        {"proof_phone": "06", "proof_last_name": "Martin", "proof_consent": "1"},
    )
    assert bad.status_code == 400 and "invalide" in bad.text
    ok = resident.client.post_form(
        "/carpool/profile/proof",
        {"proof_phone": "06 01 02 03 04", "proof_last_name": "Martin", "proof_consent": "1"},
    )
    assert ok.status_code in (200, 303)
    with read_session(engine) as s:
        profile = s.get(CarpoolProfile, resident.id)
        assert profile.proof_identity_key == hashlib.sha256(b"+33601020304-MARTIN").hexdigest()
        assert profile.proof_phone_trunc == "+336010203" and profile.proof_consent_at is not None
        stored = json.dumps(profile.model_dump(), default=str)
    assert "0102030" not in stored.replace(
        "+336010203", ""
    ) and "MARTIN" not in stored.upper().replace(profile.proof_identity_key.upper(), "")
    resident.client.post_form("/carpool/profile/proof", {"withdraw": "1"})
    with read_session(engine) as s:
        assert s.get(CarpoolProfile, resident.id).proof_identity_key is None


def _booked(engine, *, identities: bool = True) -> tuple[int, int, int]:
    driver, rider = make_user(engine, "d@eclor.test"), make_user(engine, "r@eclor.test")
    ad = publish(engine, driver, AUDUN, KIRCHBERG, when=utcnow() + timedelta(minutes=30))
    with write_session(engine) as s:
        b = bookings.request_seats(s, ad, rider, 1)
        bookings.accept(s, b, driver)
        if identities:
            registry.set_proof_identity(s, driver, "06 11 22 33 44", "Dupont", True)
            registry.set_proof_identity(s, rider, "+352 621 000 111", "Schmit", True)
        return b.id, driver, rider


def _confirm(
    engine,
    settings,
    booking_id: int,
    who: int,
    step: str,
    at: tuple[float, float] | None,
    minutes: int,
):
    from app.models.carpool import CarpoolBooking

    with write_session(engine) as s:
        b = s.get(CarpoolBooking, booking_id)
        registry.confirm_trip(
            s,
            b,
            who,
            step,
            *(at or (None, None)),
            secret=settings.secret_key,
            now=utcnow() + timedelta(minutes=minutes),
        )


@pytest.mark.parametrize(
    ("driver_gps", "rider_gps", "expected"),
    [(True, True, "C"), (True, False, "B"), (False, False, "A")],
)
def test_both_confirmations_make_a_proof_of_the_class_their_positions_support(
    engine, settings, driver_gps, rider_gps, expected
):
    booking, driver, rider = _booked(engine)
    for who, gps in ((driver, driver_gps), (rider, rider_gps)):
        _confirm(engine, settings, booking, who, "start", AUDUN if gps else None, 31)
    for who, gps in ((driver, driver_gps), (rider, rider_gps)):
        _confirm(engine, settings, booking, who, "end", KIRCHBERG if gps else None, 70)
    with read_session(engine) as s:
        [proof] = s.scalars(select(CarpoolProof)).all()
        jobs = s.scalars(select(Job).where(Job.kind == "carpool.proof")).all()
    payload = json.loads(proof.payload)
    assert proof.operator_class == payload["operator_class"] == expected
    errors = [e.message for e in journey_validator().iter_errors(payload)]
    assert errors == []
    assert (
        payload["driver"]["identity"]["identity_key"]
        == hashlib.sha256(b"+33611223344-DUPONT").hexdigest()
    )
    assert payload["passenger"]["identity"]["phone_trunc"] == "+3526210001"
    assert payload["driver"]["identity"]["operator_user_id"] != str(driver)
    assert payload["passenger"]["contribution"] == payload["driver"]["revenue"] > 0
    if expected != "A":
        assert (payload["start"]["lat"], payload["end"]["lat"]) == (AUDUN[0], KIRCHBERG[0])
    assert abs((proof.due_by - (utcnow() + timedelta(minutes=70))).total_seconds() - 86_400) < 120
    assert len(jobs) == 1 and jobs[0].max_attempts == registry.SEND_ATTEMPTS


def test_no_proof_without_both_ends_from_both_people_or_without_identities(engine, settings):
    booking, driver, rider = _booked(engine, identities=False)
    _confirm(engine, settings, booking, driver, "start", AUDUN, 31)
    with pytest.raises(CarpoolError):
        _confirm(engine, settings, booking, rider, "end", KIRCHBERG, 60)  # no start yet
    _confirm(engine, settings, booking, rider, "start", AUDUN, 31)
    _confirm(engine, settings, booking, driver, "end", KIRCHBERG, 70)
    with read_session(engine) as s:
        assert s.scalars(select(CarpoolProof)).all() == []  # the rider has not ended
    _confirm(engine, settings, booking, rider, "end", KIRCHBERG, 70)
    with read_session(engine) as s:
        assert s.scalars(select(CarpoolProof)).all() == []  # no identities given: none is made


def test_the_booking_page_confirms_the_trip_without_javascript(engine, personas):
    driver, rider = personas["resident"], personas["other_resident"]
    ad = publish(engine, driver.id, AUDUN, KIRCHBERG, when=utcnow() + timedelta(minutes=30))
    with write_session(engine) as s:
        b = bookings.request_seats(s, ad, rider.id, 1)
        bookings.accept(s, b, driver.id)
        booking_id = b.id
    page = rider.client.get(f"/carpool/bookings/{booking_id}")
    assert "Nous partons" in page.text and "data-geolocate" in page.text
    r = rider.client.post_form(
        f"/carpool/bookings/{booking_id}/trip", {"step": "start", "lat": "49.472", "lon": "5.955"}
    )
    assert r.status_code in (200, 303)
    assert "Nous sommes arrivés" in rider.client.get(f"/carpool/bookings/{booking_id}").text
    bad = rider.client.post_form(
        f"/carpool/bookings/{booking_id}/trip", {"step": "end", "lat": "north", "lon": "1"}
    )
    assert bad.status_code == 400 and "Position invalide" in bad.text


class _Registry(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).received.append((self.path, self.headers.get("authorization", ""), body))
        status = type(self).answers.pop(0) if type(self).answers else 201
        self.send_response(status)
        self.send_header("content-type", "application/json")
        answer = json.dumps({"id": 1, "jsonrpc": "2.0", "result": {"data": {}}}).encode()
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_registry():
    _Registry.answers, _Registry.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3.1", _Registry
    server.shutdown()
    server.server_close()


def _make_proof(engine, settings) -> int:
    booking, driver, rider = _booked(engine)
    for step, at, minutes in (("start", AUDUN, 31), ("end", KIRCHBERG, 70)):
        for who in (driver, rider):
            _confirm(engine, settings, booking, who, step, at, minutes)
    with read_session(engine) as s:
        return s.scalars(select(CarpoolProof.id)).one()


def _due_now(engine) -> None:
    with write_session(engine) as s:
        s.execute(
            update(Job)
            .where(Job.kind == "carpool.proof", Job.status == "queued")
            .values(run_at=utcnow())
        )


def test_the_worker_sends_proofs_to_the_registry_and_retries_until_it_accepts(
    engine, settings, local_registry
):
    url, server = local_registry
    settings.carpool_registry_url, settings.carpool_registry_token = url, "token-of-eclor"
    proof_id = _make_proof(engine, settings)
    server.answers = [503]
    run_worker(settings, engine)
    with read_session(engine) as s:
        proof = s.get(CarpoolProof, proof_id)
        job = s.scalars(select(Job).where(Job.kind == "carpool.proof")).one()
    assert proof.status == "pending" and proof.attempts == 1 and "503" in proof.last_error
    assert job.status == "queued" and job.attempts == 1  # retried later, with backoff
    _due_now(engine)
    run_worker(settings, engine)
    with read_session(engine) as s:
        proof = s.get(CarpoolProof, proof_id)
    assert proof.status == "sent" and proof.sent_at is not None and proof.sent_at <= proof.due_by
    assert [r[0] for r in server.received] == ["/v3.1/journeys", "/v3.1/journeys"]
    assert server.received[-1][1] == "Bearer token-of-eclor"
    sent = json.loads(server.received[-1][2])
    assert sent == json.loads(proof.payload)
    assert list(journey_validator().iter_errors(sent)) == []


def test_a_proof_the_registry_refuses_is_not_sent_again(engine, settings, local_registry):
    url, server = local_registry
    settings.carpool_registry_url = url
    proof_id = _make_proof(engine, settings)
    server.answers = [422]
    run_worker(settings, engine)
    _due_now(engine)
    run_worker(settings, engine)
    with read_session(engine) as s:
        proof = s.get(CarpoolProof, proof_id)
    assert proof.status == "refused" and "422" in proof.last_error
    assert len(server.received) == 1


def test_proofs_made_while_no_registry_was_set_are_swept_and_sent_once_it_is(
    engine, settings, local_registry
):
    import asyncio

    from app import domains
    from workers.runner import WorkerRuntime

    url, server = local_registry
    settings.carpool_registry_url = ""
    proof_id = _make_proof(engine, settings)
    run_worker(settings, engine)  # no registry: the proof is kept, its job ends
    with read_session(engine) as s:
        proof = s.get(CarpoolProof, proof_id)
        first = s.scalars(select(Job).where(Job.kind == "carpool.proof")).one()
    assert proof.status == "pending" and proof.attempts == 0 and first.status == "done"
    assert "no registry" in proof.last_error and server.received == []
    assert registry.sweep(engine, settings) == []  # still no URL: nothing to do

    settings.carpool_registry_url = url
    settings.carpool_proof_sweep_minutes = 60
    assert registry.proof_sweep_service in domains.services()  # the worker runs it

    async def one_pass() -> None:
        rt = WorkerRuntime(settings, engine, "sweeper")
        task = asyncio.create_task(registry.proof_sweep_service(rt))
        for _ in range(200):
            with read_session(engine) as s:
                if len(s.scalars(select(Job).where(Job.kind == "carpool.proof")).all()) == 2:
                    break
            await asyncio.sleep(0.05)
        rt.stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(one_pass())
    assert registry.sweep(engine, settings) == []  # its job is queued: not queued twice
    server.answers = [201]
    run_worker(settings, engine)
    with read_session(engine) as s:
        proof = s.get(CarpoolProof, proof_id)
    assert proof.status == "sent" and proof.attempts == 1
    assert [r[0] for r in server.received] == ["/v3.1/journeys"]
    assert list(journey_validator().iter_errors(json.loads(server.received[0][2]))) == []
    assert registry.sweep(engine, settings) == []  # sent: never swept again

"""Proofs of carpooling for the French carpool proof registry (API v3.1, ``POST /journeys``).

Identity
--------
The registry identifies people by ``identity_key`` = SHA-256 of
``"{phone E.164}-{LAST NAME}"`` (last name in capitals, no accents, other
characters as spaces) and ``phone_trunc`` (the phone without its last two
digits). A carpooler gives their phone and last name in their profile only
with explicit consent, for proofs only; Eclor keeps these two values and the
time of consent, never the full number or the name, and shows them to no one.

Trip confirmations and classes
------------------------------
Both people of an accepted booking confirm the trip in the app, at the start
and at the end (``carpool_trip_checks``: time, and position when the phone
gives one). When both have confirmed both ends, a proof is made: class C
when both phones gave their positions at start and end and these agree
(within 1 km and 30 minutes), class B when positions came from one phone
only (or disagree), class A when neither gave positions.

Sending
-------
A proof is queued at once (``carpool.proof`` job, 30 tries with exponential
backoff capped at an hour: about a day) and due within 24 h of the trip's
end. 201 marks it sent, 409 (already recorded) too; 400/422 mark it refused
(the payload will not change: not retried); anything else is retried. The
request goes through ``app.outbound`` (public addresses only; loopback only
outside production, for the tests' local registry).

A proof made while ``ECLOR_CARPOOL_REGISTRY_URL`` is unset is kept pending
(its job ends at once, no try counted). The worker's proof sweep
(:func:`proof_sweep_service`, every ``carpool_proof_sweep_minutes``) queues a
new ``carpool.proof`` job, once a URL is set, for each pending proof never
tried whose job is no longer queued or running.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import geo
from app.carpool.proofs import pseudonym
from app.carpool.trips import CarpoolError, driver_and_passenger, occurrences
from app.db import saved_id, utcnow, write_session
from app.i18n import gettext as _
from app.jobs import JobContext, enqueue
from app.models.carpool import CarpoolAd, CarpoolBooking, CarpoolProfile
from app.models.carpool_interop import CarpoolProof, CarpoolTripCheck
from app.models.jobs import Job

log = logging.getLogger("eclor.carpool.registry")

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
SEND_ATTEMPTS = 30
DEADLINE = timedelta(hours=24)
CHECK_BEFORE = timedelta(hours=1)  # a trip can be started from an hour before its departure
CHECK_AFTER = timedelta(hours=12)  # ... and confirmed until 12 h after it
AGREE_M = 1000
AGREE_S = 30 * 60


# --- identity ---------------------------------------------------------------------------


def e164(phone: str) -> str:
    """A phone in ITU E.164 (+33601020304): French numbers may be given as 06 01 02 03 04."""
    digits = re.sub(r"[\s.\-()]", "", phone.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0") and len(digits) == 10:
        digits = "+33" + digits[1:]
    if not E164.match(digits):
        raise CarpoolError(
            _("Numéro de téléphone invalide (par exemple 06 01 02 03 04 ou +352 621 123 456).")
        )
    return digits


def registry_last_name(last_name: str) -> str:
    """« D'Hérûg-de-l'Hérault » → « D HERUG DE L HERAULT » (capitals, no accents, spaces)."""
    plain = unicodedata.normalize("NFKD", last_name).encode("ascii", "ignore").decode()
    spaced = re.sub(r"[^A-Z]+", " ", plain.upper()).strip()
    if not spaced:
        raise CarpoolError(_("Indiquez votre nom de famille."))
    return spaced


def identity_key(phone: str, last_name: str) -> str:
    return hashlib.sha256(f"{e164(phone)}-{registry_last_name(last_name)}".encode()).hexdigest()


def set_proof_identity(
    session: Session, user_id: int, phone: str, last_name: str, consent: bool
) -> None:
    """Keep the registry's identity of a carpooler, only with their consent; raises CarpoolError."""
    if not consent:
        raise CarpoolError(
            _("Cochez la case pour accepter l'usage de ces données pour les preuves.")
        )
    number = e164(phone)
    key = identity_key(number, last_name)
    profile = session.get(CarpoolProfile, user_id) or CarpoolProfile(user_id=user_id)
    profile.proof_identity_key, profile.proof_phone_trunc = key, number[:-2]
    profile.proof_consent_at = utcnow()
    session.add(profile)


def withdraw_proof_identity(session: Session, user_id: int) -> None:
    profile = session.get(CarpoolProfile, user_id)
    if profile is not None:
        profile.proof_identity_key = profile.proof_phone_trunc = None
        profile.proof_consent_at = None
        session.add(profile)


# --- trip confirmations -----------------------------------------------------------------


def current_departure(ad: CarpoolAd, now: datetime) -> datetime | None:
    """The departure a confirmation made now is about: from an hour before it to 12 h after."""
    found = occurrences(ad, now - CHECK_AFTER, now + CHECK_BEFORE + timedelta(seconds=1))
    return min(found, key=lambda d: abs((d - now).total_seconds())) if found else None


def confirm_trip(
    session: Session,
    booking: CarpoolBooking,
    user_id: int,
    step: str,
    lat: float | None,
    lon: float | None,
    *,
    secret: str,
    now: datetime | None = None,
) -> CarpoolTripCheck:
    """One party confirms the start or the end of the booking's current trip, with a position if given."""
    now = now or utcnow()
    if user_id not in (booking.owner_id, booking.requester_id):
        raise CarpoolError(_("Cette réservation ne vous concerne pas."))
    if booking.status != "accepted":
        raise CarpoolError(_("Seul un trajet accepté peut être confirmé."))
    if step not in ("start", "end"):
        raise CarpoolError(_("Étape inconnue."))
    if (lat is None) != (lon is None) or (
        lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)
    ):
        raise CarpoolError(_("Position invalide."))
    ad = session.get_one(CarpoolAd, booking.ad_id)
    departure = current_departure(ad, now)
    if departure is None:
        raise CarpoolError(_("Aucun départ de ce trajet n'est en cours."))
    check = session.scalars(
        select(CarpoolTripCheck).where(
            col(CarpoolTripCheck.booking_id) == booking.id,
            col(CarpoolTripCheck.departure) == departure,
            col(CarpoolTripCheck.user_id) == user_id,
        )
    ).first() or CarpoolTripCheck(
        booking_id=saved_id(booking), departure=departure, user_id=user_id
    )
    if step == "start":
        check.started_at, check.start_lat, check.start_lon = now, lat, lon
    else:
        if check.started_at is None:
            raise CarpoolError(_("Confirmez d'abord le départ."))
        check.ended_at, check.end_lat, check.end_lon = now, lat, lon
    session.add(check)
    session.flush()
    if step == "end":
        make_proof(session, booking, ad, departure, secret)
    return check


def trip_checks(session: Session, booking_id: int, departure: datetime) -> list[CarpoolTripCheck]:
    return list(
        session.scalars(
            select(CarpoolTripCheck).where(
                col(CarpoolTripCheck.booking_id) == booking_id,
                col(CarpoolTripCheck.departure) == departure,
            )
        )
    )


def _positions(c: CarpoolTripCheck) -> bool:
    return None not in (c.start_lat, c.start_lon, c.end_lat, c.end_lon)


def _agree(a: CarpoolTripCheck, b: CarpoolTripCheck) -> bool:
    def near(la1: Any, lo1: Any, la2: Any, lo2: Any) -> bool:
        return geo.distance_m(la1, lo1, la2, lo2) <= AGREE_M

    assert a.started_at and b.started_at and a.ended_at and b.ended_at
    return (
        near(a.start_lat, a.start_lon, b.start_lat, b.start_lon)
        and near(a.end_lat, a.end_lon, b.end_lat, b.end_lon)
        and abs((a.started_at - b.started_at).total_seconds()) <= AGREE_S
        and abs((a.ended_at - b.ended_at).total_seconds()) <= AGREE_S
    )


def proof_class(checks: list[CarpoolTripCheck]) -> str:
    located = [c for c in checks if _positions(c)]
    if len(located) == 2 and _agree(*located):
        return "C"
    return "B" if located else "A"


def _stamp(dt: datetime) -> str:
    return dt.astimezone(utcnow().tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ")


def _point(at: tuple[float | None, float | None]) -> dict[str, float]:
    assert at[0] is not None and at[1] is not None
    return {"lat": round(at[0], 6), "lon": round(at[1], 6)}


def make_proof(
    session: Session, booking: CarpoolBooking, ad: CarpoolAd, departure: datetime, secret: str
) -> CarpoolProof | None:
    """The proof of one trip, when both people confirmed both ends and both gave their proof identity."""
    checks = [c for c in trip_checks(session, saved_id(booking), departure) if c.ended_at]
    driver, passenger = driver_and_passenger(booking, ad)
    if {c.user_id for c in checks} != {driver, passenger}:
        return None
    profiles = {p: session.get(CarpoolProfile, p) for p in (driver, passenger)}
    if any(
        p is None or not p.proof_identity_key or not p.proof_phone_trunc for p in profiles.values()
    ):
        return None  # someone gave no identity for proofs: none can be made
    by_user = {c.user_id: c for c in checks}
    located = [c for c in checks if _positions(c)]
    source = (
        (by_user[passenger] if by_user[passenger] in located else located[0]) if located else None
    )
    started = min(c.started_at for c in checks if c.started_at)
    ended = max(c.ended_at for c in checks if c.ended_at)
    # The positions the phones gave (the passenger's first), else the ad's own points (class A).
    start = (source.start_lat, source.start_lon) if source else (ad.from_lat, ad.from_lon)
    end = (source.end_lat, source.end_lon) if source else (ad.to_lat, ad.to_lon)
    stamp = departure.strftime("%Y%m%d%H%M")
    journey_id, proof_class_ = f"eclor{booking.id}t{stamp}", proof_class(checks)
    amount = booking.price_cents * booking.seats

    def identity(user_id: int) -> dict[str, Any]:
        profile = profiles[user_id]
        assert profile is not None
        return {
            "identity_key": profile.proof_identity_key,
            "phone_trunc": profile.proof_phone_trunc,
            "operator_user_id": pseudonym(secret, user_id),
        }

    payload = {
        "operator_journey_id": journey_id,
        "operator_trip_id": f"eclorad{ad.id}t{stamp}",
        "operator_class": proof_class_,
        "incentives": [],
        "start": {"datetime": _stamp(started), **_point(start)},
        "end": {"datetime": _stamp(ended), **_point(end)},
        "distance": booking.distance_m,
        "driver": {"identity": identity(driver), "revenue": amount},
        "passenger": {
            "identity": identity(passenger),
            "contribution": amount,
            "seats": booking.seats,
        },
    }
    proof = CarpoolProof(
        booking_id=saved_id(booking),
        departure=departure,
        operator_journey_id=journey_id,
        operator_class=proof_class_,
        payload=json.dumps(payload, separators=(",", ":")),
        due_by=ended + DEADLINE,
    )
    try:
        with session.begin_nested():
            session.add(proof)
            session.flush()
    except IntegrityError:
        return None  # already made (both ends confirmed again)
    enqueue(
        session,
        "carpool.proof",
        {"proof_id": proof.id},
        max_attempts=SEND_ATTEMPTS,
        dedupe_key=f"carpool-proof:{proof.id}",
    )
    return proof


# --- the sweep of proofs made while no registry was set -----------------------------------


def sweep_unsent(session: Session, now: datetime, every_minutes: float) -> list[int]:
    """Queue a ``carpool.proof`` job for each pending, never-tried proof without a live job.

    Called only when a registry URL is set. Two workers sweeping in the same
    period queue one job per proof (the dedupe key names the period).
    """
    unsent: list[int] = list(
        session.scalars(
            select(col(CarpoolProof.id))
            .where(
                col(CarpoolProof.status) == "pending",
                col(CarpoolProof.attempts) == 0,
            )
            .order_by(col(CarpoolProof.id))
        )
    )
    if not unsent:
        return []
    live = set(
        session.scalars(
            select(col(Job.dedupe_key)).where(
                col(Job.kind) == "carpool.proof", col(Job.status).in_(("queued", "running"))
            )
        )
    )
    period = int(now.timestamp() // max(60.0, every_minutes * 60))
    queued: list[int] = []
    for proof_id in unsent:
        if any(
            key == f"carpool-proof:{proof_id}"
            or (key or "").startswith(f"carpool-proof:{proof_id}:")
            for key in live
        ):
            continue
        enqueue(
            session,
            "carpool.proof",
            {"proof_id": proof_id},
            max_attempts=SEND_ATTEMPTS,
            dedupe_key=f"carpool-proof:{proof_id}:sweep{period}",
        )
        queued.append(proof_id)
    return queued


def sweep(engine: Engine, settings: Any, now: datetime | None = None) -> list[int]:
    """One pass of the sweep (nothing while no registry URL is set); the ids of the proofs queued."""
    if not settings.carpool_registry_url.strip():
        return []
    with write_session(engine) as session:
        return sweep_unsent(session, now or utcnow(), settings.carpool_proof_sweep_minutes)


async def proof_sweep_service(rt: Any) -> None:
    """The worker service: a sweep at start, then every ``carpool_proof_sweep_minutes``."""
    settings = rt.settings
    while not rt.stop.is_set():
        try:
            queued = await asyncio.to_thread(sweep, rt.engine, settings)
            if queued:
                log.info("unsent carpool proofs queued", extra={"proofs": len(queued)})
        except Exception:  # never fatal to the worker: the next pass tries again
            log.exception("carpool proof sweep failed")
        try:
            await asyncio.wait_for(
                rt.stop.wait(), timeout=max(1.0, settings.carpool_proof_sweep_minutes * 60)
            )
        except TimeoutError:
            pass


# --- sending ----------------------------------------------------------------------------


class RegistryRefused(Exception):
    pass


async def post_proof(url: str, token: str, body: str, *, allow_loopback: bool) -> tuple[int, str]:
    """POST one proof to the registry; returns (status, the start of the answer)."""
    from app import outbound

    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    status, answer = await outbound.send(
        "POST", url, body=body.encode(), headers=headers, allow_loopback=allow_loopback
    )
    return status, answer[:300].decode("utf-8", "replace")


async def send_proof(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The ``carpool.proof`` job: send a pending proof; failures are retried by the queue."""
    import anyio

    from app.db import read_session, write_session

    settings = ctx.settings
    with read_session(ctx.engine) as session:
        proof = session.get(CarpoolProof, int(payload["proof_id"]))
        if proof is None or proof.status != "pending":
            return
        body = proof.payload
    url = settings.carpool_registry_url.rstrip("/")

    def record(status: str, error: str, attempt: bool = True) -> None:
        with write_session(ctx.engine) as session:
            row = session.get(CarpoolProof, int(payload["proof_id"]))
            if row is None:
                return
            row.status, row.last_error = status, error[:300]
            row.attempts += 1 if attempt else 0
            if status in ("sent", "duplicate"):
                row.sent_at = utcnow()
            session.add(row)

    if not url:
        await anyio.to_thread.run_sync(
            lambda: record("pending", "no registry URL configured", False)
        )
        return
    try:
        status, answer = await post_proof(
            url + "/journeys",
            settings.carpool_registry_token,
            body,
            allow_loopback=settings.outbound_allows_loopback,
        )
    except Exception as exc:  # network, refused address: retried with backoff
        error = f"{type(exc).__name__}: {exc}"
        await anyio.to_thread.run_sync(lambda: record("pending", error))
        raise
    if status in (200, 201):
        await anyio.to_thread.run_sync(lambda: record("sent", ""))
    elif status == 409:
        await anyio.to_thread.run_sync(lambda: record("duplicate", answer))
    elif status in (400, 422):
        await anyio.to_thread.run_sync(lambda: record("refused", f"{status}: {answer}"))
    else:
        await anyio.to_thread.run_sync(lambda: record("pending", f"{status}: {answer}"))
        raise RegistryRefused(f"registry answered {status}")

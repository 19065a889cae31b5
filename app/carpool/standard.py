"""The standard-covoiturage API (FabMob, OpenAPI 0.0.1) over Eclor's ads, bookings and messages.

Search (public): ``/driver_journeys`` and ``/passenger_journeys`` give the
planned trips around ``departureDate`` (one-off ads, and regular ads running
that day), ``/driver_regular_trips`` and ``/passenger_regular_trips`` the
regular ads with their weekly ``schedules``. Dates are UNIX UTC seconds;
times of day (``departureTimeOfDay``, ``passengerPickupTimeOfDay``) are UTC
partial-times, converted with the offset of the date they apply to.

Interaction (operators with a key): ``POST /bookings`` books an Eclor ad for
an operator's user (``bookings.request_seats``: seats taken at once, the
ad's owner accepts or declines in the app), ``PATCH /bookings/{id}`` cancels
it, ``GET`` reads it, and ``POST /messages`` adds to the booking's
conversation (``bookings.post_message``). Journey ids are ``eclor<ad id>``,
followed by ``t<YYYYmmddHHMM>`` (UTC) for one departure of a regular ad.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.carpool import bookings as carpool_bookings
from app.carpool import matching
from app.carpool.callbacks import STATUS
from app.carpool.operators import account_of, external_identity
from app.carpool.proofs import pseudonym
from app.carpool.rdex import local_minute_of_utc, next_weekday_on_or_after
from app.carpool.trips import (
    MAX_SEARCH_MARGIN_MIN,
    ROAD_FACTOR,
    SPEED_KMH,
    CarpoolError,
    encode_polyline,
    departure_on,
    local,
    zone_of,
    mask_of,
    occurrences,
    parse_schedule,
    trip_price_cents,
)
from app import i18n
from app.db import utcnow
from app.models.carpool import CarpoolAd, CarpoolBooking
from app.models.carpool_interop import CarpoolOperator

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
JOURNEY_ID = re.compile(r"^eclor(\d{1,18})(?:t(\d{12}))?$")
MAX_RADIUS_KM = 50.0
REGULAR_WEEKS = 4  # journeySchedules listed for a regular trip


class StandardError(ValueError):
    """A refused request: the HTTP status and the message (``{"error": ...}``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Context:
    """What the answers need from the settings."""

    base: str
    secret: str
    # The territories whose ads the host's API finds (its own first, then those sharing with it
    # both ways); None: every territory.
    territories: tuple[int, ...] | None = None
    # The host's territory's time zone: the local days and times a search names are its own.
    zone: ZoneInfo = field(default_factory=i18n.zone)

    @property
    def operator(self) -> str:
        return urlsplit(self.base).hostname or "eclor"


# --- search parameters ------------------------------------------------------------------


def _number(params: Mapping[str, str], name: str, default: float | None = None) -> float:
    value = params.get(name)
    if value in (None, ""):
        if default is None:
            raise StandardError(400, f"{name} is required.")
        return default
    try:
        number = float(str(value))
    except ValueError:
        raise StandardError(400, f"{name} must be a number.") from None
    if number != number or abs(number) == float("inf"):
        raise StandardError(400, f"{name} must be a finite number.")
    return number


def _integer(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise StandardError(400, f"{name} must be an integer.") from None


def _moment(stamp: int | None, name: str) -> datetime | None:
    if stamp is None:
        return None
    try:
        return datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):
        raise StandardError(400, f"{name} must be a UNIX timestamp in seconds.") from None


@dataclass
class Where:
    dep: tuple[float, float]
    arr: tuple[float, float]
    dep_radius_m: int
    arr_radius_m: int
    delta_s: int
    count: int | None


def _where(params: Mapping[str, str]) -> Where:
    lat0, lon0 = _number(params, "departureLat"), _number(params, "departureLng")
    lat1, lon1 = _number(params, "arrivalLat"), _number(params, "arrivalLng")
    if not (abs(lat0) <= 90 and abs(lat1) <= 90 and abs(lon0) <= 180 and abs(lon1) <= 180):
        raise StandardError(400, "Coordinates out of range.")
    radii = [_number(params, n, 1.0) for n in ("departureRadius", "arrivalRadius")]
    if not all(0 < r <= MAX_RADIUS_KM for r in radii):
        raise StandardError(
            400, f"departureRadius and arrivalRadius must be in (0, {MAX_RADIUS_KM:.0f}] km."
        )
    delta = _integer(params, "timeDelta", 900) or 0
    if not 0 <= delta <= 86_400:
        raise StandardError(400, "timeDelta must be between 0 and 86400 seconds.")
    count = _integer(params, "count")
    if count is not None and count < 0:
        raise StandardError(400, "count must not be negative.")
    return Where(
        (lat0, lon0), (lat1, lon1), int(radii[0] * 1000), int(radii[1] * 1000), delta, count
    )


# --- shapes -----------------------------------------------------------------------------


def _stamp(dt: datetime) -> int:
    return int(dt.timestamp())


def eclor_user(ctx: Context, user_id: int, alias: str) -> dict[str, Any]:
    return {
        "id": pseudonym(ctx.secret, user_id),
        "operator": ctx.operator,
        "alias": alias or "Eclor",
    }


def _user(session: Session, ctx: Context, user_id: int, alias: str) -> dict[str, Any]:
    """A standard ``User``: an operator's own user as it knows them, or an Eclor member (pseudonymous)."""
    outside = external_identity(session, user_id)
    if outside is not None:
        return {"id": outside[1], "operator": outside[0], "alias": alias or outside[1]}
    return eclor_user(ctx, user_id, alias)


def _price(ad: CarpoolAd) -> dict[str, Any]:
    cents = trip_price_cents(ad.distance_m, ad.price_per_km_cents)
    if not cents:
        return {"type": "FREE", "amount": 0, "currency": "EUR"}
    return {"type": "PAYING", "amount": cents / 100, "currency": "EUR"}


def _trip(ctx: Context, ad: CarpoolAd, alias: str, pickup_m: int | None = None) -> dict[str, Any]:
    person = eclor_user(ctx, ad.user_id, alias)
    out: dict[str, Any] = {
        "operator": ctx.operator,
        "passengerPickupLat": ad.from_lat,
        "passengerPickupLng": ad.from_lon,
        "passengerDropLat": ad.to_lat,
        "passengerDropLng": ad.to_lon,
        "passengerPickupAddress": ad.from_label,
        "passengerDropAddress": ad.to_label,
        "duration": _duration(ad),
        "distance": ad.distance_m,
        "journeyPolyline": encode_polyline([(ad.from_lat, ad.from_lon), (ad.to_lat, ad.to_lon)]),
        "webUrl": f"{ctx.base}/carpool/ads/{ad.id}",
    }
    if ad.role == "driver":
        out["driver"] = person
        out.update(
            driverDepartureLat=ad.from_lat,
            driverDepartureLng=ad.from_lon,
            driverArrivalLat=ad.to_lat,
            driverArrivalLng=ad.to_lon,
            driverDepartureAddress=ad.from_label,
            driverArrivalAddress=ad.to_label,
        )
        if pickup_m is not None:
            out["departureToPickupWalkingDistance"] = pickup_m
    else:
        out["passenger"] = person
    return out


def _duration(ad: CarpoolAd) -> int:
    return int(ad.distance_m / 1000 / SPEED_KMH * 3600)


def journey_id(ad: CarpoolAd, departure: datetime | None) -> str:
    if ad.frequency == "punctual" or departure is None:
        return f"eclor{ad.id}"
    return f"eclor{ad.id}t{departure.astimezone(UTC).strftime('%Y%m%d%H%M')}"


def _schedule(
    ctx: Context, ad: CarpoolAd, departure: datetime, driver_offset_s: int
) -> dict[str, Any]:
    """A ``JourneySchedule``: the pick-up at ``departure`` (the ad's start), the driver's own departure."""
    return {
        "id": journey_id(ad, departure),
        "passengerPickupDate": _stamp(departure),
        "driverDepartureDate": _stamp(departure) - driver_offset_s,
        "webUrl": f"{ctx.base}/carpool/ads/{ad.id}",
        "type": "PLANNED",
    }


def _departure_on(ad: CarpoolAd, when: datetime) -> datetime | None:
    """The ad's departure on the local day of ``when`` (one-off: its own departure)."""
    if ad.frequency == "punctual":
        return ad.departure_at
    zone = zone_of(ad)
    day = local(when, zone).date()
    sched = parse_schedule(ad.schedule)
    if day.weekday() not in sched or (ad.valid_until and day > ad.valid_until):
        return None
    return departure_on(day, sched[day.weekday()][0], zone)


# --- search -----------------------------------------------------------------------------


def search_journeys(
    session: Session, ctx: Context, role: str, params: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``/driver_journeys`` (role driver) or ``/passenger_journeys`` (role passenger)."""
    where = _where(params)
    when = _moment(_integer(params, "departureDate"), "departureDate")
    if when is None:
        raise StandardError(400, "departureDate is required (UNIX UTC seconds).")
    q = matching.Query(
        *where.dep,
        *where.arr,
        role=role,
        frequency="punctual",
        when=when,
        margin_min=min(MAX_SEARCH_MARGIN_MIN * 6, where.delta_s // 60),
        from_radius_m=where.dep_radius_m,
        to_radius_m=where.arr_radius_m,
        territories=ctx.territories,
        zone=ctx.zone,
    )
    matches = matching.attach_ads(session, matching.search(session, q, limit=500))
    out: list[dict[str, Any]] = []
    for m in matches:
        ad = m.ad
        if ad is None:
            continue
        departure = _departure_on(ad, when)
        if departure is None:
            continue
        if role == "driver":
            item = _trip(ctx, ad, m.profile_name, m.pickup_m)
            item.update(_schedule(ctx, ad, departure, 0))
            item["availableSeats"] = ad.seats_left
            item["price"] = _price(ad)
        else:
            # The searching driver reaches the passenger's start from the searched departure.
            offset = int(m.pickup_m * ROAD_FACTOR / 1000 / SPEED_KMH * 3600)
            item = _trip(ctx, ad, m.profile_name)
            item.update(_schedule(ctx, ad, departure, offset))
            item["requestedSeats"] = ad.seats_left
        out.append(item)
    return out[: where.count] if where.count is not None else out


def search_regular(
    session: Session, ctx: Context, role: str, params: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``/driver_regular_trips`` or ``/passenger_regular_trips``: regular ads and their weekly schedules."""
    where = _where(params)
    raw_time = params.get("departureTimeOfDay")
    if not raw_time:
        raise StandardError(400, "departureTimeOfDay is required (HH:MM:SS, UTC).")
    try:
        at = time.fromisoformat(raw_time).replace(tzinfo=None)
    except ValueError:
        raise StandardError(400, "departureTimeOfDay must be a time of day (HH:MM:SS).") from None
    names = [
        d.strip().upper()
        for d in (params.get("departureWeekdays") or ",".join(WEEKDAYS)).split(",")
        if d.strip()
    ]
    if not names or any(n not in WEEKDAYS for n in names):
        raise StandardError(
            400, "departureWeekdays must list days among " + ",".join(WEEKDAYS) + "."
        )
    days = sorted({WEEKDAYS.index(n) for n in names})
    now = utcnow()
    start_at = _moment(_integer(params, "minDepartureDate"), "minDepartureDate") or now
    end_at = _moment(_integer(params, "maxDepartureDate"), "maxDepartureDate")
    start_at = max(start_at, now)
    end_at = end_at or start_at + timedelta(weeks=REGULAR_WEEKS)
    if end_at <= start_at:
        raise StandardError(400, "maxDepartureDate must come after minDepartureDate.")
    start_day = local(start_at, ctx.zone).date()
    minutes = {
        d: local_minute_of_utc(next_weekday_on_or_after(start_day, d), at, ctx.zone) for d in days
    }
    q = matching.Query(
        *where.dep,
        *where.arr,
        role=role,
        frequency="regular",
        days_mask=mask_of(days),
        minute=sorted(minutes.values())[len(minutes) // 2],
        margin_min=min(MAX_SEARCH_MARGIN_MIN * 6, where.delta_s // 60)
        + (max(minutes.values()) - min(minutes.values())) // 2,
        from_radius_m=where.dep_radius_m,
        to_radius_m=where.arr_radius_m,
        territories=ctx.territories,
        zone=ctx.zone,
    )
    matches = matching.attach_ads(session, matching.search(session, q, limit=500))
    out: list[dict[str, Any]] = []
    for m in matches:
        ad = m.ad
        if ad is None or ad.frequency != "regular":
            continue
        item = _trip(ctx, ad, m.profile_name, m.pickup_m if role == "driver" else None)
        item["schedules"] = regular_schedules(ctx, ad, start_at, end_at, set(m.days))
        out.append(item)
    return out[: where.count] if where.count is not None else out


def regular_schedules(
    ctx: Context, ad: CarpoolAd, start: datetime, end: datetime, days: set[int]
) -> list[dict[str, Any]]:
    """One ``Schedule`` per matching weekday: its UTC time (offset of its next date) and its departures."""
    found = occurrences(ad, start, min(end, start + timedelta(weeks=REGULAR_WEEKS)))
    out = []
    zone = zone_of(ad)
    for d, (m, _g) in sorted(parse_schedule(ad.schedule).items()):
        if d not in days:
            continue
        mine = [dep for dep in found if local(dep, zone).weekday() == d]
        at = departure_on(next_weekday_on_or_after(local(start, zone).date(), d), m, zone)
        out.append(
            {
                "passengerPickupDay": WEEKDAYS[d],
                "passengerPickupTimeOfDay": at.strftime("%H:%M:%S"),
                "journeySchedules": [_schedule(ctx, ad, dep, 0) for dep in mine],
            }
        )
    return out


# --- bookings and messages --------------------------------------------------------------


def ad_of_journey(
    session: Session, journey: str | None, territories: tuple[int, ...] | None = None
) -> tuple[CarpoolAd, datetime | None] | None:
    """The ad (and departure) a journey id names, if the host's API finds it (``territories``)."""
    match = JOURNEY_ID.match(journey or "")
    if not match:
        return None
    ad = session.get(CarpoolAd, int(match.group(1)))
    if ad is None or (territories is not None and ad.territory_id not in territories):
        return None
    departure = None
    if match.group(2):
        departure = datetime.strptime(match.group(2), "%Y%m%d%H%M").replace(tzinfo=UTC)
    return ad, departure


def booking_json(session: Session, ctx: Context, booking: CarpoolBooking) -> dict[str, Any]:
    ad = session.get_one(CarpoolAd, booking.ad_id)
    names = matching.display_names(session, [booking.owner_id, booking.requester_id])
    driver_id, passenger_id = (
        (booking.owner_id, booking.requester_id)
        if ad.role == "driver"
        else (booking.requester_id, booking.owner_id)
    )
    pickup = booking.pickup_at or carpool_bookings.next_departure(ad, utcnow()) or ad.departure_at
    out: dict[str, Any] = {
        "id": booking.external_id or str(uuid.UUID(int=booking.id or 0)),
        "driver": _user(session, ctx, driver_id, names.get(driver_id, "")),
        "passenger": _user(session, ctx, passenger_id, names.get(passenger_id, "")),
        "passengerPickupDate": _stamp(pickup) if pickup else 0,
        "passengerPickupLat": booking.pickup_lat if booking.pickup_lat is not None else ad.from_lat,
        "passengerPickupLng": booking.pickup_lon if booking.pickup_lon is not None else ad.from_lon,
        "passengerDropLat": booking.drop_lat if booking.drop_lat is not None else ad.to_lat,
        "passengerDropLng": booking.drop_lon if booking.drop_lon is not None else ad.to_lon,
        "passengerPickupAddress": ad.from_label,
        "passengerDropAddress": ad.to_label,
        "status": STATUS.get(booking.status, "WAITING_CONFIRMATION"),
        "duration": _duration(ad),
        "distance": booking.distance_m,
        "webUrl": f"{ctx.base}/carpool/bookings/{booking.id}",
        "price": {
            "type": "PAYING" if booking.price_cents else "FREE",
            "amount": booking.price_cents * booking.seats / 100,
            "currency": "EUR",
        },
    }
    out["driverJourneyId" if ad.role == "driver" else "passengerJourneyId"] = journey_id(
        ad, booking.pickup_at
    )
    return out


def _required(body: Mapping[str, Any], *names: str) -> None:
    missing = [n for n in names if n not in body]
    if missing:
        raise StandardError(400, "Missing field(s): " + ", ".join(missing) + ".")


def _person(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) for k in ("id", "alias", "operator")
    ):
        raise StandardError(400, f"{name} must be a User with id, alias and operator.")
    return value


def _coordinate(body: Mapping[str, Any], name: str, limit: float) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= limit:
        raise StandardError(400, f"{name} must be a number within ±{limit:.0f}.")
    return float(value)


def create_booking(
    session: Session, ctx: Context, operator: CarpoolOperator, body: Any
) -> CarpoolBooking:
    """``POST /bookings``: an operator's user books an Eclor driver's (or passenger's) journey."""
    if not isinstance(body, dict):
        raise StandardError(400, "The body must be a Booking object.")
    _required(
        body,
        "id",
        "driver",
        "passenger",
        "status",
        "price",
        "passengerPickupDate",
        "passengerPickupLat",
        "passengerPickupLng",
        "passengerDropLat",
        "passengerDropLng",
    )
    try:
        external = str(uuid.UUID(str(body["id"])))
    except ValueError:
        raise StandardError(400, "id must be a UUID.") from None
    if body["status"] != "WAITING_CONFIRMATION":
        raise StandardError(400, "A new Booking has status WAITING_CONFIRMATION.")
    driver, passenger = _person(body, "driver"), _person(body, "passenger")
    coords = {
        n: _coordinate(body, n, 90 if n.endswith("Lat") else 180)
        for n in (
            "passengerPickupLat",
            "passengerPickupLng",
            "passengerDropLat",
            "passengerDropLng",
        )
    }
    stamp = body["passengerPickupDate"]
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not abs(stamp) < 1e12:
        raise StandardError(400, "passengerPickupDate must be UNIX UTC seconds.")
    pickup_at = _moment(int(stamp), "passengerPickupDate")
    if body.get("driverJourneyId"):
        found, guest, role = (
            ad_of_journey(session, body["driverJourneyId"], ctx.territories),
            passenger,
            "driver",
        )
    elif body.get("passengerJourneyId"):
        found, guest, role = (
            ad_of_journey(session, body["passengerJourneyId"], ctx.territories),
            driver,
            "passenger",
        )
    else:
        raise StandardError(
            400, "driverJourneyId or passengerJourneyId names the Eclor journey booked."
        )
    if found is None or found[0].role != role or found[0].status != "active":
        raise StandardError(404, "missing_journey")
    ad, _departure = found
    if guest["operator"] == ctx.operator:
        raise StandardError(
            400, "The person booking is the operator's own user, not an Eclor member."
        )
    if session.scalars(
        select(col(CarpoolBooking.id)).where(col(CarpoolBooking.external_id) == external)
    ).first():
        raise StandardError(409, "booking_already_exists")
    account = account_of(session, operator, guest["id"], guest["alias"])
    try:
        booking = carpool_bookings.request_seats(session, saved_ad_id(ad), account, 1)
    except CarpoolError as exc:
        raise StandardError(409, str(exc)) from None
    booking.external_id, booking.operator_id, booking.pickup_at = external, operator.id, pickup_at
    booking.pickup_lat, booking.pickup_lon = (
        coords["passengerPickupLat"],
        coords["passengerPickupLng"],
    )
    booking.drop_lat, booking.drop_lon = coords["passengerDropLat"], coords["passengerDropLng"]
    session.add(booking)
    session.flush()
    return booking


def saved_ad_id(ad: CarpoolAd) -> int:
    assert ad.id is not None
    return ad.id


def operator_booking(
    session: Session, operator: CarpoolOperator, booking_id: str
) -> CarpoolBooking:
    """The booking this operator made (404 for any other, so ids are not probed)."""
    try:
        external = str(uuid.UUID(booking_id))
    except ValueError:
        raise StandardError(400, "bookingId must be a UUID.") from None
    booking = session.scalars(
        select(CarpoolBooking).where(col(CarpoolBooking.external_id) == external)
    ).first()
    if booking is None or booking.operator_id != operator.id:
        raise StandardError(404, "missing_booking")
    return booking


def guest_of(booking: CarpoolBooking) -> int:
    """The account of the operator's user in a booking made through the API (the requester)."""
    return booking.requester_id


def update_booking(
    session: Session, operator: CarpoolOperator, booking_id: str, status: str, message: str
) -> CarpoolBooking:
    """``PATCH /bookings/{id}``: the operator's user cancels; confirming is the Eclor member's own act."""
    booking = operator_booking(session, operator, booking_id)
    if status not in (
        "WAITING_CONFIRMATION",
        "CONFIRMED",
        "CANCELLED",
        "COMPLETED_PENDING_VALIDATION",
        "VALIDATED",
    ):
        raise StandardError(400, "Unknown status.")
    if STATUS.get(booking.status) == status:
        raise StandardError(409, "status_already_set")
    if status != "CANCELLED":
        raise StandardError(
            400, "Only CANCELLED can be set by the operator: the Eclor member confirms in the app."
        )
    if message.strip():
        try:
            carpool_bookings.post_message(session, booking, guest_of(booking), message)
        except CarpoolError as exc:
            raise StandardError(400, str(exc)) from None
    try:
        carpool_bookings.cancel(session, booking, guest_of(booking))
    except CarpoolError as exc:
        raise StandardError(409, str(exc)) from None
    return booking


def post_message(session: Session, operator: CarpoolOperator, body: Any) -> None:
    """``POST /messages``: from an operator's user to the Eclor member of a booking."""
    if not isinstance(body, dict):
        raise StandardError(400, "The body must be a message object.")
    _required(body, "from", "to", "message", "recipientCarpoolerType")
    sender = _person(body, "from")
    _person(body, "to")
    text = body["message"]
    if not isinstance(text, str) or not 1 <= len(text.strip()) <= 500:
        raise StandardError(400, "message must be 1 to 500 characters.")
    if body["recipientCarpoolerType"] not in ("DRIVER", "PASSENGER"):
        raise StandardError(400, "recipientCarpoolerType must be DRIVER or PASSENGER.")
    account = account_of(session, operator, sender["id"], sender["alias"])
    booking: CarpoolBooking | None = None
    if body.get("bookingId"):
        booking = operator_booking(session, operator, str(body["bookingId"]))
    else:
        journey = body.get("driverJourneyId") or body.get("passengerJourneyId")
        found = ad_of_journey(session, journey)
        if found is None:
            raise StandardError(404, "missing_journey")
        booking = session.scalars(
            select(CarpoolBooking)
            .where(
                col(CarpoolBooking.ad_id) == found[0].id,
                col(CarpoolBooking.requester_id) == account,
            )
            .order_by(col(CarpoolBooking.id).desc())
        ).first()
        if booking is None:
            # Eclor's conversations belong to a booking: book the journey first.
            raise StandardError(404, "missing_booking")
    if account != guest_of(booking):
        raise StandardError(404, "missing_user")
    try:
        carpool_bookings.post_message(session, booking, account, text)
    except CarpoolError as exc:
        raise StandardError(400, str(exc)) from None


def status_of(session: Session, territories: tuple[int, ...] | None = None) -> dict[str, Any]:
    here = (col(CarpoolAd.territory_id).in_(territories),) if territories is not None else ()
    active = session.scalars(
        select(col(CarpoolAd.id)).where(col(CarpoolAd.status) == "active", *here).limit(1)
    ).first()
    return {"status": "ok", "activeJourneys": active is not None, "date": _stamp(utcnow())}


def today(zone: ZoneInfo) -> date:
    return local(utcnow(), zone).date()

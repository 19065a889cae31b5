"""The standard-covoiturage API (``/api/carpool``) in Eclor's OpenAPI document (read by
:func:`app.openapi_public.describe`).

The operations, parameters and answers of the standard's own OpenAPI file
(fabmob ``standard-covoiturage``), as Eclor serves them: search open to all,
bookings and messages for operators with a key (``Authorization: Bearer``,
``X-Api-Key``), errors as ``{"error": "..."}``. The tests validate Eclor's
requests and answers against the standard's file itself.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

_ERROR: Json = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "why (missing_booking …)"}},
}
_WORDS = {
    400: "Bad request: a missing or invalid parameter or body",
    401: "No operator key, or an unknown or revoked one",
    404: "No such journey, booking or user (missing_journey, missing_booking)",
    409: "Conflict: status_already_set, booking_already_exists, no seat left",
}
_USER: Json = {
    "type": "object",
    "required": ["id", "operator", "alias"],
    "properties": {
        "id": {"type": "string"},
        "operator": {"type": "string"},
        "alias": {"type": "string"},
    },
}
_STATUS: Json = {
    "type": "string",
    "enum": [
        "WAITING_CONFIRMATION",
        "CONFIRMED",
        "CANCELLED",
        "COMPLETED_PENDING_VALIDATION",
        "VALIDATED",
    ],
}
_BOOKING: Json = {
    "type": "object",
    "required": [
        "id",
        "driver",
        "passenger",
        "passengerPickupDate",
        "passengerPickupLat",
        "passengerPickupLng",
        "passengerDropLat",
        "passengerDropLng",
        "status",
        "price",
    ],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "driver": _USER,
        "passenger": _USER,
        "passengerPickupDate": {"type": "integer", "description": "UNIX UTC seconds"},
        "passengerPickupLat": {"type": "number"},
        "passengerPickupLng": {"type": "number"},
        "passengerDropLat": {"type": "number"},
        "passengerDropLng": {"type": "number"},
        "passengerPickupAddress": {"type": "string"},
        "passengerDropAddress": {"type": "string"},
        "status": _STATUS,
        "duration": {"type": "integer"},
        "distance": {"type": "integer"},
        "webUrl": {"type": "string"},
        "price": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["FREE", "PAYING", "UNKNOWN"]},
                "amount": {"type": "number"},
                "currency": {"type": "string"},
            },
        },
        "driverJourneyId": {"type": "string"},
        "passengerJourneyId": {"type": "string"},
    },
}
_KEY: Json = {
    "name": "Authorization",
    "in": "header",
    "required": False,
    "description": "Bearer KEY, the key from `eclor carpool operator add NAME` (or X-Api-Key: KEY)",
    "schema": {"type": "string"},
}


def _errors(*codes: int) -> dict[str, Json]:
    return {
        str(code): {
            "description": _WORDS[code],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for code in codes
    }


def _query(name: str, schema: Json, description: str, required: bool = False) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def _op(operation_id: str, tag: str, summary: str, parameters: list[Json], responses: Json) -> Json:
    return {
        "tags": [f"standard-covoiturage: {tag}"],
        "summary": summary,
        "operationId": operation_id,
        "parameters": parameters,
        "responses": responses,
    }


def paths() -> dict[str, Json]:
    where = [
        _query("departureLat", {"type": "number"}, "latitude of the departure", True),
        _query("departureLng", {"type": "number"}, "longitude of the departure", True),
        _query("arrivalLat", {"type": "number"}, "latitude of the arrival", True),
        _query("arrivalLng", {"type": "number"}, "longitude of the arrival", True),
    ]
    around = [
        _query("timeDelta", {"type": "integer", "default": 900}, "seconds around the time"),
        _query("departureRadius", {"type": "number", "default": 1.0}, "km"),
        _query("arrivalRadius", {"type": "number", "default": 1.0}, "km"),
        _query("count", {"type": "integer"}, "at most this many results"),
    ]
    punctual = [
        *where,
        _query("departureDate", {"type": "integer"}, "UNIX UTC seconds", True),
        *around,
    ]
    regular = [
        *where,
        _query("departureTimeOfDay", {"type": "string"}, "RFC 3339 partial time (07:30:00)", True),
        _query(
            "departureWeekdays",
            {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
                },
            },
            "days, comma-separated (default: every day)",
        ),
        *around,
        _query("minDepartureDate", {"type": "integer"}, "UNIX UTC seconds"),
        _query("maxDepartureDate", {"type": "integer"}, "UNIX UTC seconds"),
    ]
    listed = {"type": "array", "items": {"type": "object"}}

    def search(operation_id: str, summary: str, parameters: list[Json]) -> Json:
        return {
            "get": _op(
                operation_id,
                "Search",
                summary,
                parameters,
                {
                    "200": {
                        "description": "The matches",
                        "content": {"application/json": {"schema": listed}},
                    },
                    **_errors(400),
                },
            )
        }

    booking_id = {
        "name": "booking_id",
        "in": "path",
        "required": True,
        "description": "the Booking's id (a UUID)",
        "schema": {"type": "string"},
    }
    message = {
        "type": "object",
        "required": ["from", "to", "message", "recipientCarpoolerType"],
        "properties": {
            "from": _USER,
            "to": _USER,
            "message": {"type": "string", "maxLength": 500},
            "recipientCarpoolerType": {"type": "string", "enum": ["DRIVER", "PASSENGER"]},
            "driverJourneyId": {"type": "string"},
            "passengerJourneyId": {"type": "string"},
            "bookingId": {"type": "string"},
        },
    }
    return {
        "/api/carpool/driver_journeys": search(
            "getDriverJourneys", "Punctual driver journeys around a date", punctual
        ),
        "/api/carpool/passenger_journeys": search(
            "getPassengerJourneys", "Punctual passenger journeys around a date", punctual
        ),
        "/api/carpool/driver_regular_trips": search(
            "getDriverRegularTrips", "Regular driver trips (weekly schedules in UTC)", regular
        ),
        "/api/carpool/passenger_regular_trips": search(
            "getPassengerRegularTrips", "Regular passenger trips (weekly schedules in UTC)", regular
        ),
        "/api/carpool/status": {
            "get": _op(
                "getStatus",
                "status",
                "Health of the service",
                [],
                {
                    "200": {
                        "description": "Available",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            )
        },
        "/api/carpool/bookings": {
            "post": {
                **_op(
                    "postBookings",
                    "Interact",
                    "An operator's user books an Eclor journey (status WAITING_CONFIRMATION)",
                    [_KEY],
                    {
                        "201": {
                            "description": "Booked; the Eclor member confirms in the app",
                            "content": {"application/json": {"schema": _BOOKING}},
                        },
                        **_errors(400, 401, 404, 409),
                    },
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _BOOKING}},
                },
            }
        },
        "/api/carpool/bookings/{booking_id}": {
            "get": _op(
                "getBookings",
                "Interact",
                "A booking this operator made",
                [booking_id, _KEY],
                {
                    "200": {
                        "description": "The booking",
                        "content": {"application/json": {"schema": _BOOKING}},
                    },
                    **_errors(400, 401, 404),
                },
            ),
            "patch": _op(
                "patchBookings",
                "Interact",
                "The operator's user cancels (CANCELLED), with an optional message",
                [
                    booking_id,
                    _query("status", _STATUS, "the new status", True),
                    _query("message", {"type": "string", "maxLength": 500}, "why"),
                    _KEY,
                ],
                {"200": {"description": "Changed"}, **_errors(400, 401, 404, 409)},
            ),
        },
        "/api/carpool/messages": {
            "post": {
                **_op(
                    "postConnections",
                    "Interact",
                    "A message from an operator's user to the Eclor member of a journey or booking",
                    [_KEY],
                    {"201": {"description": "Sent"}, **_errors(400, 401, 404)},
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": message}},
                },
            }
        },
    }

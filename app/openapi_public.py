"""The public APIs in Eclor's OpenAPI document, described as a generated client needs them.

Litestar describes a route from its handler's signature, which says little
about routes such as ``/open311/v2/{name}`` (one handler, several documents
and two formats chosen by the name's suffix). :func:`describe` replaces
those generic entries with one operation per document: its parameters, its
form body, every status code it answers and each media type (JSON, XML,
``application/ld+json``, CAP); the NGSI-LD API (``app.openapi_ngsi``), open
data, participation results and RDEX+ (``app.openapi_data``) and the
standard-covoiturage API (``app.openapi_carpool``) likewise.
Served by the ``/schema`` render plugins.
"""

from __future__ import annotations

import copy
from typing import Any

from litestar.connection import Request
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin

from app import openapi_carpool, openapi_data, openapi_ngsi

Json = dict[str, Any]

_NULLABLE_STRING: Json = {"type": ["string", "null"]}
_ERROR_ITEM: Json = {
    "type": "object",
    "required": ["code", "description"],
    "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
}
_OPEN311_ERRORS: Json = {"type": "array", "items": _ERROR_ITEM, "minItems": 1}
_FORMAT: Json = {
    "name": "format",
    "in": "path",
    "required": True,
    "description": "json or xml",
    "schema": {"type": "string", "enum": ["json", "xml"]},
}
_REQUEST_ROW: Json = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "properties": {
        "service_request_id": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "status_notes": _NULLABLE_STRING,
        "service_name": _NULLABLE_STRING,
        "service_code": {"type": "string"},
        "description": _NULLABLE_STRING,
        "agency_responsible": _NULLABLE_STRING,
        "service_notice": _NULLABLE_STRING,
        "requested_datetime": {"type": "string", "format": "date-time"},
        "updated_datetime": {"type": ["string", "null"], "format": "date-time"},
        "expected_datetime": {"type": ["string", "null"], "format": "date-time"},
        "address": _NULLABLE_STRING,
        "address_id": _NULLABLE_STRING,
        "zipcode": _NULLABLE_STRING,
        "lat": {"type": ["number", "null"]},
        "long": {"type": ["number", "null"]},
        "media_url": _NULLABLE_STRING,
    },
}
_SERVICE: Json = {
    "type": "object",
    "required": ["service_code", "service_name", "metadata", "type"],
    "properties": {
        "service_code": {"type": "string"},
        "service_name": {"type": "string"},
        "description": _NULLABLE_STRING,
        "metadata": {"type": "boolean"},
        "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
        "keywords": _NULLABLE_STRING,
        "group": _NULLABLE_STRING,
    },
}


def _open311_answer(description: str, schema: Json) -> Json:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": schema},
            "text/xml": {"schema": {"type": "string"}},
        },
    }


def _open311_errors(*codes: int) -> dict[str, Json]:
    words = {
        400: "Bad parameter (the spec's error list, in the request's language)",
        403: "api_key missing, unknown or revoked",
        404: "Unknown document, format, service_code or id",
        405: "Method not allowed by GeoReport v2 (Allow says which are)",
        429: "Too many requests with this api_key",
    }
    return {str(code): _open311_answer(words[code], _OPEN311_ERRORS) for code in codes}


def _open311_paths() -> dict[str, Json]:
    tags = ["Open311 GeoReport v2"]
    row_list = {"type": "array", "items": _REQUEST_ROW}
    date = {"type": "string", "format": "date-time"}
    post_body = {
        "type": "object",
        "required": ["api_key", "service_code"],
        "properties": {
            "api_key": {"type": "string", "description": "issued by staff"},
            "service_code": {"type": "string"},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {"type": "number", "minimum": -180, "maximum": 180},
            "address_id": {"type": "string", "description": "a BAN id (57038_0150_00012)"},
            "address_string": {"type": "string", "maxLength": 200},
            "description": {"type": "string", "maxLength": 4000},
            "email": {"type": "string", "format": "email"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "phone": {"type": "string"},
            "device_id": {"type": "string"},
            "account_id": {"type": "string"},
            "media_url": {"type": "string", "format": "uri"},
            "media": {"type": "string", "format": "binary", "description": "a photo"},
            "attribute[volume]": {"type": "string"},
            "attribute[witnessed]": {"type": "string", "enum": ["yes", "no"]},
            "attribute[contents][]": {"type": "array", "items": {"type": "string"}},
        },
    }
    query = [
        ("service_request_id", "comma-separated ids; other filters are then ignored"),
        ("service_code", "comma-separated service codes"),
        ("start_date", "ISO 8601 with a zone; at most 90 days before end_date"),
        ("end_date", "ISO 8601 with a zone; default now"),
        ("status", "open, closed or open,closed"),
    ]
    return {
        "/open311/v2/discovery.{format}": {
            "get": {
                "tags": tags,
                "summary": "Service discovery",
                "operationId": "open311Discovery",
                "parameters": [_FORMAT],
                "responses": {
                    "200": _open311_answer("The endpoints and their formats", {"type": "object"}),
                    **_open311_errors(404),
                },
            },
            "post": _method_not_allowed(tags, "open311DiscoveryPost"),
        },
        "/open311/v2/services.{format}": {
            "get": {
                "tags": tags,
                "summary": "Services (report categories)",
                "operationId": "open311Services",
                "parameters": [_FORMAT],
                "responses": {
                    "200": _open311_answer("The services", {"type": "array", "items": _SERVICE}),
                    **_open311_errors(404),
                },
            },
            "post": _method_not_allowed(tags, "open311ServicesPost"),
        },
        "/open311/v2/services/{service_code}.{format}": {
            "get": {
                "tags": tags,
                "summary": "A service definition (its attributes)",
                "operationId": "open311ServiceDefinition",
                "parameters": [_path("service_code"), _FORMAT],
                "responses": {
                    "200": _open311_answer("The service definition", {"type": "object"}),
                    **_open311_errors(404),
                },
            }
        },
        "/open311/v2/requests.{format}": {
            "get": {
                "tags": tags,
                "summary": "Service requests (public reports)",
                "operationId": "open311Requests",
                "parameters": [
                    _FORMAT,
                    *(
                        {
                            "name": name,
                            "in": "query",
                            "required": False,
                            "description": text,
                            "schema": date if name.endswith("_date") else {"type": "string"},
                        }
                        for name, text in query
                    ),
                ],
                "responses": {
                    "200": _open311_answer("At most 1000 requests", row_list),
                    **_open311_errors(400, 404),
                },
            },
            "post": {
                "tags": tags,
                "summary": "Report from a partner application",
                "operationId": "open311CreateRequest",
                "parameters": [_FORMAT],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": post_body},
                        "multipart/form-data": {"schema": post_body},
                    },
                },
                "responses": {
                    "201": _open311_answer(
                        "The new request's id (never also a token)",
                        {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["service_request_id"],
                                "properties": {
                                    "service_request_id": {"type": "string"},
                                    "service_notice": _NULLABLE_STRING,
                                    "account_id": _NULLABLE_STRING,
                                },
                            },
                        },
                    ),
                    **_open311_errors(400, 403, 404, 429),
                },
            },
            "put": _method_not_allowed(tags, "open311RequestsPut"),
            "delete": _method_not_allowed(tags, "open311RequestsDelete"),
        },
        "/open311/v2/requests/{service_request_id}.{format}": {
            "get": {
                "tags": tags,
                "summary": "One service request",
                "operationId": "open311Request",
                "parameters": [_path("service_request_id"), _FORMAT],
                "responses": {
                    "200": _open311_answer("The request, in a list of one", row_list),
                    **_open311_errors(404),
                },
            }
        },
        "/open311/v2/tokens/{token}.{format}": {
            "get": {
                "tags": tags,
                "summary": "The request id of a token",
                "operationId": "open311Token",
                "parameters": [_path("token"), _FORMAT],
                "responses": {
                    "200": _open311_answer("The id the token stands for", {"type": "array"}),
                    **_open311_errors(404),
                },
            }
        },
    }


def _path(name: str, schema: Json | None = None) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def _method_not_allowed(tags: list[str], operation_id: str) -> Json:
    return {
        "tags": tags,
        "summary": "Not allowed by GeoReport v2",
        "operationId": operation_id,
        "parameters": [_FORMAT],
        "responses": _open311_errors(405),
    }


def _alerts_paths() -> dict[str, Json]:
    return {
        "/alerts/{alert_id}.cap": {
            "get": {
                "tags": ["Alerts"],
                "summary": "An alert as a CAP 1.2 message",
                "description": "An imported message byte for byte, in the charset it declares; "
                "Eclor's own alerts written as CAP 1.2 (one area per commune).",
                "operationId": "alertCap",
                "parameters": [_path("alert_id", {"type": "integer", "minimum": 1})],
                "responses": {
                    "200": {
                        "description": "The CAP 1.2 document",
                        "content": {"application/cap+xml": {"schema": {"type": "string"}}},
                    },
                    "404": {
                        "description": "No such alert",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    },
                },
            }
        }
    }


def describe(schema: Json) -> Json:
    """The OpenAPI document with the public APIs described fully (a copy; the input is kept)."""
    out = copy.deepcopy(schema)
    paths: dict[str, Json] = out.setdefault("paths", {})
    for generic in (
        "/open311/v2/{name}",
        "/open311/v2/services/{name}",
        "/open311/v2/requests/{name}",
        "/open311/v2/tokens/{name}",
    ):
        paths.pop(generic, None)
    paths.update(_open311_paths())
    paths.update(_alerts_paths())
    for described in (openapi_ngsi.paths(), openapi_data.paths(), openapi_carpool.paths()):
        # only the routes this app has (a domain left out of the registry has none)
        paths.update({path: item for path, item in described.items() if path in paths})
    return out


class PublicJsonRenderPlugin(JsonRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, describe(openapi_schema))


class PublicYamlRenderPlugin(YamlRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, describe(openapi_schema))

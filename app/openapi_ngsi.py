"""The NGSI-LD API in Eclor's OpenAPI document (read by :func:`app.openapi_public.describe`).

Every operation under ``/ngsi-ld/v1/``: its query parameters, its answers
in the three representations NGSI-LD defines (``application/json``,
``application/ld+json``, ``application/geo+json`` where it applies) and its
errors as ProblemDetails (``{"type": "https://uri.etsi.org/ngsi-ld/errors/...",
"title", "detail"}``), as the routes in ``app/routes/ngsi_ld.py``,
``ngsi_subscriptions.py`` and the temporal route answer them.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

PROBLEM: Json = {
    "type": "object",
    "required": ["type", "title"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "detail": {"type": "string"},
    },
}
_WORDS = {
    400: "Bad request: a parameter or the body is not valid (ProblemDetails)",
    401: "No API key, or an unknown or revoked one (X-Api-Key) (ProblemDetails)",
    403: "Staff without the CSRF header (ProblemDetails)",
    404: "No such entity, type, attribute or subscription (ProblemDetails)",
    406: "None of the accepted media types (ProblemDetails)",
    409: "A subscription with this id exists (ProblemDetails)",
    415: "A body neither application/json nor application/ld+json (ProblemDetails)",
}
_ENTITY: Json = {
    "type": "object",
    "required": ["id", "type"],
    "properties": {"id": {"type": "string", "format": "uri"}, "type": {"type": "string"}},
    "additionalProperties": True,
}
_FEATURE: Json = {
    "type": "object",
    "required": ["type", "id", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"type": "string"},
        "geometry": {"type": ["object", "null"]},
        "properties": {"type": "object"},
    },
}
_SUBSCRIPTION: Json = {
    "type": "object",
    "required": ["type", "notification"],
    "properties": {
        "id": {"type": "string", "format": "uri"},
        "type": {"type": "string", "enum": ["Subscription"]},
        "entities": {"type": "array", "items": {"type": "object"}},
        "watchedAttributes": {"type": "array", "items": {"type": "string"}},
        "q": {"type": "string"},
        "throttling": {"type": "number", "minimum": 0},
        "expiresAt": {"type": "string", "format": "date-time"},
        "isActive": {"type": "boolean"},
        "notification": {
            "type": "object",
            "required": ["endpoint"],
            "properties": {
                "attributes": {"type": "array", "items": {"type": "string"}},
                "format": {"type": "string", "enum": ["normalized", "keyValues", "concise"]},
                "endpoint": {
                    "type": "object",
                    "required": ["uri"],
                    "properties": {
                        "uri": {"type": "string", "format": "uri"},
                        "accept": {"type": "string"},
                    },
                },
            },
        },
    },
}
_API_KEY: Json = {
    "name": "X-Api-Key",
    "in": "header",
    "required": False,
    "description": "an NGSI-LD API key (staff signed in use their session and the CSRF header)",
    "schema": {"type": "string"},
}


def errors(*codes: int) -> dict[str, Json]:
    return {
        str(code): {
            "description": _WORDS[code],
            "content": {"application/json": {"schema": PROBLEM}},
        }
        for code in codes
    }


def _query(name: str, description: str, schema: Json | None = None) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str, description: str) -> Json:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _answer(description: str, schema: Json, *, geo: Json | None = None) -> Json:
    content: Json = {
        "application/json": {"schema": schema},
        "application/ld+json": {"schema": schema},
    }
    if geo is not None:
        content["application/geo+json"] = {"schema": geo}
    return {"description": description, "content": content}


def _op(operation_id: str, summary: str, parameters: list[Json], responses: Json) -> Json:
    return {
        "tags": ["NGSI-LD"],
        "summary": summary,
        "operationId": operation_id,
        "parameters": parameters,
        "responses": responses,
    }


_REPRESENTATION = [
    _query("attrs", "attributes to return, comma-separated"),
    _query("pick", "attributes to return, comma-separated"),
    _query("omit", "attributes to leave out, comma-separated"),
    _query("options", "keyValues (or simplified), concise, normalized"),
    _query("format", "keyValues, concise or normalized"),
    _query("geometryProperty", "the GeoProperty a GeoJSON answer places the feature by"),
]
_LISTING = [
    _query("details", "true: the full description of each", {"type": "string"}),
    _query("local", "true: this broker only (always the case here)", {"type": "string"}),
]


def paths() -> dict[str, Json]:
    entities = {"type": "array", "items": _ENTITY}
    collection = {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _FEATURE},
        },
    }
    search = [
        _query("type", "entity types, comma-separated"),
        _query("id", "entity ids, comma-separated"),
        _query("idPattern", "a regular expression on ids"),
        _query("q", "NGSI-LD query language"),
        _query("georel", "near;maxDistance==…, within, intersects, disjoint"),
        _query("geometry", "Point, Polygon…"),
        _query("coordinates", "GeoJSON coordinates"),
        _query("count", "true: the total in the NGSILD-Results-Count header"),
        *_REPRESENTATION,
        _query("limit", "page size", {"type": "integer", "minimum": 0, "maximum": 1000}),
        _query("offset", "first result", {"type": "integer", "minimum": 0}),
    ]
    listing = {"type": ["array", "object"]}
    sub_list = {"type": "array", "items": _SUBSCRIPTION}
    temporal = [
        _query("timerel", "before, after or between", {"enum": ["before", "after", "between"]}),
        _query("timeAt", "ISO 8601 instant (with timerel)", {"type": "string"}),
        _query("endTimeAt", "ISO 8601 instant (with timerel=between)", {"type": "string"}),
        _query("attrs", "measures to return, comma-separated"),
        _query("aggrMethods", "totalCount, sum, avg, min, max… (with options=aggregatedValues)"),
        _query("aggrPeriodDuration", "ISO 8601 duration of each aggregation period (PT1H, P1D…)"),
        _query("lastN", "the last N instances", {"type": "integer", "minimum": 1}),
        _query("options", "temporalValues, aggregatedValues"),
        _query("format", "temporalValues, aggregatedValues"),
    ]
    sub_id = _path("sub_id", "the subscription's id (a URI)")
    return {
        "/ngsi-ld/v1/entities": {
            "get": _op(
                "ngsiEntities",
                "Query entities",
                search,
                {
                    "200": _answer("The entities of the page", entities, geo=collection),
                    **errors(400, 406),
                },
            )
        },
        "/ngsi-ld/v1/entities/{entity_id}": {
            "get": _op(
                "ngsiEntity",
                "One entity",
                [_path("entity_id", "a URI (urn:ngsi-ld:Streetlight:…)"), *_REPRESENTATION],
                {"200": _answer("The entity", _ENTITY, geo=_FEATURE), **errors(400, 404, 406)},
            )
        },
        "/ngsi-ld/v1/context.jsonld": {
            "get": _op(
                "ngsiContext",
                "Eclor's @context (Smart Data Models terms)",
                [],
                {
                    "200": {
                        "description": "The JSON-LD context",
                        "content": {
                            "application/ld+json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["@context"],
                                    "properties": {"@context": {}},
                                }
                            }
                        },
                    }
                },
            )
        },
        "/ngsi-ld/v1/types": {
            "get": _op(
                "ngsiTypes",
                "Entity types served",
                _LISTING,
                {
                    "200": _answer("An EntityTypeList, or EntityType details", listing),
                    **errors(400, 406),
                },
            )
        },
        "/ngsi-ld/v1/types/{name}": {
            "get": _op(
                "ngsiType",
                "One entity type (its attributes and count)",
                [_path("name", "a type name or its expanded URI"), *_LISTING],
                {
                    "200": _answer("The EntityTypeInfo", {"type": "object"}),
                    **errors(400, 404, 406),
                },
            )
        },
        "/ngsi-ld/v1/attributes": {
            "get": _op(
                "ngsiAttributes",
                "Attributes served",
                _LISTING,
                {
                    "200": _answer("An AttributeList, or Attribute details", listing),
                    **errors(400, 406),
                },
            )
        },
        "/ngsi-ld/v1/attributes/{name}": {
            "get": _op(
                "ngsiAttribute",
                "One attribute (the types that have it)",
                [_path("name", "an attribute name or its expanded URI"), *_LISTING],
                {"200": _answer("The Attribute", {"type": "object"}), **errors(400, 404, 406)},
            )
        },
        "/ngsi-ld/v1/subscriptions": {
            "get": _op(
                "ngsiSubscriptions",
                "The caller's subscriptions",
                [
                    _API_KEY,
                    _query(
                        "limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000}
                    ),
                    _query("offset", "first result", {"type": "integer", "minimum": 0}),
                    _query("count", "true: the total in the NGSILD-Results-Count header"),
                ],
                {"200": _answer("The subscriptions", sub_list), **errors(400, 401, 403, 406)},
            ),
            "post": {
                **_op(
                    "ngsiSubscriptionCreate",
                    "Subscribe to changes (notifications POSTed to the endpoint)",
                    [_API_KEY],
                    {
                        "201": {
                            "description": "Created; Location gives its address",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                        },
                        **errors(400, 401, 403, 409, 415),
                    },
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _SUBSCRIPTION},
                        "application/ld+json": {"schema": _SUBSCRIPTION},
                    },
                },
            },
        },
        "/ngsi-ld/v1/subscriptions/{sub_id}": {
            "get": _op(
                "ngsiSubscription",
                "One of the caller's subscriptions",
                [sub_id, _API_KEY],
                {
                    "200": _answer("The subscription", _SUBSCRIPTION),
                    **errors(400, 401, 403, 404, 406),
                },
            ),
            "patch": {
                **_op(
                    "ngsiSubscriptionUpdate",
                    "Change a subscription",
                    [sub_id, _API_KEY],
                    {"204": {"description": "Changed"}, **errors(400, 401, 403, 404, 415)},
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/merge-patch+json": {"schema": {"type": "object"}},
                        "application/ld+json": {"schema": {"type": "object"}},
                    },
                },
            },
            "delete": _op(
                "ngsiSubscriptionDelete",
                "Remove a subscription",
                [sub_id, _API_KEY],
                {"204": {"description": "Removed"}, **errors(400, 401, 403, 404)},
            ),
        },
        "/ngsi-ld/v1/temporal/entities/{entity_id}": {
            "get": _op(
                "ngsiTemporalEntity",
                "History of an entity (temporal representation, aggregations)",
                [_path("entity_id", "a URI of a light, group or sensor"), *temporal],
                {
                    "200": {
                        "description": "The temporal representation; the Link header names @context",
                        "content": {"application/json": {"schema": _ENTITY}},
                    },
                    **errors(400, 404),
                },
            )
        },
    }

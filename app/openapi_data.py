"""Open data, participation results and RDEX+ in Eclor's OpenAPI document (read by
:func:`app.openapi_public.describe`).

``/data``: the catalogue in DCAT-AP 3 (JSON-LD, Turtle, RDF/XML), each dataset's
page and snapshot files (``{slug}.csv``, ``{slug}.geojson``,
``{slug}.schema.json``), its live stream (Server-Sent Events) and the form to
report an error in it. ``/api/participation``: a budget's results and a
proposal. ``/api/rdex/journeys``: carpool offers in RDEX+ 2.0.1 form.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

_HTML: Json = {"text/html": {"schema": {"type": "string"}}}
_NULLABLE_STRING: Json = {"type": ["string", "null"]}
_TOO_MANY: Json = {
    "description": "Over the documented rate limit (Retry-After says when to come back)",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    "content": _HTML,
}
_SLUG: Json = {
    "name": "slug",
    "in": "path",
    "required": True,
    "description": "a dataset's slug (signalements, trafic-frontalier, qualite-air…)",
    "schema": {"type": "string", "pattern": "^[a-z0-9-]+$"},
}


def _get(
    operation_id: str, tags: list[str], summary: str, parameters: list[Json], responses: Json
) -> Json:
    return {
        "get": {
            "tags": tags,
            "summary": summary,
            "operationId": operation_id,
            "parameters": parameters,
            "responses": responses,
        }
    }


def _opendata_paths() -> dict[str, Json]:
    tags = ["Open data"]
    catalogue = {
        "jsonld": ("application/ld+json", {"type": ["object", "array"]}),
        "ttl": ("text/turtle", {"type": "string"}),
        "rdf": ("application/rdf+xml", {"type": "string"}),
    }
    out: dict[str, Json] = {
        "/data": _get(
            "opendataPage",
            tags,
            "The catalogue page for people (freshness, licence, downloads)",
            [],
            {"200": {"description": "The page", "content": _HTML}},
        )
    }
    for fmt, (media, schema) in catalogue.items():
        out[f"/data/catalog.{fmt}"] = _get(
            f"opendataCatalog{fmt.capitalize()}",
            tags,
            f"The DCAT-AP 3 catalogue ({media})",
            [],
            {
                "200": {"description": "The catalogue", "content": {media: {"schema": schema}}},
                "429": _TOO_MANY,
            },
        )
    csv_text = {"type": "string", "description": "UTF-8 CSV with a header row"}
    collection = {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"type": "object"}},
        },
    }
    table_schema = {
        "type": "object",
        "required": ["fields"],
        "properties": {"fields": {"type": "array", "items": {"type": "object"}}},
    }
    out["/data/{name}"] = _get(
        "opendataDataset",
        tags,
        "A dataset: its page ({slug}) or a snapshot file ({slug}.csv, .geojson, .schema.json)",
        [
            {
                "name": "name",
                "in": "path",
                "required": True,
                "description": "slug, or slug.csv, slug.geojson, slug.schema.json",
                "schema": {"type": "string"},
            }
        ],
        {
            "200": {
                "description": "The page, or the file (CSV, GeoJSON, Table Schema)",
                "content": {
                    **_HTML,
                    "text/csv": {"schema": csv_text},
                    "application/geo+json": {"schema": collection},
                    "application/json": {"schema": table_schema},
                },
            },
            "404": {"description": "No such dataset, file or format", "content": _HTML},
            "429": _TOO_MANY,
        },
    )
    out["/data/{slug}/live"] = _get(
        "opendataLive",
        tags,
        "The dataset's live stream: each new public row as a Server-Sent Event (Last-Event-ID resumes)",
        [
            _SLUG,
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
        ],
        {
            "200": {
                "description": "Events (data: the row as JSON, keyed by the CSV's columns)",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            "404": {"description": "No such dataset, or it has no live form", "content": _HTML},
            "429": _TOO_MANY,
        },
    )
    out["/data/{slug}/issues"] = {
        "post": {
            "tags": tags,
            "summary": "Report an error in a dataset (answered by staff)",
            "operationId": "opendataIssue",
            "parameters": [_SLUG],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["body"],
                            "properties": {"body": {"type": "string", "maxLength": 2000}},
                        }
                    }
                },
            },
            "responses": {
                "303": {"description": "Recorded: back to the dataset's page"},
                "400": {
                    "description": "Empty or too long (the page, with the reason)",
                    "content": _HTML,
                },
                "403": {"description": "CSRF token missing or wrong", "content": _HTML},
                "404": {"description": "No such dataset", "content": _HTML},
                "429": _TOO_MANY,
            },
        }
    }
    return out


def _participation_paths() -> dict[str, Json]:
    tags = ["Participation"]
    not_found = {
        "description": "No such budget or proposal (or hidden)",
        "content": {"application/json": {"schema": {"type": "object"}}, **_HTML},
    }
    results = {
        "type": "object",
        "required": ["budget", "closed", "projects", "ballots_by_channel", "ballots_by_commune"],
        "properties": {
            "budget": {
                "type": "object",
                "required": ["id", "title", "envelope_eur", "mode", "phase"],
                "properties": {
                    "id": {"type": "integer"},
                    "title": {"type": "string"},
                    "commune": _NULLABLE_STRING,
                    "envelope_eur": {"type": "integer"},
                    "mode": {"type": "string"},
                    "phase": {"type": "string"},
                },
            },
            "closed": {"type": "boolean", "description": "results published (results or works)"},
            "projects": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "title", "cost_eur", "votes", "selected"],
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "cost_eur": {"type": "integer"},
                        "votes_online": {"type": "integer"},
                        "votes_paper": {"type": "integer"},
                        "votes": {"type": "integer"},
                        "selected": {"type": "boolean"},
                    },
                },
            },
            "ballots_by_channel": {"type": "object", "additionalProperties": {"type": "integer"}},
            "ballots_by_commune": {"type": "object"},
        },
    }
    comment = {
        "type": "object",
        "required": ["id", "body", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "body": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    proposal = {
        "type": "object",
        "required": ["id", "title", "body", "status", "supports", "created_at", "comments"],
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "body": {"type": "string"},
            "commune": _NULLABLE_STRING,
            "place": _NULLABLE_STRING,
            "lat": {"type": ["number", "null"]},
            "lon": {"type": ["number", "null"]},
            "status": {"type": "string"},
            "status_reason": _NULLABLE_STRING,
            "supports": {"type": "integer", "minimum": 0},
            "created_at": {"type": "string", "format": "date-time"},
            "comments": {"type": "array", "items": comment},
        },
    }

    consultation = {
        "type": "object",
        "required": ["consultation", "closed", "responses", "questions"],
        "properties": {
            "consultation": {
                "type": "object",
                "required": ["id", "title", "communes", "opens_at", "closes_at", "state"],
                "properties": {
                    "id": {"type": "integer"},
                    "title": {"type": "string"},
                    "communes": {"type": "array", "items": {"type": "string"}},
                    "opens_at": {"type": "string", "format": "date-time"},
                    "closes_at": {"type": "string", "format": "date-time"},
                    "state": {"type": "string"},
                },
            },
            "closed": {"type": "boolean", "description": "results published"},
            "responses": {"type": ["integer", "null"], "minimum": 0},
            "questions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "kind", "label", "respondents", "options"],
                    "properties": {
                        "id": {"type": "integer"},
                        "kind": {"type": "string"},
                        "label": {"type": "string"},
                        "respondents": {"type": ["integer", "null"]},
                        "options": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["label"],
                                "properties": {
                                    "label": {"type": "string"},
                                    "count": {"type": ["integer", "null"]},
                                    "points": {"type": ["integer", "null"]},
                                },
                            },
                        },
                        "texts": {"type": "array", "items": {"type": "string"}},
                        "places": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "lat": {"type": "number"},
                                    "lon": {"type": "number"},
                                },
                            },
                        },
                        "by_commune": {"type": ["object", "array", "null"]},
                    },
                },
            },
        },
    }

    def number(name: str) -> Json:
        return {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }

    return {
        "/api/participation/budgets/{budget_id}/results": _get(
            "participationResults",
            tags,
            "A participatory budget's results (projects ranked once the vote is closed)",
            [number("budget_id")],
            {
                "200": {
                    "description": "The results",
                    "content": {"application/json": {"schema": results}},
                },
                "404": not_found,
            },
        ),
        "/api/participation/consultations/{consultation_id}/results": _get(
            "participationConsultationResults",
            tags,
            "A consultation's results once it is closed (free texts only once staff read them)",
            [number("consultation_id")],
            {
                "200": {
                    "description": "The results",
                    "content": {"application/json": {"schema": consultation}},
                },
                "404": not_found,
            },
        ),
        "/api/participation/proposals/{proposal_id}": _get(
            "participationProposal",
            tags,
            "A resident's proposal, its supports and its published comments",
            [number("proposal_id")],
            {
                "200": {
                    "description": "The proposal",
                    "content": {"application/json": {"schema": proposal}},
                },
                "404": not_found,
            },
        ),
    }


def _rdex_paths() -> dict[str, Json]:
    point = {
        "type": "object",
        "required": ["latitude", "longitude"],
        "properties": {
            "latitude": {"type": "number"},
            "longitude": {"type": "number"},
            "address": {"type": "string"},
            "country": {"type": "string"},
        },
    }
    journey = {
        "type": "object",
        "required": ["id", "operator", "carpoolerType", "from", "to", "frequency"],
        "properties": {
            "id": {"type": "string"},
            "webUrl": {"type": "string", "format": "uri"},
            "type": {"type": "string"},
            "operator": {"type": "string"},
            "operatorUrl": {"type": "string"},
            "carpoolerType": {"type": "string", "enum": ["driver", "passenger"]},
            "user": {"type": "object", "required": ["id", "alias"]},
            "from": point,
            "to": point,
            "duration": {"type": "integer"},
            "distance": {"type": "integer"},
            "journeyPolyline": {"type": "string"},
            "frequency": {"type": "string", "enum": ["punctual", "regular"]},
            "isRoundTrip": {"type": "integer", "enum": [0, 1]},
            "isStopped": {"type": "integer", "enum": [0, 1]},
            "availableSeats": {"type": "integer"},
            "requestedSeats": {"type": "integer"},
            "price": {"type": "object"},
            "outward": {"type": "object"},
            "details": {"type": "string"},
        },
    }

    def query(name: str, schema: Json, description: str, required: bool = False) -> Json:
        return {
            "name": name,
            "in": "query",
            "required": required,
            "description": description,
            "schema": schema,
        }

    lat = {"type": "number", "minimum": -90, "maximum": 90}
    lon = {"type": "number", "minimum": -180, "maximum": 180}
    return {
        "/api/rdex/journeys": _get(
            "rdexJourneys",
            ["RDEX+"],
            "Carpool offers as RDEX+ 2.0.1 journeys",
            [
                query("departureLat", lat, "WGS 84", True),
                query("departureLng", lon, "WGS 84", True),
                query("arrivalLat", lat, "WGS 84", True),
                query("arrivalLng", lon, "WGS 84", True),
                query(
                    "carpoolerType",
                    {"type": "string", "enum": ["driver", "passenger", "both"]},
                    "who is sought",
                ),
                query("frequency", {"type": "string", "enum": ["punctual", "regular", "both"]}, ""),
                query("departureDate", {"type": "integer"}, "UNIX seconds"),
                query("maxDate", {"type": "integer"}, "UNIX seconds"),
                query(
                    "timeDelta", {"type": "integer", "minimum": 0}, "seconds around the departure"
                ),
                query("departureRadius", {"type": "number", "minimum": 0}, "km"),
                query("arrivalRadius", {"type": "number", "minimum": 0}, "km"),
                query("regularSchedule", {"type": "string"}, "JSON, as RDEX+ defines it"),
                query("count", {"type": "integer", "minimum": 1}, "at most this many journeys"),
            ],
            {
                "200": {
                    "description": "The journeys",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["journeys", "nbJourneys"],
                                "properties": {
                                    "journeys": {"type": "array", "items": journey},
                                    "nbJourneys": {"type": "integer", "minimum": 0},
                                },
                            }
                        }
                    },
                },
                "400": {
                    "description": "A missing or invalid parameter",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["errorCode", "errorMessage"],
                                "properties": {
                                    "errorCode": {"type": "string"},
                                    "errorMessage": {"type": "string"},
                                },
                            }
                        }
                    },
                },
            },
        )
    }


def paths() -> dict[str, Json]:
    return {**_opendata_paths(), **_participation_paths(), **_rdex_paths()}

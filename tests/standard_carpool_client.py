"""A small client of the standard-covoiturage API, written from its OpenAPI file alone.

It imports nothing of Eclor: it reads the published file, builds each call
from the operation's own parameters and schemas, refuses a call the file
does not allow (unknown or missing parameters), and checks every request
and answer with openapi-core. It stands for a regional MaaS aggregator.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse


def _keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(v) for v in value]
    return value


class StandardCarpoolClient:
    def __init__(
        self, http: httpx.Client, base_url: str, spec_file: Path, api_key: str = ""
    ) -> None:
        with spec_file.open(encoding="utf-8") as f:
            spec = _keys(yaml.safe_load(f))
        self.spec = spec
        served = copy.deepcopy(spec)
        served["servers"] = [{"url": base_url}]
        # The published file does not pass the OpenAPI checker (a string default for an array
        # parameter): it is used as it is.
        self.api = OpenAPI.from_dict(served, config=Config(spec_validator_cls=None))
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.operator = "maas.example.org"  # this aggregator's own operator name

    # --- the file's operations ----------------------------------------------------------

    def _parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        out = []
        for p in self.spec["paths"][path][method].get("parameters", []):
            if "$ref" in p:
                p = self.spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
            out.append(p)
        return out

    def call(
        self,
        method: str,
        path: str,
        *,
        path_params: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        template = path
        declared = {p["name"]: p for p in self._parameters(template, method) if p["in"] == "query"}
        query = {k: v for k, v in (query or {}).items() if v is not None}
        unknown = set(query) - set(declared)
        missing = {n for n, p in declared.items() if p.get("required") and n not in query}
        if unknown or missing:
            raise ValueError(f"{method.upper()} {template}: unknown {unknown}, missing {missing}")
        url_path = template.format(**(path_params or {}))
        headers = {"accept": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        mock = MockRequest(
            self.base_url,
            method,
            urlsplit(self.base_url).path + url_path,
            args=[(k, str(v)) for k, v in query.items()],
            data=content,
            headers=headers,
            content_type=headers.get("content-type", "application/json"),
        )
        self.api.validate_request(mock)
        response = self.http.request(
            method.upper(), self.base_url + url_path, params=query, content=content, headers=headers
        )
        self.api.validate_response(
            mock,
            MockResponse(
                response.content,
                status_code=response.status_code,
                headers=dict(response.headers),
                content_type=response.headers.get("content-type", "application/json").split(";")[0],
            ),
        )
        return response

    # --- what an aggregator does --------------------------------------------------------

    def status(self) -> httpx.Response:
        return self.call("get", "/status")

    def driver_journeys(self, **query: Any) -> list[dict[str, Any]]:
        r = self.call("get", "/driver_journeys", query=query)
        r.raise_for_status()
        found: list[dict[str, Any]] = r.json()
        return found

    def book(self, journey: dict[str, Any], me: dict[str, Any]) -> dict[str, Any]:
        """A Booking of a driver journey for ``me`` (the aggregator's user), as the file describes it."""
        booking = {
            "id": str(uuid.uuid4()),
            "driver": journey["driver"],
            "passenger": {**me, "operator": self.operator},
            "status": "WAITING_CONFIRMATION",
            "price": journey["price"],
            "passengerPickupDate": journey["passengerPickupDate"],
            "passengerPickupLat": journey["passengerPickupLat"],
            "passengerPickupLng": journey["passengerPickupLng"],
            "passengerDropLat": journey["passengerDropLat"],
            "passengerDropLng": journey["passengerDropLng"],
            "driverJourneyId": journey["id"],
        }
        r = self.call("post", "/bookings", body=booking)
        if r.status_code != 201:
            raise RuntimeError(f"booking refused: {r.status_code} {r.text}")
        created: dict[str, Any] = r.json()
        return created

    def booking(self, booking_id: str) -> dict[str, Any]:
        r = self.call("get", "/bookings/{bookingId}", path_params={"bookingId": booking_id})
        r.raise_for_status()
        found: dict[str, Any] = r.json()
        return found

    def message(self, booking: dict[str, Any], text: str) -> httpx.Response:
        body = {
            "from": booking["passenger"],
            "to": booking["driver"],
            "message": text,
            "recipientCarpoolerType": "DRIVER",
            "bookingId": booking["id"],
        }
        return self.call("post", "/messages", body=body)

    def cancel(self, booking_id: str, why: str = "") -> httpx.Response:
        return self.call(
            "patch",
            "/bookings/{bookingId}",
            path_params={"bookingId": booking_id},
            query={"status": "CANCELLED", "message": why or None},
        )

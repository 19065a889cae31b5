"""A TALQ gateway for tests, written from the TALQ 2.7.1 OpenAPI files alone (nothing from app/).

It serves the gateway API (``talq-api-gateway-2-7-1-online.json``) on a
loopback port, over http or https, and checks every request it gets against
the file with openapi-core, then each object that names its TALQ schema (a
``LevelState``, a ``ControlProgramOne``, a ``ccDay``...) against that schema
of the data model: openapi-core does not follow the files' discriminators, so
``{"name": "LevelState", "value": 300}`` would pass as a bare ``State``. A
request that fails gets 400 with ``TALQErrorMessage`` objects, as a strict
gateway would answer.

Playing the other side of Eclor:

- ``POST /override-commands``: answered 202, then, after ``feedback_delay_s``,
  the gateway reports the command in effect to the CMS (``PATCH /devices`` at
  ``cms_url``) for every device addressed, directly or through a group it
  holds: ``LampActuatorFunction.feedbackLightCommand`` (the command, with its
  ``cmsRefId``), ``actualLightState``, and ``LampMonitorFunction.activePower``;
- ``POST /groups``, ``/control-programs``, ``/calendars``, ``/assign-commands``:
  kept (201 / 202); ``GET /services``: its services;
- ``mode="silent"``: every request is read and never answered.

Its own requests to the CMS, and the CMS's answers, are kept in ``cms_exchanges``
for the test to check against ``talq-api-cms-2-7-1-online.json``.
"""

from __future__ import annotations

import copy
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

TALQ = Path(__file__).resolve().parents[1].parent / "shared" / "standards" / "talq"
GATEWAY_FILE = TALQ / "talq-api-gateway-2-7-1-online.json"
CMS_FILE = TALQ / "talq-api-cms-2-7-1-online.json"
MODEL_FILE = TALQ / "talq-data-model-2-7-1-online.json"
HOST = "http://talq.test"


@lru_cache(maxsize=4)
def openapi(path: Path, mount: str) -> OpenAPI:
    """A TALQ API file as published, its server set to where it is mounted (``HOST + mount``).

    Its references into the data model file (``./talq-data-model-2-7-1-online.json#/...``) are
    pointed at a copy of the data model's schemas in the same document: the same schemas, read
    once with ``json`` instead of openapi-core's loader (which re-reads the 3 MB file as YAML).
    """
    text = path.read_text(encoding="utf-8").replace(f"./{MODEL_FILE.name}#", "#")
    spec = json.loads(text)
    spec["servers"] = [{"url": HOST + mount}]
    model = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    spec.setdefault("components", {}).setdefault("schemas", {}).update(
        model["components"]["schemas"]
    )
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@lru_cache(maxsize=1)
def _model() -> tuple[dict[str, Any], Registry]:
    model = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    resource = Resource.from_contents(model, default_specification=DRAFT4)
    return model["components"]["schemas"], Registry().with_resource(MODEL_FILE.as_uri(), resource)


def schema_errors(name: str, instance: Any) -> list[str]:
    """Errors of ``instance`` against the data model's schema ``name`` (formats checked)."""
    _schemas, registry = _model()
    validator = OAS30Validator(
        {"$ref": f"{MODEL_FILE.as_uri()}#/components/schemas/{name}"},
        registry=registry,
        format_checker=OAS30Validator.FORMAT_CHECKER,
    )
    return [f"{name}: {e.message}" for e in validator.iter_errors(instance)]


def named_schema_errors(instance: Any) -> list[str]:
    """Every object under ``instance`` that names a data-model schema (by ``type`` or ``name``),
    checked against it: what the files' discriminators mean."""
    schemas, _registry = _model()
    errors: list[str] = []
    if isinstance(instance, dict):
        for key in ("type", "name"):
            named = instance.get(key)
            if isinstance(named, str) and named in schemas and named != "Service":
                errors += schema_errors(named, instance)
        for value in instance.values():
            errors += named_schema_errors(value)
    elif isinstance(instance, list):
        for value in instance:
            errors += named_schema_errors(value)
    return errors


def check_request(
    api: OpenAPI,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
    mount: str,
) -> list[str]:
    """openapi-core's verdict on a request, plus the named schemas of its body."""
    mock = MockRequest(
        HOST,
        method.lower(),
        mount + path,
        args=query,
        data=body,
        headers=headers,
        content_type=headers.get("content-type", "application/json").split(";")[0],
    )
    errors: list[str] = []
    try:
        api.validate_request(mock)
    except Exception as exc:  # openapi-core's errors: the message and its cause
        errors.append(f"{type(exc).__name__}: {exc} {exc.__cause__ or ''}"[:2000])
    if body:
        errors += named_schema_errors(json.loads(body))
    return errors


def check_response(
    api: OpenAPI,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    answer: bytes,
    mount: str,
) -> None:
    """Raise unless the answer is one the file allows for that request."""
    mock = MockRequest(
        HOST,
        method.lower(),
        mount + path,
        args=query,
        data=body,
        headers=headers,
        content_type="application/json",
    )
    api.validate_response(
        mock, MockResponse(answer, status_code=status, content_type="application/json")
    )


@lru_cache(maxsize=1)
def warm_up() -> None:
    """openapi-core resolves the files' references on first use (seconds): done before serving."""
    sample = {"addresses": [], "targetCommand": {"state": {"name": "LevelState", "value": 1}}}
    query = [("clientAddress", str(uuid.uuid4())), ("talqRequestId", str(uuid.uuid4()))]
    check_request(
        openapi(GATEWAY_FILE, "/talq"),
        "POST",
        "/override-commands",
        query,
        {"talq-api-version": "2.7.1"},
        json.dumps(sample).encode(),
        "/talq",
    )


@dataclass
class Received:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any
    errors: list[str]


@dataclass
class Exchange:
    """One request of the gateway to the CMS and the CMS's answer."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int
    answer: bytes


@dataclass
class Gateway:
    """The test gateway's state; ``serve`` starts it."""

    address: str = field(default_factory=lambda: str(uuid.uuid4()))
    cms_url: str = ""
    cms_key: str = ""
    mode: str = "answer"  # answer | silent
    feedback_delay_s: float = 0.05
    override_status: int = 202  # 201 (processed), 202 (feedback follows), or 422 (refused)
    power_w: float = 21.5
    received: list[Received] = field(default_factory=list)
    unanswered: int = 0  # requests read and never answered (mode "silent")
    cms_exchanges: list[Exchange] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)  # group address -> device addresses
    programs: list[dict[str, Any]] = field(default_factory=list)
    calendars: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _server: ThreadingHTTPServer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    # ----------------------------------------------------------------- to the CMS

    def to_cms(self, method: str, path: str, body: Any) -> Exchange:
        """One TALQ request of the gateway to the CMS (kept with the answer)."""
        query = [("clientAddress", self.address), ("talqRequestId", str(uuid.uuid4()))]
        data = json.dumps(body).encode()
        headers = {
            "talq-api-version": "2.7.1",
            "content-type": "application/json",
            "authorization": f"Bearer {self.cms_key}",
        }
        url = self.cms_url + path + "?" + "&".join(f"{k}={v}" for k, v in query)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, content = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, content = error.code, error.read()
        exchange = Exchange(method, path, query, headers, data, status, content)
        with self.lock:
            self.cms_exchanges.append(exchange)
        return exchange

    def get_cms(self, path: str) -> Exchange:
        """A TALQ GET to the CMS (kept with the answer)."""
        query = [("clientAddress", self.address)]
        headers = {"talq-api-version": "2.7.1", "authorization": f"Bearer {self.cms_key}"}
        request = urllib.request.Request(
            f"{self.cms_url}{path}?clientAddress={self.address}", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, content = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, content = error.code, error.read()
        exchange = Exchange("GET", path, query, headers, b"", status, content)
        with self.lock:
            self.cms_exchanges.append(exchange)
        return exchange

    def read_groups(self) -> None:
        """``GET /groups`` at the CMS: the groups this gateway holds, with their members."""
        url = f"{self.cms_url}/groups?clientAddress={self.address}"
        request = urllib.request.Request(
            url, headers={"talq-api-version": "2.7.1", "authorization": f"Bearer {self.cms_key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            content = answer.read()
            exchange = Exchange(
                "GET",
                "/groups",
                [("clientAddress", self.address)],
                {"talq-api-version": "2.7.1"},
                b"",
                answer.status,
                content,
            )
        with self.lock:
            self.cms_exchanges.append(exchange)
            for group in json.loads(content):
                self.groups[group["address"]] = [m["address"] for m in group["members"]]

    def feedback(self, command: dict[str, Any]) -> None:
        """Report the command in effect on every device it reached (``PATCH /devices``)."""
        devices: dict[str, str] = {}
        for reference in command.get("addresses", []):
            if reference["resource"] == "groups":
                for member in self.groups.get(reference["address"], []):
                    devices[member] = "lampActuator"
            else:
                device, _, function = reference["address"].partition("/")
                devices[device] = function or "lampActuator"
        target = command["targetCommand"]
        level = target["state"]["value"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = [
            {
                "address": device,
                "name": device,
                "class": "Luminaire",
                "functions": [
                    {
                        "id": function,
                        "type": "LampActuatorFunction",
                        "feedbackLightCommand": {
                            "type": "AttributeCommand",
                            "value": copy.deepcopy(target),
                            "timestamp": now,
                        },
                        "actualLightState": {
                            "type": "AttributeLevelState",
                            "value": {"name": "LevelState", "value": level},
                            "timestamp": now,
                        },
                    },
                    {
                        "id": "lampMonitor",
                        "type": "LampMonitorFunction",
                        "activePower": {
                            "type": "AttributeFloat",
                            "value": self.power_w if level else 0.7,
                            "timestamp": now,
                        },
                    },
                ],
            }
            for device, function in sorted(devices.items())
        ]
        self.to_cms("PATCH", "/devices", body)

    # ----------------------------------------------------------------- serving

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix("/talq")
        query = parse_qsl(parts.query)
        errors = check_request(
            openapi(GATEWAY_FILE, "/talq"), method, path, query, headers, body or None, "/talq"
        )
        data = json.loads(body) if body else None
        with self.lock:
            self.received.append(Received(method, path, query, headers, data, errors))
        if errors:
            return 400, [{"key": "payloadError", "description": "; ".join(errors)[:500]}]
        if method == "GET" and path == "/services":
            return 200, [{"name": "ControlService"}, {"name": "DataCollectService"}]
        if method == "POST" and path == "/override-commands":
            if self.override_status >= 400:
                return self.override_status, [
                    {"key": "overrideCommandNotValid", "description": "refused by the test gateway"}
                ]
            if self.cms_url:
                timer = threading.Timer(self.feedback_delay_s, self.feedback, args=(data,))
                timer.daemon = True
                timer.start()
            return self.override_status, None
        if method == "POST" and path == "/groups":
            with self.lock:
                for group in data:
                    self.groups[group["address"]] = [m["address"] for m in group["members"]]
            return 201, None
        if method == "POST" and path == "/control-programs":
            self.programs.extend(data)
            return 201, None
        if method == "POST" and path == "/calendars":
            self.calendars.extend(data)
            return 201, None
        if method == "POST" and path == "/assign-commands":
            self.assignments.append(data)
            return 201, None
        return 422, [{"key": "genericError", "description": "not played by the test gateway"}]

    def serve(self, port: int, tls: tuple[Path, Path] | None = None) -> Gateway:
        warm_up()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                if gateway.mode == "silent":
                    with gateway.lock:
                        gateway.unanswered += 1
                        gateway.received.append(
                            Received(
                                self.command,
                                urlsplit(self.path).path.removeprefix("/talq"),
                                parse_qsl(urlsplit(self.path).query),
                                headers,
                                json.loads(body) if body else None,
                                [],
                            )
                        )
                    gateway._stop.wait(30)  # read, never answered
                    return
                status, answer = gateway.handle(self.command, self.path, headers, body)
                content = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/talq"
        return self

    def close(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

"""The carpool standards' own files (shared/standards/carpool) and openapi-core checks of requests and answers.

Each OpenAPI file is read as published; only its ``servers`` entry is set to
where Eclor mounts it (``/api/rdex``, ``/api/carpool``), as a deployment would.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

CARPOOL = Path(__file__).resolve().parents[1].parent / "shared" / "standards" / "carpool"
RDEX_FILE = CARPOOL / "RDEXplus_openapi.yaml"
STANDARD_FILE = CARPOOL / "standard-covoiturage_openapi.yaml"
PROOF_FILE = CARPOOL / "preuve-covoiturage-api-v3.1.yaml"
HOST = "http://testserver.local"


def _string_keys(value: Any) -> Any:
    """YAML reads ``200:`` as a number; OpenAPI's keys (status codes) are strings."""
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


@lru_cache(maxsize=4)
def spec_dict(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = _string_keys(yaml.safe_load(f))
    return loaded


# RDEX+ 2.0.1 defines ``carpoolerType`` as ``allOf: [enum driver, passenger]`` plus ``enum: [both]``:
# no value satisfies both, so nothing would validate. Its intent (driver, passenger or both) stands
# in for it; ``test_carpool_rdex`` checks that the published schema still rejects every value.
RDEX_CARPOOLER_TYPE = {"type": "string", "enum": ["driver", "passenger", "both"]}


@lru_cache(maxsize=4)
def openapi(path: Path, mount: str) -> OpenAPI:
    spec = copy.deepcopy(spec_dict(path))
    spec["servers"] = [{"url": HOST + mount}]
    if path == RDEX_FILE:
        spec["components"]["schemas"]["carpoolerType"] = RDEX_CARPOOLER_TYPE
    # The standard-covoiturage file's ``departureWeekdays`` default is a string where its schema
    # says array, which the file checker refuses: the file is used as published, unchecked itself;
    # requests and answers are still validated against it.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def _mock(method: str, url: str, params: Any, body: bytes | None, headers: Any) -> MockRequest:
    parts = urlsplit(url)
    args = list(params.multi_items()) if hasattr(params, "multi_items") else list(params)
    return MockRequest(
        HOST,
        method.lower(),
        parts.path,
        args=args,
        data=body,
        headers=dict(headers),
        content_type=headers.get("content-type", "application/json"),
    )


def validate_exchange(api: OpenAPI, response: Any, *, check_request: bool = True) -> None:
    """Validate a test client's request (unless told not to) and its answer against ``api``."""
    req = response.request
    body = req.content or None
    mock = _mock(req.method, str(req.url), req.url.params, body, req.headers)
    if check_request:
        api.validate_request(mock)
    api.validate_response(
        mock,
        MockResponse(
            response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type=response.headers.get("content-type", "application/json").split(";")[0],
        ),
    )

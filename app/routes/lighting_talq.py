"""The TALQ CMS API a lighting gateway calls, under /api/talq (see ``app.lighting.talq_cms``).

Only gateways with a key (``eclor talq gateway add NAME``) get in: a signed-in
person's session is no key (401).
"""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Request, Response, get, patch, post, put
from litestar.params import FromPath

from app.auth import PUBLIC
from app.lighting import talq, talq_cms

API = {**PUBLIC, "exclude_from_csrf": True}


def _answer(answer: talq_cms.Answer) -> Response[Any]:
    if answer.body is None:
        return Response(b"", status_code=answer.status, media_type="application/json")
    return Response(answer.body, status_code=answer.status, media_type="application/json")


async def _serve(
    request: Request[Any, Any, Any], work: Any, *, needs_request_id: bool = True
) -> Response[Any]:
    """Authenticate the gateway, check TALQ's parameters, read the body, run ``work`` in a thread."""
    engine = request.app.state.engine
    params = dict(request.query_params)
    client = params.get("clientAddress", "")
    gateway_id = await anyio.to_thread.run_sync(
        talq_cms.gateway_for, engine, request.headers.get("authorization", ""), client
    )
    if gateway_id is None:
        return _answer(talq_cms.unauthorized())
    problem = talq_cms.check_request(request.headers, params, needs_request_id=needs_request_id)
    if problem is not None:
        return _answer(problem)
    body: Any = None
    if request.method != "GET":
        try:
            body = talq_cms.parse_body(await request.body())
        except talq.TalqPayloadError as exc:
            return _answer(talq_cms.refused(400, exc.key, str(exc)))
    answer = await anyio.to_thread.run_sync(work, engine, gateway_id, body)
    return _answer(answer)


@post("/api/talq/services", opt=API, name="talq_services")
async def announce_services(request: Request[Any, Any, Any]) -> Response[Any]:
    """A gateway announces its services (TALQ announceServices)."""
    return await _serve(request, talq_cms.announce_services)


@post("/api/talq/devices", opt=API, name="talq_devices_add")
async def add_devices(request: Request[Any, Any, Any]) -> Response[Any]:
    """A gateway announces its devices (TALQ addDevices): they are matched to Eclor's lights."""
    return await _serve(request, lambda e, g, b: talq_cms.announce_devices(e, g, b, created=True))


@put("/api/talq/devices", opt=API, name="talq_devices_update")
async def update_devices(request: Request[Any, Any, Any]) -> Response[Any]:
    """A gateway replaces its devices' definitions (TALQ updateDevices)."""
    return await _serve(request, lambda e, g, b: talq_cms.announce_devices(e, g, b, created=False))


@patch("/api/talq/devices", opt=API, name="talq_devices_patch")
async def patch_devices(request: Request[Any, Any, Any]) -> Response[Any]:
    """A gateway reports its devices' attributes (TALQ partialUpdateDevices)."""
    return await _serve(request, talq_cms.update_devices)


@patch("/api/talq/devices/{device_address:str}", opt=API, name="talq_device_patch")
async def patch_device(
    request: Request[Any, Any, Any], device_address: FromPath[str]
) -> Response[Any]:
    """A gateway reports one device's attributes (TALQ partialUpdateDevice)."""
    return await _serve(
        request, lambda e, g, b: talq_cms.update_devices(e, g, b, device_address[:64])
    )


@post("/api/talq/log-reports", opt=API, name="talq_log_reports")
async def log_reports(request: Request[Any, Any, Any]) -> Response[Any]:
    """A gateway sends a log report: attributes, events, state changes (TALQ sendLogReport)."""
    return await _serve(request, talq_cms.log_report)


@get("/api/talq/groups", opt=API, name="talq_groups")
async def groups(request: Request[Any, Any, Any]) -> Response[Any]:
    """The groups a gateway holds for Eclor, with their members (TALQ getGroups)."""
    cms = request.app.state.settings.talq_cms_address_resolved
    return await _serve(
        request, lambda e, g, _b: talq_cms.groups(e, g, cms), needs_request_id=False
    )


@get("/api/talq/groups/{group_address:str}", opt=API, name="talq_group")
async def group(request: Request[Any, Any, Any], group_address: FromPath[str]) -> Response[Any]:
    """One group a gateway holds for Eclor, with its members (TALQ getGroup)."""
    cms = request.app.state.settings.talq_cms_address_resolved
    return await _serve(
        request,
        lambda e, g, _b: talq_cms.groups(e, g, cms, group_address[:64]),
        needs_request_id=False,
    )


ROUTES = [
    announce_services,
    add_devices,
    update_devices,
    patch_devices,
    patch_device,
    log_reports,
    groups,
    group,
]

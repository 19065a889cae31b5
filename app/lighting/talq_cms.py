"""Eclor's CMS side of TALQ: what answers a gateway's requests under ``/api/talq`` (the operations
of ``talq-api-cms-2-7-1-online.json`` a lighting gateway needs).

Every request carries the gateway's key (``Authorization: Bearer KEY``, made by
``eclor talq gateway add``) and its address as ``clientAddress``; the TALQ
files define no security scheme, so the key is Eclor's (the transport is
TLS). Errors are lists of ``TALQErrorMessage`` with the files' keys
(``headerMissing``, ``parameterMissing``, ``parameterValueNotValid``,
``payloadError``, ``resourceNotFound``) and French descriptions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from app.db import read_session, utcnow, write_session
from app.i18n import gettext as _
from app.lighting import talq, talq_gateways
from app.models.lighting_talq import TalqGateway

MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None


def refused(status: int, key: str, message: str) -> Answer:
    return Answer(status, talq.error_body(message, key))


def unauthorized() -> Answer:
    return refused(
        401,
        "parameterValueNotValid",
        _(
            "Une clé de passerelle TALQ (Authorization: Bearer) et l'adresse de la passerelle "
            "(clientAddress) sont requises."
        ),
    )


def check_request(
    headers: Mapping[str, str], params: Mapping[str, str], *, needs_request_id: bool
) -> Answer | None:
    """The parameters every TALQ request carries, or the error answer."""
    if not headers.get("talq-api-version"):
        return refused(400, "headerMissing", _("L'en-tête « talq-api-version » est requis."))
    names = ("clientAddress", "talqRequestId") if needs_request_id else ("clientAddress",)
    for name in names:
        value = params.get(name)
        if not value:
            return refused(
                400,
                "parameterMissing",
                _("Le paramètre « {name} » est requis.").format(name=name),
            )
        try:
            uuid.UUID(value)
        except ValueError:
            return refused(
                400,
                "parameterValueNotValid",
                _("Le paramètre « {name} » doit être un UUID.").format(name=name),
            )
    return None


def gateway_for(engine: Engine, authorization: str, client_address: str) -> int | None:
    """The id of the gateway the key and address name, or None."""
    key = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    with read_session(engine) as session:
        gateway = talq_gateways.gateway_for_key(session, key, client_address)
        return None if gateway is None else gateway.id


def parse_body(raw: bytes) -> Any:
    if len(raw) > MAX_BODY:
        raise talq.TalqPayloadError(_("Le corps de la requête est trop volumineux."))
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise talq.TalqPayloadError(_("Le corps de la requête doit être du JSON.")) from None


def _payload_error(exc: talq.TalqPayloadError) -> Answer:
    return refused(400, exc.key, str(exc))


def announce_services(engine: Engine, gateway_id: int, body: Any) -> Answer:
    try:
        with write_session(engine) as session:
            gateway = session.get(TalqGateway, gateway_id)
            assert gateway is not None
            talq_gateways.announce_services(session, gateway, body)
    except talq.TalqPayloadError as exc:
        return _payload_error(exc)
    return Answer(201)


def announce_devices(engine: Engine, gateway_id: int, body: Any, *, created: bool) -> Answer:
    """``POST /devices`` (201) and ``PUT /devices`` (200): the devices Eclor knows, as announced;
    their attributes, if any, are read as a report."""
    try:
        with write_session(engine) as session:
            gateway = session.get(TalqGateway, gateway_id)
            assert gateway is not None
            announced = talq_gateways.announce_devices(session, gateway, body)
        observations = talq.from_devices(body)
    except talq.TalqPayloadError as exc:
        return _payload_error(exc)
    talq_gateways.observe(engine, gateway_id, observations, utcnow())
    unknown = set(announced.unknown)
    kept = [d for d in body if str(d["address"]).lower() not in unknown]
    return Answer(201 if created else 200, kept)


def update_devices(
    engine: Engine, gateway_id: int, body: Any, device_address: str | None = None
) -> Answer:
    """``PATCH /devices`` and ``PATCH /devices/{deviceAddress}``: attributes as a report."""
    if device_address is not None:
        with read_session(engine) as session:
            known = talq_gateways.knows(session, gateway_id, device_address)
        if not known:
            return refused(
                404,
                "resourceNotFound",
                _("Appareil TALQ inconnu : « {address} ».").format(address=device_address[:40]),
            )
    try:
        if device_address is not None:
            if not isinstance(body, dict):
                raise talq.TalqPayloadError(_("Un appareil TALQ est un objet JSON."))
            body = [{**body, "address": device_address}]
        observations = talq.from_devices(body)
    except talq.TalqPayloadError as exc:
        return _payload_error(exc)
    talq_gateways.observe(engine, gateway_id, observations, utcnow())
    return Answer(200)


def log_report(engine: Engine, gateway_id: int, body: Any) -> Answer:
    try:
        observations = talq.from_log_report(body)
    except talq.TalqPayloadError as exc:
        return _payload_error(exc)
    talq_gateways.observe(engine, gateway_id, observations, utcnow())
    return Answer(201)


def groups(
    engine: Engine, gateway_id: int, cms_address: str, group_address: str | None = None
) -> Answer:
    """``GET /groups`` (all the gateway's groups) and ``GET /groups/{groupAddress}`` (one)."""
    with read_session(engine) as session:
        gateway = session.get(TalqGateway, gateway_id)
        assert gateway is not None
        found = [{**g, "ownerCMS": cms_address} for g in talq_gateways.groups_of(session, gateway)]
    if group_address is None:
        return Answer(200, found)
    for group in found:
        if group["address"] == group_address.lower():
            return Answer(200, group)
    return refused(
        404,
        "resourceNotFound",
        _("Groupe TALQ inconnu : « {address} ».").format(address=group_address[:40]),
    )

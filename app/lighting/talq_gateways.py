"""TALQ gateways Eclor is the CMS of: their keys, the services and devices they announce, the groups
they hold, and what they report, stored through the relay's own ingestion.

Bootstrap, as far as the TALQ files define it: ``eclor talq gateway add NAME``
gives the gateway its address (a UUID the gateway sends as ``clientAddress``)
and a key (``Authorization: Bearer KEY``; only its SHA-256 is kept); the
gateway then announces its services (``POST /services``) and its devices
(``POST /devices``). A device whose ``name`` is an Eclor light's id or device
id becomes that light's TALQ device (its ``LampActuatorFunction`` and
``LampMonitorFunction`` ids kept). ``eclor talq group GROUP`` gives a group
whose lights all sit behind one gateway a TALQ group address, so a command to
the whole group is one override command (the gateway reads the group and its
members with ``GET /groups``).

What a gateway reports (``PATCH /devices``, ``POST /log-reports``) goes through
:func:`app.lighting.relay.ingest`, the relay's ingestion of MQTT messages:
feedback of the command in effect is an ack (the command ends ``applied``),
levels, power and energy are telemetry (history, energy, events), fault events
are light statuses (alarms, rules).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.db import read_session, utcnow, write_session
from app.i18n import gettext as _
from app.lighting import talq
from app.lighting.backend import Inbound
from app.lighting.messages import iso
from app.lighting.programs import LightingError
from app.lighting.relay import IngestStats, ingest
from app.models.lighting import OPEN_COMMAND_STATES, LightCommand, LightGroup, Streetlight
from app.models.lighting_talq import TalqDevice, TalqGateway, TalqGroup

KEY_PREFIX = "eclortq_"
SERVICE_NAMES = (
    "ConfigurationService",
    "ControlService",
    "DataCollectService",
    "GroupManagementService",
    "DataPackageService",
    "AssetManagementService",
    "DaliProtocolService",
)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# --------------------------------------------------------------------------- gateways and keys


def add_gateway(session: Session, name: str) -> tuple[TalqGateway, str]:
    """A new gateway with its TALQ address, and its key (shown once)."""
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise LightingError(_("Le nom de la passerelle doit compter 1 à 80 caractères."), "name")
    if session.scalars(select(TalqGateway).where(col(TalqGateway.name) == name)).first():
        raise LightingError(_("La passerelle « {name} » existe déjà.").format(name=name), "name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    gateway = TalqGateway(
        name=name, address=str(uuid.uuid4()), key_hash=_digest(key), key_prefix=key[:12]
    )
    session.add(gateway)
    session.flush()
    return gateway, key


def revoke_gateway(session: Session, name: str) -> bool:
    gateway = session.scalars(select(TalqGateway).where(col(TalqGateway.name) == name)).first()
    if gateway is None or gateway.revoked_at is not None:
        return False
    gateway.revoked_at = utcnow()
    session.add(gateway)
    return True


def gateway_for_key(session: Session, key: str, client_address: str) -> TalqGateway | None:
    """The gateway whose key this is and whose address is ``client_address`` (not revoked)."""
    if not key:
        return None
    found = session.scalars(
        select(TalqGateway).where(col(TalqGateway.key_hash) == _digest(key))
    ).first()
    if found is None or found.revoked_at is not None:
        return None
    if not hmac.compare_digest(found.key_hash, _digest(key)):
        return None
    if found.address != client_address.strip().lower():
        return None
    return found


# --------------------------------------------------------------------------- services and devices


def announce_services(session: Session, gateway: TalqGateway, services: Any) -> list[str]:
    """Keep the services the gateway announced; returns their names."""
    if not isinstance(services, list) or not all(isinstance(s, dict) for s in services):
        raise talq.TalqPayloadError(_("Services : attendu une liste d'objets JSON."))
    names = []
    for service in services:
        name = service.get("name")
        if name not in SERVICE_NAMES:
            raise talq.TalqPayloadError(
                _("Service TALQ inconnu « {value} ».").format(value=str(name)[:40])
            )
        names.append(name)
    gateway.services = json.dumps(services, separators=(",", ":"))[:1_000_000]
    gateway.last_seen_at = utcnow()
    session.add(gateway)
    return names


@dataclass(frozen=True)
class Announced:
    matched: list[str]  # Eclor light ids
    unknown: list[str]  # TALQ device addresses no Eclor light matches


def _function_ids(device: dict[str, Any]) -> tuple[str, str]:
    actuator = monitor = ""
    for function in device.get("functions") or []:
        if not isinstance(function, dict) or not isinstance(function.get("id"), str):
            continue
        if function.get("type") == "LampActuatorFunction" and not actuator:
            actuator = function["id"][:64]
        if function.get("type") == "LampMonitorFunction" and not monitor:
            monitor = function["id"][:64]
    return actuator, monitor


def announce_devices(session: Session, gateway: TalqGateway, devices: Any) -> Announced:
    """Map announced ``Device`` objects to Eclor lights (by name: a light's id or device id)."""
    listed = talq.objects(devices, _("Appareils"), talq.MAX_DEVICES)
    wanted: dict[str, tuple[str, str, str]] = {}
    for device in listed:
        address = talq.device_address_of(device)
        try:
            address = str(uuid.UUID(address))
        except ValueError:
            raise talq.TalqPayloadError(
                _("Adresse d'appareil TALQ invalide « {value} » : attendu un UUID.").format(
                    value=address[:40]
                )
            ) from None
        name = device.get("name")
        if not isinstance(name, str) or not isinstance(device.get("class"), str):
            raise talq.TalqPayloadError(_("Chaque appareil TALQ a un « name » et une « class »."))
        wanted[name[:64]] = (address, *_function_ids(device))
    lights = {
        key: light_id
        for light_id, device_id in session.execute(
            select(col(Streetlight.id), col(Streetlight.device_id)).where(
                col(Streetlight.id).in_(list(wanted)) | col(Streetlight.device_id).in_(list(wanted))
            )
        ).all()
        for key in (light_id, device_id)
    }
    matched, unknown = [], []
    now = utcnow()
    for name, (address, actuator, monitor) in wanted.items():
        light_id = lights.get(name)
        if light_id is None:
            unknown.append(address)
            continue
        other = session.scalars(
            select(TalqDevice).where(col(TalqDevice.device_address) == address)
        ).first()
        if other is not None and other.light_id != light_id:
            session.delete(other)
            session.flush()
        row = session.get(TalqDevice, light_id) or TalqDevice(
            light_id=light_id, gateway_id=gateway.id or 0, device_address=address
        )
        row.gateway_id, row.device_address = gateway.id or 0, address
        row.actuator_function, row.monitor_function, row.updated_at = actuator, monitor, now
        session.add(row)
        matched.append(light_id)
    gateway.last_seen_at = now
    session.add(gateway)
    return Announced(matched, unknown)


def map_group(session: Session, group_id: str) -> TalqGroup:
    """Give ``group_id`` a TALQ group address at the gateway all its lights are behind."""
    if session.get(LightGroup, group_id) is None:
        raise LightingError(_("Groupe inconnu : « {id} ».").format(id=group_id), "group")
    rows = session.execute(
        select(col(Streetlight.id), col(TalqDevice.gateway_id))
        .outerjoin(TalqDevice, col(TalqDevice.light_id) == col(Streetlight.id))
        .where(col(Streetlight.group_id) == group_id)
    ).all()
    gateways = {row[1] for row in rows}
    if not rows or None in gateways or len(gateways) != 1:
        raise LightingError(
            _(
                "Les points lumineux du groupe « {id} » doivent tous être des appareils TALQ "
                "d'une même passerelle."
            ).format(id=group_id),
            "group",
        )
    row = session.get(TalqGroup, group_id) or TalqGroup(
        group_id=group_id, gateway_id=0, group_address=str(uuid.uuid4())
    )
    row.gateway_id, row.updated_at = int(gateways.pop()), utcnow()
    session.add(row)
    session.flush()
    return row


def groups_of(session: Session, gateway: TalqGateway) -> list[dict[str, Any]]:
    """The gateway's groups as TALQ ``Group`` objects (members: its lights' devices)."""
    found = []
    groups = session.scalars(
        select(TalqGroup)
        .where(col(TalqGroup.gateway_id) == gateway.id)
        .order_by(col(TalqGroup.group_id))
    ).all()
    for group in groups:
        members = session.scalars(
            select(col(TalqDevice.device_address))
            .join(Streetlight, col(Streetlight.id) == col(TalqDevice.light_id))
            .where(col(Streetlight.group_id) == group.group_id)
            .order_by(col(TalqDevice.device_address))
        ).all()
        found.append(
            {
                "address": group.group_address,
                "ownerCMS": "",  # filled by the caller (the CMS address)
                "members": [{"resource": "devices", "address": m} for m in members],
                "purpose": "override",
            }
        )
    return found


def knows(session: Session, gateway_id: int, device_address: str) -> bool:
    """Whether ``device_address`` is one of the gateway's devices Eclor knows."""
    return (
        session.scalars(
            select(col(TalqDevice.light_id)).where(
                col(TalqDevice.gateway_id) == gateway_id,
                col(TalqDevice.device_address) == device_address.lower(),
            )
        ).first()
        is not None
    )


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class _Light:
    light_id: str
    device_id: str
    status: str


def _lights(session: Session, gateway_id: int, addresses: Sequence[str]) -> dict[str, _Light]:
    found: dict[str, _Light] = {}
    for part in range(0, len(addresses), 500):
        for address, light_id, device_id, status in session.execute(
            select(
                col(TalqDevice.device_address),
                col(Streetlight.id),
                col(Streetlight.device_id),
                col(Streetlight.status),
            )
            .join(Streetlight, col(Streetlight.id) == col(TalqDevice.light_id))
            .where(
                col(TalqDevice.gateway_id) == gateway_id,
                col(TalqDevice.device_address).in_(addresses[part : part + 500]),
            )
        ).all():
            found[address] = _Light(light_id, device_id, status)
    return found


def _open_commands(session: Session, light_ids: Sequence[str]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for part in range(0, len(light_ids), 500):
        for row in session.execute(
            select(
                col(LightCommand.light_id),
                col(LightCommand.command_id),
                col(LightCommand.override_id),
                col(LightCommand.level),
            ).where(
                col(LightCommand.light_id).in_(light_ids[part : part + 500]),
                col(LightCommand.state).in_(OPEN_COMMAND_STATES),
            )
        ).all():
            rows[row.light_id] = row  # a new command supersedes the open ones: one per light
    return rows


def acknowledges(row: Any, feedback: dict[str, Any]) -> bool:
    """Whether the command in effect a gateway reports is Eclor's open command ``row``."""
    ref = feedback.get("cmsRefId")
    if isinstance(ref, str) and ref:
        return ref in (row.command_id, f"eclor-override-{row.override_id}")
    state = feedback.get("state")
    return talq.level_of(state) == row.level


@dataclass
class Observed:
    stats: IngestStats
    unknown: list[str]


def observe(
    engine: Engine, gateway_id: int, observations: Sequence[talq.Observation], now: dt.datetime
) -> Observed:
    """Store what a gateway reported through the relay's ingestion (acks, telemetry, statuses)."""
    device_reports = talq.reports(observations)
    addresses = sorted({r.device_address.lower() for r in device_reports})
    with read_session(engine) as session:
        lights = _lights(session, gateway_id, addresses)
        commands = _open_commands(session, sorted({light.light_id for light in lights.values()}))
    items: list[Inbound] = []
    unknown: set[str] = set()
    status: dict[str, str] = {light.light_id: light.status for light in lights.values()}
    for report in device_reports:
        light = lights.get(report.device_address.lower())
        if light is None:
            unknown.add(report.device_address)
            continue
        received = now  # the arrival; the report's own time is checked against it
        if report.feedback is not None:
            row = commands.get(light.light_id)
            if row is not None and acknowledges(row, report.feedback):
                level = talq.level_of(report.feedback.get("state"))
                items.append(
                    Inbound(
                        "ack",
                        light.device_id,
                        {
                            "command_id": row.command_id,
                            "status": "applied",
                            "actual_level": report.level if report.level is not None else level,
                            "ts": None if report.ts is None else iso(report.ts),
                        },
                        received,
                    )
                )
        if report.has_reading:
            if report.faults:
                started = [s for s, on in report.faults.items() if on]
                status[light.light_id] = started[0] if started else "ok"
            items.append(
                Inbound(
                    "tele_light",
                    light.device_id,
                    {
                        "ts": None if report.ts is None else iso(report.ts),
                        "level": report.level,
                        "power_w": report.power_w,
                        "energy_wh": report.energy_wh,
                        "status": status[light.light_id],
                    },
                    received,
                )
            )
    stats = ingest(engine, items, now) if items else IngestStats()
    if lights:
        with write_session(engine) as session:
            gateway = session.get(TalqGateway, gateway_id)
            if gateway is not None:
                gateway.last_seen_at = now
                session.add(gateway)
    return Observed(stats, sorted(unknown))

"""TALQ 2.7.1 as Eclor speaks it: override commands out, device attributes and log reports in.

Pure functions, no database, no network (``app.lighting.talq_gateways`` stores what
they read, ``app.lighting.talq_backend`` sends what they build). Written from
the TALQ OpenAPI files (``talq-api-gateway``, ``talq-api-cms``, ``talq-data-model``):

- an Eclor command is an ``OverrideCommand`` whose ``targetCommand`` carries a
  ``LevelState``, ``rampToLevelTime``, ``reason``, ``expiration`` and a
  ``cmsRefId`` (the Eclor command id, or ``eclor-override-N`` for a group's
  command), addressed to ``ResourceReference`` objects: ``devices`` (with the
  ``LampActuatorFunction`` id appended) or ``groups``;
- what a gateway reports (``PATCH /devices`` with ``Device`` objects, or
  ``POST /log-reports`` with ``AttributeLogData``, ``EventLogData`` and
  ``StateChangeEventLogData``) is flattened into :class:`Observation` rows:
  one attribute or event of one device at one time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.i18n import gettext as _
from app.i18n import pgettext
from app.lighting.messages import iso, parse_time

API_VERSION = "2.7.1"
LEVEL_STATE = "LevelState"
MAX_DEVICES = 10_000  # devices in one request
MAX_ENTRIES = 50_000  # log entries in one report

# LampMonitor (and LampActuator) events that say the lamp is at fault, as Eclor's light statuses
# (app.lighting.control.FAULT_STATUSES): an event that starts sets the status, one that ends clears it.
FAULT_EVENTS: dict[str, str] = {
    "lampFailure": "lampFailure",
    "supplyLoss": "supplyLoss",
    "dimmingFailure": "defectiveLamp",
    "relayFailure": "defectiveLamp",
    "controlGearCommFailure": "defectiveLamp",
    "controlGearComFailure": "defectiveLamp",
    "cyclingFailure": "defectiveLamp",
    "lampPowerTooLow": "defectiveLamp",
    "lampPowerTooHigh": "defectiveLamp",
    "contactorError": "columnIssue",
    "leakageDetected": "columnIssue",
}
FEEDBACK = "feedbackLightCommand"
MEASURES = ("actualLightState", "activePower", "activeEnergy")


class TalqPayloadError(ValueError):
    """A request body that is not what the TALQ files define; the message is in French."""

    key = "payloadError"


# --------------------------------------------------------------------------- commands out


@dataclass(frozen=True)
class Target:
    """Where one override command goes: ``("devices", "uuid/actuatorFunction")`` or ``("groups", "uuid")``."""

    resource: str
    address: str

    def reference(self) -> dict[str, str]:
        return {"resource": self.resource, "address": self.address}


def device_target(device_address: str, actuator_function: str) -> Target:
    """A device's lamp actuator (the whole device when its function id is not known)."""
    address = f"{device_address}/{actuator_function}" if actuator_function else device_address
    return Target("devices", address)


def override_command(
    targets: Sequence[Target],
    *,
    level: int,
    ramp_s: float,
    reason: str,
    expires_at: dt.datetime | None,
    cms_ref: str,
) -> dict[str, Any]:
    """An ``OverrideCommand`` setting ``level`` (0..100) on ``targets`` until ``expires_at``."""
    command: dict[str, Any] = {
        "state": {"name": LEVEL_STATE, "value": int(level)},
        "rampToLevelTime": float(ramp_s),
        "reason": reason if reason in ("override", "sensor", "program") else "override",
        "cmsRefId": cms_ref,
    }
    if expires_at is not None:
        command["expiration"] = iso(expires_at)
    return {"addresses": [t.reference() for t in targets], "targetCommand": command}


def request_params(client_address: str, origin: str | None = None) -> dict[str, str]:
    """The query parameters every TALQ request carries (``clientAddress``, ``talqRequestId``)."""
    params = {"clientAddress": client_address, "talqRequestId": str(uuid.uuid4())}
    if origin:
        params["talqOriginRequestId"] = origin
    return params


def error_body(message: str, key: str = "payloadError") -> list[dict[str, str]]:
    """A TALQ error answer: a list of ``TALQErrorMessage``."""
    return [{"key": key, "description": message}]


# --------------------------------------------------------------------------- reports in


@dataclass(frozen=True)
class Observation:
    """One attribute or event of one device: ``name`` is the TALQ attribute or event name."""

    device_address: str
    function_id: str
    name: str
    value: Any
    ts: dt.datetime | None


def _split(address: Any) -> tuple[str, str]:
    """``"{device}/{function}[/{attribute}]"`` → (device, function)."""
    if not isinstance(address, str) or not address.strip("/"):
        raise TalqPayloadError(_("Adresse TALQ manquante ou invalide."))
    parts = address.strip("/").split("/")
    if parts[0] == "devices":
        parts = parts[1:]
    if not parts or len(parts[0]) > 64:
        raise TalqPayloadError(_("Adresse TALQ manquante ou invalide."))
    return parts[0], parts[1] if len(parts) > 1 else ""


def _time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except (ValueError, OverflowError, TypeError):
        raise TalqPayloadError(
            _("Horodatage TALQ invalide « {value} » : attendu une date-heure RFC 3339.").format(
                value=str(value)[:40]
            )
        ) from None


def objects(value: Any, what: str, limit: int) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TalqPayloadError(_("{what} : attendu une liste d'objets JSON.").format(what=what))
    if len(value) > limit:
        raise TalqPayloadError(
            _("{what} : au plus {limit} éléments par requête.").format(what=what, limit=limit)
        )
    return value


def device_address_of(device: Any) -> str:
    """The ``address`` of a ``Device`` object (checked)."""
    if not isinstance(device, dict) or not isinstance(device.get("address"), str):
        raise TalqPayloadError(_("Chaque appareil TALQ doit avoir une adresse (« address »)."))
    return _split(device["address"])[0]


def from_devices(devices: Any) -> list[Observation]:
    """The attributes of ``Device`` objects (``PATCH /devices``): one observation per attribute."""
    found: list[Observation] = []
    for device in objects(devices, _("Appareils"), MAX_DEVICES):
        address = device_address_of(device)
        functions = device.get("functions", [])
        for function in objects(functions, _("Fonctions"), 64):
            function_id = function.get("id")
            if not isinstance(function_id, str) or not isinstance(function.get("type"), str):
                raise TalqPayloadError(_("Chaque fonction TALQ a un « id » et un « type »."))
            for name, attribute in function.items():
                if name in ("id", "type") or not isinstance(attribute, dict):
                    continue
                if "value" not in attribute:
                    continue
                found.append(
                    Observation(
                        address,
                        function_id,
                        name,
                        attribute["value"],
                        _time(attribute.get("timestamp")),
                    )
                )
    return found


def from_log_report(report: Any) -> list[Observation]:
    """The entries of a ``LogReport`` (``POST /log-reports``)."""
    if not isinstance(report, dict):
        raise TalqPayloadError(_("Un rapport de journal TALQ est un objet JSON."))
    found: list[Observation] = []
    for entry in objects(
        report.get("entries", []), pgettext("talq entries", "Entrées"), MAX_ENTRIES
    ):
        data = entry.get("data")
        if not isinstance(data, dict):
            raise TalqPayloadError(_("Chaque entrée du rapport a des données (« data »)."))
        kind = data.get("type")
        device, function = _split(data.get("srcAddress"))
        ts = _time(data.get("timestamp"))
        if kind == "AttributeLogData":
            name, value = data.get("attributeName"), data.get("attributeValue")
            if not isinstance(name, str) or not isinstance(value, dict):
                raise TalqPayloadError(
                    _("AttributeLogData : « attributeName » et « attributeValue » sont requis.")
                )
            found.append(
                Observation(
                    device, function, name, value.get("value"), ts or _time(value.get("timestamp"))
                )
            )
        elif kind == "EventLogData":
            event = data.get("eventType")
            if not isinstance(event, str):
                raise TalqPayloadError(_("EventLogData : « eventType » est requis."))
            flag = data.get("startEndFlag")
            found.append(Observation(device, function, event, flag is not False, ts))
        elif kind == "StateChangeEventLogData":
            command = data.get("command")
            if not isinstance(command, dict) or not isinstance(data.get("eventType"), str):
                raise TalqPayloadError(
                    _("StateChangeEventLogData : « eventType » et « command » sont requis.")
                )
            found.append(Observation(device, function, FEEDBACK, command, ts))
            state = data.get("state")
            if isinstance(state, dict) and state.get("name") == LEVEL_STATE:
                found.append(Observation(device, function, "actualLightState", state, ts))
        else:
            raise TalqPayloadError(
                _("Type de données de journal inconnu « {value} ».").format(value=str(kind)[:40])
            )
    return found


# --------------------------------------------------------------------------- what they say


def level_of(value: Any) -> int | None:
    """The level of a ``LevelState`` (0..100), or None."""
    if isinstance(value, dict) and value.get("name") == LEVEL_STATE:
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        return None
    return round(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass
class DeviceReport:
    """What a gateway said about one device at one time, in Eclor's terms."""

    device_address: str
    ts: dt.datetime | None
    level: int | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    faults: dict[str, bool] | None = None  # Eclor status -> started (True) or ended (False)
    feedback: dict[str, Any] | None = None  # the command in effect (a TALQ Command)

    @property
    def has_reading(self) -> bool:
        return (
            self.level is not None
            or self.power_w is not None
            or self.energy_wh is not None
            or bool(self.faults)
        )


def reports(observations: Iterable[Observation]) -> list[DeviceReport]:
    """Observations grouped by device and time (a log report may carry hours of history)."""
    by_key: dict[tuple[str, dt.datetime | None], DeviceReport] = {}
    for o in observations:
        report = by_key.get((o.device_address, o.ts))
        if report is None:
            report = by_key[(o.device_address, o.ts)] = DeviceReport(o.device_address, o.ts)
        if o.name == "actualLightState":
            report.level = level_of(o.value)
        elif o.name == "activePower":
            report.power_w = _number(o.value)
        elif o.name == "activeEnergy":
            kwh = _number(o.value)
            report.energy_wh = None if kwh is None else kwh * 1000.0
        elif o.name == FEEDBACK and isinstance(o.value, dict):
            report.feedback = o.value
        elif o.name in FAULT_EVENTS and isinstance(o.value, bool):
            report.faults = report.faults or {}
            status = FAULT_EVENTS[o.name]
            report.faults[status] = report.faults.get(status, False) or o.value
    return sorted(by_key.values(), key=lambda r: r.ts.timestamp() if r.ts else float("inf"))

"""Checking CAP 1.2: :func:`validate` applies the rules of the schema and the specification to a :class:`app.alerts.cap.CapAlert` built in code (``parse`` applies the same)."""

from __future__ import annotations

import binascii
import math
import re
from datetime import datetime, timedelta

from app.alerts.cap import (
    CATEGORIES,
    CERTAINTIES,
    MSG_TYPES,
    RESPONSE_TYPES,
    SCOPES,
    SEVERITIES,
    STATUSES,
    URGENCIES,
    CapAlert,
    CapArea,
    CapError,
    CapInfo,
    CapResource,
    format_number,
)
from app.i18n import gettext as _

_NEEDS_REFERENCES = frozenset({"Update", "Cancel", "Ack", "Error"})
_LANGUAGE_RE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_ABSOLUTE_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_MIME_RE = re.compile(r"[\w!#$&^.+\-]+/[\w!#$&^.+\-]+(?:\s*;.*)?", re.ASCII)
_IDENT_FORBIDDEN_RE = re.compile(r"[\s,<&]")
_XML_INVALID_CHAR_RE = re.compile(
    "[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


# --------------------------------------------------------------------------
# Validation of objects
# --------------------------------------------------------------------------


def _check_string(value: object, path: str, *, required: bool = False) -> None:
    if not isinstance(value, str):
        raise CapError(path, _("texte attendu"))
    if required and not value.strip():
        raise CapError(path, _("valeur obligatoire vide"))
    bad = _XML_INVALID_CHAR_RE.search(value)
    if bad is not None:
        raise CapError(
            path,
            _("caractère interdit en XML : U+{code:04X}").format(code=ord(bad.group())),
        )


def _check_optional(value: object, path: str) -> None:
    if value is not None:
        _check_string(value, path)


def _check_enum(value: object, allowed: tuple[str, ...], path: str) -> None:
    if value not in allowed:
        raise CapError(
            path,
            _("valeur « {value} » non admise ; valeurs admises : {allowed}").format(
                value=value, allowed=", ".join(allowed)
            ),
        )


def _check_ident(value: object, path: str) -> None:
    _check_string(value, path, required=True)
    assert isinstance(value, str)
    if _IDENT_FORBIDDEN_RE.search(value):
        raise CapError(
            path,
            _("ni espace, ni virgule, ni « < », ni « & » admis : « {value} »").format(value=value),
        )


def _check_time(value: object, path: str) -> None:
    if not isinstance(value, datetime):
        raise CapError(path, _("date-heure attendue"))
    offset = value.utcoffset()
    if offset is None:
        raise CapError(path, _("date-heure sans fuseau horaire : le décalage est obligatoire"))
    if offset.total_seconds() % 60 or abs(offset) > timedelta(hours=14):
        raise CapError(path, _("décalage horaire non représentable en CAP 1.2"))
    if value.microsecond:
        raise CapError(path, _("les fractions de seconde ne sont pas admises par CAP 1.2"))


def _check_number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CapError(path, _("nombre attendu"))
    if not math.isfinite(value):
        raise CapError(path, _("nombre fini attendu"))
    return float(value)


def _check_point(point: object, path: str) -> None:
    if not isinstance(point, tuple) or len(point) != 2:
        raise CapError(path, _("point (latitude, longitude) attendu"))
    lat = _check_number(point[0], path)
    lon = _check_number(point[1], path)
    if not -90.0 <= lat <= 90.0:
        raise CapError(
            path, _("latitude hors de [-90, 90] : {value}").format(value=format_number(lat))
        )
    if not -180.0 <= lon <= 180.0:
        raise CapError(
            path, _("longitude hors de [-180, 180] : {value}").format(value=format_number(lon))
        )


def _check_values(values: object, path: str) -> None:
    if not isinstance(values, list):
        raise CapError(path, _("liste attendue"))
    for index, pair in enumerate(values):
        here = f"{path}[{index}]"
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise CapError(here, _("couple (valueName, value) attendu"))
        _check_string(pair[0], f"{here}.valueName", required=True)
        _check_string(pair[1], f"{here}.value")


def _check_listing(items: object, path: str) -> None:
    if not isinstance(items, list):
        raise CapError(path, _("liste attendue"))
    for index, item in enumerate(items):
        _check_string(item, f"{path}[{index}]", required=True)
        assert isinstance(item, str)
        if '"' in item:
            raise CapError(f"{path}[{index}]", _("guillemet interdit dans un élément de liste"))


def _check_area(area: object, path: str) -> None:
    if not isinstance(area, CapArea):
        raise CapError(path, _("bloc area attendu"))
    _check_string(area.areaDesc, f"{path}.areaDesc", required=True)
    for index, ring in enumerate(area.polygons):
        here = f"{path}.polygon[{index}]"
        if not isinstance(ring, list):
            raise CapError(here, _("liste de points attendue"))
        for point in ring:
            _check_point(point, here)
        if len(ring) < 4:
            raise CapError(
                here,
                _(
                    "un polygone compte au moins 4 points (le premier répété à la fin) : {count} donnés"
                ).format(count=len(ring)),
            )
        if ring[0] != ring[-1]:
            raise CapError(
                here,
                _("polygone non fermé : le dernier point doit être égal au premier"),
            )
    for index, circle in enumerate(area.circles):
        here = f"{path}.circle[{index}]"
        if not isinstance(circle, tuple) or len(circle) != 2:
            raise CapError(here, _("cercle ((latitude, longitude), rayon_km) attendu"))
        _check_point(circle[0], here)
        if _check_number(circle[1], here) < 0:
            raise CapError(here, _("rayon négatif : le rayon d'un cercle est ≥ 0 km"))
    _check_values(area.geocodes, f"{path}.geocode")
    if area.altitude is not None:
        _check_number(area.altitude, f"{path}.altitude")
    if area.ceiling is not None:
        _check_number(area.ceiling, f"{path}.ceiling")
        if area.altitude is None:
            raise CapError(f"{path}.ceiling", _("<ceiling> n'est admis qu'avec <altitude>"))


def _check_resource(resource: object, path: str) -> None:
    if not isinstance(resource, CapResource):
        raise CapError(path, _("bloc resource attendu"))
    _check_string(resource.resourceDesc, f"{path}.resourceDesc", required=True)
    _check_string(resource.mimeType, f"{path}.mimeType", required=True)
    if not _MIME_RE.fullmatch(resource.mimeType):
        raise CapError(
            f"{path}.mimeType",
            _("type MIME illisible : « {value} »").format(value=resource.mimeType),
        )
    if resource.size is not None and (
        isinstance(resource.size, bool) or not isinstance(resource.size, int) or resource.size < 0
    ):
        raise CapError(f"{path}.size", _("taille en octets : entier positif attendu"))
    _check_optional(resource.derefUri, f"{path}.derefUri")
    if resource.derefUri is not None:
        try:
            binascii.a2b_base64(
                "".join(resource.derefUri.split()).encode("ascii"), strict_mode=True
            )
        except (binascii.Error, UnicodeEncodeError):
            raise CapError(f"{path}.derefUri", _("contenu base64 illisible")) from None
    _check_optional(resource.uri, f"{path}.uri")
    if resource.uri is not None and (
        re.search(r"\s", resource.uri)
        or not resource.uri
        or (resource.derefUri is None and not _ABSOLUTE_URI_RE.fullmatch(resource.uri))
    ):
        raise CapError(
            f"{path}.uri",
            _("URI absolue attendue (relative seulement avec <derefUri>) : « {value} »").format(
                value=resource.uri
            ),
        )
    _check_optional(resource.digest, f"{path}.digest")
    if resource.digest is not None and resource.digest != resource.digest.strip():
        raise CapError(f"{path}.digest", _("espaces en trop autour de l'empreinte"))


def _check_info(info: object, path: str) -> None:
    if not isinstance(info, CapInfo):
        raise CapError(path, _("bloc info attendu"))
    _check_string(info.language, f"{path}.language", required=True)
    if not _LANGUAGE_RE.fullmatch(info.language):
        raise CapError(
            f"{path}.language",
            _("code de langue RFC 3066 attendu : « {value} »").format(value=info.language),
        )
    if not info.category:
        raise CapError(f"{path}.category", _("élément obligatoire manquant : <category>"))
    for index, category in enumerate(info.category):
        _check_enum(category, CATEGORIES, f"{path}.category[{index}]")
    _check_string(info.event, f"{path}.event", required=True)
    for index, response in enumerate(info.responseType):
        _check_enum(response, RESPONSE_TYPES, f"{path}.responseType[{index}]")
    _check_enum(info.urgency, URGENCIES, f"{path}.urgency")
    _check_enum(info.severity, SEVERITIES, f"{path}.severity")
    _check_enum(info.certainty, CERTAINTIES, f"{path}.certainty")
    _check_optional(info.audience, f"{path}.audience")
    _check_values(info.eventCode, f"{path}.eventCode")
    for name in ("effective", "onset", "expires"):
        value = getattr(info, name)
        if value is not None:
            _check_time(value, f"{path}.{name}")
    for name in ("senderName", "headline", "description", "instruction", "contact"):
        _check_optional(getattr(info, name), f"{path}.{name}")
    _check_optional(info.web, f"{path}.web")
    if info.web is not None and not _ABSOLUTE_URI_RE.fullmatch(info.web):
        raise CapError(
            f"{path}.web", _("URI absolue attendue : « {value} »").format(value=info.web)
        )
    _check_values(info.parameter, f"{path}.parameter")
    for index, resource in enumerate(info.resources):
        _check_resource(resource, f"{path}.resource[{index}]")
    for index, area in enumerate(info.areas):
        _check_area(area, f"{path}.area[{index}]")


def validate(alert: CapAlert) -> None:
    """Check ``alert`` against CAP 1.2; raise :class:`CapError` at the first breach.

    Beyond the schema's required elements and enumerations: ``restriction``
    is required when ``scope`` is Restricted, ``addresses`` when it is
    Private, ``references`` for Update, Cancel, Ack and Error; identifiers
    hold no space, comma, ``<`` or ``&``; times are aware, to the second;
    polygons are closed rings of at least 4 points; latitudes lie in
    [-90, 90], longitudes in [-180, 180]; circle radii are ≥ 0.
    """
    if not isinstance(alert, CapAlert):
        raise CapError("alert", _("message CAP attendu"))
    path = "alert"
    _check_ident(alert.identifier, f"{path}.identifier")
    _check_ident(alert.sender, f"{path}.sender")
    _check_time(alert.sent, f"{path}.sent")
    _check_enum(alert.status, STATUSES, f"{path}.status")
    _check_enum(alert.msgType, MSG_TYPES, f"{path}.msgType")
    _check_optional(alert.source, f"{path}.source")
    _check_enum(alert.scope, SCOPES, f"{path}.scope")
    _check_optional(alert.restriction, f"{path}.restriction")
    if alert.scope == "Restricted" and not (alert.restriction or "").strip():
        raise CapError(
            f"{path}.restriction",
            _("<restriction> est obligatoire quand <scope> vaut Restricted"),
        )
    _check_listing(alert.addresses, f"{path}.addresses")
    if alert.scope == "Private" and not alert.addresses:
        raise CapError(
            f"{path}.addresses",
            _("<addresses> est obligatoire quand <scope> vaut Private"),
        )
    if not isinstance(alert.code, list):
        raise CapError(f"{path}.code", _("liste attendue"))
    for index, code in enumerate(alert.code):
        _check_string(code, f"{path}.code[{index}]")
    _check_optional(alert.note, f"{path}.note")
    if not isinstance(alert.references, list):
        raise CapError(f"{path}.references", _("liste attendue"))
    for index, ref in enumerate(alert.references):
        here = f"{path}.references[{index}]"
        if not isinstance(ref, tuple) or len(ref) != 3:
            raise CapError(here, _("triplet (sender, identifier, sent) attendu"))
        _check_ident(ref[0], here)
        _check_ident(ref[1], here)
        _check_time(ref[2], here)
    if alert.msgType in _NEEDS_REFERENCES and not alert.references:
        raise CapError(
            f"{path}.references",
            _("<references> est obligatoire pour un message de type {msg_type}").format(
                msg_type=alert.msgType
            ),
        )
    _check_listing(alert.incidents, f"{path}.incidents")
    if not isinstance(alert.infos, list):
        raise CapError(f"{path}.info", _("liste attendue"))
    for index, info in enumerate(alert.infos):
        _check_info(info, f"{path}.info[{index}]")

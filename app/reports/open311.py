"""Open311 GeoReport v2: reports seen from outside, in the spec's field names, as JSON or XML.

What leaves through it is public: positions are rounded (``reports.public_position``),
the address is the commune, and no reporter data (name, e-mail, account) is
ever included. Hidden reports do not exist for Open311.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app import xmltext
from app.models.reports import Report, ReportPhoto
from app.models.territory import Commune
from app.i18n import gettext as _
from app.reports import catalogue
from app.reports.categories import Categories

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-22T00:00:00+00:00"
GROUP = "Dépôts sauvages"
# Litestar adds "; charset=utf-8" to text/* itself: naming it here would send it twice.
FORMATS = {"json": "application/json", "xml": "text/xml"}

# Fields of one request, in the spec's order.
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
SERVICE_FIELDS = (
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
)
ATTRIBUTE_FIELDS = (
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
)

WITNESSED = {"yes": "Oui", "no": "Non"}
# What a dump holds: several may be given (attribute[contents][]=tyres&attribute[contents][]=rubble).
CONTENTS = {
    "household": "Ordures ménagères",
    "bulky": "Encombrants",
    "rubble": "Gravats",
    "green": "Déchets verts",
    "tyres": "Pneus",
    "electrical": "Appareils électriques",
    "hazardous": "Produits dangereux",
}


def commune_only_notice() -> str:
    return _(
        "Placé par commune seulement : l’adresse ne donne pas de position précise, "
        "lat et long sont vides."
    )


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def services(offered: Categories) -> list[dict[str, Any]]:
    """The territory's services: the categories it offers, in its order (French names)."""
    return [
        {
            "service_code": code,
            "service_name": label,
            "description": offered.hints.get(code) or None,
            "metadata": True,
            "type": "realtime",
            "keywords": "dépôt sauvage, déchets, " + label.lower(),
            "group": GROUP,
        }
        for code, label in offered.offered.items()
    ]


def service_definition(code: str) -> dict[str, Any]:
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "volume",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "Volume estimé du dépôt",
                "order": 1,
                "description": "Volume estimé",
                "values": [{"key": k, "name": v} for k, v in catalogue.VOLUMES.items()],
            },
            {
                "variable": True,
                "code": "witnessed",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "La personne a-t-elle vu le dépôt être fait ?",
                "order": 2,
                "description": "Témoin du dépôt",
                "values": [{"key": k, "name": v} for k, v in WITNESSED.items()],
            },
            {
                "variable": True,
                "code": "contents",
                "datatype": "multivaluelist",
                "required": False,
                "datatype_description": "Ce que contient le dépôt (plusieurs réponses possibles)",
                "order": 3,
                "description": "Contenu du dépôt",
                "values": [{"key": k, "name": v} for k, v in CONTENTS.items()],
            },
        ],
    }


def request_row(
    report: Report,
    commune: Commune | None,
    photo: ReportPhoto | None,
    base_url: str,
    agency: str = catalogue.AGENCY,
    service_name: str | None = None,
) -> dict[str, Any]:
    """One report as a service request; ``service_name``: its category's name on its territory."""
    lat: float | None
    lon: float | None
    lat, lon = catalogue.public_position(report.lat, report.lon)
    if report.approximate:  # placed by commune only: no pin at the commune's centre
        lat = lon = None
    return {
        "service_request_id": catalogue.number(report),
        "status": "open" if catalogue.is_open(report.status) else "closed",
        "status_notes": _status_notes(report),
        "service_name": service_name or catalogue.CATEGORIES.get(report.category, report.category),
        "service_code": report.category,
        "description": report.description or None,
        "agency_responsible": agency,
        "service_notice": commune_only_notice() if report.approximate else None,
        "requested_datetime": iso(report.created_at),
        "updated_datetime": iso(report.updated_at),
        "expected_datetime": iso(report.expected_at) if catalogue.is_open(report.status) else None,
        "address": _public_address(report, commune),
        "address_id": report.address_id,
        "zipcode": commune.postcode if commune else None,
        "lat": lat,
        "long": lon,
        "media_url": f"{base_url.rstrip('/')}/reports/photos/{photo.display_name}"
        if photo
        else None,
    }


def _public_address(report: Report, commune: Commune | None) -> str | None:
    """The street when the BAN placed the report (never the house number), else the commune."""
    if report.address_id and report.address:
        street = report.address.split(",")[0].lstrip("0123456789 ")
        for rep in ("bis ", "ter ", "quater "):
            street = street.removeprefix(rep)
        return f"{street}, {commune.postcode} {commune.name}" if commune else street
    return commune.name if commune else None


def _status_notes(report: Report) -> str | None:
    label = catalogue.STATUSES[report.status]
    notes = report.status_notes.strip()
    return f"{label}. {notes}" if notes else label


# --- serialisation ----------------------------------------------------------------------------------


def _xml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return xmltext.text(str(value))


def _xml_element(tag: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"<{tag}>" + "".join(_xml_element(k, v) for k, v in value.items()) + f"</{tag}>"
    if isinstance(value, list):
        child = {
            "attributes": "attribute",
            "values": "value",
            "endpoints": "endpoint",
            "formats": "format",
        }.get(tag, "item")
        return f"<{tag}>" + "".join(_xml_element(child, v) for v in value) + f"</{tag}>"
    return f"<{tag}>{_xml_value(value)}</{tag}>"


def to_xml(root: str, item: str | None, data: dict[str, Any] | Sequence[dict[str, Any]]) -> bytes:
    """``<root><item>...</item>...</root>`` for a list, or ``<root>...</root>`` for one object."""
    head = '<?xml version="1.0" encoding="utf-8"?>'
    if isinstance(data, dict):
        body = _xml_element(root, data)
    else:
        body = (
            f"<{root}>" + "".join(_xml_element(item or "item", row) for row in data) + f"</{root}>"
        )
    return (head + body).encode()


def errors_body(fmt: str, code: int, description: str) -> bytes:
    if fmt == "xml":
        return to_xml("errors", "error", [{"code": code, "description": description}])
    import json

    return json.dumps([{"code": code, "description": description}], ensure_ascii=False).encode()

"""Writing CAP 1.2: :func:`to_xml` validates an alert and writes UTF-8 CAP 1.2, so that ``parse(to_xml(alert)) == alert``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from app import xmltext
from app.alerts.cap import (
    CAP_NS,
    MAX_BYTES,
    CapAlert,
    CapError,
    CapValue,
    Point,
    format_number,
    format_time,
)
from app.alerts.cap_check import validate
from app.i18n import gettext as _


def _format_listing(items: Sequence[str]) -> str:
    return " ".join(f'"{item}"' if re.search(r"\s", item) else item for item in items)


# --------------------------------------------------------------------------
# Writing XML
# --------------------------------------------------------------------------


class _Writer:
    """Indented CAP XML, one element per line; text is escaped exactly."""

    def __init__(self) -> None:
        self.lines: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>']
        self.depth = 0

    def open(self, name: str, attrs: str = "") -> None:
        self.lines.append(f"{'  ' * self.depth}<{name}{attrs}>")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.lines.append(f"{'  ' * self.depth}</{name}>")

    def leaf(self, name: str, value: str | None) -> None:
        if value is not None:
            self.lines.append(f"{'  ' * self.depth}<{name}>{xmltext.text(value)}</{name}>")

    def values(self, name: str, pairs: Iterable[CapValue]) -> None:
        for pair in pairs:
            self.open(name)
            self.leaf("valueName", pair[0])
            self.leaf("value", pair[1])
            self.close(name)

    def result(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode("utf-8")


def _point_text(point: Point) -> str:
    return f"{format_number(point[0])},{format_number(point[1])}"


def to_xml(alert: CapAlert) -> bytes:
    """Write ``alert`` as a UTF-8 CAP 1.2 document, after :func:`validate`.

    Times keep their offset, UTC is written ``-00:00`` (never ``Z``); numbers
    are written in the shortest decimal form that reads back to the same
    float, so ``parse(to_xml(alert)) == alert``.
    """
    validate(alert)
    w = _Writer()
    w.open("alert", f' xmlns="{CAP_NS}"')
    w.leaf("identifier", alert.identifier)
    w.leaf("sender", alert.sender)
    w.leaf("sent", format_time(alert.sent))
    w.leaf("status", alert.status)
    w.leaf("msgType", alert.msgType)
    w.leaf("source", alert.source)
    w.leaf("scope", alert.scope)
    w.leaf("restriction", alert.restriction)
    if alert.addresses:
        w.leaf("addresses", _format_listing(alert.addresses))
    for code in alert.code:
        w.leaf("code", code)
    w.leaf("note", alert.note)
    if alert.references:
        w.leaf(
            "references",
            " ".join(f"{r[0]},{r[1]},{format_time(r[2])}" for r in alert.references),
        )
    if alert.incidents:
        w.leaf("incidents", _format_listing(alert.incidents))
    for info in alert.infos:
        w.open("info")
        w.leaf("language", info.language)
        for category in info.category:
            w.leaf("category", category)
        w.leaf("event", info.event)
        for response in info.responseType:
            w.leaf("responseType", response)
        w.leaf("urgency", info.urgency)
        w.leaf("severity", info.severity)
        w.leaf("certainty", info.certainty)
        w.leaf("audience", info.audience)
        w.values("eventCode", info.eventCode)
        for name in ("effective", "onset", "expires"):
            value = getattr(info, name)
            if value is not None:
                w.leaf(name, format_time(value))
        w.leaf("senderName", info.senderName)
        w.leaf("headline", info.headline)
        w.leaf("description", info.description)
        w.leaf("instruction", info.instruction)
        w.leaf("web", info.web)
        w.leaf("contact", info.contact)
        w.values("parameter", info.parameter)
        for resource in info.resources:
            w.open("resource")
            w.leaf("resourceDesc", resource.resourceDesc)
            w.leaf("mimeType", resource.mimeType)
            w.leaf("size", None if resource.size is None else str(resource.size))
            w.leaf("uri", resource.uri)
            w.leaf("derefUri", resource.derefUri)
            w.leaf("digest", resource.digest)
            w.close("resource")
        for area in info.areas:
            w.open("area")
            w.leaf("areaDesc", area.areaDesc)
            for ring in area.polygons:
                w.leaf("polygon", " ".join(_point_text(point) for point in ring))
            for circle in area.circles:
                w.leaf("circle", f"{_point_text(circle[0])} {format_number(circle[1])}")
            w.values("geocode", area.geocodes)
            if area.altitude is not None:
                w.leaf("altitude", format_number(area.altitude))
            if area.ceiling is not None:
                w.leaf("ceiling", format_number(area.ceiling))
            w.close("area")
        w.close("info")
    w.close("alert")
    data = w.result()
    if len(data) > MAX_BYTES:
        raise CapError(
            "alert",
            _("message trop volumineux : {size} octets (maximum {limit})").format(
                size=len(data), limit=MAX_BYTES
            ),
        )
    return data

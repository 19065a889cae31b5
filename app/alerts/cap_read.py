"""Reading CAP 1.2: :func:`parse` turns a document (bytes) into :class:`app.alerts.cap.CapAlert`.

Anything that is not valid CAP 1.2 is refused with a :class:`app.alerts.cap.CapError`
that carries a field path (``alert.info[0].area[1].polygon[0]``) and a French
message (through gettext).

Parsing is safe: the document is size-capped before parsing, read with
defusedxml with any DOCTYPE refused (so no entity, internal or external, is
ever expanded: no XXE, no billion laughs) and without network access.

Strictness follows the CAP 1.2 schema: elements in the schema's order, each
single element at most once, no unknown element, enumerations exactly as the
specification, times as ``YYYY-MM-DDThh:mm:ss±hh:mm`` (no ``Z``, no fraction
of a second; UTC is written ``-00:00``). XML signature and encryption blocks
(``ds:Signature``, ``xenc:EncryptedData``) allowed by the schema at the end of
``alert`` are skipped, not verified.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml.common import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from app.alerts.cap import (
    CAP_NS,
    MAX_BYTES,
    CapAlert,
    CapArea,
    CapCircle,
    CapError,
    CapInfo,
    CapReference,
    CapResource,
    CapValue,
    Category,
    Certainty,
    MsgType,
    Point,
    ResponseType,
    Scope,
    Severity,
    Status,
    Urgency,
    parse_time,
)
from app.alerts.cap_check import validate
from app.i18n import gettext as _

_DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
_XENC_NS = "http://www.w3.org/2001/04/xmlenc#"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_OTHER_CAP_PREFIX = "urn:oasis:names:tc:emergency:cap:"
_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_INTEGER_RE = re.compile(r"\+?\d+")
_LISTING_RE = re.compile(r'"([^"]*)"|([^\s"]+)|(")')


def _parse_decimal(text: str, path: str, what: str) -> float:
    token = text.strip()
    if not _DECIMAL_RE.fullmatch(token):
        raise CapError(path, _("{what} illisible : « {value} »").format(what=what, value=token))
    return float(token)


def _parse_point(token: str, path: str) -> Point:
    parts = token.split(",")
    if len(parts) != 2:
        raise CapError(
            path,
            _("point illisible : « {value} » (attendu « latitude,longitude »)").format(value=token),
        )
    return (
        _parse_decimal(parts[0], path, _("latitude")),
        _parse_decimal(parts[1], path, _("longitude")),
    )


def _parse_polygon(text: str, path: str) -> list[Point]:
    return [_parse_point(token, path) for token in text.split()]


def _parse_circle(text: str, path: str) -> CapCircle:
    tokens = text.split()
    if len(tokens) != 2:
        raise CapError(
            path,
            _("cercle illisible : « {value} » (attendu « latitude,longitude rayon_km »)").format(
                value=text.strip()
            ),
        )
    return CapCircle(_parse_point(tokens[0], path), _parse_decimal(tokens[1], path, _("rayon")))


def _parse_listing(text: str, path: str) -> list[str]:
    """Split a CAP group listing: whitespace-separated, multi-word items in double quotes."""
    items: list[str] = []
    for m in _LISTING_RE.finditer(text):
        quoted, bare, stray = m.groups()
        if stray is not None:
            raise CapError(path, _("guillemet non fermé dans la liste"))
        items.append(quoted if quoted is not None else bare)
    return items


def _parse_references(text: str, path: str) -> list[CapReference]:
    refs: list[CapReference] = []
    for index, token in enumerate(text.split()):
        parts = token.split(",")
        if len(parts) != 3:
            raise CapError(
                f"{path}[{index}]",
                _("référence illisible : « {value} » (attendu « sender,identifier,sent »)").format(
                    value=token
                ),
            )
        refs.append(CapReference(parts[0], parts[1], parse_time(parts[2], f"{path}[{index}]")))
    return refs


# --------------------------------------------------------------------------
# Reading XML
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """The children of one CAP element: their order, which repeat, which are required."""

    name: str
    children: tuple[str, ...]
    repeated: frozenset[str]
    required: frozenset[str]


_ALERT = _Shape(
    "alert",
    (
        "identifier",
        "sender",
        "sent",
        "status",
        "msgType",
        "source",
        "scope",
        "restriction",
        "addresses",
        "code",
        "note",
        "references",
        "incidents",
        "info",
    ),
    frozenset({"code", "info"}),
    frozenset({"identifier", "sender", "sent", "status", "msgType", "scope"}),
)
_INFO = _Shape(
    "info",
    (
        "language",
        "category",
        "event",
        "responseType",
        "urgency",
        "severity",
        "certainty",
        "audience",
        "eventCode",
        "effective",
        "onset",
        "expires",
        "senderName",
        "headline",
        "description",
        "instruction",
        "web",
        "contact",
        "parameter",
        "resource",
        "area",
    ),
    frozenset({"category", "responseType", "eventCode", "parameter", "resource", "area"}),
    frozenset({"category", "event", "urgency", "severity", "certainty"}),
)
_RESOURCE = _Shape(
    "resource",
    ("resourceDesc", "mimeType", "size", "uri", "derefUri", "digest"),
    frozenset(),
    frozenset({"resourceDesc", "mimeType"}),
)
_AREA = _Shape(
    "area",
    ("areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"),
    frozenset({"polygon", "circle", "geocode"}),
    frozenset({"areaDesc"}),
)
_VALUE = _Shape(
    "value pair",
    ("valueName", "value"),
    frozenset(),
    frozenset({"valueName", "value"}),
)


def _split_tag(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _sep, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def _only_whitespace(text: str | None) -> bool:
    return text is None or not text.strip()


def _check_attributes(element: Element, path: str) -> None:
    for name in element.attrib:
        ns, _local = _split_tag(name)
        if ns != _XSI_NS:
            raise CapError(path, _("attribut non admis par CAP 1.2 : « {name} »").format(name=name))


def _children(element: Element, path: str, shape: _Shape) -> dict[str, list[Element]]:
    """Check the children of ``element`` against ``shape`` and group them by name."""
    _check_attributes(element, path)
    if not _only_whitespace(element.text):
        raise CapError(path, _("texte inattendu entre les éléments"))
    found: dict[str, list[Element]] = {}
    last_rank = -1
    for child in element:
        if not isinstance(child.tag, str):  # comments and processing instructions
            continue
        if not _only_whitespace(child.tail):
            raise CapError(path, _("texte inattendu entre les éléments"))
        ns, local = _split_tag(child.tag)
        if ns != CAP_NS:
            if shape is _ALERT and ns in (_DSIG_NS, _XENC_NS):
                continue  # signature / encryption, allowed by the schema, not verified
            raise CapError(
                f"{path}.{local}",
                _("élément hors de l'espace de noms CAP 1.2 : « {tag} »").format(tag=child.tag),
            )
        if local not in shape.children:
            raise CapError(
                f"{path}.{local}",
                _("élément inconnu dans <{parent}> : <{name}>").format(
                    parent=shape.name, name=local
                ),
            )
        rank = shape.children.index(local)
        if rank < last_rank:
            raise CapError(
                f"{path}.{local}",
                _("élément hors de l'ordre du schéma CAP 1.2 : <{name}> après <{previous}>").format(
                    name=local, previous=shape.children[last_rank]
                ),
            )
        last_rank = rank
        if local in found and local not in shape.repeated:
            raise CapError(
                f"{path}.{local}",
                _("élément répété alors qu'il ne peut apparaître qu'une fois : <{name}>").format(
                    name=local
                ),
            )
        found.setdefault(local, []).append(child)
    for name in shape.children:
        if name in shape.required and name not in found:
            raise CapError(
                f"{path}.{name}",
                _("élément obligatoire manquant : <{name}>").format(name=name),
            )
    return found


def _text(element: Element, path: str) -> str:
    """The text of a leaf element (``""`` when empty)."""
    _check_attributes(element, path)
    if any(isinstance(child.tag, str) for child in element):
        raise CapError(path, _("cet élément ne contient que du texte, pas d'éléments"))
    return element.text or ""


def _leaf(found: dict[str, list[Element]], name: str, path: str) -> str | None:
    elements = found.get(name)
    return _text(elements[0], f"{path}.{name}") if elements else None


def _leaves(found: dict[str, list[Element]], name: str, path: str) -> list[str]:
    return [
        _text(element, f"{path}.{name}[{index}]")
        for index, element in enumerate(found.get(name, []))
    ]


def _token(found: dict[str, list[Element]], name: str, path: str) -> str | None:
    value = _leaf(found, name, path)
    return None if value is None else value.strip()


def _time(found: dict[str, list[Element]], name: str, path: str) -> datetime | None:
    value = _leaf(found, name, path)
    return None if value is None else parse_time(value, f"{path}.{name}")


def _values(found: dict[str, list[Element]], name: str, path: str) -> list[CapValue]:
    pairs: list[CapValue] = []
    for index, element in enumerate(found.get(name, [])):
        here = f"{path}.{name}[{index}]"
        inner = _children(element, here, _VALUE)
        pairs.append(
            CapValue(
                _text(inner["valueName"][0], f"{here}.valueName"),
                _text(inner["value"][0], f"{here}.value"),
            )
        )
    return pairs


def _read_resource(element: Element, path: str) -> CapResource:
    found = _children(element, path, _RESOURCE)
    size_text = _token(found, "size", path)
    size: int | None = None
    if size_text is not None:
        if not _INTEGER_RE.fullmatch(size_text):
            raise CapError(
                f"{path}.size",
                _("taille illisible : « {value} » (entier en octets attendu)").format(
                    value=size_text
                ),
            )
        size = int(size_text)
    return CapResource(
        resourceDesc=_leaf(found, "resourceDesc", path) or "",
        mimeType=_token(found, "mimeType", path) or "",
        size=size,
        uri=_token(found, "uri", path),
        derefUri=_leaf(found, "derefUri", path),
        digest=_token(found, "digest", path),
    )


def _read_area(element: Element, path: str) -> CapArea:
    found = _children(element, path, _AREA)
    altitude = _token(found, "altitude", path)
    ceiling = _token(found, "ceiling", path)
    return CapArea(
        areaDesc=_leaf(found, "areaDesc", path) or "",
        polygons=[
            _parse_polygon(text, f"{path}.polygon[{index}]")
            for index, text in enumerate(_leaves(found, "polygon", path))
        ],
        circles=[
            _parse_circle(text, f"{path}.circle[{index}]")
            for index, text in enumerate(_leaves(found, "circle", path))
        ],
        geocodes=_values(found, "geocode", path),
        altitude=None
        if altitude is None
        else _parse_decimal(altitude, f"{path}.altitude", _("altitude")),
        ceiling=None
        if ceiling is None
        else _parse_decimal(ceiling, f"{path}.ceiling", _("plafond")),
    )


def _read_info(element: Element, path: str) -> CapInfo:
    found = _children(element, path, _INFO)
    language = _token(found, "language", path)
    return CapInfo(
        language="en-US" if language is None else language,
        category=cast(list[Category], [v.strip() for v in _leaves(found, "category", path)]),
        event=_leaf(found, "event", path) or "",
        responseType=cast(
            list[ResponseType], [v.strip() for v in _leaves(found, "responseType", path)]
        ),
        urgency=cast(Urgency, _token(found, "urgency", path)),
        severity=cast(Severity, _token(found, "severity", path)),
        certainty=cast(Certainty, _token(found, "certainty", path)),
        audience=_leaf(found, "audience", path),
        eventCode=_values(found, "eventCode", path),
        effective=_time(found, "effective", path),
        onset=_time(found, "onset", path),
        expires=_time(found, "expires", path),
        senderName=_leaf(found, "senderName", path),
        headline=_leaf(found, "headline", path),
        description=_leaf(found, "description", path),
        instruction=_leaf(found, "instruction", path),
        web=_token(found, "web", path),
        contact=_leaf(found, "contact", path),
        parameter=_values(found, "parameter", path),
        resources=[
            _read_resource(child, f"{path}.resource[{index}]")
            for index, child in enumerate(found.get("resource", []))
        ],
        areas=[
            _read_area(child, f"{path}.area[{index}]")
            for index, child in enumerate(found.get("area", []))
        ],
    )


def _read_alert(root: Element) -> CapAlert:
    path = "alert"
    found = _children(root, path, _ALERT)
    addresses = _leaf(found, "addresses", path)
    incidents = _leaf(found, "incidents", path)
    references = _leaf(found, "references", path)
    sent = _time(found, "sent", path)
    if sent is None:  # unreachable: <sent> is required, _children checked it
        raise CapError(f"{path}.sent", _("élément obligatoire manquant : <sent>"))
    return CapAlert(
        identifier=_token(found, "identifier", path) or "",
        sender=_token(found, "sender", path) or "",
        sent=sent,
        status=cast(Status, _token(found, "status", path)),
        msgType=cast(MsgType, _token(found, "msgType", path)),
        source=_leaf(found, "source", path),
        scope=cast(Scope, _token(found, "scope", path)),
        restriction=_leaf(found, "restriction", path),
        addresses=[] if addresses is None else _parse_listing(addresses, f"{path}.addresses"),
        code=_leaves(found, "code", path),
        note=_leaf(found, "note", path),
        references=[]
        if references is None
        else _parse_references(references, f"{path}.references"),
        incidents=[] if incidents is None else _parse_listing(incidents, f"{path}.incidents"),
        infos=[
            _read_info(child, f"{path}.info[{index}]")
            for index, child in enumerate(found.get("info", []))
        ],
    )


_XML_DECL_RE = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


def declared_encoding(data: bytes) -> str:
    """The encoding a CAP document declares (``ISO-8859-1``, ``UTF-8``…), as written in it.

    A byte-order mark wins, then the XML declaration's ``encoding``; without
    either, XML says UTF-8. The name is kept as the document spells it, so that
    a re-export can declare the very same charset.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "UTF-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    m = _XML_DECL_RE.match(data.lstrip(b" \t\r\n"))
    if m is None:
        return "UTF-8"
    name = m.group(1).decode("ascii")
    try:
        codecs.lookup(name)
    except LookupError:
        return "UTF-8"
    return name


def document_text(data: bytes) -> str:
    """The document as text, decoded with its declared encoding (for display)."""
    encoding = declared_encoding(data)
    if encoding == "UTF-8" and data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    return data.decode(encoding, "replace")


def parse(xml_bytes: bytes | bytearray | memoryview, *, max_bytes: int = MAX_BYTES) -> CapAlert:
    """Read a CAP 1.2 document and return the checked :class:`CapAlert`.

    Raises :class:`CapError` (a ``ValueError``) for a document over
    ``max_bytes``, malformed XML, any DOCTYPE or entity declaration, a root
    other than ``{urn:oasis:names:tc:emergency:cap:1.2}alert``, and any
    breach of CAP 1.2 (see :func:`validate`).
    """
    if not isinstance(xml_bytes, (bytes, bytearray, memoryview)):
        raise TypeError("parse() takes the CAP document as bytes")
    data = bytes(xml_bytes)
    if len(data) > max_bytes:
        raise CapError(
            "document",
            _("document trop volumineux : {size} octets (maximum {limit})").format(
                size=len(data), limit=max_bytes
            ),
        )
    if not data.strip():
        raise CapError("document", _("document vide"))
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise CapError(
            "document",
            _("DOCTYPE refusé : un message CAP ne déclare ni DTD ni entité"),
        ) from None
    except EntitiesForbidden:
        raise CapError("document", _("déclaration d'entité refusée")) from None
    except ExternalReferenceForbidden:
        raise CapError("document", _("référence externe refusée")) from None
    except DefusedXmlException:
        raise CapError("document", _("construction XML refusée")) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise CapError(
            "document",
            _("XML mal formé (ligne {line}, colonne {column})").format(line=line, column=column),
        ) from None
    if not isinstance(root.tag, str):
        raise CapError("document", _("élément racine absent"))
    ns, local = _split_tag(root.tag)
    if ns != CAP_NS or local != "alert":
        if local == "alert" and ns is not None and ns.startswith(_OTHER_CAP_PREFIX):
            message = _("version de CAP non prise en charge : « {ns} » (seul CAP 1.2 l'est)")
        elif local == "alert":
            message = _("espace de noms absent ou inconnu : « {ns} » (attendu CAP 1.2)")
        else:
            message = _("l'élément racine doit être <alert> de CAP 1.2, pas <{local}>")
        raise CapError("alert", message.format(ns=ns or "", local=local))
    alert = _read_alert(root)
    validate(alert)
    return alert

"""NGSI-LD entity queries as brokers answer them: the request's parameters, checked, then evaluated.

``GET /ngsi-ld/v1/entities`` (``app.routes.sensors``) reads its parameters
with :func:`parse` and answers with :func:`search`: ``type`` (names or full
IRIs, ``,`` or ``|`` between them), ``id``, ``idPattern``, ``attrs``, ``q``,
geo-queries, ``pick``/``omit``, ``options``/``format`` (``normalized``,
``keyValues``/``simplified``), ``limit``/``offset``/``count``. Every other
parameter, and every value Eclor does not implement, is refused with 400 and
ProblemDetails, never answered with unfiltered data. Filters run on the
entities themselves (:mod:`app.ngsi_query`), after an SQL prefilter of the
lights and sensors (bounding box of the geo-query, equality on ``status``) so a
query reads only what can match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlmodel import Session, col

from app import ngsi_query as nq
from app.models.lighting import Streetlight
from app.models.sensors import Sensor
from app.ngsi import NgsiError, parse_urn
from app.ngsi_context import CORE, LdContext
from app.sensors import ngsi_ld

KNOWN = {
    "type",
    "id",
    "idPattern",
    "attrs",
    "q",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "pick",
    "omit",
    "options",
    "format",
    "limit",
    "offset",
    "count",
    "local",
}
OPTIONS = {"keyValues", "simplified", "normalized", "count"}
MAX_LIMIT = 1000


@dataclass(frozen=True)
class EntityQuery:
    types: list[str] | None
    ids: list[str] | None
    id_pattern: re.Pattern[str] | None
    attrs: list[str] | None
    q: Any
    geo: nq.GeoQuery | None
    pick: list[str] | None
    omit: list[str] | None
    simplified: bool
    limit: int
    offset: int
    count: bool

    @property
    def filtered(self) -> bool:
        return any(x is not None for x in (self.id_pattern, self.attrs, self.q, self.geo))


def _unsupported(detail: str) -> NgsiError:
    return NgsiError(400, "OperationNotSupported", "Not supported", detail[:300])


def _term(name: str, ctx: LdContext = CORE) -> str:
    """A requested type or attribute name as served: expanded with the request's context, then the
    served term of that IRI (an IRI Eclor does not serve stays an IRI and matches nothing)."""
    return ngsi_ld.term_of(ctx.expand(name))


served_term = _term


def representation(params: Mapping[str, str]) -> bool:
    """Whether the simplified (keyValues) form is asked for, from ``options`` and ``format``."""
    options = [o for o in (params.get("options") or "").split(",") if o]
    unknown = [o for o in options if o not in OPTIONS]
    if unknown:
        raise _unsupported(f"options {','.join(unknown)} not supported (keyValues, simplified)")
    simplified = "keyValues" in options or "simplified" in options
    fmt = params.get("format")
    if fmt is not None:
        if fmt not in ("normalized", "simplified", "keyValues"):
            raise _unsupported(f"format {fmt[:30]} not supported (normalized, simplified)")
        if ("normalized" in options and fmt != "normalized") or (
            simplified and fmt == "normalized"
        ):
            raise NgsiError(
                400, "BadRequestData", "Conflicting representation", "format vs options"
            )
        simplified = fmt in ("simplified", "keyValues")
    return simplified


def pick_omit(
    params: Mapping[str, str], ctx: LdContext = CORE
) -> tuple[list[str] | None, list[str] | None]:
    pick = nq.split_names(params.get("pick"), "pick")
    omit = nq.split_names(params.get("omit"), "omit")
    if pick is not None and omit is not None:
        raise NgsiError(400, "BadRequestData", "pick and omit together", "use one of them")
    return (
        None if pick is None else [_term(p, ctx) for p in pick],
        None if omit is None else [_term(o, ctx) for o in omit],
    )


def _types(text: str | None, ctx: LdContext) -> list[str] | None:
    if text is None:
        return None
    if any(c in text for c in ";()"):
        raise _unsupported("type expressions with ';' or parentheses are not supported")
    names = [t.strip() for t in re.split(r"[,|]", text) if t.strip()]
    if not names:
        raise NgsiError(400, "BadRequestData", "Invalid type", "type is empty")
    return [_term(t, ctx) for t in names]


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d{1,9}", raw):
        raise NgsiError(400, "BadRequestData", f"Invalid {name}", f"{name} must be an integer >= 0")
    return int(raw)


def parse(params: Mapping[str, str], ctx: LdContext = CORE) -> EntityQuery:
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise _unsupported(f"parameter {unknown[0][:40]} is not supported")
    if (params.get("local") or "true") != "true":
        raise _unsupported("local=false: Eclor has no other context source to ask")
    ids = [i.strip() for i in (params.get("id") or "").split(",") if i.strip()] or None
    for value in ids or ():
        parse_urn(value)
    q_text = params.get("q")
    q = nq.parse_q(q_text) if q_text is not None else None
    geo = nq.parse_geo(
        params.get("georel"),
        params.get("geometry"),
        params.get("coordinates"),
        params.get("geoproperty"),
    )
    attrs = nq.split_names(params.get("attrs"), "attrs")
    types = _types(params.get("type"), ctx)
    if (
        types is None
        and ids is None
        and attrs is None
        and q is None
        and geo is None
        and not params.get("idPattern")
    ):
        raise NgsiError(
            400,
            "BadRequestData",
            "Too broad query",
            "give at least one of type, id, idPattern, attrs, q or a geo-query",
        )
    limit = _int(params, "limit", 20)
    if limit > MAX_LIMIT:
        raise NgsiError(400, "BadRequestData", "Invalid limit", f"limit must be <= {MAX_LIMIT}")
    options = (params.get("options") or "").split(",")
    pick, omit = pick_omit(params, ctx)
    if q is not None:
        q = _terms_of(q, ctx)
    return EntityQuery(
        types=types,
        ids=ids,
        id_pattern=nq.parse_id_pattern(params.get("idPattern")),
        attrs=None if attrs is None else [_term(a, ctx) for a in attrs],
        q=q,
        geo=geo if geo is None else _geo_terms(geo, ctx),
        pick=pick,
        omit=omit,
        simplified=representation(params),
        limit=limit,
        offset=_int(params, "offset", 0),
        count=(params.get("count") or "").lower() == "true" or "count" in options,
    )


def _terms_of(node: Any, ctx: LdContext) -> Any:
    if isinstance(node, nq.Term):
        return nq.Term(
            (_term(node.path[0], ctx),) + node.path[1:], node.members, node.op, node.value
        )
    return nq.Bool(node.op, tuple(_terms_of(p, ctx) for p in node.parts))


def _geo_terms(geo: nq.GeoQuery, ctx: LdContext) -> nq.GeoQuery:
    return replace(geo, geoproperty=_term(geo.geoproperty, ctx))


# --------------------------------------------------------------------------- SQL prefilter

_POSITIONED: dict[str, Any] = {"Streetlight": Streetlight}


def _prefilter(entity_type: str, query: EntityQuery) -> list[Any]:
    """Conditions every match of a light or sensor meets (a superset: each entity is checked after)."""
    model = _POSITIONED.get(entity_type) or (
        Sensor if entity_type in ngsi_ld.KIND_OF_TYPE else None
    )
    if model is None:
        return []
    where: list[Any] = []
    if query.geo is not None and query.geo.geoproperty == "location":
        box = query.geo.box()
        if box is not None:
            margin = 1e-6
            where += [
                col(model.lat) >= box[0] - margin,
                col(model.lat) <= box[1] + margin,
                col(model.lon) >= box[2] - margin,
                col(model.lon) <= box[3] + margin,
            ]
    if model is Streetlight and query.q is not None:
        for term in (
            query.q.parts if isinstance(query.q, nq.Bool) and query.q.op == "and" else (query.q,)
        ):
            if (
                isinstance(term, nq.Term)
                and term.path == ("status",)
                and not term.members
                and term.op == "=="
                and isinstance(term.value, str)
            ):
                where.append(col(Streetlight.status) == term.value)
    return where


# --------------------------------------------------------------------------- answer


def shape(entity: dict[str, Any], query: EntityQuery) -> dict[str, Any]:
    if query.attrs is not None:
        entity = {k: v for k, v in entity.items() if k in ("id", "type") or k in query.attrs}
    entity = nq.pick_omit(entity, query.pick, query.omit)
    if query.simplified:
        entity = ngsi_ld.simplified(entity)
    return entity


def _matches(entity: dict[str, Any], query: EntityQuery) -> bool:
    if query.id_pattern is not None and not query.id_pattern.search(entity["id"]):
        return False
    if query.attrs is not None and not any(a in entity for a in query.attrs):
        return False
    if query.q is not None and not nq.q_matches(entity, query.q):
        return False
    return query.geo is None or nq.geo_matches(entity, query.geo)


def _wanted(query: EntityQuery) -> tuple[list[str], dict[str, list[str]] | None]:
    by_type: dict[str, list[str]] | None = None
    if query.ids is not None:
        by_type = {}
        for value in query.ids:
            entity_type, local = parse_urn(value)
            by_type.setdefault(entity_type, []).append(local)
    served = ngsi_ld.all_types()
    wanted = [t for t in (query.types or served) if t in served]
    if by_type is not None:
        wanted = [t for t in wanted if t in by_type]
    return wanted, by_type


def search(session: Session, query: EntityQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of the entities matching the query, in type then id order, and how many match."""
    wanted, by_type = _wanted(query)
    page: list[dict[str, Any]] = []
    count = 0
    limit, offset = query.limit, query.offset
    if not query.filtered:
        # Every entity is kept: count in SQL and read only the page, in id order (indexed paging).
        for entity_type in wanted:
            local = by_type.get(entity_type) if by_type else None
            total = ngsi_ld.count_of(session, entity_type, local)
            if limit - len(page) > 0 and offset + len(page) < count + total:
                start = max(0, offset + len(page) - count)
                page.extend(
                    shape(e, query)
                    for e in ngsi_ld.entities_of(
                        session, entity_type, local, offset=start, limit=limit - len(page)
                    )
                )
            count += total
        return page, count
    for entity_type in wanted:
        local = by_type.get(entity_type) if by_type else None
        for entity in ngsi_ld.entities_of(
            session, entity_type, local, where=_prefilter(entity_type, query)
        ):
            if not _matches(entity, query):
                continue
            if offset <= count < offset + limit:
                page.append(shape(entity, query))
            count += 1
    return page, count


def one(
    session: Session, entity_id: str, params: Mapping[str, str], ctx: LdContext = CORE
) -> dict[str, Any]:
    """``GET /ngsi-ld/v1/entities/{id}``: ``attrs``, ``pick``/``omit`` and the representation."""
    unknown = sorted(set(params) - {"attrs", "pick", "omit", "options", "format", "local"})
    if unknown:
        raise _unsupported(f"parameter {unknown[0][:40]} is not supported")
    attrs = nq.split_names(params.get("attrs"), "attrs")
    pick, omit = pick_omit(params, ctx)
    query = EntityQuery(
        types=None,
        ids=[entity_id],
        id_pattern=None,
        attrs=None if attrs is None else [_term(a, ctx) for a in attrs],
        q=None,
        geo=None,
        pick=pick,
        omit=omit,
        simplified=representation(params),
        limit=1,
        offset=0,
        count=False,
    )
    entity_type, local = parse_urn(entity_id)
    if entity_type in ngsi_ld.all_types():
        for entity in ngsi_ld.entities_of(session, entity_type, [local]):
            if query.attrs is not None and not any(a in entity for a in query.attrs):
                break  # none of the attributes asked for: not found, as brokers answer
            return shape(entity, query)
    raise NgsiError(404, "ResourceNotFound", "Entity not found", entity_id[:200])


# --------------------------------------------------------------------------- types and attributes


def _attribute_names(session: Session, entity_type: str) -> list[str]:
    """The attributes the entities of a type carry (read from its first 100 entities)."""
    names: set[str] = set()
    for entity in ngsi_ld.entities_of(session, entity_type, None, limit=100):
        names |= set(entity) - {"id", "type", "@context"}
    return sorted(names)


def _present(session: Session) -> list[str]:
    return [t for t in ngsi_ld.all_types() if ngsi_ld.count_of(session, t, None) > 0]


def iri(term: str) -> str:
    """The IRI a served term expands to (NGSI-LD's default vocabulary when the context lacks it)."""
    return ngsi_ld.context()["@context"][0].get(
        term, f"https://uri.etsi.org/ngsi-ld/default-context/{term}"
    )


def name_in(ctx: LdContext, term: str) -> str:
    """A served term as the request's context names it (itself when the request gave none)."""
    return term if ctx.url is None else ctx.compact(iri(term))


def compact(entity: dict[str, Any], ctx: LdContext) -> dict[str, Any]:
    """An entity with its attribute names and type compacted with the request's context."""
    if ctx.url is None:
        return entity
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key in ("id", "@context"):
            out[key] = value
        elif key == "type":
            out[key] = name_in(ctx, value) if isinstance(value, str) else value
        else:
            out[name_in(ctx, key)] = value
    return out


def types(session: Session, details: bool, ctx: LdContext = CORE) -> Any:
    """``GET /ngsi-ld/v1/types``: an EntityTypeList, or the EntityType of each (``details=true``)."""
    present = _present(session)
    if not details:
        return {
            "id": "urn:ngsi-ld:EntityTypeList:eclor",
            "type": "EntityTypeList",
            "typeList": [name_in(ctx, t) for t in present],
        }
    return [
        {
            "id": iri(t),
            "type": "EntityType",
            "typeName": name_in(ctx, t),
            "attributeNames": [name_in(ctx, a) for a in _attribute_names(session, t)],
        }
        for t in present
    ]


def type_info(session: Session, name: str, ctx: LdContext = CORE) -> dict[str, Any]:
    entity_type = _term(name, ctx)
    count = (
        ngsi_ld.count_of(session, entity_type, None) if entity_type in ngsi_ld.all_types() else 0
    )
    if count == 0:
        raise NgsiError(404, "ResourceNotFound", "Entity type not found", name[:200])
    return {
        "id": iri(entity_type),
        "type": "EntityTypeInfo",
        "typeName": name_in(ctx, entity_type),
        "entityCount": count,
        "attributeDetails": [
            {
                "id": iri(a),
                "type": "Attribute",
                "attributeName": name_in(ctx, a),
                "attributeTypes": [],
            }
            for a in _attribute_names(session, entity_type)
        ],
    }


def attributes(session: Session, details: bool, ctx: LdContext = CORE) -> Any:
    """``GET /ngsi-ld/v1/attributes``: an AttributeList, or each Attribute (``details=true``)."""
    by_attribute: dict[str, list[str]] = {}
    for entity_type in _present(session):
        for name in _attribute_names(session, entity_type):
            by_attribute.setdefault(name, []).append(entity_type)
    if not details:
        return {
            "id": "urn:ngsi-ld:AttributeList:eclor",
            "type": "AttributeList",
            "attributeList": [name_in(ctx, a) for a in sorted(by_attribute)],
        }
    return [
        {
            "id": iri(a),
            "type": "Attribute",
            "attributeName": name_in(ctx, a),
            "typeNames": [name_in(ctx, t) for t in by_attribute[a]],
        }
        for a in sorted(by_attribute)
    ]


def attribute_info(session: Session, name: str, ctx: LdContext = CORE) -> dict[str, Any]:
    attribute = _term(name, ctx)
    found = [t for t in _present(session) if attribute in _attribute_names(session, t)]
    if not found:
        raise NgsiError(404, "ResourceNotFound", "Attribute not found", name[:200])
    return {
        "id": iri(attribute),
        "type": "Attribute",
        "attributeName": name_in(ctx, attribute),
        "typeNames": [name_in(ctx, t) for t in found],
    }

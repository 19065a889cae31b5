"""The operations centre for staff: the live map, its GeoJSON layers, KPIs per commune, the event stream."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template
from sqlmodel import Session

from app import domains_ops, events, ngsi_temporal
from app.auth import PUBLIC, STAFF
from app.db import utcnow
from app.i18n import current_locale
from app.i18n import gettext as _
from app.interfaces import Contribution, Link
from app.lighting.control import territory_position
from app.ngsi import NgsiError, parse_urn
from app.territories import bind, request_territory
from app.ops import centre, history, kpicache, layercache, tiles
from app.sensors import ngsi_ld
from app.templating import page

RETRY_MS = 2000


def _after(request: Request[Any, Any, Any]) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("since")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationException(
            _("Identifiant d'évènement invalide : un entier est attendu.")
        ) from None
    if value < 0:
        raise ValidationException(_("Identifiant d'évènement invalide : un entier est attendu."))
    return value


@get("/staff/ops/stream", opt=STAFF, name="ops_stream")
async def ops_stream(
    request: Request[Any, Any, Any], layers: FromQuery[str | None] = None
) -> ServerSentEvent:
    """Server-Sent Events: one event per change (id = the outbox id, data = layer, feature id, kind, payload).

    ``Last-Event-ID`` (or ``?since=``) resumes after that id without loss; ``?layers=a,b`` filters.
    Only the events of the host's territory are sent (``EventRecord.seen_by``).
    """
    after = _after(request)
    territory = request_territory(request)
    wanted = {name for name in (layers or "").split(",") if name} or None
    hub = events.hub(request.app.state, request.app.state.engine)
    if after is None:
        after = await hub.position()
    start = after

    async def messages() -> AsyncIterator[ServerSentEventMessage]:
        yield ServerSentEventMessage(data=None, comment="eclor", retry=RETRY_MS)
        async for batch in hub.follow(start):
            if not batch:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            for event in batch:
                if not event.seen_by(territory) or (
                    wanted is not None and event.layer not in wanted
                ):
                    continue
                yield ServerSentEventMessage(
                    id=str(event.id), data=json.dumps(event.to_dict(), separators=(",", ":"))
                )

    return ServerSentEvent(
        messages(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _history(
    request: Request[Any, Any, Any],
    db: Session,
    id: str,  # noqa: A002
    range: str,  # noqa: A002
) -> list[history.Series]:
    """The entity's history, when the entity is one of the request's territory's (NGSI-LD types)."""
    bind(db, request_territory(request))
    try:
        entity_type, local = parse_urn(id)
    except NgsiError:
        entity_type, local = "", ""
    if entity_type in ngsi_ld.all_types() and not ngsi_ld.count_of(db, entity_type, [local]):
        raise NotFoundException()
    try:
        return history.load(db, id, range, utcnow())
    except history.HistoryError as exc:
        raise ValidationException(str(exc)) from None


@get("/staff/ops/history.json", opt=STAFF, sync_to_thread=True, name="ops_history_json")
def ops_history_json(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    id: FromQuery[str],  # noqa: A002
    range: FromQuery[str] = "week",  # noqa: A002
) -> dict[str, Any]:  # noqa: A002
    """The measures of one entity (NGSI-LD URN) over a day, week, month or year, for charts."""
    return history.as_json(id, range, _history(request, db, id, range))


@get("/staff/ops/history.csv", opt=STAFF, sync_to_thread=True, name="ops_history_csv")
def ops_history_csv(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    id: FromQuery[str],  # noqa: A002
    range: FromQuery[str] = "week",  # noqa: A002
) -> Response[str]:  # noqa: A002
    name = id.rsplit(":", 1)[-1].replace('"', "")
    return Response(
        history.as_csv(_history(request, db, id, range)),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}-{range}.csv"'},
    )


@get("/staff/ops/history.svg", opt=STAFF, sync_to_thread=True, name="ops_history_svg")
def ops_history_svg(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    id: FromQuery[str],  # noqa: A002
    range: FromQuery[str] = "week",  # noqa: A002
) -> Response[str]:  # noqa: A002
    return Response(
        history.as_svg(
            _history(request, db, id, range),
            territory_position(db, request_territory(request).id).tz,
        ),
        media_type="image/svg+xml",
    )


@get(
    "/ngsi-ld/v1/temporal/entities/{entity_id:str}",
    opt=PUBLIC,
    sync_to_thread=True,
    name="ngsi_temporal",
)
def ngsi_temporal_entity(
    request: Request[Any, Any, Any], db: NamedDependency[Session], entity_id: FromPath[str]
) -> Response[bytes]:
    """NGSI-LD temporal representation of an entity, from the one time-series store: of an entity
    of the request's territory only (another's has no history on this host)."""
    bind(db, request_territory(request))
    try:
        entity_type, local = parse_urn(entity_id)
        if entity_type in ngsi_ld.all_types() and not ngsi_ld.count_of(db, entity_type, [local]):
            raise NgsiError(404, "ResourceNotFound", "No history for that entity", entity_id[:200])
        body = ngsi_temporal.temporal_entity(db, entity_id, request.query_params, utcnow())
    except NgsiError as exc:
        return Response(
            json.dumps(exc.body()).encode(), status_code=exc.status, media_type="application/json"
        )
    context = request.app.state.settings.base_url.rstrip("/") + ngsi_ld.CONTEXT_PATH
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        media_type="application/json",
        headers={
            "link": f'<{context}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        },
    )


def _layers_meta(request: Request[Any, Any, Any], db: Session) -> list[dict[str, Any]]:
    """Name, title, style and states of each layer; a layer of more features than
    ``ops_tiles_above`` (kept by ids) is drawn from its tiles: ``tiles`` (the URL template) and
    ``count``."""
    above = request.app.state.settings.ops_tiles_above
    out = []
    for layer in domains_ops.layers():
        meta: dict[str, Any] = {
            "name": layer.name,
            "title": _(layer.title),
            "style": layer.style,
            "states": {k: _(v) for k, v in layer.states.items()},
        }
        if layer.fresh is not None and layer.fresh.features is not None:
            count = layercache.for_app(request.app.state).size(
                layer, db, utcnow(), current_locale.get(), centre.geojson
            )
            if count is not None and count > above:
                meta["tiles"] = f"/staff/ops/layers/{layer.name}/{{z}}/{{x}}/{{y}}.geojson"
                meta["count"] = count
        out.append(meta)
    return out


@get("/staff/ops", opt=STAFF, sync_to_thread=True, name="ops_centre")
def ops_centre(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    open: FromQuery[str | None] = None,
) -> Template:  # noqa: A002
    """The operations centre: the full-screen live map, KPI tiles, the event feed and the side panel."""
    settings = request.app.state.settings
    territory = request_territory(request)
    return page(
        request,
        "ops/centre.html",
        section="staff",
        layers=_layers_meta(request, db),
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
        centre=[territory.lat, territory.lon],
        open_feature=open or "",
    )


@get("/staff/ops/layers/{file:str}", opt=STAFF, sync_to_thread=True, name="ops_layer")
def ops_layer(
    request: Request[Any, Any, Any], db: NamedDependency[Session], file: FromPath[str]
) -> Response[bytes]:
    """One layer as a GeoJSON FeatureCollection (``/staff/ops/layers/lights.geojson``).

    Big layers come from bytes built once per change (``app.ops.layercache``), gzipped once, with
    an ETag so that a map reloading an unchanged layer gets 304.
    """
    name = file.removesuffix(".geojson")
    try:
        if not file.endswith(".geojson"):
            raise centre.UnknownLayer(file)
        layer = centre.find(domains_ops.layers(), name)
    except centre.UnknownLayer:
        raise NotFoundException(_("Couche inconnue.")) from None
    if layer.fresh is None:  # read for this request: the layer may keep to its territory
        bind(db, request_territory(request))
        return Response(
            centre.geojson(layer, db, utcnow()),
            media_type="application/geo+json",
            headers={"cache-control": "no-store"},
        )
    built = layercache.for_app(request.app.state).get(
        layer, db, utcnow(), current_locale.get(), centre.geojson
    )
    headers = {"cache-control": "private, no-cache", "etag": built.etag, "vary": "Accept-Encoding"}
    if built.etag in (request.headers.get("if-none-match") or ""):
        return Response(b"", status_code=304, headers=headers)
    if "gzip" in (request.headers.get("accept-encoding") or ""):
        headers["content-encoding"] = "gzip"
        return Response(built.gzipped, media_type="application/geo+json", headers=headers)
    return Response(built.body, media_type="application/geo+json", headers=headers)


@get(
    "/staff/ops/layers/{name:str}/{z:int}/{x:int}/{file:str}",
    opt=STAFF,
    sync_to_thread=True,
    name="ops_layer_tile",
)
def ops_layer_tile(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    name: FromPath[str],
    z: FromPath[int],
    x: FromPath[int],
    file: FromPath[str],
) -> Response[bytes]:
    """One Web Mercator tile of a big layer (``/staff/ops/layers/lights/14/8462/5613.geojson``): its
    features where it holds few, server-side clusters (``properties.kind`` ``cluster``, with
    ``count``, ``states`` and ``bbox``) where many (``app.ops.tiles``)."""
    try:
        layer = centre.find(domains_ops.layers(), name)
    except centre.UnknownLayer:
        raise NotFoundException(_("Couche inconnue.")) from None
    y_text = file.removesuffix(".geojson")
    if not file.endswith(".geojson") or not y_text.isdigit() or layer.fresh is None:
        raise NotFoundException(_("Tuile inconnue."))
    y = int(y_text)
    if not (0 <= z <= tiles.MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
        raise NotFoundException(_("Tuile hors de la carte."))
    max_features = request.app.state.settings.ops_tile_features
    title = _(layer.title)

    def read(index: tiles.TileIndex, pieces: layercache.Pieces, built: layercache.Built) -> bytes:
        ids, clusters = index.tile(z, x, y, max_features)
        return tiles.tile_json(
            layer.name,
            ids,
            clusters,
            pieces.text,
            lambda count: f"{title} · {count}",
        )

    body = layercache.for_app(request.app.state).tile(
        layer, db, utcnow(), current_locale.get(), centre.geojson, read
    )
    if body is None:
        raise NotFoundException(_("Tuile inconnue."))
    headers = {"cache-control": "private, no-cache", "vary": "Accept-Encoding"}
    if len(body) > 1024 and "gzip" in (request.headers.get("accept-encoding") or ""):
        headers["content-encoding"] = "gzip"
        body = gzip.compress(body, 1, mtime=0)
    return Response(body, media_type="application/geo+json", headers=headers)


@get("/staff/ops/layers.json", opt=STAFF, sync_to_thread=True, name="ops_layers")
def ops_layers(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> dict[str, Any]:
    """The layers the centre offers: name, title, style, states and their labels; big layers
    also their tiles' URL template and their count."""
    return {"layers": _layers_meta(request, db)}


@get("/staff/ops/kpis.json", opt=STAFF, sync_to_thread=True, name="ops_kpis")
def ops_kpis(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> dict[str, Any]:
    """Every KPI per commune, keyed by INSEE code (kept until what they count changes)."""
    return centre.kpis(
        domains_ops.kpis(),
        db,
        utcnow(),
        kpicache.for_app(request.app.state),
        request_territory(request).id,
    )


@get(
    "/staff/ops/panel/{layer:str}/{feature_id:str}",
    opt=STAFF,
    sync_to_thread=True,
    name="ops_panel",
)
def ops_panel(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    layer: FromPath[str],
    feature_id: FromPath[str],
) -> Template:
    """The side panel of one object: state, facts, history chart, actions (an HTML fragment); of
    an object of the request's territory only (the session is bound to it: a domain's panel reads
    it with app.territories.bound)."""
    now = utcnow()
    territory = request_territory(request)
    bind(db, territory)
    if layer == "communes":
        found = centre.commune_panel(
            db,
            feature_id,
            centre.kpis(
                domains_ops.kpis(), db, now, kpicache.for_app(request.app.state), territory.id
            ),
            domains_ops.commune_actions(),
        )
    else:
        try:
            found = centre.panel(
                centre.find(domains_ops.layers(), layer),
                db,
                feature_id,
                now,
                domains_ops.commune_actions(),
            )
        except centre.UnknownLayer:
            found = None
    if found is None:
        raise NotFoundException(_("Cet objet n'existe pas ou plus."))
    return page(
        request,
        "ops/_panel.html",
        panel=found,
        layer=layer,
        feature_id=feature_id,
        ranges=history.RANGE_LABELS,
        headers={"vary": "HX-Request"},
    )


ROUTES = [
    ops_centre,
    ops_layer,
    ops_layer_tile,
    ops_layers,
    ops_kpis,
    ops_panel,
    ops_stream,
    ops_history_json,
    ops_history_csv,
    ops_history_svg,
    ngsi_temporal_entity,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(
            5,
            "/staff/ops",
            "Centre des opérations",
            "La carte en direct du territoire : éclairage, capteurs, signalements, alertes, covoiturage.",
        ),
    ),
)

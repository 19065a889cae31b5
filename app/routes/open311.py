"""Open311 GeoReport v2 under ``/open311/v2/``: discovery, services, requests, tokens (JSON and XML).

Reading is public; ``POST requests`` needs an ``api_key`` issued by staff
(it is authenticated by that key, not by cookies, hence no CSRF token).
Every error answers in the spec's format: ``[{"code", "description"}]`` or
``<errors><error><code/><description/></error></errors>``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import anyio
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import TooManyRequestsException
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from sqlmodel import Session, col, select

from app import bodies, ratelimit
from app.auth import PUBLIC
from app.db import read_session, saved_id, utcnow, write_session
from app.errors import ERROR_RENDERERS
from app.i18n import gettext as _
from app.interfaces import Contribution
from app.models.reports import Report, ReportEvent
from app.models.territory import Commune, Territory
from app.reports import categories as cats
from app.reports import ban, catalogue, intake, media
from app.reports import open311 as o3
from app.reports import workflow as rp
from app.routes.reports_context import here
from app.territories import request_territory

MAX_RESULTS = 1000
MAX_SPAN = timedelta(days=90)
POST_LIMIT = ratelimit.Limit("open311_post", 600, 60 * 60)
MAX_UPLOAD_READ = 16 * 1024 * 1024
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _split(name: str) -> tuple[str, str]:
    stem, dot, fmt = name.rpartition(".")
    if not dot or fmt not in o3.FORMATS:
        raise Open311Error(404, _("Format inconnu : utilisez .json ou .xml."))
    return stem, fmt


def _answer(
    fmt: str, data: Any, root: str = "", item: str | None = None, status: int = 200
) -> Response[bytes]:
    body = (
        o3.to_xml(root, item, data)
        if fmt == "xml"
        else json.dumps(data, ensure_ascii=False).encode()
    )
    return Response(
        body,
        status_code=status,
        media_type=o3.FORMATS[fmt],
        headers={"Cache-Control": "no-store" if status >= 400 else "public, max-age=60"},
    )


def _error(fmt: str, exc: Open311Error) -> Response[bytes]:
    return Response(
        o3.errors_body(fmt, exc.code, exc.description),
        status_code=exc.code,
        media_type=o3.FORMATS[fmt],
        headers={"Cache-Control": "no-store"},
    )


def _framework_error(request: Request[Any, Any, Any], status: int, message: str) -> Response[bytes]:
    """Errors raised outside the handlers (405, 413, 500...), in the spec's format."""
    code = status if status in (400, 403, 404, 405, 413, 429) or status >= 500 else 400
    if code == 405:
        message = _("Méthode non admise par GeoReport v2 : {method}.").format(method=request.method)
    response = _error(_guess_fmt(request.url.path), Open311Error(code, message))
    if code == 405:
        response.headers["Allow"] = _allowed(request.url.path)
    return response


def _allowed(path: str) -> str:
    """The methods GeoReport v2 defines for a path: POST only for requests."""
    stem = path.rstrip("/").rsplit("/", 1)[-1].rpartition(".")[0]
    return "GET, POST" if path.count("/") == 3 and stem == "requests" else "GET"


ERROR_RENDERERS["/open311/"] = _framework_error


def _guess_fmt(name: str) -> str:
    return "xml" if name.endswith(".xml") else "json"


def _param(request: Request[Any, Any, Any], key: str) -> str | None:
    value = request.query_params.get(key)
    return value.strip() if value and value.strip() else None  # empty behaves like absent


def _parse_date(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)  # Python 3.11 reads "Z" too
    except ValueError:
        raise Open311Error(
            400, _("{name} doit être une date-heure ISO 8601 avec fuseau.").format(name=name)
        ) from None
    if parsed.tzinfo is None:
        raise Open311Error(
            400,
            _("{name} doit porter un fuseau horaire (ex. 2026-11-22T10:00:00+01:00).").format(
                name=name
            ),
        )
    return parsed


def _rows(
    request: Request[Any, Any, Any], db: Session, reports: list[Report], base_url: str
) -> list[dict[str, Any]]:
    communes = {c.insee: c for c in db.scalars(select(Commune))}
    photos = intake.photos_of(db, [saved_id(r) for r in reports], "overview")
    # The body responsible: the one nested in the territory that handles the report, else the
    # request's territory (its reports are the only ones listed).
    agency = request_territory(request).publisher
    names = {n.id: n.name for n in bodies.of_territory(db, here(request))}
    labels = cats.of_territory(db, here(request)).labels
    return [
        o3.request_row(
            r,
            communes.get(r.commune_insee or ""),
            next(iter(photos.get(saved_id(r), [])), None),
            base_url,
            names.get(r.body_id, agency) if r.body_id else agency,
            labels[r.category],
        )
        for r in reports
    ]


def _discovery(request: Request[Any, Any, Any]) -> dict[str, Any]:
    base = request.app.state.settings.base_url.rstrip("/")
    return {
        "changeset": o3.CHANGESET,
        "contact": request_territory(request).publisher + ", " + base,
        "key_service": base + "/staff/reports/api-keys",
        "endpoints": [
            {
                "specification": o3.SPEC_URL,
                "url": base + "/open311/v2",
                "changeset": o3.CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


@get(
    "/open311/v2/{name:str}",
    opt=PUBLIC,
    sync_to_thread=True,
    name="open311_root",
    include_in_schema=True,
)
def root(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> Response[bytes]:
    """``discovery``, ``services`` and ``requests`` (GET), as ``.json`` or ``.xml``."""
    fmt = _guess_fmt(name)
    try:
        stem, fmt = _split(name)
        if stem == "discovery":
            return _answer(fmt, _discovery(request), "discovery")
        if stem == "services":
            offered = cats.of_territory(db, here(request))
            return _answer(fmt, o3.services(offered), "services", "service")
        if stem == "requests":
            return _answer(fmt, _list_requests(request, db), "service_requests", "request")
        raise Open311Error(404, _("Introuvable."))
    except Open311Error as exc:
        return _error(fmt, exc)


def _list_requests(request: Request[Any, Any, Any], db: Session) -> list[dict[str, Any]]:
    base = request.app.state.settings.base_url
    stmt = catalogue.scoped(
        select(Report).where(col(Report.status).in_(catalogue.PUBLIC_STATUSES)), here(request)
    )
    ids_param = _param(request, "service_request_id")
    if ids_param:
        ids = []
        for part in ids_param.split(","):
            ident = catalogue.id_from_number(part)
            if part.strip() and ident is None:
                raise Open311Error(
                    400,
                    _("service_request_id inconnu : {id}").format(id=part.strip()[:40]),
                )
            if ident is not None:
                ids.append(ident)
        if len(ids) > MAX_RESULTS:
            raise Open311Error(
                400, _("Au plus {n} valeurs de service_request_id.").format(n=MAX_RESULTS)
            )
        rows = list(db.scalars(stmt.where(col(Report.id).in_(ids)).order_by(col(Report.id))))
        return _rows(request, db, rows, base)
    codes = _param(request, "service_code")
    if codes:
        wanted = [c.strip() for c in codes.split(",") if c.strip()]
        known = cats.of_territory(db, here(request)).codes
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise Open311Error(400, _("service_code inconnu : {code}").format(code=unknown[0][:40]))
        stmt = stmt.where(col(Report.category).in_(wanted))
    start_raw, end_raw = _param(request, "start_date"), _param(request, "end_date")
    end = _parse_date(end_raw, "end_date") if end_raw else utcnow()
    start = _parse_date(start_raw, "start_date") if start_raw else end - MAX_SPAN
    if start > end:
        raise Open311Error(400, _("start_date doit précéder end_date."))
    if end - start > MAX_SPAN:
        raise Open311Error(
            400, _("start_date et end_date doivent être à 90 jours au plus l’une de l’autre.")
        )
    stmt = stmt.where(col(Report.created_at) >= start, col(Report.created_at) <= end)
    status = _param(request, "status")
    if status:
        wanted_status = {s.strip() for s in status.split(",") if s.strip()}
        if not wanted_status <= {"open", "closed"}:
            raise Open311Error(400, _("status vaut open, closed ou les deux (open,closed)."))
        states = [
            s
            for s in catalogue.PUBLIC_STATUSES
            if ("open" if catalogue.is_open(s) else "closed") in wanted_status
        ]
        stmt = stmt.where(col(Report.status).in_(states))
    rows = list(db.scalars(stmt.order_by(col(Report.created_at).desc()).limit(MAX_RESULTS)))
    return _rows(request, db, rows, base)


@get("/open311/v2/services/{name:str}", opt=PUBLIC, sync_to_thread=True, name="open311_service")
def service(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> Response[bytes]:
    fmt = _guess_fmt(name)
    try:
        code, fmt = _split(name)
        if not cats.of_territory(db, here(request)).is_offered(code):
            raise Open311Error(404, _("service_code inconnu : {code}").format(code=code[:40]))
        return _answer(fmt, o3.service_definition(code), "service_definition")
    except Open311Error as exc:
        return _error(fmt, exc)


@get("/open311/v2/requests/{name:str}", opt=PUBLIC, sync_to_thread=True, name="open311_request")
def one_request(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> Response[bytes]:
    fmt = _guess_fmt(name)
    try:
        ident, fmt = _split(name)
        report_id = catalogue.id_from_number(ident)
        report = catalogue.report_in(db, report_id, here(request))
        if report is None or report.status not in catalogue.PUBLIC_STATUSES:
            raise Open311Error(404, _("service_request_id inconnu : {id}").format(id=ident[:40]))
        return _answer(
            fmt,
            _rows(request, db, [report], request.app.state.settings.base_url),
            "service_requests",
            "request",
        )
    except Open311Error as exc:
        return _error(fmt, exc)


@get("/open311/v2/tokens/{name:str}", opt=PUBLIC, sync_to_thread=True, name="open311_token")
def token(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> Response[bytes]:
    fmt = _guess_fmt(name)
    try:
        tok, fmt = _split(name)
        report = (
            db.scalars(
                catalogue.scoped(select(Report), here(request)).where(col(Report.token) == tok)
            ).first()
            if tok
            else None
        )
        if report is None:
            raise Open311Error(404, _("token inconnu."))
        row = {
            "service_request_id": catalogue.number(report) if report.status != "hidden" else None,
            "token": tok,
        }
        return _answer(fmt, [row], "service_requests", "request")
    except Open311Error as exc:
        return _error(fmt, exc)


def _attribute(form: Any, code: str) -> str | None:
    value = form.get(f"attribute[{code}]")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _attribute_values(form: Any, code: str) -> list[str]:
    """A multi-value attribute: ``attribute[code][]`` repeated (also ``attribute[code]``)."""
    values: list[str] = []
    for name in (f"attribute[{code}][]", f"attribute[{code}]"):
        for value in form.getall(name, []) if hasattr(form, "getall") else [form.get(name)]:
            if isinstance(value, str) and value.strip() and value.strip() not in values:
                values.append(value.strip())
    return values


def _uploads(form: Any) -> list[bytes]:
    files = []
    for name in ("media", "media[]"):
        values = form.getall(name, []) if hasattr(form, "getall") else [form.get(name)]
        for value in values:
            if isinstance(value, UploadFile):
                files.append(value.file.read(MAX_UPLOAD_READ))
    return files


def _place(
    engine: Any, fields: dict[str, str]
) -> tuple[float | None, float | None, ban.Place | None]:
    """lat/long, else the BAN address by id, else the address string looked up in the BAN table."""
    if "lat" in fields or "long" in fields:
        try:
            lat, lon = float(fields["lat"]), float(fields["long"])
        except (KeyError, ValueError):
            raise Open311Error(
                400, _("lat et long doivent être tous deux des degrés décimaux (WGS 84).")
            ) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Open311Error(400, _("lat et long sont hors limites."))
        return lat, lon, None
    if "address_id" in fields:
        with read_session(engine) as db:
            place = ban.by_id(db, fields["address_id"])
        if place is None:
            raise Open311Error(
                400, _("address_id inconnu : ce n’est pas une adresse BAN du territoire.")
            )
        return place.lat, place.lon, place
    if "address_string" in fields:
        with read_session(engine) as db:
            place = ban.find(db, fields["address_string"])
        if place is None:
            raise Open311Error(
                400,
                _(
                    "address_string ne désigne aucune adresse ni commune du territoire : "
                    "envoyez lat et long, ou address_id."
                ),
            )
        return place.lat, place.lon, place
    raise Open311Error(
        400, _("Un lieu est obligatoire : lat et long, address_id ou address_string.")
    )


@post("/open311/v2/{name:str}", opt={**PUBLIC, "exclude_from_csrf": True}, name="open311_post")
async def create_request(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """``POST requests.{json,xml}``: a report from a partner application, authenticated by ``api_key``."""
    fmt = _guess_fmt(name)
    settings = request.app.state.settings
    engine = request.app.state.engine
    here_id = here(request)
    try:
        stem, fmt = _split(name)
        if stem in ("discovery", "services"):
            raise Open311Error(
                405, _("Méthode non admise : {path} se lit par GET.").format(path=name)
            )
        if stem != "requests":
            raise Open311Error(404, _("Introuvable."))
        form = await request.form()
        fields = {k: v.strip() for k, v in form.items() if isinstance(v, str) and v.strip()}
        uploads = _uploads(form)
    except Open311Error as exc:
        return _error(fmt, exc)

    def work() -> list[dict[str, Any]]:
        with write_session(engine) as db:
            key = rp.check_api_key(db, fields.get("api_key", ""), here_id)
            if key is None:
                raise Open311Error(403, _("api_key absente, inconnue ou révoquée."))
            key.last_used_at = utcnow()
            key_id = key.id
            ratelimit.check(db, settings.secret_key, [(POST_LIMIT, str(key_id))])
        code = fields.get("service_code")
        if not code:
            raise Open311Error(400, _("service_code est obligatoire."))
        with read_session(engine) as db:
            offered = cats.of_territory(db, here_id).is_offered(code)
        if not offered:
            raise Open311Error(404, _("service_code inconnu : {code}").format(code=code[:40]))
        description = fields.get("description", "")
        if len(description) > 4000:
            raise Open311Error(400, _("description dépasse 4000 caractères."))
        lat, lon, place = _place(engine, fields)
        volume = _attribute(form, "volume")
        if volume is not None and volume not in catalogue.VOLUMES:
            raise Open311Error(
                400,
                _("attribute[volume] doit valoir l’une de ces clés : {keys}").format(
                    keys=", ".join(catalogue.VOLUMES)
                ),
            )
        witnessed = _attribute(form, "witnessed")
        if witnessed is not None and witnessed not in o3.WITNESSED:
            raise Open311Error(400, _("attribute[witnessed] doit valoir yes ou no."))
        contents = _attribute_values(form, "contents")
        unknown = [c for c in contents if c not in o3.CONTENTS]
        if unknown:
            raise Open311Error(
                400,
                _("attribute[contents][] : valeur inconnue « {value} » (clés : {keys})").format(
                    value=unknown[0][:40], keys=", ".join(o3.CONTENTS)
                ),
            )
        if contents:
            # stored in the territory's language, whatever the partner's request speaks
            said = ", ".join(o3.CONTENTS[c] for c in contents)
            description = (description + "\n" if description else "") + f"Contenu : {said}"
        email = fields.get("email")
        if email and not _EMAIL_RE.match(email):
            raise Open311Error(400, _("email n’est pas une adresse valide."))
        media_url = fields.get("media_url")
        if media_url and not media.usable_url(media_url):
            raise Open311Error(400, _("media_url doit être une adresse http(s) absolue."))
        try:
            photos = intake.check_photos(uploads, settings.max_upload_bytes)
        except catalogue.ReportError as exc:
            raise Open311Error(400, exc.message) from None
        name_parts = [fields.get("first_name", ""), fields.get("last_name", "")]
        contact_name = " ".join(p for p in name_parts if p)[:160] or None
        new = intake.NewReport(
            category=code,
            description=description,
            volume=volume,
            witnessed=witnessed == "yes",
            lat=lat,
            lon=lon,
            commune_insee=place.commune_insee if place else None,
            address=(place.label if place else fields.get("address_string", ""))[:200],
            address_id=place.address_id if place else None,
            contact_email=email[:254] if email else None,
            contact_name=contact_name,
            source="open311",
            api_key_id=key_id,
            photos=photos,
        )
        try:
            created = intake.create_report(engine, new, settings.resolved_media_dir)
        except catalogue.ReportError as exc:
            raise Open311Error(400, exc.message) from None
        report = created.report
        extra = [
            f"{k}: {fields[k][:500]}" for k in ("phone", "device_id", "account_id") if k in fields
        ]
        with write_session(engine) as db:
            if extra:
                db.add(
                    ReportEvent(
                        report_id=saved_id(report),
                        kind="note",
                        public=False,
                        text="Open311 : " + " · ".join(extra),
                    )
                )
            if media_url:
                media.queue(db, saved_id(report), media_url)
        notice = _(
            "Signalement reçu ; il sera examiné par les agents de la communauté de communes."
        )
        if place is not None and place.precision == "commune":
            notice += " " + o3.commune_only_notice()
        if report.territory_id != here_id:
            # Placed in a commune of another territory of this install: handed to it (the spec's
            # service_notice is where the client is told what happens to its request).
            with read_session(engine) as db:
                territory = db.get(Territory, report.territory_id)
            notice += " " + _(
                "Ce lieu relève du territoire « %(t)s » : le signalement lui a été transmis."
            ) % {"t": territory.name if territory else ""}
        # The report exists at once: its service_request_id, and no token (the spec's "either").
        return [
            {
                "service_request_id": catalogue.number(report),
                "service_notice": notice,
                "account_id": None,
            }
        ]

    try:
        rows = await anyio.to_thread.run_sync(work)
    except Open311Error as exc:
        return _error(fmt, exc)
    except TooManyRequestsException:
        return _error(
            fmt,
            Open311Error(429, _("Trop de requêtes avec cette api_key : réessayez plus tard.")),
        )
    return _answer(fmt, rows, "service_requests", "request", status=201)


ROUTES = [root, service, one_request, token, create_request]

CONTRIBUTES = Contribution(routes=ROUTES)

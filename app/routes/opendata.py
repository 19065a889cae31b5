"""Open data: the catalogue page (/data), DCAT-AP 3 catalogues, dataset files and live streams, staff control.

Each answers for the host's territory (``request_territory``): its datasets, rows, files, streams,
publisher and licence; the request's session is bound to it (``app.deps.provide_db``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File, Redirect, Stream, Template
from sqlmodel import Session

from app import ratelimit
from app.auth import PUBLIC, STAFF, current_user, signed_in_user
from app.db import write_session
from app.forms import Form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link
from app.opendata import live, portal, registry, scope, snapshots, staff
from app.opendata.catalogue import FORMATS, FREQUENCIES, THEMES
from app.templating import page
from app.territories import Branding, bind, request_territory

FILE_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "schema.json": "application/json",
}


def _settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


def _limit(request: Request[Any, Any, Any]) -> None:
    """The documented rate limit of /data: ``opendata_requests_per_minute`` per address (429 beyond)."""
    settings = _settings(request)
    limit = ratelimit.Limit("opendata_ip", settings.opendata_requests_per_minute, 60)
    with write_session(request.app.state.engine) as session:
        ratelimit.check(
            session,
            settings.secret_key,
            [(limit, request.client.host if request.client else "unknown")],
        )


def _count(request: Request[Any, Any, Any], slug: str, fmt: str) -> None:
    with write_session(request.app.state.engine) as session:
        staff.count_download(bind(session, request_territory(request)), slug, fmt)


def _publishing(request: Request[Any, Any, Any]) -> scope.Publishing:
    return scope.publishing(request_territory(request), _settings(request))


def _ensure(request: Request[Any, Any, Any], publisher: Branding) -> None:
    settings = _settings(request)
    portal.ensure_snapshots(
        request.app.state.engine, settings.var_dir, settings.base_url, publisher
    )


@get("/data", opt=PUBLIC, sync_to_thread=True, name="opendata")
def catalogue_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    settings = _settings(request)
    _ensure(request, request_territory(request))
    return page(
        request,
        "opendata/index.html",
        section="data",
        entries=portal.entries(db, settings.var_dir),
        publishing=_publishing(request),
        settings=settings,
        themes=THEMES,
        frequencies=FREQUENCIES,
    )


def _catalogue(request: Request[Any, Any, Any], db: Session, fmt: str) -> Response[bytes]:
    _limit(request)
    body, media = portal.catalogue_document(db, _settings(request), fmt)
    return Response(body, media_type=f"{media}; charset=utf-8")


@get("/data/catalog.jsonld", opt=PUBLIC, sync_to_thread=True, name="opendata_jsonld")
def catalogue_jsonld(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[bytes]:
    return _catalogue(request, db, "jsonld")


@get("/data/catalog.ttl", opt=PUBLIC, sync_to_thread=True, name="opendata_ttl")
def catalogue_ttl(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    return _catalogue(request, db, "ttl")


@get("/data/catalog.rdf", opt=PUBLIC, sync_to_thread=True, name="opendata_rdf")
def catalogue_rdf(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    return _catalogue(request, db, "rdf")


def _dataset_page(
    request: Request[Any, Any, Any],
    db: Session,
    slug: str,
    *,
    status_code: int = 200,
    error: str = "",
    notice: str = "",
) -> Template:
    settings = _settings(request)
    publisher = request_territory(request)
    entry = next((e for e in portal.entries(db, settings.var_dir) if e.dataset.slug == slug), None)
    if entry is None:
        raise NotFoundException(_("Ce jeu de données n'existe pas ou n'est pas publié."))
    header, rows = portal.preview(settings.var_dir, slug, publisher)
    return page(
        request,
        "opendata/dataset.html",
        status_code=status_code,
        section="data",
        entry=entry,
        header=header,
        rows=rows,
        description=portal.describe(entry.dataset, entry.snapshot),
        map=portal.small_map(db, portal.map_points(settings.var_dir, entry.dataset, publisher)),
        answered=staff.answered_issues(db, slug),
        publishing=_publishing(request),
        settings=settings,
        themes=THEMES,
        frequencies=FREQUENCIES,
        error=error,
        notice=notice,
    )


@get("/data/{name:str}", opt=PUBLIC, sync_to_thread=True, name="opendata_dataset")
def dataset(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> Any:
    """``/data/{slug}``: the page; ``.csv``, ``.geojson``, ``.schema.json``: the snapshot files."""
    fmt = next((f for f in FILE_TYPES if name.endswith("." + f)), None)
    if fmt is None:
        return _dataset_page(
            request,
            db,
            name,
            notice=_("Merci : votre signalement a été transmis à l'équipe.")
            if request.query_params.get("reported")
            else "",
        )
    slug = name[: -len(fmt) - 1]
    settings = _settings(request)
    found = registry.find(db, settings.var_dir, slug)
    if found is None or (fmt == "geojson" and found.geometry is None):
        raise NotFoundException(_("Ce fichier n'existe pas."))
    _limit(request)
    publisher = request_territory(request)
    path = snapshots.file_path(settings.var_dir, slug, fmt, publisher)
    if not path.exists():
        snapshots.generate(
            request.app.state.engine, settings.var_dir, settings.base_url, {slug}, publisher
        )
    _count(request, slug, fmt.split(".")[0])
    return File(
        path=path,
        filename=f"{slug}.{fmt}",
        media_type=FILE_TYPES[fmt],
        content_disposition_type="inline",
    )


@get("/data/{slug:str}/live", opt=PUBLIC, name="opendata_live")
async def live_stream(request: Request[Any, Any, Any], slug: FromPath[str]) -> Stream:
    import anyio

    settings = _settings(request)
    engine = request.app.state.engine
    publisher = request_territory(request)

    def find() -> Any:
        from app.db import read_session

        with read_session(engine) as session:
            return registry.find(bind(session, publisher), settings.var_dir, slug)

    found = await anyio.to_thread.run_sync(find)
    if found is None or not found.live_kinds:
        raise NotFoundException(_("Ce jeu de données n'a pas de flux en direct."))
    await anyio.to_thread.run_sync(_limit, request)
    await anyio.to_thread.run_sync(_count, request, slug, "live")
    body = live.stream(
        request.app.state,
        engine,
        found,
        scope.base_url(publisher, settings.base_url),
        request.headers.get("last-event-id"),
        publisher,
    )
    return Stream(
        body,
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


@post("/data/{slug:str}/issues", opt=PUBLIC, sync_to_thread=True, name="opendata_issue")
def report_issue(
    request: Request[Any, Any, Any], db: NamedDependency[Session], slug: FromPath[str], data: Form
) -> Any:
    settings = _settings(request)
    limit = ratelimit.Limit("opendata_issue_ip", 10, 3600)
    ratelimit.check(
        db, settings.secret_key, [(limit, request.client.host if request.client else "unknown")]
    )
    user = current_user(request)
    try:
        staff.report_issue(
            db, settings.var_dir, slug, str(data.get("body", "")), user.id if user else None
        )
    except staff.OpenDataError as exc:
        db.rollback()
        return _dataset_page(request, db, slug, status_code=400, error=str(exc))
    db.commit()
    return Redirect(f"/data/{slug}?reported=1#signaler", status_code=303)


def _staff_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    status_code: int = 200,
    error: str = "",
    notice: str = "",
    form: dict[str, Any] | None = None,
) -> Template:
    settings = _settings(request)
    return page(
        request,
        "opendata/staff.html",
        status_code=status_code,
        section="staff",
        entries=portal.entries(db, settings.var_dir, only_published=False),
        published={e.dataset.slug for e in portal.entries(db, settings.var_dir)},
        downloads=staff.downloads_by_format(db),
        issues=staff.issues(db),
        themes=THEMES,
        frequencies=FREQUENCIES,
        error=error,
        notice=notice,
        form=form or {},
    )


@get("/staff/data", opt=STAFF, sync_to_thread=True, name="staff_opendata")
def staff_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    notice = {
        "published": _("Publication mise à jour."),
        "uploaded": _("Jeu de données ajouté."),
        "answered": _("Réponse publiée."),
    }.get(request.query_params.get("done", ""), "")
    return _staff_page(request, db, notice=notice)


@post(
    "/staff/data/{slug:str}/publish", opt=STAFF, sync_to_thread=True, name="staff_opendata_publish"
)
def publish(
    request: Request[Any, Any, Any], db: NamedDependency[Session], slug: FromPath[str], data: Form
) -> Any:
    user = signed_in_user(request)
    try:
        staff.set_published(
            db, _settings(request).var_dir, slug, data.get("published") == "1", user.id
        )
    except staff.OpenDataError as exc:
        db.rollback()
        return _staff_page(request, db, status_code=400, error=str(exc))
    db.commit()
    return Redirect("/staff/data?done=published", status_code=303)


@post("/staff/data/upload", opt=STAFF, name="staff_opendata_upload")
async def upload(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Any:
    import anyio

    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    data_file, schema_file = form.get("file"), form.get("schema")
    settings = _settings(request)
    if not (
        isinstance(data_file, UploadFile)
        and data_file.filename
        and isinstance(schema_file, UploadFile)
        and schema_file.filename
    ):
        return await anyio.to_thread.run_sync(
            lambda: _staff_page(
                request,
                db,
                status_code=400,
                error=_("Joignez le fichier de données et son schéma."),
                form=fields,
            )
        )
    data, schema = await data_file.read(), await schema_file.read()
    if len(data) > settings.max_upload_bytes or len(schema) > 1_000_000:
        return await anyio.to_thread.run_sync(
            lambda: _staff_page(
                request,
                db,
                status_code=400,
                error=_("Le fichier est trop volumineux."),
                form=fields,
            )
        )
    user = signed_in_user(request)

    def save() -> Any:
        try:
            staff.add_upload(
                db,
                settings.var_dir,
                user.id,
                slug=fields.get("slug", ""),
                title=fields.get("title", ""),
                description=fields.get("description", ""),
                theme=fields.get("theme", ""),
                keywords=fields.get("keywords", ""),
                frequency=fields.get("frequency", ""),
                publish=fields.get("published") == "1",
                schema_bytes=schema,
                filename=data_file.filename,
                data=data,
            )
        except staff.OpenDataError as exc:
            db.rollback()
            return _staff_page(request, db, status_code=400, error=str(exc), form=fields)
        db.commit()
        snapshots.generate(
            request.app.state.engine,
            settings.var_dir,
            settings.base_url,
            {fields["slug"].strip().lower()},
            request_territory(request),
        )
        return Redirect("/staff/data?done=uploaded", status_code=303)

    return await anyio.to_thread.run_sync(save)


@post(
    "/staff/data/issues/{issue_id:int}/answer",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_opendata_answer",
)
def answer(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    issue_id: FromPath[int],
    data: Form,
) -> Any:
    user = signed_in_user(request)
    try:
        staff.answer_issue(db, issue_id, str(data.get("answer", "")), user.id)
    except staff.OpenDataError as exc:
        db.rollback()
        if str(exc) == _("Signalement inconnu."):
            raise NotFoundException(str(exc)) from None
        return _staff_page(request, db, status_code=400, error=str(exc))
    db.commit()
    return Redirect("/staff/data?done=answered", status_code=303)


ROUTES = [
    catalogue_page,
    catalogue_jsonld,
    catalogue_ttl,
    catalogue_rdf,
    dataset,
    live_stream,
    report_issue,
    staff_page,
    publish,
    upload,
    answer,
]
__all__ = ["FORMATS", "ROUTES"]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(
            450,
            "/staff/data",
            "Données ouvertes",
            "Choisir ce qui est publié, ajouter un jeu, voir les téléchargements et répondre aux lecteurs.",
        ),
    ),
)

"""Dump-site reports: the public map and list, the report form, one's own reports; the domain's routes.

Staff pages live in ``reports_staff`` (triage) and ``reports_settings``
(reject reasons, templates, API keys); ``reports_context`` holds what the
pages share. ``ROUTES`` lists them all.
"""

from __future__ import annotations

import math
import uuid
from typing import Any, Literal

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXDetails
from litestar.response import File, Redirect, Template
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import or_
from sqlmodel import Session, col, select

from app import ratelimit
from app import photo_store
from app.auth import PUBLIC, SIGNED_IN, CurrentUser, signed_in_user
from app.db import read_session, saved_id, write_session
from app.forms import TextForm as Form
from app.forms import parse_form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link, Panel
from app.models.reports import (
    Report,
    ReportFollow,
    ReportPhoto,
    ReportThanks,
)
from app.models.territory import Body, Commune, Territory
from app.reports import catalogue, intake
from app.reports import categories as cats
from app.reports import workflow as rp
from app.routes.reports_context import (
    REPORT_LIMIT,
    back_to,
    get_report,
    here,
    list_context,
    map_tiles,
    media_root,
    needs_full_load,
    page_number,
    signed_in,
    visible_to,
)
from app.routes.reports_settings import (
    CATEGORY_ROUTES,
    api_key_add,
    api_key_revoke,
    api_keys,
    reason_add,
    reason_toggle,
    staff_settings,
    template_add,
    template_toggle,
)
from app.routes.reports_staff import (
    staff_board,
    staff_bulk,
    staff_body,
    staff_category,
    staff_csv,
    staff_detail,
    staff_move,
    staff_note,
    staff_stats,
    staff_status,
)
from app.templating import page
from app.territories import FALLBACK, of_session

# --- the report form -----------------------------------------------------------------------------


class ReportForm(BaseModel):
    category: str = Field(max_length=32)  # one the territory offers (checked by the handler)
    description: str = Field(default="", max_length=2000)
    volume: Literal["bag", "car", "van", "truck"] | None = None
    witnessed: bool = False
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    commune: str | None = Field(default=None, pattern=rf"^{catalogue.COMMUNE_KEY}$")
    address: str = Field(default="", max_length=200)
    idempotency_key: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")

    @field_validator("witnessed", mode="before")
    @classmethod
    def _check(cls, value: object) -> object:
        return value in ("yes", "on", "true", "1", True)

    @field_validator("lat", "lon")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("Valeur invalide.")
        return value


def _form_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "reports/new.html",
        section="reports",
        status_code=status_code,
        form=form,
        errors=errors,
        categories=cats.of_territory(db, here(request)).offered,
        hints=cats.of_territory(db, here(request)).hints,
        volumes=catalogue.VOLUMES,
        communes=catalogue.communes(db, here(request)),
        max_photos=catalogue.MAX_PHOTOS,
        max_mb=request.app.state.settings.max_upload_bytes // (1024 * 1024),
        **map_tiles(request),
    )


@get("/reports/new", opt=SIGNED_IN, sync_to_thread=True, name="reports_new")
def new_form(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    category: FromQuery[str | None] = None,
) -> Template | Response[bytes]:
    if (full := needs_full_load(request)) is not None:
        return full
    form: dict[str, Any] = {"idempotency_key": str(uuid.uuid4())}
    if cats.of_territory(db, here(request)).is_offered(category):
        form["category"] = category
    return _form_page(request, db, form=form, errors={})


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("x-eclor-queue") == "1" or request.headers.get(
        "accept", ""
    ).startswith("application/json")


@post("/reports/new", opt=SIGNED_IN, name="reports_create")
async def create(request: Request[Any, Any, Any]) -> Response[Any]:
    """Create a report from the multipart form (plain form, or the page script's queue)."""
    user = signed_in(request)
    assert user is not None
    settings = request.app.state.settings
    engine = request.app.state.engine
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "_csrf_token"}
    uploads: list[bytes] = []
    for item in form.getall("photos") if "photos" in form else []:
        if isinstance(item, UploadFile):
            data = await item.read()
            if data:
                uploads.append(data)
    parsed, errors = parse_form(ReportForm, fields)
    if not uploads:
        errors.setdefault("photos", _("Ajoutez au moins une photo du dépôt."))
    if parsed is not None and (parsed.lat is None) != (parsed.lon is None):
        errors.setdefault("place", _("La position est incomplète : placez le point sur la carte."))

    territory_id = here(request)

    def work() -> intake.Created:
        assert parsed is not None
        with write_session(engine) as session:
            existing = intake.find_by_key(session, parsed.idempotency_key)
            if existing is not None:
                if existing.reporter_id != user.id:
                    raise catalogue.ReportError(_("Ce formulaire a déjà servi. Rechargez la page."))
                return intake.Created(existing, True)
            if not cats.of_territory(session, territory_id).is_offered(parsed.category):
                # the form offers the host's territory's categories only
                raise catalogue.ReportError(
                    _("Choisissez l’une des catégories proposées."), "category"
                )
            ratelimit.check(session, settings.secret_key, [(REPORT_LIMIT, str(user.id))])
        photos = intake.check_photos(uploads, settings.max_upload_bytes)
        new = intake.NewReport(
            category=parsed.category,
            description=parsed.description,
            volume=parsed.volume,
            witnessed=parsed.witnessed,
            lat=parsed.lat,
            lon=parsed.lon,
            commune_insee=parsed.commune,
            address=parsed.address,
            idempotency_key=parsed.idempotency_key,
            reporter_id=user.id,
            photos=photos,
        )
        created = intake.create_report(engine, new, settings.resolved_media_dir)
        if created.existing and created.report.reporter_id != user.id:
            raise catalogue.ReportError(_("Ce formulaire a déjà servi. Rechargez la page."))
        return created

    if parsed is not None and not errors:
        try:
            created = await anyio.to_thread.run_sync(work)
        except catalogue.ReportError as exc:
            errors[exc.field] = exc.message
        else:
            report = created.report
            url = f"/reports/{report.id}"
            handed = report.territory_id != here(request)
            if handed:  # placed in a commune of another territory: handed to it, and said so
                url = f"/reports/{report.id}/handed"
            if _wants_json(request):
                return Response(
                    {
                        "id": report.id,
                        "number": catalogue.number(report),
                        "url": url,
                        "existing": created.existing,
                        "handed_to": _handed_to(engine, report) if handed else None,
                    },
                    status_code=200 if created.existing else 201,
                )
            return Redirect(
                url + ("" if created.existing or handed else "?sent=1"), status_code=303
            )
    if _wants_json(request):
        return Response({"errors": errors}, status_code=400)
    shown = dict(fields)
    shown.setdefault("idempotency_key", str(uuid.uuid4()))

    def render() -> Template:
        with read_session(engine) as db:
            return _form_page(request, db, form=shown, errors=errors, status_code=400)

    return await anyio.to_thread.run_sync(render)


def _handed_to(engine: Any, report: Report) -> str:
    """The name of the territory a report was handed to."""
    with read_session(engine) as db:
        territory = db.get(Territory, report.territory_id)
        return territory.name if territory else ""


@get(
    "/reports/{report_id:int}/handed",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="reports_handed",
)
def handed(
    request: Request[Any, Any, Any], db: NamedDependency[Session], report_id: FromPath[int]
) -> Template:
    """The confirmation of a report made here but placed in another territory's commune: it was
    handed to that territory. Only its reporter sees it (any other person: not found)."""
    user = signed_in_user(request)
    report = db.get(Report, report_id)
    if report is None or report.reporter_id != user.id or report.territory_id == here(request):
        raise NotFoundException("Ce signalement n’existe pas.")
    territory = db.get(Territory, report.territory_id)
    commune = db.get(Commune, report.commune_insee) if report.commune_insee else None
    hosts = territory.hosts if territory else []
    link = f"{request.url.scheme}://{hosts[0]}/reports/{report.id}" if hosts else ""
    return page(
        request,
        "reports/handed.html",
        section="reports",
        status_code=200,
        report=report,
        number=catalogue.number(report),
        handed_to=territory.name if territory else "",
        commune=commune.name if commune else "",
        link=link,
    )


@get("/reports/nearby", opt=SIGNED_IN, sync_to_thread=True, name="reports_nearby")
def nearby_fragment(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    lat: FromQuery[float | None] = None,
    lon: FromQuery[float | None] = None,
    category: FromQuery[str | None] = None,
) -> Template:
    """Open reports of any kind near a place, the given kind first (a fragment for the form).

    Signed-in residents only, a limited number of times, and answered from
    rounded positions only: asking again and again from nearby points tells
    nothing more than the public map does.
    """
    found: list[tuple[Report, float]] = []
    if lat is not None and lon is not None and math.isfinite(lat) and math.isfinite(lon):
        viewer = signed_in(request)
        with write_session(request.app.state.engine) as counter:
            ratelimit.check(
                counter,
                request.app.state.settings.secret_key,
                [(ratelimit.NEARBY_ACCOUNT, str(viewer.id if viewer else ""))],
            )
        found = intake.nearby(
            db,
            lat,
            lon,
            None,
            first=category if cats.of_territory(db, here(request)).is_offered(category) else None,
            public=True,
            territory_id=here(request),
        )
    user = signed_in(request)
    following = set()
    if user and found:
        following = set(
            db.scalars(
                select(col(ReportFollow.report_id)).where(
                    col(ReportFollow.user_id) == user.id,
                    col(ReportFollow.report_id).in_([r.id for r, _d in found]),
                )
            )
        )
    thumbs = intake.photos_of(db, [saved_id(r) for r, _d in found], "overview")
    return page(
        request,
        "reports/_nearby.html",
        found=found,
        following=following,
        thumbs=thumbs,
        categories=cats.of_territory(db, here(request)).labels,
        statuses=catalogue.STATUSES,
        number=catalogue.number,
        headers={"Vary": "HX-Request", "Cache-Control": "no-store"},
    )


@get("/reports", opt=PUBLIC, sync_to_thread=True, name="reports_list")
def list_reports(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Template | Response[bytes]:
    if (full := needs_full_load(request)) is not None:
        return full
    filters = catalogue.Filters.parse(
        request.query_params, staff=False, categories=cats.of_territory(db, here(request)).codes
    )
    ctx = list_context(
        db,
        filters,
        staff=False,
        page_no=page_number(request.query_params.get("page")),
        territory_id=here(request),
    )
    template = (
        "reports/_results.html" if HTMXDetails(request).target == "results" else "reports/list.html"
    )
    return page(
        request,
        template,
        section="reports",
        **ctx,
        **map_tiles(request),
        headers={"Vary": "HX-Request"},
    )


@get("/reports/mine", opt=SIGNED_IN, sync_to_thread=True, name="reports_mine")
def mine(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Template | Response[bytes]:
    if (full := needs_full_load(request)) is not None:
        return full
    user = signed_in(request)
    assert user is not None
    rows = list(
        db.scalars(
            catalogue.scoped(select(Report), here(request))
            .where(col(Report.reporter_id) == user.id)
            .order_by(col(Report.created_at).desc())
        )
    )
    followed = list(
        db.scalars(
            catalogue.scoped(select(Report), here(request))
            .join(ReportFollow, col(ReportFollow.report_id) == col(Report.id))
            .where(
                col(ReportFollow.user_id) == user.id,
                or_(col(Report.reporter_id).is_(None), col(Report.reporter_id) != user.id),
                col(Report.status) != "hidden",
            )
            .order_by(col(Report.updated_at).desc())
        )
    )
    ids = [saved_id(r) for r in rows + followed]
    return page(
        request,
        "reports/mine.html",
        section="reports",
        reports=rows,
        followed=followed,
        thumbs=intake.photos_of(db, ids, "overview"),
        statuses=catalogue.STATUSES,
        categories=cats.of_territory(db, here(request)).labels,
        number=catalogue.number,
        commune_names={c.insee: c.name for c in catalogue.communes(db, here(request))},
    )


@get("/reports/{report_id:int}", opt=PUBLIC, sync_to_thread=True, name="reports_detail")
def detail(
    request: Request[Any, Any, Any], db: NamedDependency[Session], report_id: FromPath[int]
) -> Template | Response[bytes]:
    if (full := needs_full_load(request)) is not None:
        return full
    user = signed_in(request)
    report = get_report(db, report_id, here(request))
    if not visible_to(report, user):
        raise NotFoundException("Ce signalement n’existe pas.")
    owner = user is not None and report.reporter_id == user.id
    exact = owner or (user is not None and user.is_staff)
    lat, lon = (
        (report.lat, report.lon) if exact else catalogue.public_position(report.lat, report.lon)
    )
    photos = intake.photos_of(db, [saved_id(report)]).get(saved_id(report), [])
    following = bool(user and db.get(ReportFollow, (report.id, user.id)))
    thanked = bool(user and db.get(ReportThanks, (report.id, user.id)))
    commune = db.get(Commune, report.commune_insee) if report.commune_insee else None
    duplicate_of = catalogue.report_in(db, report.duplicate_of_id, here(request))
    body = db.get(Body, report.body_id) if report.body_id else None
    return page(
        request,
        "reports/detail.html",
        section="reports",
        report=report,
        body=body,
        owner=owner,
        lat=lat,
        lon=lon,
        photos=photos,
        following=following,
        thanked=thanked,
        commune=commune,
        events=intake.history(db, saved_id(report), include_internal=False),
        can_reopen=rp.can_reopen(report, user.id if user else None),
        reopen_days=catalogue.REOPEN_DAYS,
        duplicate_of=duplicate_of,
        number=catalogue.number,
        categories=cats.of_territory(db, here(request)).labels,
        statuses=catalogue.STATUSES,
        volumes=catalogue.VOLUMES,
        is_open=catalogue.is_open(report.status),
        sent=request.query_params.get("sent") == "1",
        **map_tiles(request),
    )


@post("/reports/{report_id:int}/follow", opt=SIGNED_IN, sync_to_thread=True, name="reports_follow")
def follow(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect:
    user = signed_in_user(request)
    report = get_report(db, report_id, here(request))
    if not visible_to(report, user):
        raise NotFoundException("Ce signalement n’existe pas.")
    rp.follow(db, report, user.id, data.get("on", "1") != "0")
    db.commit()
    return Redirect(back_to(report_id, data), status_code=303)


@post("/reports/{report_id:int}/thank", opt=SIGNED_IN, sync_to_thread=True, name="reports_thank")
def thank(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect:
    user = signed_in_user(request)
    report = get_report(db, report_id, here(request))
    if not visible_to(report, user):
        raise NotFoundException("Ce signalement n’existe pas.")
    rp.thank(db, report, user.id)
    db.commit()
    return Redirect(back_to(report_id, data), status_code=303)


@post("/reports/{report_id:int}/reopen", opt=SIGNED_IN, sync_to_thread=True, name="reports_reopen")
def reopen(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    report_id: FromPath[int],
    data: Form,
) -> Redirect | Template:
    user = signed_in_user(request)
    report = get_report(db, report_id, here(request))
    if report.reporter_id != user.id:
        raise NotFoundException("Ce signalement n’existe pas.")
    try:
        rp.reopen(db, report, user_id=user.id, text=data.get("text", ""))
    except catalogue.ReportError as exc:
        db.rollback()
        return page(
            request,
            "reports/message.html",
            section="reports",
            status_code=400,
            title=_("Impossible de rouvrir"),
            message=exc.message,
            back=f"/reports/{report_id}",
        )
    db.commit()
    return Redirect(f"/reports/{report_id}", status_code=303)


@get("/reports/photos/{name:str}", opt=PUBLIC, sync_to_thread=True, name="reports_photo")
def photo(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> File:
    row = db.scalars(
        select(ReportPhoto).where(
            or_(col(ReportPhoto.display_name) == name, col(ReportPhoto.thumb_name) == name)
        )
    ).first()
    report = catalogue.report_in(db, row.report_id, here(request)) if row else None
    if row is None or report is None or not visible_to(report, signed_in(request)):
        raise NotFoundException("Cette photo n’existe pas.")
    return photo_store.served(
        name,
        media_root(request),
        cache_control="public, max-age=86400" if report.status != "hidden" else "private, no-store",
        missing="Cette photo n’existe pas.",
    )


# --- home panel --------------------------------------------------------------------------------------


def my_reports_panel(session: Session, user: CurrentUser | None) -> dict[str, Any] | None:
    if user is None:
        return None
    # The reports of the territory the page is for (bound to the session: app.home.load_panels).
    territory = of_session(session)
    rows = list(
        session.scalars(
            catalogue.scoped(select(Report), None if territory is FALLBACK else territory.id)
            .where(col(Report.reporter_id) == user.id)
            .order_by(col(Report.updated_at).desc())
            .limit(3)
        )
    )
    if not rows:
        return None
    return {
        "reports": rows,
        "statuses": catalogue.STATUSES,
        "categories": cats.of_session(session).labels,
        "number": catalogue.number,
    }


ROUTES = [
    new_form,
    create,
    nearby_fragment,
    list_reports,
    mine,
    detail,
    follow,
    thank,
    reopen,
    photo,
    handed,
    staff_board,
    staff_csv,
    staff_stats,
    staff_bulk,
    staff_detail,
    staff_status,
    staff_note,
    staff_body,
    staff_category,
    staff_move,
    staff_settings,
    *CATEGORY_ROUTES,
    reason_add,
    reason_toggle,
    template_add,
    template_toggle,
    api_keys,
    api_key_add,
    api_key_revoke,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    home_panels=(Panel("my_reports", 20, "reports/_home_panel.html", my_reports_panel),),
    staff_links=(
        Link(
            10,
            "/staff/reports",
            "Signalements",
            "Trier les dépôts sauvages signalés, les suivre, répondre.",
        ),
        Link(
            11,
            "/staff/reports/stats",
            "Statistiques des signalements",
            "Par commune, catégorie, mois ; délai médian.",
        ),
        Link(
            12,
            "/staff/reports/settings",
            "Motifs et réponses types",
            "Listes utilisées pour répondre aux signalements.",
        ),
        Link(
            13,
            "/staff/reports/api-keys",
            "Clés Open311",
            "Accès des applications partenaires à l’API Open311.",
        ),
    ),
)

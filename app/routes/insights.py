"""Decision support for elected officials and managers: figures by theme with their trend, the
printable monthly summary (HTML and PDF), the origin–destination matrix of trips, foresight, the
lighting's energy against a measured baseline. Staff and elected officials read it all (``INSIGHTS``);
only staff import a baseline."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import Session

from app import months
from app.auth import INSIGHTS, STAFF, current_user
from app.db import utcnow
from app.i18n import gettext as _
from app.forms import Multipart
from app.insights import baseline, exports, figures, foresight, od, pdf, registry
from app.insights import scope as insights_scope
from app.interfaces import Contribution, Link
from app.templating import page
from app.territories import zone

CSV = "text/csv; charset=utf-8"


def _month(value: str | None, db: Session) -> str:
    """The month asked for (``YYYY-MM``), by default the last complete one in the territory's time
    zone; never a future month."""
    now = months.of(utcnow(), zone(db))
    if value is None or value == "":
        return months.shift(now, -1)
    if not months.valid(value):
        raise ValidationException(_("Mois invalide : écrivez-le AAAA-MM (par exemple 2026-11)."))
    if value > now:
        raise ValidationException(_("Ce mois n'a pas encore commencé."))
    return value


def _theme(slug: str) -> tuple[str, str, str]:
    for theme in figures.THEMES:
        if theme[0] == slug:
            return theme
    raise NotFoundException(_("Thème inconnu."))


def _context(month: str, db: Session) -> dict[str, Any]:
    current = months.of(utcnow(), zone(db))
    return {
        "month": month,
        "previous_month": months.shift(month, -1),
        "next_month": months.shift(month, 1) if months.shift(month, 1) <= current else None,
        "last_year_month": months.shift(month, -12),
        "themes": figures.THEMES,
        "threshold": od.K_ANONYMITY,
    }


@get("/staff/insights", opt=INSIGHTS, sync_to_thread=True, name="insights_index")
def insights_index(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    month: FromQuery[str | None] = None,
) -> Template:
    chosen = _month(month, db)
    summary = figures.summary(db, chosen, utcnow())
    return page(
        request, "insights/index.html", section="staff", summary=summary, **_context(chosen, db)
    )


@get("/staff/insights/summary", opt=INSIGHTS, sync_to_thread=True, name="insights_summary")
def insights_summary(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    month: FromQuery[str | None] = None,
) -> Template:
    chosen = _month(month, db)
    summary = figures.summary(db, chosen, utcnow())
    matrix = od.for_app(request.app.state).matrix(db, chosen, utcnow())
    return page(
        request,
        "insights/summary.html",
        section="staff",
        summary=summary,
        matrix=matrix,
        places=figures.communes(db),
        **_context(chosen, db),
    )


@get("/staff/insights/summary.pdf", opt=INSIGHTS, sync_to_thread=True, name="insights_summary_pdf")
def insights_summary_pdf(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    month: FromQuery[str | None] = None,
) -> Response[bytes]:
    chosen = _month(month, db)
    summary = figures.summary(db, chosen, utcnow())
    matrix = od.for_app(request.app.state).matrix(db, chosen, utcnow())
    body = pdf.monthly_summary(chosen, summary, matrix, figures.communes(db))
    return Response(
        body,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="eclor-synthese-{chosen}.pdf"'},
    )


@get("/staff/insights/od.json", opt=INSIGHTS, sync_to_thread=True, name="insights_od_json")
def insights_od_json(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    month: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """The origin–destination matrix of a month: ``rows`` of ``{from_code, from_name, from_country,
    to_code, to_name, to_country, trips}`` (and the other counts), ``trips`` null under 11."""
    chosen = _month(month, db)
    return od.document(od.for_app(request.app.state).matrix(db, chosen, utcnow()), utcnow())


@get("/staff/insights/od.csv", opt=INSIGHTS, sync_to_thread=True, name="insights_od_csv")
def insights_od_csv(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    month: FromQuery[str | None] = None,
) -> Response[str]:
    chosen = _month(month, db)
    rows = od.for_app(request.app.state).matrix(db, chosen, utcnow()).rows()
    return Response(
        exports.as_csv(rows, exports.OD_COLUMNS),
        media_type=CSV,
        headers={
            "content-disposition": f'attachment; filename="eclor-origine-destination-{chosen}.csv"'
        },
    )


@get("/staff/insights/{theme:str}", opt=INSIGHTS, sync_to_thread=True, name="insights_theme")
def insights_theme(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    theme: FromPath[str],
    month: FromQuery[str | None] = None,
) -> Template:
    slug, title, intro = _theme(theme)
    chosen = _month(month, db)
    headlines = figures.theme(db, slug, chosen, utcnow())
    matrix = (
        od.for_app(request.app.state).matrix(db, chosen, utcnow()) if slug == "mobility" else None
    )
    comparison = baseline.compare(db, chosen) if slug == "energy" else None
    return page(
        request,
        "insights/theme.html",
        section="staff",
        slug=slug,
        title=title,
        intro=intro,
        headlines=headlines,
        matrix=matrix,
        comparison=comparison,
        places=figures.communes(db),
        tile_url=request.app.state.settings.tile_url,
        tile_attribution=request.app.state.settings.tile_attribution,
        **_context(chosen, db),
    )


def _baseline_page(
    request: Request[Any, Any, Any],
    db: Session,
    month: str,
    *,
    error: str | None = None,
    imported: int | None = None,
) -> Template:
    """The comparison of ``month``; a refused import shows its message and the form alone (the
    import's write transaction is still open: nothing else is computed in it)."""
    return page(
        request,
        "insights/baseline.html",
        section="staff",
        status_code=400 if error else 200,
        comparison=None if error else baseline.compare(db, month),
        error=error,
        imported=imported,
        can_import=(user := current_user(request)) is not None and user.is_staff,
        **_context(month, db),
    )


@get(
    "/staff/insights/energy/baseline",
    opt=INSIGHTS,
    sync_to_thread=True,
    name="insights_energy_baseline",
)
def insights_energy_baseline(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    month: FromQuery[str | None] = None,
    imported: FromQuery[int | None] = None,
) -> Template:
    return _baseline_page(request, db, _month(month, db), imported=imported)


@post(
    "/staff/insights/energy/baseline",
    opt=STAFF,
    sync_to_thread=True,
    name="insights_energy_baseline_import",
)
def insights_energy_baseline_import(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    """Meter readings or invoices of the years before the renovation, as CSV
    (``armoire;mois;kwh;euros``): all lines or none."""
    chosen = months.shift(months.of(utcnow(), zone(db)), -1)
    upload = data.get("file")
    content = b""
    if isinstance(upload, UploadFile) and upload.filename:
        content = upload.file.read(5 * 1024 * 1024 + 1)
    if not content:
        return _baseline_page(request, db, chosen, error=_("Choisissez un fichier CSV."))
    if len(content) > 5 * 1024 * 1024:
        return _baseline_page(
            request, db, chosen, error=_("Fichier trop volumineux (5 Mo au plus).")
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _baseline_page(request, db, chosen, error=_("Le fichier doit être encodé en UTF-8."))
    meters = registry.energy_meters()
    try:
        readings = baseline.parse(
            text, meters[0].places(db) if meters else [], months.of(utcnow(), zone(db))
        )
    except baseline.BaselineError as exc:
        return _baseline_page(request, db, chosen, error=str(exc))
    count = baseline.save(db, readings, utcnow())
    db.commit()
    return Redirect(f"/staff/insights/energy/baseline?imported={count}", status_code=303)


@get(
    "/staff/insights/energy/baseline.csv",
    opt=INSIGHTS,
    sync_to_thread=True,
    name="insights_energy_baseline_csv",
)
def insights_energy_baseline_csv(
    db: NamedDependency[Session], month: FromQuery[str | None] = None
) -> Response[str]:
    chosen = _month(month, db)
    comparison = baseline.compare(db, chosen)
    rows = baseline.rows_for_export(comparison) if comparison else []
    return Response(
        exports.as_csv(rows, baseline.COLUMNS),
        media_type=CSV,
        headers={
            "content-disposition": f'attachment; filename="eclor-energie-reference-{chosen}.csv"'
        },
    )


def _example(first_year: int, communes: dict[str, str]) -> str:
    """An example programme to replace: homes a year for ten years in the first four communes."""
    return "\n".join(
        f"{insee};{year};{homes}"
        for insee, homes in zip(sorted(communes), (180, 150, 60, 40), strict=False)
        for year in range(first_year + 1, first_year + 11)
    )


def _scenarios(
    request: Request[Any, Any, Any], db: Session
) -> tuple[list[Any], dict[str, Any], str | None]:
    """Scenarios A and B from the query (the example programme and the defaults when empty)."""
    query = request.query_params
    first_year = int(months.of(utcnow(), zone(db))[:4])
    communes = {c.insee: c.name for c in figures.communes(db)}
    places = {c.insee: (c.lat, c.lon) for c in db.scalars(insights_scope.communes(db))}
    kept = od.for_app(request.app.state).matrix(
        db, months.shift(months.of(utcnow(), zone(db)), -1), utcnow()
    )
    corridors = foresight.corridors_of(places, [(c.label, c.lat, c.lon) for c in kept.crossings])
    form: dict[str, Any] = {}
    out = []
    error = None
    for key in ("a", "b"):
        text = query.get(f"{key}_programmes")
        text = _example(first_year, communes) if text is None else text[:20_000]
        values = {a.name: query.get(f"{key}_{a.name}") for a in foresight.ASSUMPTIONS}
        form[key] = {
            "programmes": text,
            **{k: v if v is not None else "" for k, v in values.items()},
        }
        try:
            programmes = foresight.parse_programmes(text, communes, first_year)
            assumptions = foresight.parse_assumptions(values)
        except foresight.ForesightError as exc:
            error = _("Scénario %(s)s : %(m)s") % {"s": key.upper(), "m": str(exc)}
            continue
        out.append(foresight.project(key.upper(), programmes, assumptions, corridors, first_year))
    return out, form, error


@get("/staff/insights/foresight", opt=INSIGHTS, sync_to_thread=True, name="insights_foresight")
def insights_foresight(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    scenarios, form, error = _scenarios(request, db)
    return page(
        request,
        "insights/foresight.html",
        section="staff",
        status_code=400 if error else 200,
        scenarios=[] if error else scenarios,
        form=form,
        error=error,
        assumptions=foresight.ASSUMPTIONS,
        communes=figures.communes(db),
        query=request.url.query,
        horizon=foresight.HORIZON,
    )


@get(
    "/staff/insights/foresight.csv",
    opt=INSIGHTS,
    sync_to_thread=True,
    name="insights_foresight_csv",
)
def insights_foresight_csv(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[str]:
    scenarios, _form, error = _scenarios(request, db)
    if error:
        raise ValidationException(error)
    return Response(
        foresight.as_csv(scenarios),
        media_type=CSV,
        headers={"content-disposition": 'attachment; filename="eclor-prospective.csv"'},
    )


def _theme_rows(
    db: Session, theme: str, month: str | None
) -> tuple[str, str, list[dict[str, object]]]:
    slug = _theme(theme)[0]
    chosen = _month(month, db)
    return slug, chosen, figures.rows_for_export(figures.theme(db, slug, chosen, utcnow()))


@get(
    "/staff/insights/{theme:str}/figures.csv",
    opt=INSIGHTS,
    sync_to_thread=True,
    name="insights_theme_csv",
)
def insights_theme_csv(
    db: NamedDependency[Session], theme: FromPath[str], month: FromQuery[str | None] = None
) -> Response[str]:
    slug, chosen, rows = _theme_rows(db, theme, month)
    return Response(
        exports.as_csv(rows, exports.FIGURE_COLUMNS),
        media_type=CSV,
        headers={"content-disposition": f'attachment; filename="eclor-{slug}-{chosen}.csv"'},
    )


@get(
    "/staff/insights/{theme:str}/figures.json",
    opt=INSIGHTS,
    sync_to_thread=True,
    name="insights_theme_json",
)
def insights_theme_json(
    db: NamedDependency[Session], theme: FromPath[str], month: FromQuery[str | None] = None
) -> dict[str, Any]:
    slug, chosen, rows = _theme_rows(db, theme, month)
    factors = [
        {
            "figure": f.name,
            "unit": factor.unit,
            "per_unit": factor.per_unit,
            "source": factor.source,
        }
        for f in registry.figures(slug)
        for factor in (f.euros, f.co2)
        if factor is not None
    ]
    return {
        "theme": slug,
        "month": chosen,
        "suppressed_under": od.K_ANONYMITY,
        "factors": factors,
        "rows": rows,
    }


ROUTES = [
    insights_index,
    insights_summary,
    insights_summary_pdf,
    insights_od_json,
    insights_od_csv,
    insights_foresight,
    insights_foresight_csv,
    insights_energy_baseline,
    insights_energy_baseline_import,
    insights_energy_baseline_csv,
    insights_theme,
    insights_theme_csv,
    insights_theme_json,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(
            7,
            "/staff/insights",
            "Aide à la décision",
            "Les chiffres du mois par thème, leur évolution, par commune et pour 1 000 habitants ; la synthèse pour le conseil.",
        ),
    ),
)

"""Sensors for residents: the waste centre's waiting time (live, forecast, quiet hours, a "tell me"
alert), traffic at the border crossings and air quality, the home panel (the NGSI-LD API: app.routes.ngsi_ld)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.plugins.htmx import HTMXDetails
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from app.auth import PUBLIC, SIGNED_IN, STAFF, CurrentUser, current_user
from app.db import utcnow
from app.deps import late_write, start_writing
from app.forms import Form, Multipart, parse_form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link, Panel
from app.models.sensors import WasteWaitWatch
from app.sensors import buildings, counting, solar_report
from app.sensors import measures as sensors
from app.templating import page
from app.territories import bind, request_territory

BUSY_MIN = 10.0
MAX_METER_FILE = 20 * 1024 * 1024


def traffic_state(values: dict[str, Any]) -> str:
    """``fluid``, ``dense`` or ``congested`` from a crossing's last measures."""
    if values.get("congested"):
        return "congested"
    occupancy = values.get("occupancy")
    return "dense" if isinstance(occupancy, int | float) and occupancy >= 0.25 else "fluid"


TRAFFIC_LABELS = {"fluid": "Fluide", "dense": "Dense", "congested": "Saturé"}
AQI_LABELS = {
    1: "Bon",
    2: "Moyen",
    3: "Dégradé",
    4: "Mauvais",
    5: "Très mauvais",
    6: "Extrêmement mauvais",
}


def _crossings(db: Session) -> list[dict[str, Any]]:
    now = utcnow()
    out = []
    for sensor, values in sensors.latest_by_kind(db, "traffic"):
        meta = sensors.sensor_meta(sensor)
        stale = sensor.last_seen_at is None or sensor.last_seen_at < now - dt.timedelta(
            seconds=sensor.reporting_period_s * 3
        )
        out.append(
            {
                "sensor": sensor,
                "measures": values,
                "state": traffic_state(values),
                "stale": stale,
                "towards": meta.get("towards", ""),
            }
        )
    return out


def _air(db: Session) -> list[dict[str, Any]]:
    out = []
    for sensor, values in sensors.latest_by_kind(db, "air_quality"):
        out.append(
            {"sensor": sensor, "measures": values, "index": sensors.air_quality_index(values)}
        )
    return out


def _wait_label(panel: sensors.WastePanel | None) -> dict[str, Any]:
    if panel is None or panel.estimate is None:
        return {"known": False}
    estimate = panel.estimate
    if estimate.saturated:
        return {"known": True, "saturated": True, "busy": True, "stale": estimate.stale}
    if estimate.wait_min is None:
        return {"known": False, "stale": estimate.stale}
    return {
        "known": True,
        "saturated": False,
        "minutes": round(estimate.wait_min),
        "busy": estimate.wait_min >= BUSY_MIN,
        "stale": estimate.stale,
    }


def waste_home_panel(db: Session, user: CurrentUser | None) -> dict[str, Any] | None:
    panel = sensors.waste_panel(db, utcnow())
    crossings = _crossings(db)
    if panel is None and not crossings:
        return None
    return {
        "waste": panel,
        "wait": _wait_label(panel),
        "crossings": crossings,
        "traffic_labels": TRAFFIC_LABELS,
    }


class WatchForm(BaseModel):
    threshold: int = Field(ge=1, le=120)


def _waste_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    watched: bool = False,
) -> Template:
    now = utcnow()
    panel = sensors.waste_panel(db, now)
    user = current_user(request)
    watch = None
    if user is not None and panel is not None:
        watch = db.scalars(
            select(WasteWaitWatch).where(
                col(WasteWaitWatch.user_id) == user.id,
                col(WasteWaitWatch.sensor_id) == panel.sensor.id,
                col(WasteWaitWatch.until) > now,
                col(WasteWaitWatch.notified_at).is_(None),
            )
        ).first()
    headers = {"vary": "HX-Request", "cache-control": "no-cache"}
    htmx = HTMXDetails(request)
    template = (
        "sensors/_waste_live.html"
        if htmx and htmx.target == "waste-live"
        else "sensors/waste_centre.html"
    )
    return page(
        request,
        template,
        section="home",
        status_code=status_code,
        waste=panel,
        wait=_wait_label(panel),
        watch=watch,
        errors=errors or {},
        watched=watched,
        headers=headers,
        now=now,
    )


@get("/waste-centre", opt=PUBLIC, sync_to_thread=True, name="waste_centre")
def waste_centre(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    watched: str | None = Parameter(default=None, max_length=1),
) -> Template:
    bind(db, request_territory(request))  # its territory's sensors only (sensors.scope)
    return _waste_page(request, db, watched=bool(watched))


@post(
    "/waste-centre/watch", opt=late_write(SIGNED_IN), sync_to_thread=True, name="waste_centre_watch"
)
def waste_centre_watch(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    bind(db, request_territory(request))  # its territory's sensors only (sensors.scope)
    form, errors = parse_form(WatchForm, data)
    panel = sensors.waste_panel(db, utcnow())
    if panel is None:
        raise NotFoundException()
    if form is None:
        db.rollback()
        return _waste_page(request, db, status_code=400, errors=errors)
    user = current_user(request)
    assert user is not None
    sensor_id = panel.sensor.id
    # The panel (its forecast) is read before the write transaction, which holds only the writes.
    start_writing(db)
    now = utcnow()
    local = now.astimezone(request_territory(request).zone)
    end_of_day = (local + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    for old in db.scalars(
        select(WasteWaitWatch).where(
            col(WasteWaitWatch.user_id) == user.id, col(WasteWaitWatch.notified_at).is_(None)
        )
    ).all():
        db.delete(old)
    db.add(
        WasteWaitWatch(
            user_id=user.id,
            sensor_id=sensor_id,
            threshold_min=form.threshold,
            created_at=now,
            until=end_of_day.astimezone(dt.UTC),
        )
    )
    db.commit()
    return Redirect("/waste-centre?watched=1", status_code=303)


@get("/traffic", opt=PUBLIC, sync_to_thread=True, name="traffic")
def traffic(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    bind(db, request_territory(request))  # its territory's sensors only (sensors.scope)
    return page(
        request,
        "sensors/traffic.html",
        section="home",
        crossings=_crossings(db),
        air=_air(db),
        traffic_labels=TRAFFIC_LABELS,
        aqi_labels=AQI_LABELS,
        headers={"cache-control": "no-cache"},
    )


@get("/counting", opt=PUBLIC, sync_to_thread=True, name="counting")
def counting_register(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    bind(db, request_territory(request))  # its territory's sensors only (sensors.scope)
    """The public register of counting devices: where, what, who, and that no image leaves them."""
    return page(
        request,
        "sensors/counting.html",
        section="home",
        entries=counting.register(db, utcnow()),
        classes=counting.CLASSES,
    )


def _buildings_page(
    request: Request[Any, Any, Any],
    db: Session,
    days: int = 30,
    *,
    status_code: int = 200,
    errors: list[str] | None = None,
    more: int = 0,
    imported: int | None = None,
) -> Template:
    end = utcnow().astimezone(request_territory(request).zone).date()
    start = end - dt.timedelta(days=days)
    return page(
        request,
        "sensors/buildings.html",
        section="staff",
        status_code=status_code,
        rows=buildings.consumption(db, start, end),
        media=buildings.MEDIA,
        start=start,
        end=end,
        days=days,
        errors=errors or [],
        more=more,
        imported=imported,
    )


@get("/staff/buildings", opt=STAFF, sync_to_thread=True, name="staff_buildings")
def staff_buildings(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    days: int = Parameter(default=30, ge=1, le=366),
    imported: int | None = Parameter(default=None, ge=0),
) -> Template:
    bind(db, request_territory(request))  # its territory's sensors only (sensors.scope)
    """Public buildings' consumption over the last days: per m² and, for heating, per degree-day."""
    return _buildings_page(request, db, days, imported=imported)


@post("/staff/buildings/import", opt=STAFF, sync_to_thread=True, name="staff_buildings_import")
def staff_buildings_import(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    bind(db, request_territory(request))  # its territory's sensors only (sensors.scope)
    """Meter readings as a CSV file: every line checked first; one bad line and nothing is kept."""
    upload = data.get("file")
    content = b""
    if isinstance(upload, UploadFile) and upload.filename:
        content = upload.file.read(MAX_METER_FILE + 1)
    if not content:
        return _buildings_page(
            request, db, status_code=400, errors=[_("Choisissez un fichier CSV de relevés.")]
        )
    if len(content) > MAX_METER_FILE:
        return _buildings_page(
            request, db, status_code=400, errors=[_("Le fichier dépasse 20 Mo.")]
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")  # a spreadsheet's "CSV (séparateur : point-virgule)"
        except UnicodeDecodeError:
            return _buildings_page(
                request,
                db,
                status_code=400,
                errors=[_("Le fichier n'est pas un texte CSV (UTF-8 ou Windows).")],
            )
    try:
        kept = buildings.import_csv(db, text, utcnow())
    except buildings.MeterImportError as exc:
        db.rollback()
        return _buildings_page(request, db, status_code=400, errors=exc.messages, more=exc.more)
    db.commit()
    return Redirect(f"/staff/buildings?imported={kept}", status_code=303)


def _solar_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    saved: bool = False,
) -> Template:
    report = solar_report.report(db, utcnow())
    target = report.target
    values = form or {
        "year": report.year,
        "production_mwh": target.production_mwh if target else "",
        "capacity_kw": (target.capacity_kw or "") if target else "",
        "purchase_eur_kwh": report.prices.purchase,
        "sale_eur_kwh": report.prices.sale,
    }
    return page(
        request,
        "sensors/solar.html",
        section="staff",
        status_code=status_code,
        report=report,
        co2=solar_report.CO2,
        modes=solar_report.INJECTION_MODES,
        errors=errors or {},
        form=values,
        saved=saved,
    )


@get("/staff/solar", opt=STAFF, sync_to_thread=True, name="staff_solar")
def staff_solar(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    saved: str | None = Parameter(default=None, max_length=1),
) -> Template:
    bind(db, request_territory(request))  # its territory's sensors only (sensors.scope)
    """The public buildings' solar production: per site and month, its worth and the year's target."""
    return _solar_page(request, db, saved=bool(saved))


@post("/staff/solar/target", opt=STAFF, sync_to_thread=True, name="staff_solar_target")
def staff_solar_target(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    bind(db, request_territory(request))  # its territory's sensors only (sensors.scope)
    form, errors = parse_form(solar_report.TargetForm, data)
    if form is None:
        db.rollback()
        return _solar_page(request, db, status_code=400, errors=errors, form=data)
    user = current_user(request)
    solar_report.save_target(db, form, user.id if user else None, utcnow())
    db.commit()
    return Redirect("/staff/solar?saved=1", status_code=303)


ROUTES = [
    waste_centre,
    waste_centre_watch,
    traffic,
    counting_register,
    staff_buildings,
    staff_buildings_import,
    staff_solar,
    staff_solar_target,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(
            61,
            "/staff/solar",
            "Production solaire",
            "Production des toitures publiques, économies, CO₂ évité et objectif du territoire.",
        ),
        Link(
            62,
            "/staff/buildings",
            "Énergie et eau des bâtiments",
            "Consommation des bâtiments publics par m² et par degré-jour, import des relevés.",
        ),
    ),
    home_panels=(Panel("waste_centre", 40, "sensors/_home_panel.html", waste_home_panel),),
)

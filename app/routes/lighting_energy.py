"""Public lighting staff pages: energy used and savings against the usual baselines."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlmodel import Session

from app.auth import STAFF
from app.db import utcnow
from app.i18n import gettext as _
from app.lighting import consumption, control
from app.lighting import energy as lighting_energy
from app.templating import page
from app.territories import request_territory

# --------------------------------------------------------------------------- energy


@get("/staff/lighting/energy", opt=STAFF, sync_to_thread=True, name="staff_lighting_energy")
def energy(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    now = utcnow()
    territory_id = request_territory(request).id
    rows = lighting_energy.energy_report(db, now, months=6, territory_id=territory_id)
    position = control.territory_position(db, territory_id)
    year = now.astimezone(position.tz).year - 1
    # Labels hold "%" ("50 %"): translated here, not by the template's formatting gettext.
    yearly = lighting_energy.yearly_baselines_kwh(db, now, year, position)
    per_lamp = {
        key: (b, yearly[key], _(b.label), _(b.description))
        for key, b in consumption.BASELINES.items()
    }
    by_tech = lighting_energy.lamps_by_technology(db, territory_id)
    lamps = sum(by_tech.values())
    peak = (
        max(
            [max(r.measured_kwh, r.baselines["hps_150_all_night"], r.programmed_kwh) for r in rows]
            or [1.0]
        )
        or 1.0
    )
    measured_rows = [r for r in rows if r.measured_kwh > 0]  # savings only where telemetry exists
    totals = {
        "measured": sum(r.measured_kwh for r in measured_rows),
        "programmed": sum(r.programmed_kwh for r in measured_rows),
        "hps": sum(r.baselines["hps_150_all_night"] for r in measured_rows),
        "led_full": sum(r.baselines["led_full"] for r in measured_rows),
        "months": len(measured_rows),
    }
    return page(
        request,
        "lighting/energy.html",
        section="staff",
        rows=rows,
        per_lamp=per_lamp,
        year=year,
        lamps=lamps,
        by_tech=by_tech,
        peak=peak,
        totals=totals,
        savings=_savings,
    )


def _savings(actual: float, baseline: float) -> str:
    if baseline <= 0 or actual <= 0:
        return "—"
    return f"{consumption.savings(actual, baseline) * 100:.0f} %"

"""Public lighting staff pages: energy used and savings against the usual baselines."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import func, select
from sqlmodel import Session, col

from app.auth import STAFF
from app.db import utcnow
from app.i18n import gettext as _
from app.lighting import consumption, control
from app.lighting import energy as lighting_energy
from app.models.lighting import (
    Streetlight,
)
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
    per_lamp = {
        key: (b, b.yearly_kwh(position, year), _(b.label), _(b.description))
        for key, b in consumption.BASELINES.items()
    }
    mine = col(Streetlight.territory_id) == territory_id
    lamps = int(db.scalar(select(func.count()).select_from(Streetlight).where(mine)) or 0)
    by_tech: dict[str, int] = {
        str(technology): int(count)
        for technology, count in db.execute(
            select(col(Streetlight.technology), func.count())
            .where(mine)
            .group_by(col(Streetlight.technology))
        ).all()
    }
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

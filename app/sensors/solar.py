"""Expected production of a solar site: the one module over pvlib (and the pandas times it reads).

A site (a sensor of kind ``solar``) carries its peak power, orientation and tilt in its ``meta``
(``peak_kw``, ``azimuth`` in degrees from north, 180 = due south, ``tilt`` in degrees from
horizontal, ``losses`` in % for wiring, inverter and soiling, 14 by default). Its expected power at a
moment is what it would produce under a clear sky: pvlib's Ineichen clear-sky irradiance (Linke
turbidity of the month at the site) transposed onto the panels' plane (Hay-Davies), the cells'
temperature (Faiman, 20 °C air, 1 m/s wind) and PVWatts' DC model, less the losses.

The ingestion of ``tele/sensor`` readings (``app.sensors.measures``) adds ``expected_w`` to every
reading of a site taken while a clear sky would give at least a tenth of its peak power (not at
night, dawn or dusk, when nothing is worth judging), so the history charts both and the "production under expected yield" rule
(``app.maintenance``) compares them. A whole day is computed at once (5-minute steps, about a
tenth of a second) for a 1 kWc site at the site's place and angles, kept, and scaled by each
site's peak power and losses, so ingestion costs one interpolation per reading.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pvlib

from app.i18n import gettext as _

STEP_S = 300
DEFAULT_LOSSES = 14.0
GAMMA_PDC = -0.004  # power temperature coefficient of crystalline silicon, per °C
_CACHE_MAX = 4096


class SiteError(ValueError):
    """A site's description that cannot give an expected production (French message)."""


@dataclass(frozen=True)
class Site:
    lat: float
    lon: float
    peak_kw: float
    azimuth: float = 180.0
    tilt: float = 30.0
    losses: float = DEFAULT_LOSSES
    altitude: float = 300.0

    @classmethod
    def of(cls, lat: float | None, lon: float | None, meta: dict[str, Any]) -> Site:
        """The site of a sensor (its position and ``meta``); SiteError when a fact is missing or absurd."""
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise SiteError(_("Le site solaire n'a pas de position."))
        try:
            peak = float(meta["peak_kw"])
            azimuth = float(meta.get("azimuth", 180.0))
            tilt = float(meta.get("tilt", 30.0))
            losses = float(meta.get("losses", DEFAULT_LOSSES))
            altitude = float(meta.get("altitude", 300.0))
        except (KeyError, TypeError, ValueError):
            raise SiteError(
                _("Indiquez la puissance crête (kWc), l'orientation et l'inclinaison du site.")
            ) from None
        if not (0 < peak <= 100_000 and 0 <= azimuth <= 360 and 0 <= tilt <= 90):
            raise SiteError(
                _(
                    "Puissance crête entre 0 et 100 000 kWc, orientation entre 0 et 360°, "
                    "inclinaison entre 0 et 90°."
                )
            )
        if not 0 <= losses < 100 or not -500 <= altitude <= 9000:
            raise SiteError(_("Pertes entre 0 et 100 %, altitude entre -500 et 9 000 m."))
        return cls(lat, lon, peak, azimuth, tilt, losses, altitude)

    @classmethod
    def of_text(cls, lat: float | None, lon: float | None, meta_json: str) -> Site:
        try:
            meta = json.loads(meta_json or "{}")
        except ValueError:
            meta = {}
        return cls.of(lat, lon, meta if isinstance(meta, dict) else {})


def clear_sky_day(site: Site, day: dt.date) -> list[float]:
    """Expected power (W) every 5 minutes of ``day`` (UTC), from 00:00 to 24:00 included."""
    scale = site.peak_kw * (1.0 - site.losses / 100.0)
    return [w * scale for w in _unit_day(_cell(site), day)]


def _cell(site: Site) -> Site:
    """The site as its profile is computed: 1 kWc without losses (the power scales with both), its
    position to 0.01° (about a kilometre), its angles to the degree and its altitude to 100 m:
    neighbouring sites share one computation, and the expectation moves by well under 1 %."""
    return Site(
        round(site.lat, 2),
        round(site.lon, 2),
        1.0,
        float(round(site.azimuth)),
        float(round(site.tilt)),
        0.0,
        float(round(site.altitude, -2)),
    )


_units: dict[tuple[Site, dt.date], list[float]] = {}


def _unit_day(site: Site, day: dt.date) -> list[float]:
    profile = _units.get((site, day))
    if profile is None:
        if len(_units) >= _CACHE_MAX:
            _units.clear()
        profile = _units[(site, day)] = _compute_day(site, day)
    return profile


def _compute_day(site: Site, day: dt.date) -> list[float]:
    """pvlib's clear-sky power of ``site`` (its peak and losses as given) every 5 minutes of ``day``."""
    times = pd.date_range(
        dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC),
        periods=86400 // STEP_S + 1,
        freq=f"{STEP_S}s",
    )
    location = pvlib.location.Location(site.lat, site.lon, tz="UTC", altitude=site.altitude)
    sky = location.get_clearsky(times, model="ineichen")
    sun = location.get_solarposition(times)
    poa = pvlib.irradiance.get_total_irradiance(
        site.tilt,
        site.azimuth,
        sun["apparent_zenith"],
        sun["azimuth"],
        sky["dni"],
        sky["ghi"],
        sky["dhi"],
        dni_extra=pvlib.irradiance.get_extra_radiation(times),
        model="haydavies",
    )["poa_global"].fillna(0.0)
    cells = pvlib.temperature.faiman(poa, 20.0, 1.0)
    dc = pvlib.pvsystem.pvwatts_dc(poa, cells, site.peak_kw * 1000.0, GAMMA_PDC)
    factor = 1.0 - site.losses / 100.0
    return [max(0.0, float(w) * factor) if math.isfinite(w) else 0.0 for w in dc.to_numpy()]


def expected_power(site: Site, at: dt.datetime) -> float:
    """Clear-sky power (W) of the site at ``at`` (aware), interpolated in its day's profile."""
    moment = at.astimezone(dt.UTC)
    day = moment.date()
    profile = _unit_day(_cell(site), day)
    scale = site.peak_kw * (1.0 - site.losses / 100.0)
    seconds = (moment - dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)).total_seconds()
    index, rest = divmod(seconds, STEP_S)
    i = min(int(index), len(profile) - 2)
    share = rest / STEP_S
    return (profile[i] * (1 - share) + profile[i + 1] * share) * scale


def expected_when_sunlit(site: Site, at: dt.datetime, share: float = 0.1) -> float | None:
    """The clear-sky power at ``at``, or None while it is under ``share`` of the peak (night, dawn,
    dusk): no yield is judged when so little is expected."""
    expected = expected_power(site, at)
    return expected if expected >= site.peak_kw * 1000.0 * share else None


def expected_energy_kwh(site: Site, day: dt.date) -> float:
    """Clear-sky energy of the site over a UTC day (kWh): the day's best case."""
    profile = clear_sky_day(site, day)
    return sum((a + b) / 2 for a, b in zip(profile, profile[1:], strict=False)) * STEP_S / 3.6e6


def sunlit_hours(site: Site, day: dt.date, share: float = 0.1) -> list[dt.datetime]:
    """The 5-minute steps of ``day`` when a clear sky gives more than ``share`` of the peak power."""
    profile = clear_sky_day(site, day)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    floor = site.peak_kw * 1000.0 * share
    return [start + dt.timedelta(seconds=i * STEP_S) for i, w in enumerate(profile) if w > floor]


__all__ = [
    "Site",
    "SiteError",
    "clear_sky_day",
    "expected_energy_kwh",
    "expected_power",
    "expected_when_sunlit",
    "sunlit_hours",
]

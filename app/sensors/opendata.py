"""Sensors as open data: waste-centre waiting times, border traffic, air quality, the counting
devices' passages and the solar sites' production, hourly.

The sensors domain's contribution to the open data catalogue (``app.opendata.contrib``).
Hourly rows come from the kept hourly history; the live form is each reading as
it arrives (its time in ``heure``, one sample).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from app.sensors.layers import layer_of
from app.models.sensors import Sensor, SensorHourly, WasteCentreEstimate
from app.opendata.contrib import (
    Cnil,
    Column,
    Geometry,
    OpenDataset,
    Service,
    here,
    owns,
    territory_sql,
    utc_text,
)

SMART_DATA_MODELS = "https://github.com/smart-data-models/dataModel.{0}/blob/master/{1}/schema.json"
PLACE = (
    Column("capteur", "string", "Identifiant du capteur", required=True),
    Column("commune_insee", "string", "Commune (code INSEE)"),
    Column("latitude", "number", "Latitude du capteur (WGS 84)", minimum=-90, maximum=90),
    Column("longitude", "number", "Longitude du capteur (WGS 84)", minimum=-180, maximum=180),
    Column("heure", "datetime", "Début de l'heure (UTC)", required=True),
)
NO_PERSON = Cnil(
    singling_out="Des mesures de capteurs fixes sur l'espace public, agrégées par heure : aucune personne.",
    linkability="Aucun identifiant de véhicule, de plaque ou de personne n'est mesuré ni publié.",
    inference="Des moyennes horaires d'un flux : on ne peut pas en déduire le trajet d'une personne.",
)


def _place(sensor: Any) -> tuple[Any, ...]:
    lat = None if sensor.lat is None else round(sensor.lat, 5)
    lon = None if sensor.lon is None else round(sensor.lon, 5)
    return (sensor.id, sensor.commune_insee, lat, lon)


def _places(session: Session, kind: str) -> dict[str, tuple[Any, ...]]:
    return {
        s.id: _place(s)
        for s in session.execute(
            select(
                col(Sensor.id), col(Sensor.commune_insee), col(Sensor.lat), col(Sensor.lon)
            ).where(col(Sensor.kind) == kind, *here(session, col(Sensor.territory_id)))
        )
    }


def _mean(sums: dict[str, Any], name: str, samples: int, digits: int = 2) -> float | None:
    value = sums.get(name)
    if value is None or samples <= 0 or isinstance(value, str):
        return None
    return round(value / samples, digits)


def _hourly(
    session: Session, kind: str
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any], int, Any]]:
    """(place, sums, samples, hour) of every kept hour of the sensors of ``kind``, in order, streamed (Core)."""
    places = _places(session, kind)
    stmt = (
        select(
            col(SensorHourly.sensor_id),
            col(SensorHourly.hour),
            col(SensorHourly.sums_json),
            col(SensorHourly.samples),
        )
        .where(col(SensorHourly.sensor_id).in_(list(places)))
        .order_by(col(SensorHourly.sensor_id), col(SensorHourly.hour))
    )
    result = session.connection().execution_options(yield_per=5000).execute(stmt)
    loads = json.loads
    for sensor_id, hour, sums_json, samples in result:
        try:
            sums = loads(sums_json)
        except ValueError:
            sums = {}
        yield places[sensor_id], sums if isinstance(sums, dict) else {}, samples, hour


def _traffic_values(values: dict[str, Any], samples: int) -> tuple[Any, ...]:
    return (
        _mean(values, "intensity", samples, 1),
        _mean(values, "occupancy", samples, 3),
        _mean(values, "averageVehicleSpeed", samples, 1),
        _mean(values, "congested", samples, 3),
        samples,
    )


def _air_values(values: dict[str, Any], samples: int) -> tuple[Any, ...]:
    return tuple(_mean(values, name, samples, 1) for name in ("no2", "pm10", "pm25", "o3")) + (
        samples,
    )


def _utc_sql(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def _round_sql(expression: str, digits: int) -> str:
    return f"round(({expression})::numeric, {digits})"


def _place_sql() -> str:
    return (
        "s.id AS capteur, NULLIF(s.commune_insee, '') AS commune_insee, "
        f"{_round_sql('s.lat', 5)} AS latitude, {_round_sql('s.lon', 5)} AS longitude"
    )


def _hourly_sql(kind: str, means: tuple[tuple[str, str], ...], *, ends: bool = False) -> str:
    """The rows of ``_traffic``/``_air`` computed by PostgreSQL (for COPY); with ``ends``, only each
    sensor's first and last hour (two index reads per sensor), for the GeoJSON and the period.

    Each hour's published means (``means``: column of ``sensor_hourly``, column published) are kept
    in its row by the database when the row is written (``HOURLY_MEANS``, trigger
    ``sensor_hourly_means``): the same ``round((sum / samples)::numeric, digits)`` this query used to
    compute from the hour's JSON, which cost the snapshot three times the plain read of the rows. Each
    sensor's place is computed once (``OFFSET 0`` keeps the subquery from being merged into the join,
    which would round every hour's copy of it)."""
    place = (
        f"(SELECT {_place_sql()} FROM sensors s WHERE s.kind = '{kind}' "
        f"AND {territory_sql('s.territory_id')} OFFSET 0) p"
    )
    hours = (
        f"{place} CROSS JOIN LATERAL ("
        "(SELECT * FROM sensor_hourly x WHERE x.sensor_id = p.capteur ORDER BY x.hour LIMIT 1) "
        "UNION ALL (SELECT * FROM sensor_hourly x WHERE x.sensor_id = p.capteur "
        "ORDER BY x.hour DESC LIMIT 1)) h"
        if ends
        else f"sensor_hourly h JOIN {place} ON p.capteur = h.sensor_id"
    )
    values = ", ".join(f"h.{column} AS {name}" for column, name in means)
    return (
        f"SELECT p.capteur, p.commune_insee, p.latitude, p.longitude, "
        f"{_utc_sql('h.hour')} AS heure, {values}, h.samples AS echantillons FROM {hours} "
        "ORDER BY p.capteur, h.hour"
    )


_TRAFFIC = (
    "traffic",
    (
        ("mean_intensity", "debit_vehicules_h"),
        ("mean_occupancy", "taux_occupation"),
        ("mean_speed", "vitesse_moyenne_kmh"),
        ("mean_congested", "part_congestion"),
    ),
)
_AIR = (
    "air_quality",
    (
        ("mean_no2", "no2_ugm3"),
        ("mean_pm10", "pm10_ugm3"),
        ("mean_pm25", "pm25_ugm3"),
        ("mean_o3", "o3_ugm3"),
    ),
)
TRAFFIC_SQL, TRAFFIC_ENDS_SQL = _hourly_sql(*_TRAFFIC), _hourly_sql(*_TRAFFIC, ends=True)
AIR_SQL, AIR_ENDS_SQL = _hourly_sql(*_AIR), _hourly_sql(*_AIR, ends=True)
_HOUR = "date_trunc('hour', e.ts AT TIME ZONE 'UTC')"
_WAIT_CELLS = (
    f"{_round_sql('avg(e.wait_min)', 1)} AS attente_moyenne_min, "
    f"{_round_sql('max(e.wait_min)', 1)} AS attente_max_min, "
    f"{_round_sql('count(*) FILTER (WHERE e.saturated)::float8 / count(*)', 3)} AS part_saturee, "
    "count(*) AS estimations"
)
WAITS_SQL = (
    f"SELECT {_place_sql()}, "
    f"""to_char({_HOUR}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS heure, {_WAIT_CELLS} """
    "FROM waste_centre_estimates e JOIN sensors s ON s.id = e.sensor_id "
    f"WHERE s.kind = 'waste_centre' AND {territory_sql('s.territory_id')} "
    f"GROUP BY s.id, s.commune_insee, s.lat, s.lon, {_HOUR} "
    f"ORDER BY s.id, {_HOUR}"
)
# Each waiting-time sensor's first and last hour (``b.n`` 1 and 2, the same hour twice when it has
# one): the hour of its first and last estimate found by the (sensor, time) index, then only the
# estimates of those two hours aggregated, for the GeoJSON and the covered period.
_END = (
    "(SELECT {n} AS n, date_trunc('hour', x.ts AT TIME ZONE 'UTC') AS h "
    "FROM waste_centre_estimates x WHERE x.sensor_id = s.id ORDER BY x.ts {way} LIMIT 1)"
)
WAITS_ENDS_SQL = (
    f"SELECT {_place_sql()}, "
    f"""to_char(b.h, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS heure, {_WAIT_CELLS} FROM sensors s """
    f"CROSS JOIN LATERAL ({_END.format(n=1, way='')} UNION ALL {_END.format(n=2, way='DESC')}) b "
    "JOIN waste_centre_estimates e ON e.sensor_id = s.id AND e.ts >= b.h AT TIME ZONE 'UTC' "
    "AND e.ts < (b.h + interval '1 hour') AT TIME ZONE 'UTC' "
    f"WHERE s.kind = 'waste_centre' AND {territory_sql('s.territory_id')} "
    "GROUP BY s.id, s.commune_insee, s.lat, s.lon, b.n, b.h "
    "ORDER BY s.id, b.n"
)


def _traffic(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    for place, sums, samples, hour in _hourly(session, "traffic"):
        yield place + (utc_text(hour),) + _traffic_values(sums, samples)


def _air(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    for place, sums, samples, hour in _hourly(session, "air_quality"):
        yield place + (utc_text(hour),) + _air_values(sums, samples)


def _waits(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    """Hourly mean and maximum of the per-minute estimates, computed while streaming them in order."""
    places = _places(session, "waste_centre")
    stmt = (
        select(
            col(WasteCentreEstimate.sensor_id),
            col(WasteCentreEstimate.ts),
            col(WasteCentreEstimate.wait_min),
            col(WasteCentreEstimate.saturated),
        )
        .where(col(WasteCentreEstimate.sensor_id).in_(list(places)))
        .order_by(col(WasteCentreEstimate.sensor_id), col(WasteCentreEstimate.ts))
    )
    key: tuple[Any, str] | None = None
    place: tuple[Any, ...] = ()
    waits: list[float] = []
    estimates = saturated = 0

    def flush() -> tuple[Any, ...]:
        mean = round(sum(waits) / len(waits), 1) if waits else None
        return place + (
            key[1] if key else None,
            mean,
            round(max(waits), 1) if waits else None,
            round(saturated / estimates, 3),
            estimates,
        )

    hour_of: tuple[Any, str] = (None, "")
    for sensor_id, ts, wait_min, is_saturated in (
        session.connection().execution_options(yield_per=5000).execute(stmt)
    ):
        start = ts.replace(minute=0, second=0, microsecond=0)
        if hour_of[0] != start:
            hour_of = (start, utc_text(start) or "")
        if key is not None and key != (sensor_id, hour_of[1]):
            yield flush()
            waits, estimates, saturated = [], 0, 0
        key, place = (sensor_id, hour_of[1]), places[sensor_id]
        estimates += 1
        saturated += 1 if is_saturated else 0
        if wait_min is not None:
            waits.append(wait_min)
    if key is not None:
        yield flush()


def _reading(
    session: Session, event: dict[str, Any], kind: str
) -> tuple[Sensor, dict[str, Any]] | None:
    if event.get("kind") != "reading":
        return None
    sensor = session.get(Sensor, str(event.get("feature_id", "")))
    if sensor is None or sensor.kind != kind or not owns(session, sensor.territory_id):
        return None
    payload = event.get("payload") or {}
    given = payload.get("values")
    values = given if isinstance(given, dict) else {}
    return sensor, {"ts": payload.get("ts"), **values}


def _live_traffic(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    found = _reading(session, event, "traffic")
    if found is None:
        return None
    sensor, values = found
    row = _place(sensor) + (values["ts"],) + _traffic_values(values, 1)
    return dict(zip(TRAFFIC.column_names, row, strict=True))


def _live_air(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    found = _reading(session, event, "air_quality")
    if found is None:
        return None
    sensor, values = found
    row = _place(sensor) + (values["ts"],) + _air_values(values, 1)
    return dict(zip(AIR.column_names, row, strict=True))


def _live_wait(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    found = _reading(session, event, "waste_centre")
    if found is None:
        return None
    sensor, values = found
    latest = session.scalars(
        select(WasteCentreEstimate)
        .where(col(WasteCentreEstimate.sensor_id) == sensor.id)
        .order_by(col(WasteCentreEstimate.ts).desc())
        .limit(1)
    ).first()
    wait = None if latest is None or latest.wait_min is None else round(latest.wait_min, 1)
    saturated = 1.0 if latest is not None and latest.saturated else 0.0
    row = _place(sensor) + (values["ts"], wait, wait, saturated, 1)
    return dict(zip(WAITS.column_names, row, strict=True))


WAITS = OpenDataset(
    slug="dechetterie-temps-attente",
    domain="sensors",
    title="Temps d'attente à la déchetterie, par heure",
    description=(
        "Le temps d'attente estimé à l'entrée de la déchetterie à partir des barrières "
        "(arrivées, admissions, sorties) : moyenne et maximum par heure, part du temps où le site "
        "était saturé. En direct : l'estimation à chaque nouvelle mesure."
    ),
    theme="ENVI",
    keywords=("déchetterie", "temps d'attente", "déchets", "temps réel"),
    frequency="HOURLY",
    expected_minutes=15,
    columns=PLACE
    + (
        Column("attente_moyenne_min", "number", "Attente moyenne estimée", unit="min", minimum=0),
        Column("attente_max_min", "number", "Attente maximale estimée", unit="min", minimum=0),
        Column(
            "part_saturee", "number", "Part du temps où le site était saturé", minimum=0, maximum=1
        ),
        Column(
            "estimations", "integer", "Nombre d'estimations dans l'heure", required=True, minimum=0
        ),
    ),
    rows=_waits,
    copy_sql=WAITS_SQL,
    ends_sql=WAITS_ENDS_SQL,
    geometry=Geometry("latitude", "longitude", decimals=5, per_place=True),
    live_kinds=(f"{layer_of('waste_centre')}:reading",),  # the waste centre's own layer
    live_row=_live_wait,
    twin="WasteCentreObserved",
    cnil=Cnil(
        singling_out="Des comptages de véhicules aux barrières, sans plaque ni image : aucune personne.",
        linkability="Aucun identifiant de véhicule ou de personne n'est mesuré ni publié.",
        inference="Un temps d'attente moyen : on ne peut rien en déduire sur un usager.",
    ),
)

TRAFFIC = OpenDataset(
    slug="trafic-frontalier",
    domain="sensors",
    title="Trafic aux points de passage frontaliers, par heure",
    description=(
        "Les comptages des capteurs de trafic aux points de passage vers le Luxembourg : débit moyen "
        "(véhicules par heure), taux d'occupation, vitesse moyenne et part du temps en congestion, "
        "par heure. En direct : chaque mesure."
    ),
    theme="TRAN",
    keywords=("trafic", "frontière", "Luxembourg", "mobilité", "temps réel"),
    frequency="HOURLY",
    expected_minutes=15,
    columns=PLACE
    + (
        Column("debit_vehicules_h", "number", "Débit moyen", unit="véhicules/h", minimum=0),
        Column("taux_occupation", "number", "Taux d'occupation moyen", minimum=0, maximum=1),
        Column("vitesse_moyenne_kmh", "number", "Vitesse moyenne", unit="km/h", minimum=0),
        Column("part_congestion", "number", "Part des mesures en congestion", minimum=0, maximum=1),
        Column("echantillons", "integer", "Nombre de mesures", required=True, minimum=0),
    ),
    rows=_traffic,
    copy_sql=TRAFFIC_SQL,
    ends_sql=TRAFFIC_ENDS_SQL,
    geometry=Geometry("latitude", "longitude", decimals=5, per_place=True),
    live_kinds=(f"{layer_of('traffic')}:reading",),  # the crossings' own layer
    live_row=_live_traffic,
    twin="TrafficFlowObserved",
    conforms_to=(
        (
            SMART_DATA_MODELS.format("Transportation", "TrafficFlowObserved"),
            "Smart Data Models TrafficFlowObserved",
        ),
    ),
    cnil=NO_PERSON,
)

AIR = OpenDataset(
    slug="qualite-air",
    domain="sensors",
    title="Qualité de l'air, par heure",
    description=(
        "Les concentrations mesurées par les capteurs de qualité de l'air (NO2, PM10, PM2,5, O3, "
        "en µg/m³), moyennes par heure. En direct : chaque mesure."
    ),
    theme="ENVI",
    keywords=("qualité de l'air", "pollution", "environnement", "temps réel"),
    frequency="HOURLY",
    expected_minutes=15,
    columns=PLACE
    + (
        Column("no2_ugm3", "number", "Dioxyde d'azote (NO2)", unit="µg/m³", minimum=0),
        Column("pm10_ugm3", "number", "Particules PM10", unit="µg/m³", minimum=0),
        Column("pm25_ugm3", "number", "Particules PM2,5", unit="µg/m³", minimum=0),
        Column("o3_ugm3", "number", "Ozone (O3)", unit="µg/m³", minimum=0),
        Column("echantillons", "integer", "Nombre de mesures", required=True, minimum=0),
    ),
    rows=_air,
    copy_sql=AIR_SQL,
    ends_sql=AIR_ENDS_SQL,
    geometry=Geometry("latitude", "longitude", decimals=5, per_place=True),
    live_kinds=("sensors:reading",),
    live_row=_live_air,
    twin="AirQualityObserved",
    conforms_to=(
        (
            SMART_DATA_MODELS.format("Environment", "AirQualityObserved"),
            "Smart Data Models AirQualityObserved",
        ),
    ),
    cnil=NO_PERSON,
)

_CLASSES = (("pedestrian", "pietons"), ("bike", "velos"), ("car", "voitures"), ("truck", "camions"))
_WAYS = (("in", "entrants"), ("out", "sortants"))


def _count_values(values: dict[str, Any], samples: int) -> tuple[Any, ...]:
    """An hour's passages per class and direction (sums of the periods), then the periods counted."""
    out: list[Any] = []
    for name, _label in _CLASSES:
        for way, _fr in _WAYS:
            value = values.get(f"{name}_{way}")
            out.append(int(value) if isinstance(value, int | float) else None)
    return (*out, samples)


def _counts(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    for place, sums, samples, hour in _hourly(session, "counter"):
        yield place + (utc_text(hour),) + _count_values(sums, samples)


def _live_counts(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    found = _reading(session, event, "counter")
    if found is None:
        return None
    sensor, values = found
    row = _place(sensor) + (values["ts"],) + _count_values(values, 1)
    return dict(zip(COUNTS.column_names, row, strict=True))


COUNTS = OpenDataset(
    slug="comptages",
    domain="sensors",
    title="Comptages de piétons, vélos, voitures et camions, par heure",
    description=(
        "Les passages comptés par les appareils de comptage (registre public : /counting), par "
        "catégorie et par sens, additionnés par heure. Le comptage se fait dans l'appareil : "
        "aucune image n'en sort ni n'est enregistrée. En direct : chaque période comptée."
    ),
    theme="TRAN",
    keywords=("comptage", "piétons", "vélos", "mobilité", "temps réel"),
    frequency="HOURLY",
    expected_minutes=30,
    columns=PLACE
    + tuple(
        Column(f"{fr}_{way_fr}", "integer", f"Passages : {fr}, {way_fr}", minimum=0)
        for _name, fr in _CLASSES
        for _way, way_fr in _WAYS
    )
    + (Column("periodes", "integer", "Nombre de périodes comptées", required=True, minimum=0),),
    rows=_counts,
    geometry=Geometry("latitude", "longitude", decimals=5, per_place=True),
    live_kinds=("sensors:reading",),
    live_row=_live_counts,
    twin="ItemFlowObserved",
    conforms_to=(
        (
            SMART_DATA_MODELS.format("Transportation", "ItemFlowObserved"),
            "Smart Data Models ItemFlowObserved",
        ),
    ),
    cnil=Cnil(
        singling_out="Des nombres de passages par heure à un point fixe : aucune personne.",
        linkability="Aucune image, plaque ou identifiant n'est enregistré ni publié.",
        inference="Des totaux horaires : on ne peut pas en déduire le trajet d'une personne.",
    ),
)


def _solar_values(values: dict[str, Any], samples: int) -> tuple[Any, ...]:
    power = _mean(values, "power_w", samples, 1)
    expected = _mean(values, "expected_w", samples, 1)
    return (power, expected, samples)


def _solar(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    for place, sums, samples, hour in _hourly(session, "solar"):
        yield place + (utc_text(hour),) + _solar_values(sums, samples)


SOLAR = OpenDataset(
    slug="production-solaire",
    domain="sensors",
    title="Production des installations solaires publiques, par heure",
    description=(
        "La puissance moyenne produite par les panneaux solaires des bâtiments publics, et celle "
        "qu'ils produiraient par ciel clair (modèle pvlib : irradiance sur le plan des panneaux, "
        "orientation, inclinaison et puissance crête du site), par heure."
    ),
    theme="ENER",
    keywords=("énergie solaire", "photovoltaïque", "bâtiments publics", "énergie"),
    frequency="HOURLY",
    expected_minutes=60,
    columns=PLACE
    + (
        Column("puissance_moyenne_w", "number", "Puissance moyenne produite", unit="W", minimum=0),
        Column(
            "puissance_ciel_clair_w",
            "number",
            "Puissance attendue par ciel clair (moyenne)",
            unit="W",
            minimum=0,
        ),
        Column("echantillons", "integer", "Nombre de mesures", required=True, minimum=0),
    ),
    rows=_solar,
    geometry=Geometry("latitude", "longitude", decimals=5, per_place=True),
    conforms_to=(
        (
            SMART_DATA_MODELS.format("GreenEnergy", "PhotovoltaicMeasurement"),
            "Smart Data Models PhotovoltaicMeasurement",
        ),
    ),
    cnil=NO_PERSON,
)

DATASETS = (WAITS, TRAFFIC, AIR, COUNTS, SOLAR)
SERVICES = (
    Service(
        "ngsi-ld",
        "API NGSI-LD du jumeau numérique",
        "Le jumeau numérique des points lumineux, des capteurs, des signalements, de leurs comptes "
        "du jour et des alertes (Smart Data Models), en lecture, avec leur historique (API temporelle).",
        "/ngsi-ld/v1/entities",
        "/ngsi-ld/v1/entities",
        "https://www.etsi.org/deliver/etsi_gs/CIM/001_099/009/01.08.01_60/gs_CIM009v010801p.pdf",
        (
            "eclairage-public-points-lumineux",
            "dechetterie-temps-attente",
            "trafic-frontalier",
            "qualite-air",
            "comptages",
            "production-solaire",
        ),
    ),
)

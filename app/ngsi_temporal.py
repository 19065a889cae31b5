"""NGSI-LD temporal API (``/ngsi-ld/v1/temporal/entities/{id}``) over the one time-series store.

Query: ``timerel`` (``before``, ``after``, ``between``), ``timeAt``, ``endTimeAt``, ``attrs``,
``aggrMethods`` (``totalCount``, ``sum``, ``avg``, ``min``, ``max``) with ``aggrPeriodDuration``
(an ISO 8601 duration, default the whole range) and ``options=aggregatedValues`` or
``format=aggregatedValues`` (NGSI-LD 1.6+: each attribute carries
``{"type": "Property", "avg": [[value, startAt, endAt], ...]}``), ``lastN``.
Without aggregation the instances are the stored hourly means (ranges up to 31 days) or daily means.
Errors use NGSI-LD's ProblemDetails through ``app.ngsi.NgsiError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from app import territories, timeseries
from app.ngsi import NgsiError, parse_urn
from app.ngsi import time_text as ngsi_time

METHODS = ("totalCount", "sum", "avg", "min", "max")
DEFAULT_SPAN = dt.timedelta(days=30)
HOURLY_LIMIT = dt.timedelta(days=31)


def _moment(value: str | None, name: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise NgsiError(
            400, "BadRequestData", f"Invalid {name}", "expected an ISO 8601 date-time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def time_range(params: Mapping[str, str], now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    timerel = params.get("timerel")
    at, end = _moment(params.get("timeAt"), "timeAt"), _moment(params.get("endTimeAt"), "endTimeAt")
    if timerel is None:
        if at is not None or end is not None:
            raise NgsiError(400, "BadRequestData", "timerel is missing", "timeAt needs timerel")
        return now - DEFAULT_SPAN, now
    if at is None:
        raise NgsiError(400, "BadRequestData", "timeAt is missing", "timerel needs timeAt")
    if timerel == "before":
        return at - dt.timedelta(days=366), at
    if timerel == "after":
        return at, max(at, now)
    if timerel == "between":
        if end is None:
            raise NgsiError(
                400, "BadRequestData", "endTimeAt is missing", "timerel=between needs endTimeAt"
            )
        if end <= at:
            raise NgsiError(
                400, "BadRequestData", "Invalid time range", "endTimeAt must come after timeAt"
            )
        return at, end
    raise NgsiError(400, "BadRequestData", "Invalid timerel", "timerel is before, after or between")


def temporal_entity(
    session: Session, entity_id: str, params: Mapping[str, str], now: dt.datetime
) -> dict[str, Any]:
    entity_type, _local = parse_urn(entity_id)
    start, end = time_range(params, now)
    known = timeseries.measures_of(session, entity_id)
    if not known:
        raise NgsiError(404, "ResourceNotFound", "No history for that entity", entity_id[:200])
    attrs = [a.strip() for a in (params.get("attrs") or "").split(",") if a.strip()] or known
    attrs = [a for a in attrs if a in known]
    options = set((params.get("options") or "").split(",")) | {params.get("format") or ""}
    methods = [m.strip() for m in (params.get("aggrMethods") or "").split(",") if m.strip()]
    aggregated = "aggregatedValues" in options or bool(methods)
    body: dict[str, Any] = {"id": entity_id, "type": entity_type}
    try:
        if aggregated:
            if not methods:
                raise NgsiError(
                    400,
                    "BadRequestData",
                    "aggrMethods is missing",
                    "aggregatedValues needs aggrMethods",
                )
            unknown = [m for m in methods if m not in METHODS]
            if unknown:
                raise NgsiError(
                    400,
                    "BadRequestData",
                    "Unsupported aggregation method",
                    f"{unknown[0][:40]}: supported are {', '.join(METHODS)}",
                )
            duration = params.get("aggrPeriodDuration") or ""
            period = (
                timeseries.Period.parse(duration)
                if duration and duration != "PT0S"
                else timeseries.Period(0, max(3600, int((end - start).total_seconds())))
            )
            series = timeseries.aggregate(
                session, entity_id, attrs, start, end, period, territories.zone(session)
            )
            for name, buckets in series.items():
                attr: dict[str, Any] = {"type": "Property"}
                for method in methods:
                    attr[method] = [
                        [b.value(method), ngsi_time(b.start), ngsi_time(b.end)]
                        for b in buckets
                        if b.count
                    ]
                body[name] = attr
            return body
        period = (
            timeseries.Period(0, 3600)
            if end - start <= HOURLY_LIMIT
            else timeseries.Period(0, 86400)
        )
        series = timeseries.aggregate(
            session, entity_id, attrs, start, end, period, territories.zone(session)
        )
    except ValueError as exc:
        raise NgsiError(
            400, "BadRequestData", "Invalid aggrPeriodDuration or range", str(exc)[:200]
        ) from None
    last_n = params.get("lastN")
    for name, buckets in series.items():
        instances = [
            {"type": "Property", "value": b.mean, "observedAt": ngsi_time(b.start)}
            for b in buckets
            if b.count
        ]
        if last_n and last_n.isdigit():
            instances = instances[-int(last_n) :]
        body[name] = instances
    return body

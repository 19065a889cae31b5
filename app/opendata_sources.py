"""The domains that contribute open datasets (the open data interface, ``app.opendata.contrib``)."""

from __future__ import annotations

from app.opendata.contrib import OpenDataset, Service


def contributions() -> list[OpenDataset]:
    from app import alerts_opendata, carpool_opendata, lighting_opendata, reports_opendata
    from app import sensors_opendata, shops_opendata

    modules = (reports_opendata, lighting_opendata, sensors_opendata, carpool_opendata, shops_opendata,
               alerts_opendata)
    return [dataset for module in modules for dataset in module.DATASETS]


def services() -> list[Service]:
    from app import carpool_opendata, reports_opendata, sensors_opendata

    return [s for module in (reports_opendata, sensors_opendata, carpool_opendata) for s in module.SERVICES]

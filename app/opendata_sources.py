"""The domains that contribute open datasets (the open data interface, ``app.opendata.contrib``)."""

from __future__ import annotations

from app.opendata.contrib import OpenDataset, Service


def contributions() -> list[OpenDataset]:
    from app.alerts import opendata as alerts_opendata
    from app.carpool import opendata as carpool_opendata
    from app.lighting import opendata as lighting_opendata
    from app.reports import opendata as reports_opendata
    from app.sensors import opendata as sensors_opendata
    from app.shops import opendata as shops_opendata

    modules = (reports_opendata, lighting_opendata, sensors_opendata, carpool_opendata, shops_opendata,
               alerts_opendata)
    return [dataset for module in modules for dataset in module.DATASETS]


def services() -> list[Service]:
    from app.carpool import opendata as carpool_opendata
    from app.reports import opendata as reports_opendata
    from app.sensors import opendata as sensors_opendata

    return [s for module in (reports_opendata, sensors_opendata, carpool_opendata) for s in module.SERVICES]

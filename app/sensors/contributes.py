"""What the sensors domain contributes: layers, KPIs, open data, the NGSI-LD notifier and LoRaWAN
services, the meters import, demo devices, the waste-centre watches in exports and erasure."""

from app.interfaces import Contribution, DemoLoader, Privacy
from app.sensors import (
    cli,
    demo,
    insights,
    lorawan,
    measures,
    ngsi_cli,
    ngsi_notifier,
    opendata,
    ops,
    places,
    solar_report,
    waits_ngsi,
)

CONTRIBUTES = Contribution(
    ops_layers=ops.OPS_LAYERS,
    kpis=ops.OPS_KPIS,
    privacy=(Privacy("waste_centre", measures.export_watches, measures.erase_watches),),
    open_data=opendata.DATASETS,
    data_services=opendata.SERVICES,
    locators=places.LOCATORS,
    ngsi_types=waits_ngsi.NGSI_TYPES,
    telemetry_sinks={"tele_sensor": measures.ingest_sensor_telemetry},
    telemetry_warm_ups=(measures.warm_up,),
    services=(ngsi_notifier.notifier_service, lorawan.lorawan_service),
    commands=(*ngsi_cli.COMMANDS, *cli.COMMANDS),
    demo=(DemoLoader(31, "sensors", demo.load_devices),),
    figures=(*insights.FIGURES, *solar_report.FIGURES),
    trips=insights.TRIP_SOURCES,
)

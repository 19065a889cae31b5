"""What the lighting domain contributes: the relay (a worker service), ``eclor lights`` and ``eclor fleet``,
the demo fleet (lights and sensors)."""

from app.interfaces import Contribution, DemoLoader
from app.lighting import cli, demo, insights, ngsi, opendata, ops, places, relay, talq_cli

CONTRIBUTES = Contribution(
    ops_layers=ops.OPS_LAYERS,
    kpis=ops.OPS_KPIS,
    commands=(*cli.COMMANDS, *talq_cli.COMMANDS),
    demo=(DemoLoader(30, "lighting", demo.load_lighting),),
    services=(relay.relay_service,),
    open_data=opendata.DATASETS,
    locators=places.LOCATORS,
    ngsi_types=ngsi.NGSI_TYPES,
    figures=insights.FIGURES,
    energy_meters=(insights.METERS,),
)

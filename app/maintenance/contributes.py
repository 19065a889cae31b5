"""What maintenance contributes: the rules service of the worker, the alarms layer and KPIs of the
operations centre, and the demo rules."""

from app.interfaces import Contribution, DemoLoader
from sqlmodel import col
from app.maintenance import demo, engine, ops, progress
from app.models.maintenance import WorkOrderPhoto
from app.photo_sweep import named_by

CONTRIBUTES = Contribution(
    services=(engine.rules_service,),
    ops_layers=ops.OPS_LAYERS,
    kpis=ops.OPS_KPIS,
    demo=(DemoLoader(60, "maintenance", demo.load_rules),),
    photo_names=(named_by(col(WorkOrderPhoto.display_name), col(WorkOrderPhoto.thumb_name)),),
    work_orders=(progress.WORK_ORDERS,),
)

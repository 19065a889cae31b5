"""What the carpool domain contributes: reminders and saved-search alerts, demo ads, privacy."""

from app.carpool import (
    ads,
    bookings,
    callbacks,
    cli,
    demo,
    insights,
    opendata,
    ops,
    privacy,
    registry,
)
from sqlmodel import col
from app.interfaces import Contribution, DemoLoader, Privacy
from app.models.carpool import CarpoolProfile
from app.photo_sweep import named_by

CONTRIBUTES = Contribution(
    commands=cli.COMMANDS,
    ops_layers=ops.OPS_LAYERS,
    kpis=ops.OPS_KPIS,
    demo=(DemoLoader(60, "carpool", demo.load_demo),),
    jobs={
        "carpool.reminder": bookings.send_reminder,
        "carpool.alerts": ads.run_alerts,
        "carpool.proof": registry.send_proof,
        "carpool.operator_callback": callbacks.send_callback,
    },
    privacy=(Privacy("carpool", privacy.export_person, privacy.erase_person),),
    photo_names=(named_by(col(CarpoolProfile.photo_name), col(CarpoolProfile.thumb_name)),),
    services=(registry.proof_sweep_service,),
    open_data=opendata.DATASETS,
    data_services=opendata.SERVICES,
    figures=insights.FIGURES,
    trips=insights.TRIP_SOURCES,
)

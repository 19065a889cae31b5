"""What the reports domain contributes: demo reports in every state, privacy."""

from app.interfaces import Contribution, DemoLoader, Privacy
from sqlmodel import col
from app.models.reports import ReportPhoto
from app.photo_sweep import named_by
from app.reports import (
    ban,
    body_mail,
    cli,
    demo,
    insights,
    media,
    ngsi,
    opendata,
    ops,
    privacy,
    work,
)

CONTRIBUTES = Contribution(
    ops_layers=ops.OPS_LAYERS,
    kpis=ops.OPS_KPIS,
    demo=(
        DemoLoader(39, "addresses", lambda session, rng: ban.load_demo(session)),
        DemoLoader(40, "reports", demo.load_demo_reports),
    ),
    commands=cli.COMMANDS,
    jobs={media.KIND: media.fetch, body_mail.KIND: body_mail.send},
    privacy=(Privacy("reports", privacy.export_reports, privacy.erase_reports),),
    open_data=opendata.DATASETS,
    ngsi_types=ngsi.NGSI_TYPES,
    data_services=opendata.SERVICES,
    work_sources=work.SOURCES,
    photo_names=(named_by(col(ReportPhoto.display_name), col(ReportPhoto.thumb_name)),),
    figures=insights.FIGURES,
)

"""What participation contributes: demo budgets and consultations, the privacy of ballots, codes
and responses, and the results of closed consultations as open data."""

from sqlmodel import col

from app.interfaces import Contribution, DemoLoader, Privacy
from app.models.participation import ProposalPhoto
from app.photo_sweep import named_by
from app.participation import demo, demo_consultations, opendata, ops, privacy

CONTRIBUTES = Contribution(
    demo=(
        DemoLoader(80, "participation", demo.load_demo),
        DemoLoader(81, "consultations", demo_consultations.load_demo),
    ),
    open_data=opendata.DATASETS,
    ops_layers=ops.OPS_LAYERS,
    kpis=ops.OPS_KPIS,
    photo_names=(named_by(col(ProposalPhoto.display_name), col(ProposalPhoto.thumb_name)),),
    privacy=(Privacy("participation", privacy.export_person, privacy.erase_person),),
)

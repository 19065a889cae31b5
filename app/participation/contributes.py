"""What participation contributes: demo budgets and consultations, the privacy of ballots, codes
and responses, and the results of closed consultations as open data."""

from app.interfaces import Contribution, DemoLoader, Privacy
from app.participation import demo, demo_consultations, opendata, ops, privacy

CONTRIBUTES = Contribution(
    demo=(
        DemoLoader(80, "participation", demo.load_demo),
        DemoLoader(81, "consultations", demo_consultations.load_demo),
    ),
    open_data=opendata.DATASETS,
    ops_layers=ops.OPS_LAYERS,
    kpis=ops.OPS_KPIS,
    privacy=(Privacy("participation", privacy.export_person, privacy.erase_person),),
)

"""What the sharing domain contributes: the hourly sweep (reminders, lapsing ads), demo items, privacy."""

from app.interfaces import Contribution, DemoLoader, Privacy
from app.models.sharing import SharedPhoto
from app.photo_sweep import named_by
from app.sharing import demo, insights, loans, privacy, reminders

CONTRIBUTES = Contribution(
    demo=(DemoLoader(71, "sharing", demo.load_demo),),
    jobs={loans.SWEEP_KIND: reminders.run_sweep},
    privacy=(Privacy("sharing", privacy.export_person, privacy.erase_person),),
    photo_names=(named_by(SharedPhoto.display_name, SharedPhoto.thumb_name),),
    figures=insights.FIGURES,
)

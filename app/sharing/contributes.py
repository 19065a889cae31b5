"""What the sharing domain contributes: the hourly sweep (reminders, lapsing ads), demo items, privacy."""

from app.interfaces import Contribution, DemoLoader, Privacy
from app.sharing import loans

CONTRIBUTES = Contribution(
    demo=(DemoLoader(71, "sharing", loans.load_demo),),
    jobs={loans.SWEEP_KIND: loans.run_sweep},
    privacy=(Privacy("sharing", loans.export_person, loans.erase_person),),
)

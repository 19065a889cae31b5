"""What participation contributes: demo budgets and the privacy of ballots and codes."""

from app.interfaces import Contribution, DemoLoader, Privacy
from app.participation import demo, privacy

CONTRIBUTES = Contribution(
    demo=(DemoLoader(80, "participation", demo.load_demo),),
    privacy=(Privacy("participation", privacy.export_person, privacy.erase_person),),
)

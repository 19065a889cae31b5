"""What the renovation guide contributes: the rules command, demo rules and the privacy of
appointment requests."""

from app.interfaces import Contribution, DemoLoader, Privacy
from app.renovation import cli, demo, privacy

CONTRIBUTES = Contribution(
    commands=cli.COMMANDS,
    demo=(DemoLoader(85, "renovation", demo.load_demo),),
    privacy=(Privacy("renovation", privacy.export_person, privacy.erase_person),),
)

"""What the solidarity transport contributes: the SMS reminder job, demo data and the privacy of
volunteer drivers."""

from app.interfaces import Contribution, DemoLoader, Privacy
from app.solidarity import demo, privacy, reminders

CONTRIBUTES = Contribution(
    jobs={reminders.JOB: reminders.send_sms},
    demo=(DemoLoader(85, "solidarity", demo.load_demo),),
    privacy=(Privacy("solidarity", privacy.export_person, privacy.erase_person),),
)

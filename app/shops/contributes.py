"""What the shops domain contributes: demo shops, privacy."""

from app.interfaces import Contribution, DemoLoader, Privacy
from app.shops import opendata, orders

CONTRIBUTES = Contribution(
    demo=(DemoLoader(70, "shops", orders.load_demo),),
    privacy=(Privacy("shops", orders.export_person, orders.erase_person),),
    open_data=opendata.DATASETS,
)

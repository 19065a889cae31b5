"""What the sensors domain contributes: the waste-centre watches in exports and erasure."""

from app.interfaces import Contribution, Privacy
from app.sensors import measures

CONTRIBUTES = Contribution(
    privacy=(Privacy("waste_centre", measures.export_watches, measures.erase_watches),),
)

"""What the open-data domain contributes: the snapshot service of the worker."""

from app.interfaces import Contribution
from app.opendata import service

CONTRIBUTES = Contribution(services=(service.snapshot_service,))

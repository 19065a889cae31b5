"""What the open-data domain contributes: the snapshot service of the worker, and the rows of the
datasets staff uploaded carried by a territory's bundle."""

from app.interfaces import Contribution
from app.opendata import bundle, service

CONTRIBUTES = Contribution(
    services=(service.snapshot_service,), bundle_files=(bundle.BUNDLE_FILES,)
)

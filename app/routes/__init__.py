"""HTTP routes, one module per domain; each module exposes ``ROUTES``.

``MODULES`` lists them in the order ``create_app`` mounts them.
"""

from app.routes import accounts, admin, home
from app.routes import carpool
from app.routes import sharing, shops
from app.routes import alerts, push
from app.routes import open311, reports
from app.routes import lighting, sensors
from app.routes import ops
from app.routes import opendata

MODULES = [home, accounts, admin, carpool, sharing, shops, alerts, push, reports, open311, lighting, sensors, ops, opendata]

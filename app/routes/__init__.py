"""HTTP routes, one module per domain; each module exposes ``ROUTES``.

``MODULES`` lists them in the order ``create_app`` mounts them.
"""

from app.routes import accounts, home

MODULES = [home, accounts]

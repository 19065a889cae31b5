"""SQLModel tables, one module per domain.

Importing this package imports every table so that ``SQLModel.metadata`` is
complete (Alembic, tests and the app rely on it). The naming convention is set
first, so that every constraint of every table gets its conventional name.
"""

from sqlmodel import SQLModel

from app.db import NAMING_CONVENTION

SQLModel.metadata.naming_convention = NAMING_CONVENTION


from app.models.territory import Commune, Territory
from app.models.accounts import User, WebSession
from app.models.jobs import Job
from app.models import retention  # noqa: F401  (monthly counts of purged rows)
from app.models import sharing, shops  # noqa: F401  (neighbour sharing, local shops)
from app.models import carpool, carpool_interop  # noqa: F401  (carpooling)
from app.models import push  # noqa: F401  (Web Push subscriptions, alerts, deliveries)
from app.models import reports  # noqa: F401  (dump-site reports)
from app.models import lighting, sensors  # noqa: F401  (public lighting, sensors)
from app.models import lighting_talq  # noqa: F401  (TALQ gateways, devices and groups)
from app.models import events  # noqa: F401  (the event outbox of live views)
from app.models import measures  # noqa: F401  (the one time-series store)
from app.models import opendata  # noqa: F401  (open data)
from app.models import maintenance  # noqa: F401  (rules, alarms, work orders)
from app.models import participation  # noqa: F401  (participatory budgets)
from app.models import ngsi  # noqa: F401  (NGSI-LD subscriptions and their notifications)
from app.models import renovation  # noqa: F401  (renovation aids, adviser appointments)
from app.models import solidarity  # noqa: F401  (solidarity transport)
from app.models import insights  # noqa: F401  (decision support)

__all__ = ["Commune", "Job", "Territory", "User", "WebSession"]

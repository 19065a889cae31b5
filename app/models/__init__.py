"""SQLModel tables, one module per domain.

Importing this package imports every table so that ``SQLModel.metadata`` is
complete (Alembic, tests and the app rely on it).
"""

from app.models.territory import Commune, Territory
from app.models.accounts import User, WebSession
from app.models.jobs import Job

__all__ = ["Commune", "Job", "Territory", "User", "WebSession"]

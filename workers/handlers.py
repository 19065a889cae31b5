"""Imports every module that registers job handlers (``app.jobs.job_handler``)."""

import app.mail  # noqa: F401  e-mail outbox
import app.notify  # noqa: F401  notifications to people
import app.sharing.loans  # noqa: F401  sharing: hourly sweep (loan reminders, lapsing ads)
import app.carpool.ads  # noqa: F401  carpool: saved-search alerts, departure reminders
import app.alerts.publish  # noqa: F401  push: alert fan-out, personal push notifications
import app.lighting.relay  # noqa: F401  lighting: the MQTT relay service (commands, telemetry, alarms)
import app.retention  # noqa: F401  retention: old rows deleted in small batches (worker service)
import app.opendata.service as _opendata_service  # noqa: E402  open data: snapshots every 15 minutes
_opendata_service.register()

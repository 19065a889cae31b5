"""Imports every module that registers job handlers (``app.jobs.job_handler``)."""

import app.mail  # noqa: F401  e-mail outbox
import app.notify  # noqa: F401  notifications to people

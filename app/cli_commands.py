"""Imports every module that registers an ``eclor`` subcommand (``app.cli.command``)."""
import app.alerts.publish  # noqa: F401  eclor vapid, eclor alert
import app.lighting.cli  # noqa: F401  eclor lights, eclor fleet

"""Alerts: publishing, Web Push subscriptions and fan-out, CAP 1.2 import and export."""

"""Dump-site reports: the workflow staff and residents share, staff triage (triage.py), and Open311 GeoReport v2."""

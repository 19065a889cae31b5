"""Dump-site reports: the workflow staff and residents share, and Open311 GeoReport v2."""

"""The operations centre: one live map of the territory for staff.

``contracts`` declares what a domain contributes (layers, KPIs); ``centre``
gathers the contributions for the pages; ``history`` reads the one
time-series store for charts and CSV. The centre knows no domain by name.
"""

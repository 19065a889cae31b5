"""Maintenance: from a signal to a fix the resident hears about.

Staff write rules (``rules``) on any measure or status of a device and on residents' reports; the
worker evaluates them as events arrive (``engine``, following the event outbox) and raises alarms
(``alarms``) that clear by themselves when the condition ends. An alarm, one or several reports, or
a person's hand make a work order (``orders``) for a team; closing it resolves the linked reports
and tells their reporters and followers. Other domains are met only through the registry's
interfaces (``registry``: where a device is, the residents' reports).
"""

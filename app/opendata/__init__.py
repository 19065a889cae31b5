"""Open data: the territory's data published by the territory.

Domains contribute datasets through ``contrib`` (the interface); ``registry``
knows which exist and are published; ``snapshots`` writes their CSV, GeoJSON
and Table Schema files (the worker's ``service`` every 15 minutes at most);
``catalogue`` is the DCAT-AP 3 graph; ``live`` their Server-Sent Events
streams; ``portal`` feeds the pages; ``staff`` is what staff control.
"""

"""Sensors: measures from the field, the waste-centre waiting time, the NGSI-LD read API."""

"""Neighbour sharing: loans, gifts, lapsing ads, reminders, "looking for" requests."""

"""Carpooling: ads, matching, bookings, reminders, statistics and proofs."""

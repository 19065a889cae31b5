"""Local shops: opening hours, pick-up slots, orders and stock."""

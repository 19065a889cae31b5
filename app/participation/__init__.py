"""Citizen participation: participatory budgets (phases, projects, one vote per resident)."""

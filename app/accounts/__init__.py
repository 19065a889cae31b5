"""Accounts: password resets, roles, export and deletion."""

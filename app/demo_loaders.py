"""Imports every module that registers an ``eclor demo`` loader."""

import app.demo  # noqa: F401  accounts

"""Imports every module that registers an ``eclor`` subcommand (``app.cli.command``)."""

"""Eclor, the open platform of a smart territory.

``__version__`` is read from the installed package's metadata: the version is
written in one place only, ``pyproject.toml``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eclor")
except PackageNotFoundError:  # a checkout that was never installed (scripts/setup installs it)
    __version__ = "0+unknown"

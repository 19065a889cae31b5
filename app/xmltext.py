"""Text that goes into XML Eclor writes (Open311, CAP): always well-formed, whatever people typed.

XML 1.0 cannot carry most control characters, even escaped (``&#11;`` is an
error too), nor lone surrogates or U+FFFE/U+FFFF. Every XML writer passes its
text through :func:`text` (element content) or :func:`attribute` (attribute
values): markup characters are escaped, a vertical tab or form feed becomes a
line break and any other character XML cannot hold becomes U+FFFD, so a
reader sees where something was replaced.
"""

from __future__ import annotations

import re

__all__ = ["attribute", "clean", "text"]

# Everything outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LINE_BREAKS = {"\x0b": "\n", "\x0c": "\n"}


def clean(value: str) -> str:
    """``value`` with every character XML 1.0 cannot hold replaced."""
    return _NOT_XML.sub(lambda m: _LINE_BREAKS.get(m.group(), "\ufffd"), value)


def text(value: str) -> str:
    """``value`` ready to be element content: cleaned, ``& < >`` escaped, CR kept as ``&#13;``."""
    return (
        clean(value)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
    )


def attribute(value: str) -> str:
    """``value`` ready to sit between double quotes in an attribute."""
    return text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")

"""CSV cells that a spreadsheet never runs as formulas (CSV injection).

A cell is neutralised (a leading ``'``) when it starts with a formula
character (``= + - @``, a tab or a carriage return, or their full-width forms)
after any spaces; so is every place inside it where another separator (``,``
``;`` tab, line break, ``|``) could start a cell when the file is opened with
other settings. Plain numbers (``-5.95``) are left as they are.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_START = "=+-@\t\r＝＋－＠"
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")
# A separator followed by optional spaces and a formula character: the start of a cell in another reading.
_INNER = re.compile(r"([,;\t\n\r|]\s*)([=+\-@＝＋－＠])")


def csv_cell(value: Any) -> Any:
    """The value safe to write as one CSV cell (non-strings are returned as they are)."""
    if not isinstance(value, str) or not value or _NUMBER.match(value):
        return value
    value = _INNER.sub(r"\1'\2", value)
    if value.lstrip(" ")[:1] in FORMULA_START:
        value = "'" + value
    return value

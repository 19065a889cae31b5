"""Numbers typed by people or found in URLs, parsed without ever raising.

``str.isdigit()`` is true for "²" or "٣", which ``int()`` refuses or reads
as another number: Eclor only accepts ASCII digits, and says "not a number"
(None) for anything else.
"""

from __future__ import annotations


def is_ascii_digits(value: object, *, max_digits: int = 18) -> bool:
    """True for a non-empty string of ASCII digits ``0-9``, at most ``max_digits`` long."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_digits
        and value.isascii()
        and value.isdigit()
    )


def parse_int(value: object, *, max_digits: int = 18, default: int | None = None) -> int | None:
    """The integer written in ASCII digits (an optional leading minus), else ``default``."""
    if not isinstance(value, str):
        return default
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    digits = text[1:] if sign < 0 else text
    if not is_ascii_digits(digits, max_digits=max_digits):
        return default
    return sign * int(digits)

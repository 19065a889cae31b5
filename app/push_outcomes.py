"""Web Push answers: what a push service's status code means and when to try again.

Part of :mod:`app.push` (which re-exports every name).
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from app.numbers import is_ascii_digits

# --------------------------------------------------------------------------- outcomes


class Outcome(enum.StrEnum):
    """What happened to one message, and so what the caller does next."""

    DELIVERED = "delivered"  # 201/202: accepted by the push service
    GONE = "gone"  # 404/410: delete this subscription
    TOO_LARGE = "too_large"  # 413: never retry this message
    RATE_LIMITED = "rate_limited"  # 429: retry after ``retry_after`` seconds
    RETRY = "retry"  # 5xx, network error, timeout: retry with backoff
    REJECTED = "rejected"  # any other answer: logged, no retry


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """The outcome of one POST to a push service."""

    kind: Outcome
    #: HTTP status, or ``None`` when no response came back (network error, timeout).
    status: int | None = None
    #: Seconds to wait before retrying, from ``Retry-After`` when the service sent one.
    retry_after: float | None = None
    #: Short human-readable reason (response body excerpt or exception), for logs.
    detail: str = ""

    @property
    def should_retry(self) -> bool:
        """True for ``rate_limited`` and ``retry``."""
        return self.kind in (Outcome.RATE_LIMITED, Outcome.RETRY)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay in seconds or HTTP date).

    Returns ``None`` when the header is absent or unreadable; a date in the past
    gives ``0.0``.
    """
    if value is None:
        return None
    value = value.strip()
    if is_ascii_digits(value, max_digits=12):
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def classify_response(status: int, headers: Mapping[str, str], body: bytes = b"") -> PushOutcome:
    """Map a push service's answer to a :class:`PushOutcome` (RFC 8030 §5, §7)."""
    detail = body[:200].decode("utf-8", "replace").strip()
    if 200 <= status < 300:
        return PushOutcome(Outcome.DELIVERED, status)
    if status in (404, 410):
        return PushOutcome(Outcome.GONE, status, detail=detail)
    if status == 413:
        return PushOutcome(Outcome.TOO_LARGE, status, detail=detail)
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return PushOutcome(Outcome.RATE_LIMITED, status, retry_after, detail)
    if status >= 500:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return PushOutcome(Outcome.RETRY, status, retry_after, detail)
    return PushOutcome(Outcome.REJECTED, status, detail=detail)


def retry_delay(
    outcome: PushOutcome, attempt: int, *, base: float = 30.0, cap: float = 6 * 3600.0
) -> float:
    """Seconds before the next attempt of a ``retry``/``rate_limited`` message.

    ``Retry-After`` wins when present (bounded by ``cap``); otherwise
    exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**attempt)]``,
    ``attempt`` counting from 0.
    """
    if outcome.retry_after is not None:
        return min(cap, outcome.retry_after)
    return random.uniform(0, min(cap, base * (2 ** max(0, attempt))))

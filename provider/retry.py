"""When to retry and how long to wait (no I/O): exponential backoff with jitter that honours
the server's ``retry-after-ms`` / ``retry-after`` hints."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping

from .errors import NetworkError, ProviderError

__all__ = ["backoff_delay", "parse_retry_after", "should_retry"]

_RETRY_STATUSES = frozenset({408, 409, 429})
_RETRY_TYPES = frozenset({"overloaded_error", "rate_limit_error", "api_error", "timeout_error"})
MAX_DELAY = 60.0  # a longer hint is not waited out: the error goes to the caller instead


def _seconds(value: str | None) -> float | None:
    # A finite, non-negative number, or None ("nan" and "inf" are numbers to float()).
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return max(number, 0.0) if math.isfinite(number) else None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date)."""
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    import email.utils  # only for the rare HTTP-date form

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def should_retry(error: ProviderError, headers: Mapping[str, str] | None = None) -> bool:
    """Connection failures, 408/409/429/5xx/529 and the matching mid-stream error types.

    An ``x-should-retry`` header from the server overrides the rule either way.
    """
    if headers is not None:
        hint = headers.get("x-should-retry")
        if hint == "true":
            return True
        if hint == "false":
            return False
    if isinstance(error, NetworkError):
        return True
    if error.status is not None:
        return error.status in _RETRY_STATUSES or error.status >= 500
    return error.error_type in _RETRY_TYPES


def backoff_delay(attempt: int, base: float, retry_after: float | None = None) -> float | None:
    """Seconds before retry number ``attempt + 1``, or None when the server asks for too long.

    Without a hint: ``base * 2**attempt`` capped at 8 s, with up to 25 % jitter taken off so
    that many clients do not retry in step.
    """
    if retry_after is not None:
        return retry_after if retry_after <= MAX_DELAY else None
    # 2.0**1024 overflows (OverflowError); far below that exponent any usable base is capped.
    delay = min(base * 2.0 ** min(attempt, 1000), 8.0)
    return delay * (1.0 - 0.25 * random.random())

"""The checks that refuse a malformed value before any request, each naming its field.

Shared by the content blocks and the request options, so every such error reads the same way:
``"<field> must be <what>, got <value>"`` (the value shortened, so a large payload does not
flood the message), or ``"<field> must not be empty"``.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ProviderError

__all__ = ["fail", "need_bool", "need_int", "need_number", "need_str", "one_of"]

_SHOWN = 80  # how much of a refused value's repr an error quotes


def fail(field: str, expected: str, value: Any) -> ProviderError:
    shown = repr(value)
    if len(shown) > _SHOWN:
        shown = f"{shown[:_SHOWN]}… ({type(value).__name__})"
    return ProviderError(f"{field} must be {expected}, got {shown}")


def need_int(field: str, value: Any, *, minimum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(field, "an int", value)
    if minimum is not None and value < minimum:
        raise fail(field, f"an int >= {minimum}", value)


def need_number(field: str, value: Any) -> None:
    # A NaN or infinity would be written as JSON null: refused rather than rewritten.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise fail(field, "a finite number", value)


def need_str(field: str, value: Any, *, empty_ok: bool = False, hint: str = "") -> None:
    if not isinstance(value, str):
        raise fail(field, f"a str{hint}", value)
    if not value and not empty_ok:
        raise ProviderError(f"{field} must not be empty")


def need_bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise fail(field, "a bool", value)


def one_of(field: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise fail(field, " or ".join(repr(a) for a in allowed), value)

"""Turning an HTTP error response into a ProviderError (no I/O: status, headers, body in)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import msgspec

from .errors import ProviderError, error_for
from .retry import parse_retry_after

__all__ = ["error_from_response"]

_SNIPPET = 200


class _ErrorDetail(msgspec.Struct):
    type: str | None = None
    message: str | None = None


class ErrorBody(msgspec.Struct):
    """``{"type": "error", "error": {"type", "message"}, "request_id"}``."""

    error: _ErrorDetail
    request_id: str | None = None


_decode_error = msgspec.json.Decoder(ErrorBody).decode
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def snippet(body: bytes) -> str:
    """A short, single-line, readable excerpt of a body (an HTML page gives its title)."""
    title = _TITLE.search(body)
    raw = title.group(1) if title else body
    text = html.unescape(_TAGS.sub(" ", raw.decode("utf-8", "replace")))
    text = _SPACE.sub(" ", text).strip()
    return text[:_SNIPPET] + ("…" if len(text) > _SNIPPET else "")


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, where: str
) -> ProviderError:
    """The error for a non-2xx response: the API's own message when the body is its JSON error,
    otherwise (a gateway's HTML page, plain text) the status and an excerpt of the body."""
    request_id = headers.get("request-id") or headers.get("x-request-id")
    retry_after = parse_retry_after(headers)
    try:
        parsed = _decode_error(body)
    # DecodeError includes ValidationError (JSON of another shape); msgspec raises
    # UnicodeDecodeError for invalid UTF-8 inside a JSON string.
    except (msgspec.DecodeError, UnicodeDecodeError):
        parsed = None
    if parsed is not None and parsed.error.message is not None:
        return error_for(
            f"{parsed.error.message}",
            status=status,
            error_type=parsed.error.type,
            request_id=request_id or parsed.request_id,
            retry_after=retry_after,
        )
    excerpt = snippet(body) or "empty body"
    content_type = headers.get("content-type", "no content-type")
    return error_for(
        f"HTTP {status} from {where} ({content_type}): {excerpt}",
        status=status,
        request_id=request_id,
        retry_after=retry_after,
    )

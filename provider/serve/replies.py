"""What the server sends for one request: a :class:`Reply`, and the Anthropic-style JSON errors.

Plain values, free of I/O: the connection layer turns a Reply into HTTP/1.1 bytes with h11.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus

import msgspec

__all__ = ["Reply", "error_reply", "new_request_id", "reason"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    431: "invalid_request_error",
    500: "api_error",
    502: "api_error",
}


class Reply(msgspec.Struct, kw_only=True):
    """One response: status, headers and the body in pieces.

    ``streamed`` sends the pieces as chunks (chunked encoding), else one body with a
    content-length. ``stream`` replaces ``pieces`` for a body that is still arriving (a relayed
    upstream response): each piece is sent as it comes, and ``close`` runs once the reply is over,
    sent or not. ``problem`` says why the request could not be answered as the test expected (a
    request that differs from its recording): the server keeps it in ``problems``.
    """

    status: int
    headers: list[tuple[str, str]]
    pieces: list[bytes] = msgspec.field(default_factory=list)
    pause_index: int | None = None  # hold after this many pieces
    streamed: bool = False
    fixture: str | None = None
    stream: AsyncIterator[bytes] | None = None
    close: Callable[[], Awaitable[None]] | None = None
    problem: str | None = None


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def error_reply(status: int, message: str, request_id: str, **extra: str) -> Reply:
    """An Anthropic-style JSON error: ``{"type":"error","error":{"type","message"},…}``."""
    body = msgspec.json.encode(
        {
            "type": "error",
            "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
            "request_id": request_id,
        }
    )
    headers = [("content-type", "application/json"), ("request-id", request_id)]
    headers += list(extra.items())
    return Reply(status=status, headers=headers, pieces=[body])


def reason(status: int) -> str:
    """The reason phrase of a status line."""
    if status == 529:
        return "Overloaded"  # Anthropic's own status, unknown to the standard library
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""

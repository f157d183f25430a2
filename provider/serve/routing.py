"""From an HTTP request to a Messages request: routing, body validation, header redaction.

Pure functions: :func:`parse_request` gives the :class:`Incoming` request a responder answers, or
the Anthropic-style error the real API would send for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec

from .replies import Reply, error_reply

__all__ = ["ENDPOINTS", "REDACTED", "Incoming", "parse_request", "redact_headers"]

REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})
#: The Messages API's endpoints, answered under any path prefix.
ENDPOINTS = ("/v1/messages", "/v1/messages/count_tokens")


class Incoming:
    """A Messages request as the client sent it.

    ``headers`` has lower-case names with the values of credential headers replaced by
    ``"<redacted>"``; ``raw_headers`` is what came over the wire, secrets included, for a responder
    that forwards the request (it is left out of the repr). ``json`` is the decoded body.
    """

    __slots__ = ("body", "headers", "json", "method", "path", "query", "raw_headers", "request_id")

    def __init__(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        raw_headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        json: Any,
        request_id: str,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.raw_headers = raw_headers
        self.body = body
        self.json = json
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"Incoming({self.method} {self.path} {self.request_id})"


def parse_request(
    method: str,
    target: str,
    raw_headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    request_id: str,
) -> tuple[Incoming, Reply | None]:
    """The request, and the error reply it gets when it is not a valid Messages request."""
    path, query = split_target(target)
    incoming = Incoming(
        method=method,
        path=path,
        query=query,
        headers=redact_headers(raw_headers),
        raw_headers=raw_headers,
        body=body,
        json=None,
        request_id=request_id,
    )
    refusal = route_error(method, path, request_id)
    if refusal is None:
        incoming.json, refusal = decode_body(body, request_id)
    return incoming, refusal


def route_error(method: str, path: str, request_id: str) -> Reply | None:
    """404 unless the path is ``/v1/messages`` or ``/v1/messages/count_tokens`` under some
    prefix; 405 unless the method is POST.

    A prefix is allowed because gateways add one; ``//`` and ``…/v1/v1/messages`` are refused so
    the client bugs that produce them (a doubled slash or ``/v1``) show up here as they would
    against the real API.
    """
    endpoint = next((e for e in ENDPOINTS[::-1] if path.endswith(e)), None)
    if endpoint is None or "//" in path or path[: -len(endpoint)].endswith("/v1"):
        return error_reply(404, f"Not found: {path}", request_id)
    if method != "POST":
        return error_reply(
            405, f"Method {method} not allowed for {path}: use POST", request_id, allow="POST"
        )
    return None


def decode_body(raw: bytes, request_id: str) -> tuple[Any, Reply | None]:
    """The decoded JSON body, or a 400 when it is not a Messages request object."""
    try:
        decoded: Any = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        return None, error_reply(400, f"Request body is not valid JSON: {exc}", request_id)
    if not isinstance(decoded, dict):
        return decoded, error_reply(400, "Request body must be a JSON object", request_id)
    if "messages" not in decoded:
        return decoded, error_reply(400, "messages: Field required", request_id)
    if not isinstance(decoded["messages"], list):
        return decoded, error_reply(400, "messages: Input should be a valid list", request_id)
    return decoded, None


def redact_headers(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names to values, repeated headers joined, credential values redacted."""
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = REDACTED if name in _SECRET_HEADERS else raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out and value != REDACTED else value
    return out


def split_target(target: str) -> tuple[str, str]:
    """Path and query of a request target. Not urlsplit alone: it reads ``//v1/messages`` as a
    host named ``v1``."""
    if not target.startswith("/"):  # absolute-form, as a client sends it to a proxy
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path, query

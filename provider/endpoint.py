"""Building the Messages request: base-URL rules, headers and the JSON body (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import msgspec

from .errors import ProviderError
from .types import Message

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_BASE_URL", "MessagesRequest", "messages_url"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
# The version the API documents and the recorded streams used; newer ones are opt-in since a
# newer version can change request rules.
ANTHROPIC_VERSION = "2023-06-01"


def messages_url(base_url: str) -> str:
    """``{base_url}/v1/messages``: a path prefix is kept, a trailing slash does not double, and a
    base URL that already ends in ``/v1`` does not become ``…/v1/v1/messages``."""
    try:
        url = httpx.URL(base_url.strip())
    except (httpx.InvalidURL, TypeError) as e:
        raise ProviderError(f"Invalid base URL {base_url!r}: {e}", e) from e
    if url.scheme not in ("http", "https") or not url.host:
        raise ProviderError(
            f"Invalid base URL {base_url!r}: expected http(s)://host[:port][/prefix]"
        )
    if url.query or url.fragment:
        raise ProviderError(f"Invalid base URL {base_url!r}: no query or fragment allowed")
    path = url.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return str(url.copy_with(path=path + "/messages"))


class MessagesRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The JSON body of a streaming ``POST /v1/messages``."""

    model: str
    max_tokens: int
    system: str | None = None
    messages: Sequence[Message]
    stream: bool


_encode = msgspec.json.Encoder().encode


def encode_body(
    model: str, max_tokens: int, system_prompt: str, messages: Sequence[Message]
) -> bytes:
    """The request body; an empty system prompt is left out rather than sent empty."""
    if not messages:
        raise ProviderError("At least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, Message):
            raise ProviderError(f"messages[{i}] is a {type(message).__name__}, not a Message")
    if not isinstance(system_prompt, str):
        raise ProviderError(f"system_prompt must be a str, not {type(system_prompt).__name__}")
    return _encode(
        MessagesRequest(
            model=model,
            max_tokens=max_tokens,
            system=system_prompt or None,
            messages=messages,
            stream=True,
        )
    )

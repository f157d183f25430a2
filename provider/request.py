"""The JSON body of a Messages API request (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from .content import Message
from .errors import ProviderError

__all__ = ["MessagesRequest", "encode_body"]


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

"""Wire events of the Messages stream, as msgspec Structs, and how to pick their decoder.

msgspec rejects an unknown tag in a tagged union, and the API adds new event, block and delta
kinds over time, so there is no union here: the decoder is chosen by the SSE ``event`` name
(which equals the data's ``type``), and blocks and deltas are general Structs whose ``type`` is
a plain string with optional fields for every kind, so that unknown kinds decode and can be
skipped. Unknown fields are ignored everywhere (never ``forbid_unknown_fields``).

Every Struct is ``gc=False``: values decoded from JSON cannot form reference cycles, and
keeping thousands of short-lived events per second out of the cyclic collector is measurable.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from ..errors import ProviderError

__all__ = [
    "CacheCreation",
    "ContentBlock",
    "ContentBlockDelta",
    "ContentBlockStart",
    "ContentBlockStop",
    "Delta",
    "ErrorBody",
    "ErrorEvent",
    "MessageDelta",
    "MessageDeltaBody",
    "MessageInfo",
    "MessageStart",
    "MessageStop",
    "ServerToolUse",
    "Usage",
    "WireEvent",
    "decode_event",
    "decoder_for",
]

_QUOTE = 100  # how much of a bad event's data an error message quotes


class CacheCreation(msgspec.Struct, gc=False):
    """``usage.cache_creation``: the cache writes split by TTL."""

    ephemeral_5m_input_tokens: int | None = None
    ephemeral_1h_input_tokens: int | None = None


class ServerToolUse(msgspec.Struct, gc=False):
    """``usage.server_tool_use``: server-side tool calls billed per call."""

    web_search_requests: int | None = None


class Usage(msgspec.Struct, gc=False):
    """Cumulative token counts. A field that is absent or null is ``None``."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation: CacheCreation | None = None
    server_tool_use: ServerToolUse | None = None


class MessageInfo(msgspec.Struct, gc=False):
    """The ``message`` object of ``message_start``."""

    id: str | None = None
    model: str | None = None
    role: str | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None


class MessageStart(msgspec.Struct, gc=False):
    message: MessageInfo


class ContentBlock(msgspec.Struct, gc=False):
    """The fields of the block kinds the machine names (``text``, ``thinking``,
    ``redacted_thinking``, ``tool_use``), checked with ``msgspec.convert`` from the block's
    JSON object; any other kind is kept whole, as that object."""

    type: str
    text: str | None = None
    citations: list[dict[str, Any]] | None = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None
    id: str | None = None
    name: str | None = None
    input: Any = None
    caller: dict[str, Any] | None = None


class ContentBlockStart(msgspec.Struct, gc=False):
    """``content_block`` is the block's whole JSON object: kinds not known here are handed on
    as they arrived (starts are rare, so the generic decoding costs nothing that matters)."""

    index: int
    content_block: dict[str, Any]

    def __post_init__(self) -> None:
        # Raised while decoding, so msgspec reports it as a ValidationError of the event.
        if not isinstance(self.content_block.get("type"), str):
            raise ValueError("content_block has no string `type`")


class Delta(msgspec.Struct, gc=False):
    """A ``delta`` of any kind: ``text_delta`` (``text``), ``input_json_delta``
    (``partial_json``), ``thinking_delta`` (``thinking``), ``signature_delta``
    (``signature``), ``citations_delta`` (``citation``), ``compaction_delta`` (``content``,
    ``encrypted_content``: ``UNSET`` when absent, as null is a value there), or one not known
    yet. A payload field that is absent is ``None``."""

    type: str
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None
    citation: dict[str, Any] | None = None
    content: Any = UNSET
    encrypted_content: Any = UNSET


class ContentBlockDelta(msgspec.Struct, gc=False):
    index: int
    delta: Delta


class ContentBlockStop(msgspec.Struct, gc=False):
    index: int


class MessageDeltaBody(msgspec.Struct, gc=False):
    stop_reason: str | None = None
    stop_sequence: str | None = None


class MessageDelta(msgspec.Struct, gc=False):
    delta: MessageDeltaBody = msgspec.field(default_factory=MessageDeltaBody)
    usage: Usage | None = None


class MessageStop(msgspec.Struct, gc=False):
    pass


class ErrorBody(msgspec.Struct, gc=False):
    type: str | None = None
    message: str | None = None


class ErrorEvent(msgspec.Struct, gc=False):
    """``event: error``: ``{"type": "error", "error": {"type": "overloaded_error", …}}``."""

    error: ErrorBody = msgspec.field(default_factory=ErrorBody)
    request_id: str | None = None


WireEvent = (
    MessageStart
    | ContentBlockStart
    | ContentBlockDelta
    | ContentBlockStop
    | MessageDelta
    | MessageStop
    | ErrorEvent
)


class _Typed(msgspec.Struct, gc=False):
    # Just the ``type`` of a data-only event (a gateway that sends no ``event:`` line).
    type: Any = None


# One decoder per event kind, built once: msgspec decoders are reusable and thread-safe.
# DECODERS, DECODE_ERRORS and bad_event are shared with the machine's fast path (not public).
DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "message_start": msgspec.json.Decoder(MessageStart),
    "content_block_start": msgspec.json.Decoder(ContentBlockStart),
    "content_block_delta": msgspec.json.Decoder(ContentBlockDelta),
    "content_block_stop": msgspec.json.Decoder(ContentBlockStop),
    "message_delta": msgspec.json.Decoder(MessageDelta),
    "message_stop": msgspec.json.Decoder(MessageStop),
    "error": msgspec.json.Decoder(ErrorEvent),
}
_TYPED = msgspec.json.Decoder(_Typed)
# msgspec raises UnicodeDecodeError, not DecodeError, for invalid UTF-8 inside a JSON string.
DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError)


def decoder_for(name: str) -> msgspec.json.Decoder[Any] | None:
    """The decoder for an event name, or ``None`` for ``ping`` and kinds not known here."""
    return DECODERS.get(name)


def bad_event(name: str, data: bytes | str, exc: ValueError | msgspec.DecodeError) -> ProviderError:
    if isinstance(data, bytes):
        data = data[:_QUOTE].decode("utf-8", "replace")
    return ProviderError(f"invalid {name} event ({exc}): {data[:_QUOTE]!r}", exc)


def decode_event(name: str, data: bytes | str) -> WireEvent | None:
    """Decode one SSE event's data into its wire event, or ``None`` to skip it.

    ``name`` is the SSE ``event`` field; for a data-only event (``"message"``, the SSE default)
    the kind is read from the data's own ``type``. ``ping`` and unknown kinds give ``None``.
    Invalid JSON, or JSON of the wrong shape, raises ``ProviderError`` quoting the event name
    and the start of the data.
    """
    decoder = DECODERS.get(name)
    if decoder is None:
        if name != "message":
            return None
        try:
            kind = _TYPED.decode(data).type
        except DECODE_ERRORS as exc:
            raise bad_event(name, data, exc) from exc
        if not isinstance(kind, str):
            return None
        decoder = DECODERS.get(kind)
        if decoder is None:
            return None
        name = kind
    try:
        event: WireEvent = decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise bad_event(name, data, exc) from exc
    return event

"""The sans-I/O streaming core: SSE framer, wire events, state machine.

``ChunkDecoder`` is what the HTTP shell uses: bytes in, chunks out. Its parts are usable on
their own: ``SSEFramer`` (bytes to ``SSEEvent``), ``decode_event`` (an event's data to its
wire-event Struct) and ``StreamMachine`` (wire events to chunks, checking their order).
"""

from __future__ import annotations

from .decoder import ChunkDecoder
from .events import (
    ContentBlock,
    ContentBlockDelta,
    ContentBlockStart,
    ContentBlockStop,
    Delta,
    ErrorEvent,
    MessageDelta,
    MessageStart,
    MessageStop,
    Usage,
    WireEvent,
    decode_event,
)
from .machine import StreamMachine
from .sse import DEFAULT_MAX_EVENT_SIZE, SSEEvent, SSEFramer

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "ChunkDecoder",
    "ContentBlock",
    "ContentBlockDelta",
    "ContentBlockStart",
    "ContentBlockStop",
    "Delta",
    "ErrorEvent",
    "MessageDelta",
    "MessageStart",
    "MessageStop",
    "SSEEvent",
    "SSEFramer",
    "StreamMachine",
    "Usage",
    "WireEvent",
    "decode_event",
]
